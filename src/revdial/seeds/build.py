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
import re
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
from revdial.seeds.sources import (
    SeedsConfig,
    TableConfig,
    check_columns,
    clean_title,
    is_missing,
    load_seeds_config,
    load_table,
)

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


class _Table:
    """Counts for one table in the summary: rows read, kept, dropped per reason, changed per reason."""

    def __init__(self, summary: dict, role: str, label: str, rows: int):
        self.entry = summary["tables"].setdefault(role, {})
        self.entry.update({"file": label, "rows_read": rows, "dropped": {}, "changed": {}})

    def drop(self, reason: str, count: int) -> None:
        if count:
            self.entry["dropped"][reason] = self.entry["dropped"].get(reason, 0) + int(count)

    def change(self, reason: str, count: int) -> None:
        if count:
            self.entry["changed"][reason] = self.entry["changed"].get(reason, 0) + int(count)

    def kept(self, count: int) -> None:
        self.entry["rows_kept"] = int(count)


# --- items ------------------------------------------------------------------------------------------------------
def _metadata_value(value: Any, column: str, table: TableConfig) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        value = value.strip()
        if column in table.list_separators:
            value = [part.strip() for part in value.split(table.list_separators[column]) if part.strip()]
    if isinstance(value, list):
        value = [v for v in value if not is_missing(v) and str(v) not in table.null_values]
        return value or None
    if is_missing(value) or (isinstance(value, str) and value in table.null_values):
        return None
    return value


def _metadata_frame(frame: pd.DataFrame, table: TableConfig) -> list[dict]:
    """One dict per row: the table's metadata columns, normalised (lists split, flags gathered, blanks removed)."""
    mapped = set(table.columns.values())
    flagged = {c for cs in table.flag_columns.values() for c in cs}
    columns = table.metadata if table.metadata is not None else [
        c for c in frame.columns if c not in mapped and c not in flagged and not str(c).startswith("__")
    ]
    records: list[dict] = [{} for _ in range(len(frame))]
    for column in columns:
        for record, value in zip(records, frame[column].tolist()):
            value = _metadata_value(value, column, table)
            if value is not None:
                record[str(column)] = value
    for name, flag_columns in table.flag_columns.items():
        flags = frame[flag_columns].astype(str).to_numpy() == "1"
        for record, row in zip(records, flags):
            chosen = [flag_columns[j] for j in np.flatnonzero(row)]
            if chosen:
                record[name] = chosen
    return records


def render_metadata(metadata: dict) -> str:
    """`key: value; key: a, b` in the source's column order (the human-readable metadata of an item)."""
    parts = []
    for key, value in metadata.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items() if not is_missing(v))
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        text = " ".join(str(value).split())
        if text:
            parts.append(f"{key.replace('_', ' ')}: {text}")
    return "; ".join(parts)


