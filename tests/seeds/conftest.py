"""Helpers for seed tests: write small tables to tmp_path and build a config dict around them."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def tiny(tmp_path):
    """A three-table movie-like source in tmp_path; returns a function giving its config dict (source overrides)."""
    write_csv(
        tmp_path / "items.csv",
        ["id", "name", "genres"],
        [
            ["1", "Heat (1995)", "Crime|Thriller"],
            ["2", "Ronin (1998)", "Action"],
            ["3", "Collateral (2004)", "Crime"],
        ],
    )
    write_csv(
        tmp_path / "reviews.csv",
        ["rid", "user", "item", "body", "stars"],
        [
            ["r1", "u1", "1", "Great shootout.", "5"],
            ["r2", "u2", "2", "Car chases!", "4"],
            ["r3", "u1", "3", "Tom Cruise as a hitman.", ""],
        ],
    )
    write_csv(
        tmp_path / "ratings.csv",
        ["user", "item", "stars", "ts"],
        [
            ["u1", "1", "5", "1"],
            ["u1", "2", "4", "2"],
            ["u1", "3", "4", "3"],
            ["u2", "1", "4", "1"],
            ["u2", "2", "5", "2"],
            ["u3", "3", "1", "1"],
        ],
    )

    def config(**source) -> dict:
        tables = {
            "items": {
                "path": "items.csv",
                "columns": {"item_id": "id", "title": "name"},
                "list_separators": {"genres": "|"},
                "title_has_year": True,
            },
            "reviews": {
                "path": "reviews.csv",
                "columns": {
                    "review_id": "rid",
                    "user_id": "user",
                    "item_id": "item",
                    "text": "body",
                    "rating": "stars",
                },
            },
            "interactions": {
                "path": "ratings.csv",
                "columns": {"user_id": "user", "item_id": "item", "rating": "stars", "timestamp": "ts"},
            },
        }
        for role, override in source.pop("tables", {}).items():
            tables[role] = override if override is None else {**tables.get(role, {}), **override}
        tables = {k: v for k, v in tables.items() if v is not None}
        return {"name": "tiny", "domain": "movies", "source": {"tables": tables, **source}}

    config.dir = tmp_path
    config.write_csv, config.write_jsonl = write_csv, write_jsonl
    return config
