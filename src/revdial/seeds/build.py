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
from collections.abc import Callable, Iterator
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
    "seed_id",
    "domain",
    "item_id",
    "title",
    "year",
    "metadata_text",
    "metadata_json",
    "review_text",
    "rating",
    "user_id",
    "history_liked",
    "history_disliked",
    "neighbor_ids",
    "neighbor_titles",
    "provenance",
    "text",
)
CATALOGUE_COLUMNS = ("item_id", "title", "year", "metadata_text")
CHUNK = 20_000  # seeds assembled in Python before they move to Arrow (bounds the heap on millions of seeds)


def seed_features():
    """The seeds dataset schema (the contract every later stage reads)."""
    from datasets import Features, List, Value

    string = Value("string")
    return Features(
        {
            "seed_id": string,
            "domain": string,
            "item_id": string,
            "title": string,
            "year": Value("int32"),
            "metadata_text": string,
            "metadata_json": string,
            "review_text": string,
            "rating": Value("float32"),
            "user_id": string,
            "history_liked": List(string),
            "history_disliked": List(string),
            "neighbor_ids": List(string),
            "neighbor_titles": List(string),
            "provenance": string,
            "text": string,
        }
    )


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


@dataclass
class SourceTables:
    """Step 1 (join): the normalised tables, their reviews and interactions matched to the items' catalogue."""

    config: SeedsConfig
    items: pd.DataFrame
    reviews: pd.DataFrame | None
    interactions: pd.DataFrame | None
    summary: dict


@dataclass
class Signals:
    """Step 2 (collaborative signals): per item its co-liked neighbours, per user the liked / disliked histories."""

    item_codes: dict[str, int]
    neighbor_ids: list[list[str]]
    neighbor_titles: list[list[str]]
    user_codes: dict[str, int] = field(default_factory=dict)
    liked: dict[int, list[int]] = field(default_factory=dict)  # user code -> item codes, most recent first
    disliked: dict[int, list[int]] = field(default_factory=dict)
    titles: list[str] = field(default_factory=list)
    history_size: int = 10

    def history(self, user_id: str | None, item_id: str, which: str) -> list[str]:
        """The user's liked (or disliked) titles without the seed's own item."""
        user = self.user_codes.get(user_id) if user_id is not None else None
        codes = getattr(self, which).get(user)
        labels = [self.titles[j] for j in codes] if codes else None
        return collaborative.history_without(codes, self.item_codes[item_id], self.history_size, labels)


@dataclass(frozen=True)
class Candidate:
    """One future seed: what it is about and where it comes from (`identity` makes its id)."""

    item_id: str
    user_id: str | None
    review: str
    rating: float
    identity: str
    provenance: str


def join_tables(config: SeedsConfig, say: Callable[[str], None]) -> SourceTables:
    source = config.source
    summary: dict[str, Any] = {
        "name": config.name,
        "domain": config.domain,
        "seeds_from": list(source.seeds_from),
        "tables": {},
        "join_coverage": {},
    }
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
    return SourceTables(config, items, reviews, interactions, summary)


def collaborative_signals(tables: SourceTables) -> Signals:
    """Item neighbours (cosine on liker sets) and user histories from the interactions; the counts go to the summary."""
    source, items, interactions = tables.config.source, tables.items, tables.interactions
    item_ids, titles = items["item_id"].tolist(), items["title"].tolist()
    signals = Signals(
        item_codes={item_id: code for code, item_id in enumerate(item_ids)},
        neighbor_ids=[[] for _ in item_ids],
        neighbor_titles=[[] for _ in item_ids],
        titles=titles,
        history_size=source.history_size,
    )
    tables.summary["collaborative"] = {"interactions": 0}
    if interactions is None or not len(interactions):
        return signals
    user_index, users = pd.factorize(interactions["user_id"])
    signals.user_codes = {u: c for c, u in enumerate(users)}
    icodes = interactions["item_id"].map(signals.item_codes).to_numpy(dtype=np.int64)
    ratings, recency = interactions["rating"].to_numpy(), interactions["timestamp"].to_numpy()
    liked, disliked = ratings >= source.liked_min_rating, ratings <= source.disliked_max_rating
    matrix = collaborative.liked_matrix(user_index[liked], icodes[liked], len(users), len(items))
    neighbors, _ = collaborative.item_neighbors(
        matrix, source.neighbors.k, min_common=source.neighbors.min_common
    )
    signals.neighbor_ids = [[item_ids[j] for j in row if j >= 0] for row in neighbors]
    signals.neighbor_titles = [[titles[j] for j in row if j >= 0] for row in neighbors]
    size = source.history_size + 1  # one spare: the seed's own item is removed from its history
    signals.liked = collaborative.user_histories(user_index[liked], icodes[liked], recency[liked], size)
    signals.disliked = collaborative.user_histories(
        user_index[disliked], icodes[disliked], recency[disliked], size
    )
    tables.summary["collaborative"] = {
        "interactions": len(interactions),
        "users": len(users),
        "liked": int(liked.sum()),
        "disliked": int(disliked.sum()),
        "items_with_neighbors": int((neighbors[:, :1] >= 0).sum()) if neighbors.shape[1] else 0,
    }
    return signals


