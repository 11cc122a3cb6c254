"""Recommendation lists grounded by construction: the seed's item, then its neighbours, every one a catalogue item.

A small teacher cannot supply recommendation knowledge; the seeds already carry it. `grounded_list` blends the
seed's collaborative neighbours (co-liked by the same users, from real ratings) with its content neighbours (shared
metadata: genre, people, plot terms — `ContentIndex`, TF-IDF over the catalogue's metadata text) by weighted
reciprocal rank, drops what the request rules out, and puts the seed's item first (it is the ground truth the
request was written for). With `series_weight`, the items in series with a title the request names
(`same_series`) come early ("Toy Story 2" for "I loved Toy Story"), a pattern a small student can copy from its context.
`shared_reason` explains a pick by the metadata it shares with the seed's item
("also a 2010s animation comedy with Emma Stone"), so no reason mentions a fact the catalogue does not hold.
Pure functions over ids and strings; the distilabel step that uses them only moves columns.
"""

# No `from __future__ import annotations`: distilabel finds a step's input by its `StepInput` annotation object.
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import numpy as np
from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps import Step, StepInput
from pydantic import Field, PrivateAttr
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from revdial.config import GenerationConfig
from revdial.curation.grounding import display_title
from revdial.domains import DEFAULT_DOMAIN, load_pack
from revdial.generation.parsing import parse_recommendations
from revdial.generation.tasks import ANSWER_COLUMNS, _DialogueTask
from revdial.prompts import render

if TYPE_CHECKING:
    from distilabel.typing import StepOutput

_GENERATION = GenerationConfig()
# `generator_model` of a grounded answer: no model wrote the list.
GROUNDED_MODEL_NAME = "revdial-grounded"

# "genre: action, comedy; director: Jane Doe; plot: ..." -> {genre: [action, comedy], director: [Jane Doe], ...}
_FIELD = re.compile(r"(?:^|;\s+)([A-Za-z_][\w ]{0,30}):\s+")
_NON_WORD = re.compile(r"\W+")
_YEAR_SUFFIX = re.compile(r"\s*\(\d{4}\)\s*$")
_TITLE_WORD = re.compile(r"[a-z0-9]+|:")
_ARTICLES = frozenset({"the", "a", "an"})
# What may follow a one-word title in its sequel's: "Saw II", "Cars 2", "Alien: Covenant", "Rocky Returns".
_SEQUEL_MARKERS = frozenset(
    {":", "part", "chapter", "returns", "ii", "iii", "iv", "v", "vi", "vii"} | {str(n) for n in range(2, 10)}
)
# A content neighbour needs this many metadata terms. An item known only by its genre ("genre: comedy": 37 of
# ReDial's 6,924 movies, against a median of ~25 terms) is as near every comedy as a full match is, and such items
# were each in 12-15% of the experiment's grounded lists ("The King of Kong", "Sky High", "Snowglobe").
MIN_NEIGHBOUR_TERMS = 5


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
    listable: np.ndarray | None = None  # which items may be a neighbour (None: all)

    @classmethod
    def from_metadata(cls, item_ids: Sequence[str], metadata_texts: Sequence[str | None]) -> "ContentIndex":
        """Items whose metadata has fewer than MIN_NEIGHBOUR_TERMS terms are never listed as a neighbour."""
        docs = [_document(parse_metadata_text(text)) for text in metadata_texts]
        vectorizer = TfidfVectorizer(
            token_pattern=r"[^\s]{2,}", stop_words="english", sublinear_tf=True, min_df=1
        )
        try:
            matrix = normalize(vectorizer.fit_transform(docs)).tocsr()
        except ValueError:  # no item has any metadata: an empty index
            from scipy.sparse import csr_matrix

            matrix = csr_matrix((len(docs), 1))
        listable = np.diff(matrix.indptr) >= MIN_NEIGHBOUR_TERMS
        return cls(list(item_ids), matrix, {item: i for i, item in enumerate(item_ids)}, listable)

    def neighbors(self, item_id: str, k: int) -> list[str]:
        """The k items most similar to `item_id` (itself excluded; items without shared terms never appear)."""
        row = self._row.get(item_id)
        if row is None or k <= 0:
            return []
        scores = (self.matrix @ self.matrix[row].T).toarray().ravel()
        scores[row] = 0.0
        if self.listable is not None:
            scores[~self.listable] = 0.0
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.item_ids[j] for j in top if scores[j] > 0]


def title_words(title: str) -> tuple[str, ...]:
    """A title's words for series matching: lower case, a trailing "(year)" and leading articles dropped, a colon
    kept as a word of its own ("Alien: Covenant" -> alien, :, covenant)."""
    words = _TITLE_WORD.findall(_YEAR_SUFFIX.sub("", title or "").lower())
    while words and words[0] in _ARTICLES:
        words.pop(0)
    return tuple(words)


