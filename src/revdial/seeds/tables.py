"""The three source tables normalised: ids as strings, titles cleaned, metadata gathered, review texts scrubbed, and
every row that is dropped or changed counted under its reason in the run summary, with the first offending rows
named (file, row, column) for the reasons that point at a bad cell.

Bad cells (a rating that is not a number or outside [rating_min, rating_max], a review text that reads "nan", "null"
or "None") are counted skips; with `source.strict: true` the first one stops the build with a SeedSourceError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from revdial.seeds.errors import SeedSourceError
from revdial.seeds.reading import read_table
from revdial.seeds.scrub import PII_KINDS, LineRules, neutralise
from revdial.seeds.sources import SeedsConfig, TableConfig
from revdial.seeds.values import (
    clean_title,
    id_strings,
    is_missing,
    is_null_marker,
    parse_ratings,
    review_text,
    timestamps,
    truncate,
)

FIRST_ROWS = 3  # offending rows named per reason in the summary


class TableCounts:
    """Counts for one table in the summary: rows read, kept, dropped per reason, changed per reason, and the first
    offending rows of the reasons that point at a bad cell (`first_rows`)."""

    def __init__(self, summary: dict, role: str, label: str, rows: int, strict: bool = False):
        self.label, self.strict = label, strict
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

    def skip(
        self, reason: str, rows: Iterable[int], column: str, problems: Iterable[str], fatal: bool = False
    ) -> int:
        """Drop rows for `reason`, naming the first ones (`file: row R, column 'C': problem`); `fatal` rows stop a
        strict build at the first one. Returns the number dropped."""
        pairs = list(zip(rows, problems))
        if not pairs:
            return 0
        if fatal and self.strict:
            row, problem = pairs[0]
            raise SeedSourceError(
                self.label, f"{problem} (`strict: true` in the source)", row=int(row), column=column
            )
        self.drop(reason, len(pairs))
        self.entry.setdefault("first_rows", {})[reason] = [
            str(SeedSourceError(self.label, problem, row=int(row), column=column))
            for row, problem in pairs[:FIRST_ROWS]
        ]
        return len(pairs)


def ratio(part: int, whole: int) -> dict:
    return {"matched": int(part), "of": int(whole), "fraction": round(part / whole, 4) if whole else 0.0}


def _cell(value: Any) -> str:
    """A cell as written in messages: text quoted ('five'), numbers plain (-3, 1e+09)."""
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _skip_bad_ratings(
    frame: pd.DataFrame, raw: pd.Series | None, column: str, counts: TableCounts, bounds: tuple[float, float]
) -> pd.DataFrame:
    """Rows whose rating is not a number or out of range leave `frame` (counted, named; fatal when strict)."""
    if raw is None:
        return frame
    raw = raw.loc[frame.index]
    values, not_number, out_of_range = parse_ratings(raw, *bounds)
    frame = frame.assign(rating=values)
    low, high = bounds
    for reason, mask, what in (
        ("rating_not_a_number", not_number, "is not a number"),
        ("rating_out_of_range", out_of_range, f"is outside [{low:g}, {high:g}]"),
    ):
        counts.skip(
            reason,
            frame.loc[mask, "row"],
            column,
            [f"rating {_cell(v)} {what}" for v in raw[mask]],
            fatal=True,
        )
    return frame[~(not_number | out_of_range)]


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
    columns = (
        table.metadata
        if table.metadata is not None
        else [
            c for c in frame.columns if c not in mapped and c not in flagged and not str(c).startswith("__")
        ]
    )
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
    return " ".join(
        neutralise("; ".join(parts)).split()
    )  # descriptions carry HTML; no control token reaches a prompt


def _parse_details(value: Any) -> Any:
    """Amazon's `details` (and similar) arrive as JSON strings; keep them as objects inside metadata_json."""
    if isinstance(value, str) and value[:1] == "{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _item_rows(frame: pd.DataFrame, table: TableConfig, counts: TableCounts) -> pd.DataFrame:
    """One row per item id: ids and titles present, the first of a duplicated id kept (the others named)."""
    id_column = table.columns["item_id"]
    items = pd.DataFrame(
        {
            "item_id": id_strings(frame[id_column]),
            "raw_title": frame[table.columns["title"]].map(lambda v: None if is_missing(v) else str(v)),
            "row": np.arange(1, len(frame) + 1),
        }
    )
    items["metadata"] = _metadata_frame(frame, table)
    if "year" in table.columns:
        items["year_column"] = pd.to_numeric(frame[table.columns["year"]], errors="coerce")
    missing_id, missing_title = items["item_id"].isna(), items["raw_title"].isna()
    counts.drop("missing_item_id", missing_id.sum())
    counts.drop("missing_title", (missing_title & ~missing_id).sum())
    items = items[~missing_id & ~missing_title]
    duplicated = items["item_id"].duplicated(keep="first")
    first_row = items.groupby("item_id", sort=False)["row"].transform("first")
    counts.skip(
        "duplicate_item_id (first kept)",
        items.loc[duplicated, "row"],
        id_column,
        [
            f"item id {i!r} again (first at row {r}); this row dropped"
            for i, r in zip(items.loc[duplicated, "item_id"], first_row[duplicated])
        ],
    )
    items = items[~duplicated].reset_index(drop=True)
    cleaned = [clean_title(t, table) for t in items["raw_title"]]
    items["title"] = [c[0] for c in cleaned]
    years = [c[1] for c in cleaned]
    if "year_column" in items:
        years = [t if pd.isna(y) else int(y) for y, t in zip(items["year_column"], years)]
    items["year"] = pd.array(years, dtype="Int64")
    return items


