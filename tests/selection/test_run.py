"""`revdial select` end to end on a small contract-shaped seeds directory (real MiniLM features, cached)."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest
from typer.testing import CliRunner

from revdial.cli import app
from revdial.selection.strategies import SelectionInputError

GENRES = [
    "heist thriller",
    "animated family film",
    "space opera",
    "romantic comedy",
    "slasher horror",
    "war drama",
]


@pytest.fixture(scope="module")
def seeds_dir(tmp_path_factory):
    rows = []
    for i in range(48):
        genre = GENRES[i % len(GENRES)]
        text = f"Item: Movie {i} ({1980 + i})\nAbout: a {genre}\nUser review (rating {1 + i % 5}/5): a {genre} number {i}"
        rows.append(
            {
                "seed_id": f"seed-{i:03d}",
                "domain": "movies",
                "item_id": f"m{i}",
                "title": f"Movie {i}",
                "year": 1980 + i,
                "metadata_text": f"genres: {genre}",
                "metadata_json": json.dumps({"genre": genre}),
                "review_text": f"a {genre}",
                "rating": float(1 + i % 5),
                "user_id": f"u{i % 7}",
                "history_liked": [],
                "history_disliked": [],
                "neighbor_ids": [],
                "neighbor_titles": [],
                "provenance": "test",
                "text": text,
            }
        )
    out = tmp_path_factory.mktemp("seeds")
    datasets.Dataset.from_list(rows).save_to_disk(str(out))
    datasets.Dataset.from_list(
        [
            {
                "item_id": r["item_id"],
                "title": r["title"],
                "year": r["year"],
                "metadata_text": r["metadata_text"],
            }
            for r in rows
        ]
    ).to_parquet(str(out / "catalogue.parquet"))
    return out


def test_select_writes_ranked_seeds_selected_view_summary_and_plot(seeds_dir, tmp_path):
    out, plot = tmp_path / "ranked", tmp_path / "sel.png"
    result = CliRunner().invoke(
        app,
        [
            "select",
            "--seeds",
            str(seeds_dir),
            "--strategy",
            "js",
            "--budget",
            "6",
            "--out",
            str(out),
            "--plot",
            str(plot),
            "--param",
            "n_clusters=6",
        ],
    )
    assert result.exit_code == 0, result.output
    ranked = datasets.load_from_disk(str(out))
    assert len(ranked) == 48 and {"selection_rank", "selection_score", "selection_strategy"} <= set(
        ranked.column_names
    )
    ranks = np.array(ranked["selection_rank"])
    assert sorted(ranks[ranks >= 0].tolist()) == list(range(6)) and (ranks == -1).sum() == 42
    selected = datasets.load_from_disk(str(out / "selected"))
    assert selected["selection_rank"] == list(range(6))
    # six genres, six clusters: JS picks one seed of each genre
    assert len({t.split("About: a ")[1].split("\n")[0] for t in selected["text"]}) == 6
    summary = json.loads((out / "selection.json").read_text())
    assert [r["strategy"] for r in summary["coverage"]] == ["random", "js", "fisher", "kcenter", "hybrid"]
    assert (out / "catalogue.parquet").exists()
    assert plot.stat().st_size > 10_000
    assert "cluster coverage at B = 6" in result.output


def test_select_sample_ranks_only_the_sample_and_rerun_replaces_its_output(seeds_dir, tmp_path):
    out = tmp_path / "ranked"
    for _ in range(2):
        result = CliRunner().invoke(
            app,
            [
                "select",
                "--seeds",
                str(seeds_dir),
                "--strategy",
                "kcenter",
                "--budget",
                "5",
                "--sample",
                "20",
                "--out",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
    summary = json.loads((out / "selection.json").read_text())
    assert summary["pool"] == 20 and summary["coverage"][0]["strategy"] == "kcenter"
    assert sum(r >= 0 for r in datasets.load_from_disk(str(out))["selection_rank"]) == 5


def test_select_refuses_to_overwrite_a_foreign_folder_and_names_bad_params(seeds_dir, tmp_path):
    from revdial.selection.run import select_command

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SelectionInputError, match="holds no earlier selection"):
        select_command(seeds_dir, "random", 3, "minilm", tmp_path)
    with pytest.raises(SelectionInputError, match="unknown selection parameter.* taus; .*js takes .*tau"):
        select_command(seeds_dir, "js", 3, "minilm", tmp_path / "x", params=["taus=0.2"])


def test_select_names_a_folder_that_is_not_a_seeds_directory(tmp_path):
    from revdial.selection.run import select_command

    with pytest.raises(SelectionInputError, match="not a seeds directory"):
        select_command(tmp_path, "random", 3, "minilm", tmp_path / "out")