def _review_candidates(tables: SourceTables, reviewed: set[tuple[str, str]]) -> Iterator[Candidate]:
    """One per review; a review without a rating takes the same user's rating of the item, when there is one."""
    reviews, interactions = tables.reviews, tables.interactions
    rating_of = {}
    if interactions is not None and len(interactions):
        rating_of = dict(
            zip(zip(*_columns(interactions, "user_id", "item_id")), interactions["rating"].tolist())
        )
    filled = 0
    for item_id, user_id, text, rating, review_id, row, label in zip(
        *_columns(reviews, "item_id", "user_id", "text", "rating", "review_id", "row", "label")
    ):
        if pd.isna(rating) and user_id is not None and (user_id, item_id) in rating_of:
            rating, filled = rating_of[(user_id, item_id)], filled + 1
        if user_id is not None:
            reviewed.add((user_id, item_id))
        yield Candidate(
            item_id, user_id, text, rating, _review_identity(review_id, text), f"reviews:{label}#row{row}"
        )
    if filled:
        tables.summary["tables"]["reviews"]["changed"]["rating_taken_from_interactions"] = filled


def _rating_candidates(tables: SourceTables, reviewed: set[tuple[str, str]]) -> Iterator[Candidate]:
    """One per (user, item) rating that no review of the same pair has already seeded."""
    covered = 0
    for user_id, item_id, rating, row, label in zip(
        *_columns(tables.interactions, "user_id", "item_id", "rating", "row", "label")
    ):
        if (user_id, item_id) in reviewed:
            covered += 1
            continue
        yield Candidate(item_id, user_id, "", rating, "rating", f"interactions:{label}#row{row}")
    tables.summary["tables"]["interactions"]["not_seeded"] = {"already seeded by a review": covered}


def _item_candidates(tables: SourceTables) -> Iterator[Candidate]:
    file = tables.summary["tables"]["items"]["file"]
    for item_id, row in zip(*_columns(tables.items, "item_id", "row")):
        yield Candidate(item_id, None, "", float("nan"), "item", f"items:{file}#row{row}")


def seed_candidates(tables: SourceTables) -> Iterator[tuple[str, Candidate]]:
    """(kind, candidate) for every seed `source.seeds_from` asks for, in order: reviews, ratings, items; what a
    table gives but is not seeded is noted in the summary."""
    seeds_from, table_summary = tables.config.source.seeds_from, tables.summary["tables"]
    reviewed: set[tuple[str, str]] = set()
    if tables.reviews is not None and "reviews" in seeds_from:
        yield from (("review", c) for c in _review_candidates(tables, reviewed))
    elif tables.reviews is not None:
        table_summary["reviews"]["not_seeded"] = {
            "reviews not in seeds_from (used for nothing)": len(tables.reviews)
        }
    if tables.interactions is not None and len(tables.interactions):
        if "ratings" in seeds_from:
            yield from (("rating", c) for c in _rating_candidates(tables, reviewed))
        else:
            table_summary["interactions"]["not_seeded"] = {
                "signal only (ratings not in seeds_from)": len(tables.interactions)
            }
    if "items" in seeds_from:
        yield from (("item", c) for c in _item_candidates(tables))


