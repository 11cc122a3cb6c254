"""Turn a source config into seed records (item x review x user signal), a catalogue and a run summary.

What a seed is depends on `source.seeds_from`:
- `reviews`: one seed per review (after grouping, cleaning and de-duplication);
- `ratings`: one seed per (user, item) interaction that has a rating but no review (review_text is empty);
- `items`:   one seed per catalogue item, with no user (metadata only).
Every row that does not become part of a seed or a signal is counted under a reason in the summary.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from revdial.seeds import collaborative
from revdial.seeds.errors import SeedSourceError
from revdial.seeds.render import render_seed
from revdial.seeds.sources import SeedsConfig, load_seeds_config
from revdial.seeds.tables import load_interactions, load_items, load_reviews, ratio

SEED_COLUMNS = (
    "seed_id", "domain", "item_id", "title", "year", "metadata_text", "metadata_json", "review_text", "rating",
    "user_id", "history_liked", "history_disliked", "neighbor_ids", "neighbor_titles", "provenance", "text",
)
CATALOGUE_COLUMNS = ("item_id", "title", "year", "metadata_text")
CHUNK = 20_000  # seeds assembled in Python before they move to Arrow (bounds the heap on millions of seeds)


def seed_features():
    """The seeds dataset schema (the contract every later stage reads)."""
    from datasets import Features, List, Value

    string = Value("string")
    return Features({
        "seed_id": string, "domain": string, "item_id": string, "title": string, "year": Value("int32"),
        "metadata_text": string, "metadata_json": string, "review_text": string, "rating": Value("float32"),
        "user_id": string, "history_liked": List(string), "history_disliked": List(string),
        "neighbor_ids": List(string), "neighbor_titles": List(string), "provenance": string, "text": string,
    })


@dataclass
class SeedBuild:
    seeds: Any  # datasets.Dataset with SEED_COLUMNS
    catalogue: Any  # datasets.Dataset with CATALOGUE_COLUMNS
    summary: dict = field(default_factory=dict)


# --- seeds ------------------------------------------------------------------------------------------------------
def _columns(frame: pd.DataFrame, *names: str) -> list[list]:
    """Columns as Python lists (iterating pandas' Arrow-backed strings element by element is slow)."""
    return [frame[name].tolist() if name in frame else [None] * len(frame) for name in names]


def _seed_id(domain: str, item_id: str, user_id: str | None, identity: str) -> str:
    key = "\x1f".join([domain, item_id, user_id or "", identity])
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def _review_identity(review_id: Any, text: str) -> str:
    if isinstance(review_id, str) and review_id:
        return f"review:{review_id}"
    return "review:" + hashlib.sha1(text.encode("utf-8")).hexdigest()


def build_seeds(config: SeedsConfig | str | Path | dict, progress: Callable[[str], None] | None = None) -> SeedBuild:
    """Read the source tables, join them, compute collaborative signals and assemble the seed records."""
    import datasets

    if not isinstance(config, SeedsConfig):
        config = load_seeds_config(config)
    say = progress or (lambda message: None)
    source = config.source
    started = time.perf_counter()
    summary: dict[str, Any] = {"name": config.name, "domain": config.domain, "seeds_from": list(source.seeds_from),
                               "tables": {}, "join_coverage": {}}
    if "items" not in source.tables:
        raise SeedSourceError(f"<{config.name}>", "the source needs an `items` table (ids and titles)")

    say("reading items")
    items = load_items(config, summary)
    reviews = None
    if "reviews" in source.tables:
        say("reading reviews")
        reviews = load_reviews(config, items, summary)
    say("reading interactions")
    interactions = load_interactions(config, items, reviews, summary)

    say("computing neighbours and histories")
    item_codes = {item_id: code for code, item_id in enumerate(items["item_id"])}
    titles = items["title"].tolist()
    neighbors = np.full((len(items), 0), -1, dtype=np.int64)
    liked_hist: dict[int, list[int]] = {}
    disliked_hist: dict[int, list[int]] = {}
    user_codes: dict[str, int] = {}
    collab: dict[str, Any] = {"interactions": 0}
    if interactions is not None and len(interactions):
        user_index, users = pd.factorize(interactions["user_id"])
        user_codes = {u: c for c, u in enumerate(users)}
        icodes = interactions["item_id"].map(item_codes).to_numpy(dtype=np.int64)
        ratings = interactions["rating"].to_numpy()
        recency = interactions["timestamp"].to_numpy()
        liked = ratings >= source.liked_min_rating
        disliked = ratings <= source.disliked_max_rating
        matrix = collaborative.liked_matrix(user_index[liked], icodes[liked], len(users), len(items))
        neighbors, _ = collaborative.item_neighbors(matrix, source.neighbors.k, min_common=source.neighbors.min_common)
        size = source.history_size + 1  # one spare: the seed's own item is removed from its history
        liked_hist = collaborative.user_histories(user_index[liked], icodes[liked], recency[liked], size)
        disliked_hist = collaborative.user_histories(user_index[disliked], icodes[disliked], recency[disliked], size)
        collab = {"interactions": len(interactions), "users": len(users), "liked": int(liked.sum()),
                  "disliked": int(disliked.sum()),
                  "items_with_neighbors": int((neighbors[:, :1] >= 0).sum()) if neighbors.shape[1] else 0}
    summary["collaborative"] = collab

    say("assembling seeds")
    features = seed_features()
    schema = features.arrow_schema
    records: dict[str, list] = {name: [] for name in SEED_COLUMNS if name != "text"}
    chunks: list[pa.Table] = []
    kinds: Counter = Counter()
    counts = Counter()
    seed_ids: set[str] = set()
    seeded_items: set[str] = set()
    item_meta = dict(zip(items["item_id"].tolist(), zip(
        items["title"].tolist(), [None if y is pd.NA else int(y) for y in items["year"]],
        items["metadata_text"].tolist(),
        [json.dumps(m, ensure_ascii=False, default=str) for m in items["metadata"]])))
    item_id_list = items["item_id"].tolist()
    neighbor_ids_of = [[item_id_list[j] for j in row if j >= 0] for row in neighbors]
    neighbor_titles_of = [[titles[j] for j in row if j >= 0] for row in neighbors]
    liked_titles = {u: [titles[j] for j in codes] for u, codes in liked_hist.items()}
    disliked_titles = {u: [titles[j] for j in codes] for u, codes in disliked_hist.items()}
    render_keys = ("title", "year", "metadata_text", "review_text", "rating", "history_liked", "history_disliked",
                   "neighbor_titles")

    def flush() -> None:
        """Python lists -> one Arrow chunk, so the Python heap holds at most CHUNK seeds at a time."""
        n = len(records["seed_id"])
        if not n:
            return
        texts = [render_seed({key: records[key][i] for key in render_keys}, rating_max=source.rating_max)
                 for i in range(n)]
        counts["with_review_text"] += sum(1 for t in records["review_text"] if t)
        counts["with_rating"] += sum(1 for r in records["rating"] if r is not None)
        counts["with_user"] += sum(1 for u in records["user_id"] if u is not None)
        counts["with_history"] += sum(1 for h in records["history_liked"] if h)
        counts["with_neighbors"] += sum(1 for h in records["neighbor_ids"] if h)
        columns = {**records, "text": texts}
        chunks.append(pa.table({name: pa.array(columns[name], type=schema.field(name).type)
                                for name in SEED_COLUMNS}, schema=schema))
        for values in records.values():
            values.clear()

    def add(item_id: str, user_id: str | None, review: str, rating: float, identity: str, provenance: str) -> None:
        title, year, meta_text, meta_json = item_meta[item_id]
        code = item_codes[item_id]
        ucode = user_codes.get(user_id) if user_id is not None else None
        seed_id = _seed_id(config.domain, item_id, user_id, identity)
        if seed_id in seed_ids:  # two rows for the same (item, user, review): impossible after de-duplication
            raise SeedSourceError(f"<{config.name}>", f"seed id {seed_id} twice ({provenance}); check review_id")
        seed_ids.add(seed_id)
        seeded_items.add(item_id)
        h = source.history_size
        records["seed_id"].append(seed_id)
        records["domain"].append(config.domain)
        records["item_id"].append(item_id)
        records["title"].append(title)
        records["year"].append(year)
        records["metadata_text"].append(meta_text)
        records["metadata_json"].append(meta_json)
        records["review_text"].append(review)
        records["rating"].append(None if pd.isna(rating) else float(rating))
        records["user_id"].append(user_id)
        records["history_liked"].append(
            collaborative.history_without(liked_hist.get(ucode), code, h, liked_titles.get(ucode)))
        records["history_disliked"].append(
            collaborative.history_without(disliked_hist.get(ucode), code, h, disliked_titles.get(ucode)))
        records["neighbor_ids"].append(neighbor_ids_of[code] if neighbor_ids_of else [])
        records["neighbor_titles"].append(neighbor_titles_of[code] if neighbor_titles_of else [])
        records["provenance"].append(provenance)
        if len(records["seed_id"]) >= CHUNK:
            flush()

    reviewed_pairs: set[tuple[str, str]] = set()
    if "reviews" in source.seeds_from and reviews is not None:
        rating_of = {}
        if interactions is not None and len(interactions):
            rating_of = dict(zip(zip(*_columns(interactions, "user_id", "item_id")), interactions["rating"].tolist()))
        filled = 0
        for item_id, user_id, text, rating, review_id, row, label in zip(
            *_columns(reviews, "item_id", "user_id", "text", "rating", "review_id", "row", "label")
        ):
            if pd.isna(rating) and user_id is not None and (user_id, item_id) in rating_of:
                rating, filled = rating_of[(user_id, item_id)], filled + 1
            add(item_id, user_id, text, rating, _review_identity(review_id, text), f"reviews:{label}#row{row}")
            kinds["review"] += 1
            if user_id is not None:
                reviewed_pairs.add((user_id, item_id))
        if filled:
            summary["tables"]["reviews"]["changed"]["rating_taken_from_interactions"] = filled
    elif reviews is not None:
        summary["tables"]["reviews"]["not_seeded"] = {"reviews not in seeds_from (used for nothing)": len(reviews)}
    if interactions is not None and len(interactions):
        if "ratings" in source.seeds_from:
            covered = 0
            for user_id, item_id, rating, row, label in zip(
                *_columns(interactions, "user_id", "item_id", "rating", "row", "label")
            ):
                if (user_id, item_id) in reviewed_pairs:
                    covered += 1
                    continue
                add(item_id, user_id, "", rating, "rating", f"interactions:{label}#row{row}")
                kinds["rating"] += 1
            summary["tables"]["interactions"]["not_seeded"] = {"already seeded by a review": covered}
        else:
            summary["tables"]["interactions"]["not_seeded"] = {
                "signal only (ratings not in seeds_from)": len(interactions)}
    if "items" in source.seeds_from:
        for item_id, row in zip(*_columns(items, "item_id", "row")):
            add(item_id, None, "", float("nan"), "item", f"items:{summary['tables']['items']['file']}#row{row}")
            kinds["item"] += 1
    flush()

    n = len(seed_ids)
    if n == 0:
        raise SeedSourceError(f"<{config.name}>", "no seeds: every row was dropped; per table: "
                              + json.dumps(summary["tables"], default=str))
    # straight to Arrow: Dataset.from_dict would encode every cell in Python (most of the time on 100k seeds)
    # an explicit fingerprint: otherwise datasets pickles the whole in-memory table to hash it (time and a copy)
    fingerprint = hashlib.sha1("\n".join(sorted(seed_ids)).encode("utf-8")).hexdigest()[:16]
    seeds = datasets.Dataset(pa.concat_tables(chunks), info=datasets.DatasetInfo(features=features),
                             fingerprint=fingerprint)
    catalogue = datasets.Dataset.from_dict(
        {"item_id": items["item_id"].tolist(), "title": items["title"].tolist(),
         "year": [None if y is pd.NA else int(y) for y in items["year"]],
         "metadata_text": items["metadata_text"].tolist()},
        features=datasets.Features({"item_id": datasets.Value("string"), "title": datasets.Value("string"),
                                    "year": datasets.Value("int32"), "metadata_text": datasets.Value("string")}),
    )
    summary["seeds"] = {"total": n, "by_kind": dict(kinds), "items": len(items), "items_seeded": len(seeded_items),
                        "with_review_text": counts["with_review_text"], "with_rating": counts["with_rating"],
                        "with_user": counts["with_user"]}
    summary["join_coverage"]["seeds with a liked history"] = ratio(counts["with_history"], n)
    summary["join_coverage"]["seeds with neighbours"] = ratio(counts["with_neighbors"], n)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return SeedBuild(seeds=seeds, catalogue=catalogue, summary=summary)


# --- on disk ----------------------------------------------------------------------------------------------------
def save_seeds(build: SeedBuild, out_dir: str | Path) -> Path:
    """DIR = seeds via save_to_disk, plus DIR/catalogue.parquet and DIR/summary.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    build.seeds.save_to_disk(str(out))
    build.catalogue.to_parquet(str(out / "catalogue.parquet"))
    (out / "summary.json").write_text(json.dumps(build.summary, indent=2, ensure_ascii=False, default=str) + "\n",
                                      encoding="utf-8")
    return out


def load_seeds(directory: str | Path):
    import datasets

    return datasets.load_from_disk(str(directory))


def load_catalogue(directory: str | Path):
    import datasets

    return datasets.Dataset.from_parquet(str(Path(directory) / "catalogue.parquet"))


def seeds_command(config: Path, out: Path) -> None:
    """`revdial seeds --config C --out DIR`: build, save, and print the summary table."""
    import datasets
    from rich.console import Console
    from rich.table import Table

    console = Console()
    datasets.disable_progress_bars()  # the status line below is the progress; their bars would tear it
    try:
        with console.status("building seeds") as status:
            build = build_seeds(config, progress=lambda message: status.update(f"[bold]seeds[/]: {message}"))
            status.update("[bold]seeds[/]: saving")
            save_seeds(build, out)
    except SeedSourceError as error:  # a clear one-line message, not a traceback through pandas
        console.print(f"[bold red]SeedSourceError[/]: {error}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
    summary = build.summary
    table = Table(title=f"seeds: {summary['name']} ({summary['domain']})")
    for column in ("table", "file", "rows read", "rows kept"):
        table.add_column(column, justify="right" if column.startswith("rows") else "left")
    reasons = Table(title="rows dropped, changed or not seeded")
    for column in ("table", "what", "reason", "rows"):
        reasons.add_column(column, justify="right" if column == "rows" else "left")
    for role, entry in summary["tables"].items():
        table.add_row(role, str(entry["file"]), str(entry["rows_read"]), str(entry.get("rows_kept", "")))
        for what in ("dropped", "changed", "not_seeded"):
            for reason, count in entry.get(what, {}).items():
                reasons.add_row(role, what.replace("_", " "), reason, str(count))
    console.print(table)
    if reasons.row_count:
        console.print(reasons)
    coverage = Table(title="join coverage")
    coverage.add_column("join")
    coverage.add_column("matched")
    for name, value in summary["join_coverage"].items():
        coverage.add_row(name, f"{value['matched']}/{value['of']} ({value['fraction']:.1%})")
    console.print(coverage)
    seeds = summary["seeds"]
    kinds = ", ".join(f"{k}: {v}" for k, v in seeds["by_kind"].items())
    console.print(f"[bold green]{seeds['total']} seeds[/] ({kinds}) over {seeds['items_seeded']} of "
                  f"{seeds['items']} items in {summary['seconds']}s -> {out}")