def _join_metadata(items: pd.DataFrame, join: TableConfig, config: SeedsConfig, summary: dict) -> None:
    """Add one `join` table's metadata to the items' (the items' own values win); counted like a table."""
    joined, join_label = read_table(join, config, "items", check_as="join")
    join_counts = TableCounts(summary, f"items.join:{join_label}", join_label, len(joined))
    keys = id_strings(joined[join.columns["item_id"]])
    by_id: dict[str, dict] = {}
    for key, record in zip(keys, _metadata_frame(joined, join)):
        if key is not None:
            by_id.setdefault(key, record)
    join_counts.drop("missing_item_id", keys.isna().sum())
    join_counts.drop("duplicate_item_id (first kept)", int(keys.notna().sum()) - len(by_id))
    unmatched = len(by_id.keys() - set(items["item_id"]))
    join_counts.drop("item_not_in_items_table", unmatched)
    join_counts.kept(len(by_id) - unmatched)
    matched = 0
    for record, item_id in zip(items["metadata"], items["item_id"]):
        if item_id in by_id:
            matched += 1
            for key, value in by_id[item_id].items():
                record.setdefault(key, value)
    summary.setdefault("join_coverage", {})[f"items with {join_label}"] = ratio(matched, len(items))


def load_items(config: SeedsConfig, summary: dict) -> pd.DataFrame:
    table = config.source.tables["items"]
    frame, label = read_table(table, config, "items")
    counts = TableCounts(summary, "items", label, len(frame))
    items = _item_rows(frame, table, counts)
    counts.kept(len(items))
    summary.setdefault("join_coverage", {})
    for join in table.join:
        _join_metadata(items, join, config, summary)
    for record in items["metadata"]:
        for key, value in list(record.items()):
            record[key] = _parse_details(value)
    hidden = set(table.text_exclude).union(*(join.text_exclude for join in table.join))
    items["metadata_text"] = [
        render_metadata({k: v for k, v in m.items() if k not in hidden}) for m in items["metadata"]
    ]
    return items[["item_id", "title", "year", "raw_title", "metadata", "metadata_text", "row"]]


# --- reviews and interactions ------------------------------------------------------------------------------------
def _title_index(items: pd.DataFrame) -> dict[str, str]:
    """Title -> item id, for tables that name items by title; both the raw form and "title (year)" resolve."""
    index: dict[str, str] = {}
    for item_id, raw, title, year in zip(items["item_id"], items["raw_title"], items["title"], items["year"]):
        for key in (
            " ".join(raw.split()).casefold(),
            f"{title} ({year})".casefold() if year is not pd.NA else title.casefold(),
        ):
            index.setdefault(key, item_id)
    return index


def _item_ids(frame: pd.DataFrame, table: TableConfig, items: pd.DataFrame) -> pd.Series:
    raw = id_strings(frame[table.columns["item_id"]])
    if table.item_key == "id":
        return raw
    index = _title_index(items)
    with_year = table.model_copy(update={"title_has_year": True})

    def lookup(value):
        if value is None:
            return None
        key = " ".join(value.split()).casefold()
        if key in index:
            return index[key]
        title, year = clean_title(value, with_year)
        return index.get(f"{title} ({year})".casefold() if year else title.casefold(), f"\0unmatched:{value}")

    return raw.map(lookup)