def same_series(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two titles' words (`title_words`) read as one series: one is the start of the other ("Toy Story" /
    "Toy Story 2", "The Avengers" / "Avengers: Infinity War"; after a one-word title only a sequel marker: "Saw" /
    "Saw II", not "Seven" / "Seven Pounds"), or they open with the same two words ("Harry Potter and the ..."). A
    shared word alone is not enough: "Heat" / "Red Heat", "Happy Gilmore" / "Happy Feet".
    Chosen on validation data as a ranker (the items in series with the ones a context names): R@10, mentioned
    excluded, 0.052 on INSPIRED dev and 0.038 on 2,000 ReDial train-split turns, as high as the TF-IDF cosine of
    titles (0.066 / 0.036) with under a fifth of the mates per named title (0.9 on ReDial against 5+)."""
    if not a or not b or a == b:
        return False
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if tuple(long_[: len(short)]) == tuple(short):
        return len(short) > 1 or long_[1] in _SEQUEL_MARKERS
    return len(short) >= 2 and tuple(a[:2]) == tuple(b[:2])


@dataclass
class SeriesIndex:
    """Series mates over a catalogue (`same_series`), looked up by a title's first word."""

    item_ids: list[str]
    words: list[tuple[str, ...]]
    _by_first: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _row: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def from_titles(cls, item_ids: Sequence[str], titles: Sequence[str]) -> "SeriesIndex":
        words = [title_words(str(title)) for title in titles]
        by_first: dict[str, list[int]] = {}
        for row, w in enumerate(words):
            if w:
                by_first.setdefault(w[0], []).append(row)
        return cls(list(item_ids), words, by_first, {item: i for i, item in enumerate(item_ids)})

    def mate_rows(self, row: int) -> list[int]:
        """The rows in series with `row`: those that extend or begin its title first, then those that share its
        first two words; a title held under several rows (the same words) is never its own mate, and a title with
        no word ("???", or one in a script the words pattern does not read) has none."""
        words = self.words[row]
        if not words:
            return []
        found = [other for other in self._by_first.get(words[0], []) if same_series(words, self.words[other])]
        return sorted(
            found, key=lambda other: (self.words[other][: len(words)] != words, len(self.words[other]))
        )

    def mates(self, item_id: str) -> list[str]:
        row = self._row.get(item_id)
        return [] if row is None else [self.item_ids[other] for other in self.mate_rows(row)]


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
    mentioned: Sequence[str] = (),
    mentioned_weight: float = 0.0,
    series: Sequence[str] = (),
    series_weight: float = 0.0,
    lead: Sequence[str] = (),
) -> list[str]:
    """`lead` (if any), the seed's item, then the blend of its neighbours (and, with `mentioned_weight`, of
    `mentioned`: the neighbours of the titles the request names; with `series_weight`, of `series`: the items in
    series with the named ones), `n` distinct items, none of `exclude`."""
    banned = set(exclude)
    lists = [
        (collaborative, weights[0]),
        (content, weights[1]),
        (mentioned, mentioned_weight),
        (series, series_weight),
    ]
    ordered = [*lead, target] + blend(lists)
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


def describe(item: Mapping[str, object], noun: str = "movie") -> str:
    """A one-line reason for the seed's own item, from its metadata only ("a 1990s crime thriller by Michael Mann")."""
    fields = parse_metadata_text(item.get("metadata_text"))
    what = " ".join(
        part
        for part in [_decade(item.get("year")), " ".join(fields.get("genre", [])[:2]) or None, noun]
        if part
    )
    article = "an" if what[:1].lower() in "aeiou" else "a"
    director = fields.get("director") or []
    star = fields.get("star") or []
    by = f" by {director[0]}" if director else (f" with {star[0]}" if star else "")
    return f"{article} {what}{by}"


def _shown(item: Mapping[str, object]) -> str:
    return display_title(str(item["title"]), item.get("year"))


def mentioned_ids(texts: Iterable[str], titles: Mapping[str, str]) -> set[str]:
    """Catalogue ids whose title (normalised, whole words, 4+ characters) occurs in any of `texts`."""
    from revdial.curation.grounding import normalize_title

    haystack = " " + " ".join(normalize_title(text) for text in texts) + " "
    return {item for item, title in titles.items() if len(title) >= 4 and f" {title} " in haystack}


_SMALL_WORDS = frozenset("a an the and of in on at to for with from by or nor but vs de la le".split())
_LOWER_WORD = re.compile(r"(?<![\w'’])[a-z][\w'’]*")
# A capitalised word that opens a sentence and is followed by a lowercase word: "They asked ...", "It was ...".
_SENTENCE_OPENER = re.compile(r"(^|[.!?]\s+)[A-Z][\w'’]*(?=\s+[a-z])")


