"""Recommendation lists grounded by construction: the seed's item, then its neighbours, every one a catalogue item.

A small teacher cannot supply recommendation knowledge; the seeds already carry it. `grounded_list` blends the
seed's collaborative neighbours (co-liked by the same users, from real ratings) with its content neighbours (shared
metadata: genre, people, plot terms — `ContentIndex`, TF-IDF over the catalogue's metadata text) by weighted
reciprocal rank, drops what the request rules out, and puts the seed's item first (it is the ground truth the
request was written for). `shared_reason` explains a pick by the metadata it shares with the seed's item
("also a 2010s animation comedy with Emma Stone"), so no reason mentions a fact the catalogue does not hold.
Pure functions over ids and strings; the distilabel step that uses them only moves columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

# "genre: action, comedy; director: Jane Doe; plot: ..." -> {genre: [action, comedy], director: [Jane Doe], ...}
_FIELD = re.compile(r"(?:^|;\s+)([A-Za-z_][\w ]{0,30}):\s+")
_NON_WORD = re.compile(r"\W+")


def parse_metadata_text(text: str | None) -> dict[str, list[str] | str]:
    """The fields of a rendered `metadata_text` (revdial's "key: a, b; key: c" form); `plot` stays one string."""
    if not text:
        return {}
    parts = _FIELD.split(text)
    fields: dict[str, list[str] | str] = {}
    for key, value in zip(parts[1::2], parts[2::2]):
        key, value = key.strip().lower(), value.strip().rstrip(";").strip()
        if key in ("plot", "description", "summary"):
            fields[key] = value
        else:
            fields[key] = [part.strip() for part in value.split(",") if part.strip()]
    return fields


def _document(fields: Mapping[str, list[str] | str]) -> str:
    """One TF-IDF document: list values as whole tokens (a person is one term, not two), prose as words."""
    tokens = []
    for key, value in fields.items():
        if isinstance(value, str):
            tokens.append(value.lower())
        else:
            tokens.extend(f"{key}={_NON_WORD.sub('_', part.lower()).strip('_')}" for part in value)
    return " ".join(tokens)


@dataclass
class ContentIndex:
    """Content neighbours over a catalogue: cosine of TF-IDF vectors of each item's metadata."""

    item_ids: list[str]
    matrix: object  # scipy sparse, rows L2-normalised
    _row: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def from_metadata(cls, item_ids: Sequence[str], metadata_texts: Sequence[str | None]) -> ContentIndex:
        docs = [_document(parse_metadata_text(text)) for text in metadata_texts]
        vectorizer = TfidfVectorizer(
            token_pattern=r"[^\s]{2,}", stop_words="english", sublinear_tf=True, min_df=1
        )
        try:
            matrix = normalize(vectorizer.fit_transform(docs))
        except ValueError:  # no item has any metadata: an empty index
            from scipy.sparse import csr_matrix

            matrix = csr_matrix((len(docs), 1))
        return cls(list(item_ids), matrix, {item: i for i, item in enumerate(item_ids)})

    def neighbors(self, item_id: str, k: int) -> list[str]:
        """The k items most similar to `item_id` (itself excluded; items without shared terms never appear)."""
        row = self._row.get(item_id)
        if row is None or k <= 0:
            return []
        scores = (self.matrix @ self.matrix[row].T).toarray().ravel()
        scores[row] = 0.0
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.item_ids[j] for j in top if scores[j] > 0]


def blend(ranked_lists: Iterable[tuple[Sequence[str], float]], rank_constant: float = 10.0) -> list[str]:
    """Weighted reciprocal-rank fusion: score(item) = sum over lists of weight / (rank_constant + rank)."""
    scores: dict[str, float] = {}
    for items, weight in ranked_lists:
        if weight <= 0:
            continue
        for rank, item in enumerate(items):
            scores[item] = scores.get(item, 0.0) + weight / (rank_constant + rank)
    return sorted(scores, key=lambda item: -scores[item])


def grounded_list(
    target: str,
    collaborative: Sequence[str],
    content: Sequence[str],
    n: int,
    weights: tuple[float, float] = (1.0, 1.0),
    exclude: Iterable[str] = (),
) -> list[str]:
    """The seed's item first, then the blend of its neighbours, `n` distinct items, none of `exclude`."""
    banned = set(exclude)
    ordered = [target] + blend([(collaborative, weights[0]), (content, weights[1])])
    answer: list[str] = []
    for item in ordered:
        if item not in banned and item not in answer:
            answer.append(item)
        if len(answer) == n:
            break
    return answer


def _decade(year: object) -> str | None:
    try:
        return f"{int(float(year)) // 10 * 10}s"
    except (TypeError, ValueError):
        return None


def shared_reason(
    anchor: Mapping[str, object], item: Mapping[str, object], anchor_title: str, noun: str = "movie"
) -> str:
    """Why `item` fits someone who wants something like `anchor`, from the metadata both hold (may be generic)."""
    a, b = parse_metadata_text(anchor.get("metadata_text")), parse_metadata_text(item.get("metadata_text"))
    genres = [g for g in b.get("genre", []) if g in set(a.get("genre", []))][:2]
    people = [p for key in ("director", "star", "writer") for p in b.get(key, []) if p in set(a.get(key, []))]
    decade = _decade(item.get("year")) if _decade(item.get("year")) == _decade(anchor.get("year")) else None
    if not (genres or people or decade):
        return f"often liked by people who liked {anchor_title}"
    what = " ".join(part for part in [decade, " ".join(genres) or None, noun] if part)
    article = "an" if what[:1].lower() in "aeiou" else "a"
    with_people = f" with {people[0]}" if people else ""
    return f"also {article} {what}{with_people}, like {anchor_title}"
