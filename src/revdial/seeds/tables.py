"""The three source tables normalised: ids as strings, titles cleaned, metadata gathered, texts cleaned, and every
row that is dropped or changed counted under its reason in the run summary.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd

from revdial.seeds.errors import SeedSourceError
from revdial.seeds.sources import (
    SeedsConfig,
    TableConfig,
    check_columns,
    clean_title,
    is_missing,
    load_table,
)


class TableCounts:
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
    counts = TableCounts(summary, "items", label, len(frame))
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
        join_counts = TableCounts(summary, f"items.join:{join_label}", join_label, len(joined))
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
        coverage[f"items with {join_label}"] = ratio(matched, len(items))
    for record in items["metadata"]:
        for key, value in list(record.items()):
            record[key] = _parse_details(value)
    hidden = set(table.text_exclude).union(*(join.text_exclude for join in table.join))
    items["metadata_text"] = [render_metadata({k: v for k, v in m.items() if k not in hidden})
                              for m in items["metadata"]]
    return items[["item_id", "title", "year", "raw_title", "metadata", "metadata_text", "row"]]


def ratio(part: int, whole: int) -> dict:
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
    counts = TableCounts(summary, "reviews", label, len(frame))
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
    summary.setdefault("join_coverage", {})["reviews matched to the catalogue"] = ratio(
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
    counts = TableCounts(summary, "interactions", label, len(frame))
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
    summary.setdefault("join_coverage", {})["interactions matched to the catalogue"] = ratio(
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