def _parse_details(value: Any) -> Any:
    """Amazon's `details` (and similar) arrive as JSON strings; keep them as objects inside metadata_json."""
    if isinstance(value, str) and value[:1] == "{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def load_items(config: SeedsConfig, summary: dict) -> pd.DataFrame:
    table = config.source.tables["items"]
    frame, label = load_table(table, config, "items")
    check_columns(frame, table, label, "items")
    counts = _Table(summary, "items", label, len(frame))
    ids = frame[table.columns["item_id"]].map(lambda v: None if is_missing(v) else str(v).strip())
    raw_titles = frame[table.columns["title"]].map(lambda v: None if is_missing(v) else str(v))
    metadata = _metadata_frame(frame, table)
    items = pd.DataFrame({"item_id": ids, "raw_title": raw_titles, "row": np.arange(1, len(frame) + 1)})
    items["metadata"] = metadata
    if "year" in table.columns:
        items["year_column"] = pd.to_numeric(frame[table.columns["year"]], errors="coerce")
    missing_id, missing_title = items["item_id"].isna(), items["raw_title"].isna()
    counts.drop("missing_item_id", missing_id.sum())
    counts.drop("missing_title", (missing_title & ~missing_id).sum())
    items = items[~missing_id & ~missing_title]
    duplicated = items["item_id"].duplicated(keep="first")
    counts.drop("duplicate_item_id (first kept)", duplicated.sum())
    items = items[~duplicated].reset_index(drop=True)
    cleaned = [clean_title(t, table) for t in items["raw_title"]]
    items["title"] = [c[0] for c in cleaned]
    years = [c[1] for c in cleaned]
    if "year_column" in items:
        years = [t if pd.isna(y) else int(y) for y, t in zip(items["year_column"], years)]
    items["year"] = pd.array(years, dtype="Int64")
    counts.kept(len(items))

    coverage = summary.setdefault("join_coverage", {})
    for join in table.join:
        joined, join_label = load_table(join, config, "items")
        check_columns(joined, join, join_label, "join")
        join_counts = _Table(summary, f"items.join:{join_label}", join_label, len(joined))
        keys = joined[join.columns["item_id"]].map(lambda v: None if is_missing(v) else str(v).strip())
        extra = _metadata_frame(joined, join)
        by_id: dict[str, dict] = {}
        duplicates = 0
        for key, record in zip(keys, extra):
            if key is None:
                continue
            if key in by_id:
                duplicates += 1
                continue
            by_id[key] = record
        join_counts.drop("missing_item_id", keys.isna().sum())
        join_counts.drop("duplicate_item_id (first kept)", duplicates)
        unmatched = len(by_id.keys() - set(items["item_id"]))
        join_counts.drop("item_not_in_items_table", unmatched)
        join_counts.kept(len(by_id) - unmatched)
        matched = 0
        for record, item_id in zip(items["metadata"], items["item_id"]):
            if item_id in by_id:
                matched += 1
                for key, value in by_id[item_id].items():
                    record.setdefault(key, value)
        coverage[f"items with {join_label}"] = _ratio(matched, len(items))
    for record in items["metadata"]:
        for key, value in list(record.items()):
            record[key] = _parse_details(value)
    hidden = set(table.text_exclude).union(*(join.text_exclude for join in table.join))
    items["metadata_text"] = [render_metadata({k: v for k, v in m.items() if k not in hidden})
                              for m in items["metadata"]]
    return items[["item_id", "title", "year", "raw_title", "metadata", "metadata_text", "row"]]


def _ratio(part: int, whole: int) -> dict:
    return {"matched": int(part), "of": int(whole), "fraction": round(part / whole, 4) if whole else 0.0}


def _title_index(items: pd.DataFrame, table: TableConfig) -> dict[str, str]:
    """Title -> item id, for tables that name items by title; both the raw form and "title (year)" resolve."""
    index: dict[str, str] = {}
    for item_id, raw, title, year in zip(items["item_id"], items["raw_title"], items["title"], items["year"]):
        for key in (" ".join(raw.split()).casefold(), f"{title} ({year})".casefold() if year is not pd.NA else
                    title.casefold()):
            index.setdefault(key, item_id)
    return index


def _item_ids(frame: pd.DataFrame, table: TableConfig, items: pd.DataFrame) -> pd.Series:
    raw = frame[table.columns["item_id"]].map(lambda v: None if is_missing(v) else str(v).strip())
    if table.item_key == "id":
        return raw
    index = _title_index(items, table)

    def lookup(value):
        if value is None:
            return None
        key = " ".join(value.split()).casefold()
        if key in index:
            return index[key]
        title, year = clean_title(value, table.model_copy(update={"title_has_year": True}))
        return index.get(f"{title} ({year})".casefold() if year else title.casefold(), f"\0unmatched:{value}")

    return raw.map(lookup)


def _ratings(frame: pd.DataFrame, table: TableConfig, label: str) -> pd.Series:
    if "rating" not in table.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    column = table.columns["rating"]
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & ~raw.map(is_missing)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SeedSourceError(label, f"rating {raw.iloc[row]!r} is not a number", row=row + 1, column=column)
    return values.astype("float64")