def _in_catalogue(
    frame: pd.DataFrame,
    items: pd.DataFrame,
    counts: TableCounts,
    summary: dict,
    role: str,
    missing_reason: str,
    missing: pd.Series,
) -> pd.DataFrame:
    """Rows without ids, then rows whose item is not in the catalogue, leave (counted; coverage in the summary)."""
    counts.drop(missing_reason, missing.sum())
    frame = frame[~missing]
    in_catalogue = frame["item_id"].isin(set(items["item_id"]))
    counts.drop("item_not_in_catalogue", (~in_catalogue).sum())
    summary.setdefault("join_coverage", {})[f"{role} matched to the catalogue"] = ratio(
        int(in_catalogue.sum()), len(in_catalogue)
    )
    return frame[in_catalogue]


def _rating_source(frame: pd.DataFrame, table: TableConfig) -> tuple[pd.Series | None, str]:
    column = table.columns.get("rating", "")
    return (frame[column] if column else None), column


def _review_texts(
    reviews: pd.DataFrame, frame: pd.DataFrame, table: TableConfig, counts: TableCounts
) -> pd.DataFrame:
    """Scrub every raw text (before any line is joined); null markers and texts left empty are counted skips."""
    column = table.columns["text"]
    raw = frame.loc[reviews.index, column]
    null = raw.map(is_null_marker).astype(bool)
    counts.skip(
        "null_review_text ('nan', 'null', 'None'...)",
        reviews.loc[null, "row"],
        column,
        [f"review text {v!r} is a null marker" for v in raw[null]],
        fatal=True,
    )
    reviews, raw = reviews[~null], raw[~null]
    clean = table.text_clean
    rules = LineRules.compile(clean.drop_leading_lines, clean.drop_line_patterns, clean.remove_patterns)
    scrubbed = [review_text(value, rules) for value in raw.tolist()]
    texts = [text for text, _ in scrubbed]
    for kind in PII_KINDS:
        counts.change(f"review text scrubbed: {kind}", sum(1 for _, c in scrubbed if c.get(kind)))
    if "review_title" in table.columns:
        titles = frame.loc[reviews.index, table.columns["review_title"]].map(
            lambda v: "" if is_null_marker(v) else review_text(v, LineRules())[0]
        )
        texts = [f"{t}. {x}" if t and x else x for t, x in zip(titles, texts)]
    reviews = reviews.assign(text=pd.Series(texts, index=reviews.index, dtype=object))
    empty = reviews["text"] == ""
    counts.drop("empty_review_text", empty.sum())
    return reviews[~empty]


def _merge_groups(reviews: pd.DataFrame, separator: str, counts: TableCounts) -> pd.DataFrame:
    """Several rows of one (user, item) are one review (MovieLens: one tag per row)."""
    before = len(reviews)
    reviews = reviews.assign(user_key=reviews["user_id"].fillna("\0")).sort_values(["row"])
    reviews = (
        reviews.groupby(["user_key", "item_id"], sort=False, as_index=False)
        .agg(
            user_id=("user_id", "first"),
            rating=("rating", "max"),
            timestamp=("timestamp", "max"),
            row=("row", "first"),
            review_id=("review_id", "first"),
            text=("text", lambda s: separator.join(dict.fromkeys(s))),
        )
        .drop(columns="user_key")
    )
    counts.change("rows merged into one review per (user, item)", before - len(reviews))
    return reviews


def _drop_duplicate_reviews(reviews: pd.DataFrame, table: TableConfig, counts: TableCounts) -> pd.DataFrame:
    """The same review twice: by its id when it has one, by (user, item, text) otherwise; the first is kept."""
    has_id = reviews["review_id"].notna()
    duplicated = (has_id & reviews["review_id"].duplicated(keep="first")) | (
        ~has_id
        & reviews.assign(has_id=has_id).duplicated(
            subset=["has_id", "user_id", "item_id", "text"], keep="first"
        )
    )
    column = table.columns.get("review_id", table.columns["text"])
    counts.skip(
        "duplicate_review (first kept)",
        reviews.loc[duplicated, "row"],
        column,
        [
            f"review {r!r} again; this row dropped" if r is not None else "the same (user, item, text) again"
            for r in reviews.loc[duplicated, "review_id"]
        ],
    )
    return reviews[~duplicated]


