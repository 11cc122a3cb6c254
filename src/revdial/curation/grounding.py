"""Ground free-text titles to catalogue item ids: normalised exact lookup first, rapidfuzz for the rest, year-aware.

Used by generation (a recommended title that does not ground is a hallucination) and by CRS evaluation (a model's
titles become item ids before Recall/NDCG). Both call it with thousands of titles, so the exact path is a dict and the
fuzzy path is one batched `rapidfuzz.process.cdist` over the titles the dict could not resolve.

Matching rules, in order:
1. `split_year` takes a trailing "(1995)" off the query; the rest is normalised with `normalize_title`.
2. Exact normalised keys. Each catalogue item is indexed under its full title, its main title without parenthesised
   alternatives ("Seven (a.k.a. Se7en)" -> "seven"), each alternative ("se7en"), and — at a lower priority — the part
   before a colon ("Star Wars: Episode IV - A New Hope" -> "star wars"), so a short form still grounds.
3. Otherwise the best rapidfuzz ratio over all keys (the larger of: tokens sorted; spaces removed), at or above `threshold`.
   A fuzzy hit must have the same numbers as the query ("Toy Story 5" does not ground to "Toy Story"), and read as a
   misspelling: titles under 7 letters match exactly, a differing word keeps its first letter ("Frida" is not
   "Friday", "The Wedding Singer" is not "The Wedding Ringer").
4. Among candidates with the same best title score, the year decides: a query year picks the item with that year
   (remakes share a title); a year more than `year_tolerance` away costs `year_penalty` points. Without a query year,
   the most popular item wins (`popularity` in the records, higher first), then the first in catalogue order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

__all__ = [
    "Catalogue",
    "Match",
    "display_title",
    "normalize_title",
    "split_year",
    "strip_accents",
    "title_aliases",
]

# Articles that catalogues move to the end ("Matrix, The"; MovieLens also does it for foreign titles: "Haine, La").
_MOVED_ARTICLES = ("the", "a", "an", "la", "le", "les", "l'", "el", "il", "los", "las", "das", "der", "die")
_LEADING_ARTICLES = ("the", "a", "an")
_MOVED_ARTICLE_RE = re.compile(
    r"^(?P<body>.+?),\s*(?P<article>" + "|".join(map(re.escape, _MOVED_ARTICLES)) + r")$", re.IGNORECASE
)
_LEADING_ARTICLE_RE = re.compile(r"^(?:" + "|".join(_LEADING_ARTICLES) + r")\s+(?=\S)")
_YEAR_RE = re.compile(
    r"^(?P<title>.*?)\s*[(\[]\s*(?P<year>(?:18[7-9]|19\d|20\d|21\d)\d)\s*(?:[-–]\s*(?:\d{4})?\s*)?[)\]]\s*$"
)
_PAREN_RE = re.compile(r"\s*\(([^()]*)\)")
_AKA_RE = re.compile(r"^(?:a\.?k\.?a\.?|also known as)\s+", re.IGNORECASE)
_NON_ALNUM_RE = re.compile(r"[^0-9a-z]+")
# Sequel numerals read as digits ("Rocky II" == "Rocky 2"); a lone "i" is too often the pronoun.
_ROMAN = {
    "ii": "2",
    "iii": "3",
    "iv": "4",
    "v": "5",
    "vi": "6",
    "vii": "7",
    "viii": "8",
    "ix": "9",
    "x": "10",
}


@dataclass(frozen=True)
class Match:
    """A grounded title: the catalogue item, its catalogue title, and the 0-100 score that matched it."""

    item_id: str
    title: str
    score: float
    year: int | None = None


def split_year(title: str) -> tuple[str, int | None]:
    """ "Heat (1995)" -> ("Heat", 1995); "Heat" -> ("Heat", None). Only a trailing 4-digit year in () or [] counts."""
    text = title.strip()
    found = _YEAR_RE.match(text)
    if found is None or not found.group("title").strip():
        return text, None
    return found.group("title").strip(), int(found.group("year"))


def display_title(title: str, year: object = None) -> str:
    """ "Heat", 1995 -> "Heat (1995)": how answers and the evaluation prompt write a catalogue item; no year, the title."""
    try:
        return f"{title} ({int(float(year))})"  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # None, "", NaN
        return str(title)


def title_year_matcher(catalogue: Sequence[dict]) -> Callable[[str, int | None], str | None]:
    """(title, year) -> the catalogue item id of the same normalised title and year, else the only item of that
    title, else the one of that title without a year; None when no single item fits. A trailing "(Year)" in a
    catalogue title or a query counts as its year (INSPIRED's items are "Title (Year)")."""
    by_title: dict[str, list[dict]] = {}
    for row in catalogue:
        title, year = split_year(row["title"])
        year = row.get("year") if row.get("year") is not None else year
        by_title.setdefault(normalize_title(title), []).append({"item_id": row["item_id"], "year": year})

    def match(title: str, year: int | None) -> str | None:
        title, written = split_year(title)
        year = year if year is not None else written
        rows = by_title.get(normalize_title(title), [])
        same_year = [r for r in rows if year is not None and r["year"] == year]
        found = same_year or (rows if len(rows) == 1 else [r for r in rows if r["year"] is None][:1])
        return found[0]["item_id"] if len(found) == 1 else None

    return match


def _unmove_article(title: str) -> str:
    """ "Matrix, The" -> "The Matrix"; "Haine, La" -> "La Haine"."""
    found = _MOVED_ARTICLE_RE.match(title.strip())
    if found is None:
        return title
    article = found.group("article")
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{found.group('body')}"


def strip_accents(text: str) -> str:
    """ "Amélie" -> "Amelie" (NFKD, combining marks dropped); case is kept."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def normalize_title(title: str, *, keep_article: bool = False) -> str:
    """Lowercase, accents stripped, "&" -> "and", punctuation removed, roman sequel numerals II-X as digits, a moved
    or leading English article dropped (moved to the front instead with `keep_article`).

    "The Matrix", "Matrix, The" and "matrix" all give "matrix"; "Amélie" gives "amelie"; "Spider-Man" gives
    "spider man". A year is NOT removed here: call `split_year` first.
    """
    # Titles repeat a lot (every LLM answer names popular ones); whole requests do not, so only short text is cached.
    if len(title) <= 200:
        return _normalize_cached(title, keep_article)
    return _normalize(title, keep_article)


@lru_cache(maxsize=100_000)
def _normalize_cached(title: str, keep_article: bool) -> str:
    return _normalize(title, keep_article)


def _normalize(title: str, keep_article: bool) -> str:
    text = strip_accents(title)
    text = _unmove_article(text.replace("&", " and ").strip()).casefold()
    # Apostrophes join ("Schindler's" -> "schindlers") instead of splitting a word in two.
    text = text.replace("'", "").replace("’", "").replace("`", "")
    text = _NON_ALNUM_RE.sub(" ", text).strip()
    text = " ".join(_ROMAN.get(word, word) for word in text.split())
    return text if keep_article else _LEADING_ARTICLE_RE.sub("", text)


def title_aliases(title: str) -> list[tuple[str, int]]:
    """Every normalised key a catalogue title is known by, with its priority (0 = the title itself; higher = weaker).

    "Seven (a.k.a. Se7en)" -> [("seven a k a se7en", 0), ("seven", 0), ("se7en", 1)];
    "Star Wars: Episode IV - A New Hope" -> [..., ("star wars", 2)].
    """
    base, _ = split_year(title)
    keys: dict[str, int] = {}

    def add(text: str, priority: int) -> None:
        key = normalize_title(text)
        if key and keys.get(key, priority + 1) > priority:
            keys[key] = priority

    add(base, 0)
    main = _PAREN_RE.sub("", base).strip()
    add(main, 0)
    for alternative in _PAREN_RE.findall(base):
        add(_AKA_RE.sub("", alternative.strip()), 1)
    for form in (main, *(_AKA_RE.sub("", a.strip()) for a in _PAREN_RE.findall(base))):
        head, colon, _ = form.partition(":")
        if colon and len(normalize_title(head)) >= 3:
            add(head, 2)
    return list(keys.items())


def _numbers(key: str) -> tuple[str, ...]:
    return tuple(sorted(t for t in key.split() if t.isdigit()))


def _sort_tokens(key: str) -> str:
    return " ".join(sorted(key.split()))


_MIN_FUZZY_CHARS = 7


def _plausible_typo(query: str, key: str) -> bool:
    """Whether a fuzzy hit reads as a misspelling rather than another title. In a small catalogue the nearest title
    is often a different film one letter away ("Frida" / "Friday", "The Wedding Singer" / "The Wedding Ringer"):
    titles under 7 letters must match exactly, and a word that differs must keep its first letter."""
    if min(len(query.replace(" ", "")), len(key.replace(" ", ""))) < _MIN_FUZZY_CHARS:
        return False
    mine, theirs = sorted(query.split()), sorted(key.split())
    if len(mine) != len(theirs):
        return True  # split or joined words ("Spiderman" / "Spider Man"): the ratio alone decides
    return all(a == b or a[0] == b[0] for a, b in zip(mine, theirs))


@dataclass(frozen=True)
class _Entry:
    item_id: str
    title: str
    year: int | None
    popularity: float
    order: int


class Catalogue:
    """Item titles indexed for grounding. Build with `from_records`, `from_dataset` or `from_parquet`."""

    def __init__(
        self,
        entries: list[_Entry],
        *,
        threshold: float = 88.0,
        year_tolerance: int = 1,
        year_penalty: float = 10.0,
    ) -> None:
        self.threshold = float(threshold)
        self.year_tolerance = int(year_tolerance)
        self.year_penalty = float(year_penalty)
        self._entries = entries
        self._by_id = {entry.item_id: entry for entry in entries}
        # key -> [(priority, entry index)], ordered so that [0] is the default pick when no year is asked for.
        index: dict[str, list[tuple[int, int]]] = {}
        for position, entry in enumerate(entries):
            for key, priority in title_aliases(entry.title):
                index.setdefault(key, []).append((priority, position))
        for candidates in index.values():
            candidates.sort(key=lambda c: (c[0], -entries[c[1]].popularity, entries[c[1]].order))
        self._index = index
        self._keys = list(index)
        # token_sort_ratio is ratio over sorted tokens; sorting once here lets cdist use its SIMD path for `ratio`.
        self._sorted_keys = [_sort_tokens(key) for key in self._keys]
        # Word order aside, the other common variation is word splitting ("Spiderman" / "Spider-Man").
        self._compact_keys = [key.replace(" ", "") for key in self._keys]
        self._cache: dict[str, Match | None] = {}

    # --- construction ---------------------------------------------------------------------------------------------
    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], **options: Any) -> Catalogue:
        """Records with `item_id` and `title`, optionally `year` and `popularity`.

        A title carrying its year ("Heat (1995)") with no `year` field gets the year from the title.
        Options: `threshold` (0-100, default 88), `year_tolerance` (default 1), `year_penalty` (default 10).
        """
        entries: list[_Entry] = []
        seen: set[str] = set()
        for row_number, record in enumerate(records):
            for column in ("item_id", "title"):
                if record.get(column) in (None, ""):
                    raise ValueError(
                        f"catalogue row {row_number}: column '{column}' is missing or empty: {dict(record)}"
                    )
            item_id = str(record["item_id"])
            if item_id in seen:
                raise ValueError(f"catalogue row {row_number}: duplicate item_id {item_id!r}")
            seen.add(item_id)
            title = str(record["title"])
            year = record.get("year")
            if year is None or (isinstance(year, float) and np.isnan(year)):
                year = split_year(title)[1]
            popularity = record.get("popularity")
            entries.append(
                _Entry(
                    item_id=item_id,
                    title=title,
                    year=int(year) if year is not None else None,
                    popularity=float(popularity) if popularity is not None else 0.0,
                    order=row_number,
                )
            )
        return cls(entries, **options)

    @classmethod
    def from_dataset(cls, dataset: Any, **options: Any) -> Catalogue:
        """From a `datasets.Dataset` (or anything with columns item_id, title[, year, popularity])."""
        columns = [c for c in ("item_id", "title", "year", "popularity") if c in dataset.column_names]
        for required in ("item_id", "title"):
            if required not in columns:
                raise ValueError(
                    f"catalogue dataset: column '{required}' not found; columns are: {', '.join(dataset.column_names)}"
                )
        data = {c: dataset[c] for c in columns}
        return cls.from_records((dict(zip(columns, values)) for values in zip(*data.values())), **options)

    @classmethod
    def from_parquet(cls, path: str | Path, **options: Any) -> Catalogue:
        """From a seeds directory's `catalogue.parquet` (item_id, title, year, metadata_text)."""
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        names = table.column_names
        for required in ("item_id", "title"):
            if required not in names:
                raise ValueError(f"{path}: column '{required}' not found; columns are: {', '.join(names)}")
        keep = [c for c in ("item_id", "title", "year", "popularity") if c in names]
        return cls.from_records(table.select(keep).to_pylist(), **options)

    # --- lookup -----------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    def title_of(self, item_id: str) -> str:
        """The catalogue title of an item id (KeyError if unknown)."""
        return self._by_id[item_id].title

    def match(self, title: str) -> Match | None:
        """The catalogue item a free-text title means, or None when nothing scores `threshold` or more."""
        return self.match_many([title])[0]

    def match_many(self, titles: list[str]) -> list[Match | None]:
        """`match` for many titles; the fuzzy search for all the exact misses runs as one batched cdist."""
        results: list[Match | None] = [None] * len(titles)
        pending: dict[str, list[int]] = {}
        for position, title in enumerate(titles):
            if title in self._cache:
                results[position] = self._cache[title]
            else:
                pending.setdefault(title, []).append(position)
        if not pending:
            return results

        fuzzy: list[tuple[str, str, int | None]] = []
        for title in pending:
            base, year = split_year(title)
            key = normalize_title(base)
            if not key:
                self._cache[title] = None
            elif key in self._index:
                self._cache[title] = self._pick([(key, 100.0)], year)
            else:
                fuzzy.append((title, key, year))
        for start in range(0, len(fuzzy), 512):
            chunk = fuzzy[start : start + 512]
            options = {"scorer": fuzz.ratio, "score_cutoff": self.threshold, "dtype": np.uint8, "workers": -1}
            scores = np.maximum(
                process.cdist([_sort_tokens(key) for _, key, _ in chunk], self._sorted_keys, **options),
                process.cdist([key.replace(" ", "") for _, key, _ in chunk], self._compact_keys, **options),
            )
            for (title, key, year), row in zip(chunk, scores):
                numbers = _numbers(key)
                hits = np.flatnonzero(row)
                # A fuzzy hit must agree on sequel numbers: "Toy Story 5" is not "Toy Story".
                candidates = [
                    (self._keys[h], float(row[h]))
                    for h in hits
                    if _numbers(self._keys[h]) == numbers and _plausible_typo(key, self._keys[h])
                ]
                self._cache[title] = self._pick(candidates, year) if candidates else None

        for title, positions in pending.items():
            for position in positions:
                results[position] = self._cache[title]
        return results

    def ground(self, titles: list[str]) -> tuple[list[str], list[str]]:
        """(item ids of the titles that ground, in order and without repeats; the titles that did not).

        The unmatched titles are what generation counts as hallucinations.
        """
        item_ids: list[str] = []
        unmatched: list[str] = []
        seen: set[str] = set()
        for title, found in zip(titles, self.match_many(list(titles))):
            if found is None:
                unmatched.append(title)
            elif found.item_id not in seen:
                seen.add(found.item_id)
                item_ids.append(found.item_id)
        return item_ids, unmatched

    def _pick(self, candidates: list[tuple[str, float]], year: int | None) -> Match | None:
        """Best (score after the year rule, alias priority, popularity, catalogue order) over the candidate keys."""
        best: tuple[tuple[float, float, int, float, int], _Entry, float] | None = None
        year_rank: float
        for key, title_score in candidates:
            for priority, position in self._index[key]:
                entry = self._entries[position]
                score = title_score
                year_rank = 0.0
                if year is not None and entry.year is None:
                    year_rank = -0.5  # unknown year: behind an exact year, ahead of a near one
                elif year is not None and entry.year is not None:
                    gap = abs(entry.year - year)
                    year_rank = -gap
                    if gap > self.year_tolerance:
                        score -= self.year_penalty
                if score < self.threshold:
                    continue
                rank = (score, year_rank, -priority, entry.popularity, -entry.order)
                if best is None or rank > best[0]:
                    best = (rank, entry, score)
        if best is None:
            return None
        _, entry, score = best
        return Match(item_id=entry.item_id, title=entry.title, score=score, year=entry.year)
