"""Cell-level cleaning of source tables: ids, titles, ratings, timestamps and review texts. Pure functions on values
and pandas Series; `tables` applies them and counts what they reject."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from revdial.seeds.scrub import LineRules, neutralise, scrub_review
from revdial.seeds.sources import TableConfig

YEAR_IN_TITLE = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$")
ARTICLE_SUFFIX = re.compile(r"^(?P<rest>.+), (?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El|Los|Las)$")
# What exporters write for "no value" (pandas' "nan", SQL's NULL, Python's None): never a review or a rating.
NULL_MARKERS = frozenset({"nan", "null", "none", "n/a", "undefined"})


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def is_null_marker(value: Any) -> bool:
    """A cell holding the text of a missing value ("nan", "NULL", "None"...), as CSV round trips of null leave it."""
    return isinstance(value, str) and value.strip().casefold() in NULL_MARKERS


def id_strings(column: pd.Series) -> pd.Series:
    """Ids as stripped strings; missing cells become None."""
    return column.map(lambda v: None if is_missing(v) else str(v).strip())


def clean_title(raw: str, table: TableConfig) -> tuple[str, int | None]:
    """Control tokens and markup out, whitespace squeezed; a trailing "(1995)" split off and ", The" moved to the front
    when the table says so."""
    title = " ".join(neutralise(str(raw)).split())
    year = None
    if table.title_has_year:
        match = YEAR_IN_TITLE.match(title)
        if match and match.group("title"):
            title, year = match.group("title"), int(match.group("year"))
    if table.title_article_suffix:
        match = ARTICLE_SUFFIX.match(title)
        if match:
            title = f"{match.group('article')} {match.group('rest')}".replace("L' ", "L'")
    return title, year


def parse_ratings(raw: pd.Series, low: float, high: float) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(ratings as floats with NaN for missing, not-a-number mask, out-of-[low, high] mask); bad cells become NaN.

    Empty cells and null markers ("nan", "null") are missing ratings, not bad ones.
    """
    missing = raw.map(lambda v: is_missing(v) or is_null_marker(v)).astype(bool)
    values = pd.to_numeric(raw.where(~missing), errors="coerce").astype("float64")
    not_number = values.isna() & ~missing
    out_of_range = values.notna() & ~values.between(low, high)  # inf and 1e9 included
    return values.mask(out_of_range), not_number, out_of_range


def timestamps(raw: pd.Series | None, n: int) -> pd.Series:
    """Numbers, or dates parsed to epoch seconds; rows without one sort first (-inf); no column = row order."""
    if raw is None:
        return pd.Series(np.arange(n, dtype="float64"))
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().mean() < 0.5:  # ISO dates and the like
        numeric = pd.to_datetime(raw, errors="coerce", utc=True).map(
            lambda t: np.nan if pd.isna(t) else t.timestamp()
        )
    return numeric.astype("float64").fillna(-np.inf)


def review_text(value: Any, rules: LineRules) -> tuple[str, dict[str, int]]:
    """One raw review cell scrubbed line by line (chrome, names, contacts, control tokens, markup), then flattened."""
    if is_missing(value):
        return "", {}
    text, counts = scrub_review(str(value), rules)
    return " ".join(text.split()), counts


def truncate(text: str, limit: int) -> str:
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.8 else cut).rstrip() + " …"