def _cut_long(reviews: pd.DataFrame, limit: int, counts: TableCounts) -> pd.DataFrame:
    too_long = reviews["text"].map(len) > limit
    counts.change(f"review_truncated_to_{limit}_chars", too_long.sum())
    if too_long.any():
        reviews = reviews.copy()
        reviews.loc[too_long, "text"] = reviews.loc[too_long, "text"].map(lambda t: truncate(t, limit))
    return reviews


def load_reviews(config: SeedsConfig, items: pd.DataFrame, summary: dict) -> pd.DataFrame:
    source, table = config.source, config.source.tables["reviews"]
    frame, label = read_table(table, config, "reviews")
    counts = TableCounts(summary, "reviews", label, len(frame), source.strict)
    columns = table.columns
    reviews = pd.DataFrame(
        {
            "item_id": _item_ids(frame, table, items),
            "user_id": id_strings(frame[columns["user_id"]]) if "user_id" in columns else None,
            "rating": np.nan,
            "timestamp": timestamps(
                frame[columns["timestamp"]] if "timestamp" in columns else None, len(frame)
            ),
            "row": np.arange(1, len(frame) + 1),
            "review_id": frame[columns["review_id"]].map(lambda v: None if is_missing(v) else str(v))
            if "review_id" in columns
            else None,
        }
    )
    reviews = _in_catalogue(
        reviews, items, counts, summary, "reviews", "missing_item_id", reviews["item_id"].isna()
    )
    reviews = _skip_bad_ratings(
        reviews, *_rating_source(frame, table), counts, (source.rating_min, source.rating_max)
    )
    reviews = _review_texts(reviews, frame, table, counts)
    if table.group_text is not None and len(reviews):
        reviews = _merge_groups(reviews, table.group_text, counts)
    reviews = _drop_duplicate_reviews(reviews, table, counts)
    if table.text_prefix:
        reviews = reviews.assign(text=table.text_prefix + reviews["text"])
    reviews = _cut_long(reviews, source.max_review_chars, counts)
    counts.kept(len(reviews))
    return (
        reviews[["item_id", "user_id", "rating", "timestamp", "row", "text", "review_id"]]
        .assign(label=label)
        .reset_index(drop=True)
    )


def _derived_interactions(reviews: pd.DataFrame, summary: dict) -> pd.DataFrame:
    """No ratings table: the reviews' own ratings are the interactions."""
    derived = reviews[reviews["user_id"].notna() & reviews["rating"].notna()]
    summary["tables"]["interactions"] = {
        "file": "(derived from reviews with a user and a rating)",
        "rows_read": len(derived),
        "rows_kept": len(derived),
        "dropped": {},
        "changed": {},
    }
    return derived[["user_id", "item_id", "rating", "timestamp", "row"]].assign(
        label=reviews["label"].iloc[0] if len(reviews) else ""
    )


def load_interactions(
    config: SeedsConfig, items: pd.DataFrame, reviews: pd.DataFrame | None, summary: dict
) -> pd.DataFrame | None:
    source, table = config.source, config.source.tables.get("interactions")
    if table is None:
        return None if reviews is None else _derived_interactions(reviews, summary)
    frame, label = read_table(table, config, "interactions")
    counts = TableCounts(summary, "interactions", label, len(frame), source.strict)
    interactions = pd.DataFrame(
        {
            "user_id": id_strings(frame[table.columns["user_id"]]),
            "item_id": _item_ids(frame, table, items),
            "rating": np.nan,
            "timestamp": timestamps(
                frame[table.columns["timestamp"]] if "timestamp" in table.columns else None, len(frame)
            ),
            "row": np.arange(1, len(frame) + 1),
        }
    )
    missing = interactions["user_id"].isna() | interactions["item_id"].isna()
    interactions = _in_catalogue(
        interactions, items, counts, summary, "interactions", "missing_user_or_item_id", missing
    )
    interactions = _skip_bad_ratings(
        interactions, *_rating_source(frame, table), counts, (source.rating_min, source.rating_max)
    )
    no_rating = interactions["rating"].isna()
    counts.drop("missing_rating", no_rating.sum())
    interactions = interactions[~no_rating]
    duplicated = interactions.sort_values(["timestamp", "row"]).duplicated(
        ["user_id", "item_id"], keep="last"
    )
    counts.drop("duplicate_user_item (latest kept)", duplicated.sum())
    interactions = interactions[~duplicated.reindex(interactions.index)]
    counts.kept(len(interactions))
    return interactions.assign(label=label).reset_index(drop=True)