def _timestamps(frame: pd.DataFrame, table: TableConfig) -> pd.Series:
    if "timestamp" not in table.columns:
        return pd.Series(np.arange(len(frame), dtype="float64"), index=frame.index)
    raw = frame[table.columns["timestamp"]]
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().mean() < 0.5:  # ISO dates and the like
        numeric = pd.to_datetime(raw, errors="coerce", utc=True).map(lambda t: np.nan if pd.isna(t) else t.timestamp())
    return numeric.astype("float64").fillna(-np.inf)


def _clean_text(text: str, table: TableConfig, patterns: list[re.Pattern], removals: list[re.Pattern]) -> str:
    if table.text_clean.drop_leading_lines or patterns:
        lines = text.splitlines()[table.text_clean.drop_leading_lines:]
        lines = [line for line in lines if not any(p.search(line.strip()) for p in patterns)]
        text = "\n".join(lines)
    for removal in removals:
        text = removal.sub(" ", text)
    return " ".join(text.split())


def _truncate(text: str, limit: int) -> str:
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.8 else cut).rstrip() + " …"


def load_reviews(config: SeedsConfig, items: pd.DataFrame, summary: dict) -> pd.DataFrame:
    table = config.source.tables["reviews"]
    frame, label = load_table(table, config, "reviews")
    check_columns(frame, table, label, "reviews")
    counts = _Table(summary, "reviews", label, len(frame))
    columns = table.columns
    reviews = pd.DataFrame({
        "item_id": _item_ids(frame, table, items),
        "user_id": frame[columns["user_id"]].map(lambda v: None if is_missing(v) else str(v).strip())
        if "user_id" in columns else None,
        "rating": _ratings(frame, table, label),
        "timestamp": _timestamps(frame, table),
        "row": np.arange(1, len(frame) + 1),
    })
    patterns = [re.compile(p) for p in table.text_clean.drop_line_patterns]
    removals = [re.compile(p) for p in table.text_clean.remove_patterns]
    texts = []
    for value in frame[columns["text"]].tolist():
        texts.append("" if is_missing(value) else _clean_text(str(value), table, patterns, removals))
    if "review_title" in columns:
        titles = frame[columns["review_title"]].map(lambda v: "" if is_missing(v) else " ".join(str(v).split()))
        texts = [f"{t}. {x}" if t and x else x for t, x in zip(titles, texts)]
    reviews["text"] = texts
    reviews["review_id"] = (frame[columns["review_id"]].map(lambda v: None if is_missing(v) else str(v))
                            if "review_id" in columns else None)

    missing_item = reviews["item_id"].isna()
    counts.drop("missing_item_id", missing_item.sum())
    reviews = reviews[~missing_item]
    in_catalogue = reviews["item_id"].isin(set(items["item_id"]))
    counts.drop("item_not_in_catalogue", (~in_catalogue).sum())
    summary.setdefault("join_coverage", {})["reviews matched to the catalogue"] = _ratio(
        int(in_catalogue.sum()), len(in_catalogue))
    reviews = reviews[in_catalogue]
    empty = reviews["text"] == ""
    counts.drop("empty_review_text", empty.sum())
    reviews = reviews[~empty]

    if table.group_text is not None and len(reviews):
        # several rows of one (user, item) are one review (MovieLens: one tag per row)
        before = len(reviews)
        reviews = reviews.assign(user_key=reviews["user_id"].fillna("\0")).sort_values(["row"])
        reviews = reviews.groupby(["user_key", "item_id"], sort=False, as_index=False).agg(
            user_id=("user_id", "first"), rating=("rating", "max"), timestamp=("timestamp", "max"),
            row=("row", "first"), review_id=("review_id", "first"),
            text=("text", lambda s: table.group_text.join(dict.fromkeys(s))),
        ).drop(columns="user_key")
        counts.change("rows merged into one review per (user, item)", before - len(reviews))
    # the same review twice: by its id when it has one, by (user, item, text) otherwise
    has_id = reviews["review_id"].notna() if "review_id" in columns else pd.Series(False, index=reviews.index)
    duplicated = (has_id & reviews["review_id"].duplicated(keep="first")) | (
        ~has_id & reviews.assign(has_id=has_id).duplicated(subset=["has_id", "user_id", "item_id", "text"],
                                                           keep="first"))
    counts.drop("duplicate_review (first kept)", duplicated.sum())
    reviews = reviews[~duplicated]
    if table.text_prefix:
        reviews["text"] = table.text_prefix + reviews["text"]
    too_long = reviews["text"].str.len() > config.source.max_review_chars
    counts.change(f"review_truncated_to_{config.source.max_review_chars}_chars", too_long.sum())
    if too_long.any():
        reviews.loc[too_long, "text"] = reviews.loc[too_long, "text"].map(
            lambda t: _truncate(t, config.source.max_review_chars))
    counts.kept(len(reviews))
    reviews["label"] = label
    return reviews.reset_index(drop=True)