def named_ids(texts: Iterable[str], titles: Mapping[str, str]) -> set[str]:
    """Like `mentioned_ids`, but a title counts only where it is written as a name (its words capitalised, small
    words aside): "I loved Heat and Collateral" names both; "a dark, funny movie" names neither Dark nor Funny. A
    one-word name that opens a sentence is read as a capitalised word ("They asked..." names no movie "They")."""

    found: set[str] = set()
    for text in texts:
        text = _SENTENCE_OPENER.sub(lambda opener: opener[1] + "\n", text)
        # cut the text at every lowercase word that is not a small word; what is left are runs of names
        kept = _LOWER_WORD.sub(lambda word: word[0] if word[0] in _SMALL_WORDS else "\n", text)
        for run in kept.split("\n"):
            if any(ch.isupper() or ch.isdigit() for ch in run):
                found |= mentioned_ids([run], titles)
    # "How to Train Your Dragon" names one film, not also "Train" and "Dragon"
    names = {item: f" {titles[item]} " for item in found}
    return {
        item
        for item in found
        if not any(name != names[item] and names[item] in name for name in names.values())
    }


# --- the distilabel step (no LLM) -----------------------------------------------------------------------------------
class GroundedAnswer(Step):
    """The recommendation list built from the seed's neighbours instead of an LLM: the same columns as the LLM
    answer task (`parsed_titles`, `parsed_reasons`), so grounding and curation treat both alike."""

    catalogue_path: Optional[RuntimeParameter[str]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default=None, description="catalogue.parquet of the seeds."
    )
    n_recommendations: RuntimeParameter[int] = Field(default=_GENERATION.n_recommendations)
    collaborative_weight: RuntimeParameter[float] = Field(default=_GENERATION.grounded.collaborative_weight)
    content_weight: RuntimeParameter[float] = Field(default=_GENERATION.grounded.content_weight)
    mentioned_weight: RuntimeParameter[float] = Field(default=_GENERATION.grounded.mentioned_weight)
    series_weight: RuntimeParameter[float] = Field(default=_GENERATION.grounded.series_weight)
    series_first: RuntimeParameter[bool] = Field(default=_GENERATION.grounded.series_first)
    domain: RuntimeParameter[str] = Field(
        default=DEFAULT_DOMAIN, description="The domain pack (its item noun)."
    )
    item_noun: Optional[RuntimeParameter[str]] = Field(default=None)  # noqa: UP045 (None: the pack's, per item)

    _items: dict = PrivateAttr(default_factory=dict)
    _titles: dict = PrivateAttr(default_factory=dict)
    _index: Optional[ContentIndex] = PrivateAttr(default=None)  # noqa: UP045
    _series: Optional[SeriesIndex] = PrivateAttr(default=None)  # noqa: UP045

    @property
    def inputs(self) -> list[str]:
        return ["item_id", "neighbor_ids", "conversation"]

    @property
    def outputs(self) -> list[str]:
        return list(ANSWER_COLUMNS)

    def load(self) -> None:
        super().load()
        import pandas as pd

        from revdial.curation.grounding import normalize_title

        if not self.catalogue_path:
            raise ValueError(f"{self.name}: runtime parameter `catalogue_path` is required")
        catalogue = pd.read_parquet(self.catalogue_path)
        records = catalogue.astype(object).where(catalogue.notna(), None).to_dict("records")
        self._items = {str(r["item_id"]): r for r in records}
        self._titles = {item: normalize_title(str(r["title"])) for item, r in self._items.items()}
        self._index = ContentIndex.from_metadata(list(self._items), [r.get("metadata_text") for r in records])
        if self.series_weight or self.series_first:
            self._series = SeriesIndex.from_titles(list(self._items), [str(r["title"]) for r in records])

    def answer(self, row: Mapping[str, object]) -> tuple[list[str], list[str]]:
        """(display titles, reasons) for one row; titles the conversation already names are left out."""
        assert self._index is not None
        target = str(row["item_id"])
        said = [str(turn.get("content") or "") for turn in row.get("conversation") or []]
        exclude = mentioned_ids(said, self._titles) - {target}
        content = self._index.neighbors(target, 3 * self.n_recommendations)
        collaborative = [str(i) for i in row.get("neighbor_ids") or [] if str(i) in self._items]
        named = sorted(named_ids(said, self._titles) - {target})
        ids = grounded_list(
            target,
            collaborative,
            content,
            2 * self.n_recommendations,  # room for the duplicates `_one_per_title` drops
            (self.collaborative_weight, self.content_weight),
            exclude,
            self._neighbours_of(named) if self.mentioned_weight else [],
            self.mentioned_weight,
            self._series_of(named),
            self.series_weight,
            self._series_of(named) if self.series_first else (),
        )
        ids = self._one_per_title(ids)[: self.n_recommendations]
        anchor = self._items.get(target, {"title": row.get("title")})
        noun = self.item_noun or load_pack(self.domain).noun_for(row)
        titles = [_shown(self._items[i]) for i in ids]
        reasons = [describe(anchor, noun)] + [
            shared_reason(anchor, self._items[i], _shown(anchor), noun) for i in ids[1:]
        ]
        return titles, reasons[: len(titles)]

    def _one_per_title(self, ids: Sequence[str]) -> list[str]:
        """The first id of each shown title: a catalogue can hold one movie under several ids ("Men in Black (1997)"
        three times in ReDial's), and a list that says it twice teaches a student to repeat itself."""
        first: dict[str, str] = {}
        for item in ids:
            if item in self._items:
                first.setdefault(_shown(self._items[item]), item)
        return list(first.values())

    def _neighbours_of(self, items: Sequence[str]) -> list[str]:
        """The content neighbours of several items in one ranking (reciprocal-rank fusion, equal weights)."""
        assert self._index is not None
        return blend([(self._index.neighbors(item, 3 * self.n_recommendations), 1.0) for item in items])

    def _series_of(self, items: Sequence[str]) -> list[str]:
        """The series mates (`same_series`) of the titles a request names, in one ranking; none when unweighted.
        Only named titles: a student can learn "Toy Story 2 for someone who named Toy Story" from the request, not
        the sequels of a seed the request must not name."""
        if self._series is None:
            return []
        return blend([(self._series.mates(item), 1.0) for item in items])

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = []
        for row in inputs:
            if row.get("skip_reason") or str(row.get("item_id")) not in self._items:
                rows.append(
                    {
                        **row,
                        "recommended_raw": None,
                        "parsed_titles": [],
                        "parsed_reasons": [],
                        "model_name": GROUNDED_MODEL_NAME,
                    }
                )
                continue
            titles, reasons = self.answer(row)
            raw = "\n".join(
                f"{rank}. {title} - {why}" for rank, (title, why) in enumerate(zip(titles, reasons), 1)
            )
            rows.append(
                {
                    **row,
                    "recommended_raw": raw,
                    "parsed_titles": titles,
                    "parsed_reasons": reasons,
                    "model_name": GROUNDED_MODEL_NAME,
                }
            )
        yield rows