class SeedAssembler:
    """Step 3 (assemble): candidates -> seed records -> Arrow chunks of at most CHUNK rows, rendered and counted."""

    def __init__(self, tables: SourceTables, signals: Signals):
        self.config, self.signals = tables.config, signals
        items = tables.items
        self.item_meta = dict(
            zip(
                items["item_id"].tolist(),
                zip(
                    items["title"].tolist(),
                    [None if y is pd.NA else int(y) for y in items["year"]],
                    items["metadata_text"].tolist(),
                    [json.dumps(m, ensure_ascii=False, default=str) for m in items["metadata"]],
                ),
            )
        )
        self.features = seed_features()
        self.records: dict[str, list] = {name: [] for name in SEED_COLUMNS if name != "text"}
        self.chunks: list[pa.Table] = []
        self.counts: Counter = Counter()
        self.seed_ids: set[str] = set()
        self.seeded_items: set[str] = set()

    def add(self, candidate: Candidate) -> None:
        item_id, user_id, signals = candidate.item_id, candidate.user_id, self.signals
        seed_id = _seed_id(self.config.domain, item_id, user_id, candidate.identity)
        if (
            seed_id in self.seed_ids
        ):  # two rows for the same (item, user, review): impossible after de-duplication
            raise SeedSourceError(
                f"<{self.config.name}>", f"seed id {seed_id} twice ({candidate.provenance}); check review_id"
            )
        self.seed_ids.add(seed_id)
        self.seeded_items.add(item_id)
        title, year, meta_text, meta_json = self.item_meta[item_id]
        code = signals.item_codes[item_id]
        row = {
            "seed_id": seed_id,
            "domain": self.config.domain,
            "item_id": item_id,
            "title": title,
            "year": year,
            "metadata_text": meta_text,
            "metadata_json": meta_json,
            "review_text": candidate.review,
            "rating": None if pd.isna(candidate.rating) else float(candidate.rating),
            "user_id": user_id,
            "history_liked": signals.history(user_id, item_id, "liked"),
            "history_disliked": signals.history(user_id, item_id, "disliked"),
            "neighbor_ids": signals.neighbor_ids[code],
            "neighbor_titles": signals.neighbor_titles[code],
            "provenance": candidate.provenance,
        }
        for name, values in self.records.items():
            values.append(row[name])
        if len(self.records["seed_id"]) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        """Python lists -> one Arrow chunk, so the Python heap holds at most CHUNK seeds at a time."""
        records = self.records
        n = len(records["seed_id"])
        if not n:
            return
        texts = [
            render_seed(
                {key: records[key][i] for key in _RENDER_KEYS}, rating_max=self.config.source.rating_max
            )
            for i in range(n)
        ]
        for name, column, present in _COUNTED:
            self.counts[name] += sum(1 for value in records[column] if present(value))
        schema = self.features.arrow_schema
        columns = {**records, "text": texts}
        self.chunks.append(
            pa.table(
                {name: pa.array(columns[name], type=schema.field(name).type) for name in SEED_COLUMNS},
                schema=schema,
            )
        )
        for values in records.values():
            values.clear()

    def dataset(self):
        import datasets

        self.flush()
        # straight to Arrow: Dataset.from_dict would encode every cell in Python (most of the time on 100k seeds)
        # an explicit fingerprint: otherwise datasets pickles the whole in-memory table to hash it (time and a copy)
        fingerprint = hashlib.sha1("\n".join(sorted(self.seed_ids)).encode("utf-8")).hexdigest()[:16]
        return datasets.Dataset(
            pa.concat_tables(self.chunks),
            info=datasets.DatasetInfo(features=self.features),
            fingerprint=fingerprint,
        )


_RENDER_KEYS = (
    "title",
    "year",
    "metadata_text",
    "review_text",
    "rating",
    "history_liked",
    "history_disliked",
    "neighbor_titles",
)
_COUNTED = (
    ("with_review_text", "review_text", bool),
    ("with_rating", "rating", lambda r: r is not None),
    ("with_user", "user_id", lambda u: u is not None),
    ("with_history", "history_liked", bool),
    ("with_neighbors", "neighbor_ids", bool),
)


def _catalogue(items: pd.DataFrame):
    import datasets

    return datasets.Dataset.from_dict(
        {
            "item_id": items["item_id"].tolist(),
            "title": items["title"].tolist(),
            "year": [None if y is pd.NA else int(y) for y in items["year"]],
            "metadata_text": items["metadata_text"].tolist(),
        },
        features=datasets.Features(
            {
                "item_id": datasets.Value("string"),
                "title": datasets.Value("string"),
                "year": datasets.Value("int32"),
                "metadata_text": datasets.Value("string"),
            }
        ),
    )