def load_interactions(config: SeedsConfig, items: pd.DataFrame, reviews: pd.DataFrame | None,
                      summary: dict) -> pd.DataFrame | None:
    table = config.source.tables.get("interactions")
    if table is None:
        if reviews is None:
            return None
        # no ratings table: the reviews' own ratings are the interactions
        derived = reviews[reviews["user_id"].notna() & reviews["rating"].notna()]
        summary["tables"]["interactions"] = {
            "file": "(derived from reviews with a user and a rating)", "rows_read": len(derived),
            "rows_kept": len(derived), "dropped": {}, "changed": {},
        }
        return derived[["user_id", "item_id", "rating", "timestamp", "row"]].assign(label=reviews["label"].iloc[0]
                                                                                    if len(reviews) else "")
    frame, label = load_table(table, config, "interactions")
    check_columns(frame, table, label, "interactions")
    counts = _Table(summary, "interactions", label, len(frame))
    interactions = pd.DataFrame({
        "user_id": frame[table.columns["user_id"]].map(lambda v: None if is_missing(v) else str(v).strip()),
        "item_id": _item_ids(frame, table, items),
        "rating": _ratings(frame, table, label),
        "timestamp": _timestamps(frame, table),
        "row": np.arange(1, len(frame) + 1),
    })
    missing = interactions["user_id"].isna() | interactions["item_id"].isna()
    counts.drop("missing_user_or_item_id", missing.sum())
    interactions = interactions[~missing]
    in_catalogue = interactions["item_id"].isin(set(items["item_id"]))
    counts.drop("item_not_in_catalogue", (~in_catalogue).sum())
    summary.setdefault("join_coverage", {})["interactions matched to the catalogue"] = _ratio(
        int(in_catalogue.sum()), len(in_catalogue))
    interactions = interactions[in_catalogue]
    no_rating = interactions["rating"].isna()
    counts.drop("missing_rating", no_rating.sum())
    interactions = interactions[~no_rating]
    duplicated = interactions.sort_values(["timestamp", "row"]).duplicated(["user_id", "item_id"], keep="last")
    counts.drop("duplicate_user_item (latest kept)", duplicated.sum())
    interactions = interactions[~duplicated.reindex(interactions.index)]
    counts.kept(len(interactions))
    return interactions.assign(label=label).reset_index(drop=True)


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
    liked_hist: dict[int, np.ndarray] = {}
    disliked_hist: dict[int, np.ndarray] = {}
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
        for name, value in (
            ("seed_id", seed_id), ("domain", config.domain), ("item_id", item_id), ("title", title),
            ("year", year), ("metadata_text", meta_text), ("metadata_json", meta_json), ("review_text", review),
            ("rating", None if pd.isna(rating) else float(rating)), ("user_id", user_id),
            ("history_liked", [titles[j] for j in collaborative.history_without(liked_hist.get(ucode), code, h)]),
            ("history_disliked",
             [titles[j] for j in collaborative.history_without(disliked_hist.get(ucode), code, h)]),
            ("neighbor_ids", neighbor_ids_of[code] if neighbor_ids_of else []),
            ("neighbor_titles", neighbor_titles_of[code] if neighbor_titles_of else []),
            ("provenance", provenance),
        ):
            records[name].append(value)
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
    summary["join_coverage"]["seeds with a liked history"] = _ratio(counts["with_history"], n)
    summary["join_coverage"]["seeds with neighbours"] = _ratio(counts["with_neighbors"], n)
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