# --- hybrid: the grounded list, reasons by the teacher ---------------------------------------------------------------
def merge_reasons(
    titles: Sequence[str], written: Sequence[tuple[str, str]], fallback: Sequence[str]
) -> list[str]:
    """One reason per title of the fixed list: the teacher's, for a line naming that title (case, punctuation and
    year ignored), else the metadata reason. Titles the teacher added are dropped; its order does not matter."""
    from revdial.curation.grounding import normalize_title, split_year

    def title_key(title: str) -> str:
        return normalize_title(split_year(title)[0])

    said: dict[str, str] = {}
    for title, reason in written:
        said.setdefault(title_key(title), reason.strip())
    return [said.get(title_key(title)) or why for title, why in zip(titles, fallback)]


class ExplainRecommendations(_DialogueTask):
    """`generation.answer: hybrid`: the teacher writes a reason for each title of the grounded list (the list itself,
    its order and its titles stay as `GroundedAnswer` made them); a reason it does not give keeps the metadata one."""

    @property
    def inputs(self) -> list[str]:
        return ["conversation", "parsed_titles", "parsed_reasons"]

    @property
    def outputs(self) -> list[str]:
        return list(ANSWER_COLUMNS)

    def _can_generate(self, row: dict) -> bool:
        return super()._can_generate(row) and bool(row.get("parsed_titles"))

    def format_input(self, input: dict) -> list[dict[str, str]]:
        words = self._words(input)
        prompt = render(
            "explain", conversation=list(input["conversation"]), titles=list(input["parsed_titles"]), **words
        )
        return [
            {"role": "system", "content": render("recommend_system", **words)},
            {"role": "user", "content": prompt},
        ]

    def format_output(self, output: Optional[str], input: Optional[dict] = None) -> dict:  # noqa: UP045
        titles = list((input or {}).get("parsed_titles") or [])
        items = parse_recommendations(
            output, max_items=2 * len(titles) + 5, known_titles={t: t for t in titles}
        )
        reasons = merge_reasons(
            titles, [(item.display, item.reason) for item in items], (input or {}).get("parsed_reasons") or []
        )
        return {"recommended_raw": output, "parsed_titles": titles, "parsed_reasons": reasons}