def build_seeds(
    config: SeedsConfig | str | Path | dict, progress: Callable[[str], None] | None = None
) -> SeedBuild:
    """Read the source tables and join them, compute collaborative signals, and assemble the seed records."""
    if not isinstance(config, SeedsConfig):
        config = load_seeds_config(config)
    say = progress or (lambda message: None)
    started = time.perf_counter()
    tables = join_tables(config, say)
    say("computing neighbours and histories")
    signals = collaborative_signals(tables)
    say("assembling seeds")
    assembler = SeedAssembler(tables, signals)
    kinds: Counter = Counter()
    for kind, candidate in seed_candidates(tables):
        assembler.add(candidate)
        kinds[kind] += 1
    summary, n = tables.summary, len(assembler.seed_ids)
    if n == 0:
        raise SeedSourceError(
            f"<{config.name}>",
            "no seeds: every row was dropped; per table: " + json.dumps(summary["tables"], default=str),
        )
    seeds = assembler.dataset()
    counts = assembler.counts
    summary["seeds"] = {
        "total": n,
        "by_kind": dict(kinds),
        "items": len(tables.items),
        "items_seeded": len(assembler.seeded_items),
        "with_review_text": counts["with_review_text"],
        "with_rating": counts["with_rating"],
        "with_user": counts["with_user"],
    }
    summary["join_coverage"]["seeds with a liked history"] = ratio(counts["with_history"], n)
    summary["join_coverage"]["seeds with neighbours"] = ratio(counts["with_neighbors"], n)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return SeedBuild(seeds=seeds, catalogue=_catalogue(tables.items), summary=summary)


# --- on disk ----------------------------------------------------------------------------------------------------
def save_seeds(build: SeedBuild, out_dir: str | Path) -> Path:
    """DIR = seeds via save_to_disk, plus DIR/catalogue.parquet and DIR/summary.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    build.seeds.save_to_disk(str(out))
    build.catalogue.to_parquet(str(out / "catalogue.parquet"))
    (out / "summary.json").write_text(
        json.dumps(build.summary, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return out


def load_seeds(directory: str | Path):
    import datasets

    return datasets.load_from_disk(str(directory))


def load_catalogue(directory: str | Path):
    import datasets

    return datasets.Dataset.from_parquet(str(Path(directory) / "catalogue.parquet"))


def _table_reports(summary: dict) -> list:
    """Rich renderables: rows read/kept per table, the reasons rows were dropped or changed, the first bad rows."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"seeds: {summary['name']} ({summary['domain']})")
    for column in ("table", "file", "rows read", "rows kept"):
        table.add_column(column, justify="right" if column.startswith("rows") else "left")
    reasons = Table(title="rows dropped, changed or not seeded")
    for column in ("table", "what", "reason", "rows"):
        reasons.add_column(column, justify="right" if column == "rows" else "left")
    first_rows = []
    for role, entry in summary["tables"].items():
        table.add_row(role, str(entry["file"]), str(entry["rows_read"]), str(entry.get("rows_kept", "")))
        for what in ("dropped", "changed", "not_seeded"):
            for reason, count in entry.get(what, {}).items():
                reasons.add_row(role, what.replace("_", " "), reason, str(count))
        first_rows += [
            f"{reason}: {where}" for reason, lines in entry.get("first_rows", {}).items() for where in lines
        ]
    parts = [table, *([reasons] if reasons.row_count else [])]
    if first_rows:
        parts.append(
            "[bold]first rows skipped[/] (`strict: true` in the source makes a bad rating or text fatal)\n"
            + "\n".join(f"  {escape(line)}" for line in first_rows)
        )
    return parts


def seeds_command(config: Path, out: Path) -> None:
    """`revdial seeds --config C --out DIR`: build, save, and print the summary table."""
    import datasets
    from rich.console import Console
    from rich.table import Table

    console = Console()
    datasets.disable_progress_bars()  # the status line below is the progress; their bars would tear it
    # A SeedSourceError reaches the CLI, which prints it as one line (exit 2) like every command's user errors.
    with console.status("building seeds") as status:
        build = build_seeds(config, progress=lambda message: status.update(f"[bold]seeds[/]: {message}"))
        status.update("[bold]seeds[/]: saving")
        save_seeds(build, out)
    summary = build.summary
    for part in _table_reports(summary):
        console.print(part, highlight=False, soft_wrap=True)
    coverage = Table(title="join coverage")
    coverage.add_column("join")
    coverage.add_column("matched")
    for name, value in summary["join_coverage"].items():
        coverage.add_row(name, f"{value['matched']}/{value['of']} ({value['fraction']:.1%})")
    console.print(coverage)
    seeds = summary["seeds"]
    kinds = ", ".join(f"{k}: {v}" for k, v in seeds["by_kind"].items())
    console.print(
        f"[bold green]{seeds['total']} seeds[/] ({kinds}) over {seeds['items_seeded']} of "
        f"{seeds['items']} items in {summary['seconds']}s -> {out}"
    )
