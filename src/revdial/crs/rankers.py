"""Zero-data rankers built from a seed source's tables, scored by `revdial eval` like any model.

    revdial eval --model ranker:cf:pipelines/movielens-redial.yaml --benchmark he2023-redial --k 50 --out r-cf.json

`ranker:<kind>:<pipeline.yaml>`: the YAML is a seeds/synthesis config; its `source.tables` are read by revdial's own
seed loading (`revdial.seeds.build.join_tables`): `items` (with metadata) and `interactions` (ratings; a rating of
at least `source.liked_min_rating` is a like). Everything is moved onto the benchmark's item ids first: a source item
maps to the benchmark item of the same normalised title and year, else to the only item of that title
(`title_year_matcher`), so a benchmark's duplicate titles merge and unmapped items drop out. Kinds:

- `popularity`: the items with the most likers, the same list for every turn;
- `cf`:         item kNN, the cosine of two items' liker sets (`revdial.seeds.collaborative.item_neighbors`),
                summed over the items the turn's context mentions (`EvalTurn.mentioned_ids`);
- `content`:    the same over TF-IDF of the items' metadata text (`revdial.generation.grounded.ContentIndex`:
                genre, director, cast, writer, plot);
- `blend`:      cf and content scores, each divided by its largest value in the turn, summed;
- `series`:     the items in series with a mentioned item ("Toy Story 2" for "Toy Story":
                `revdial.generation.grounded.same_series`, over the benchmark's titles), counted the same way.

Popularity breaks ties, so a turn that mentions no mapped item (or one no signal reaches) gets the popularity list.
A ranker never lists an item the context mentions (item kNN recommends what is not being discussed): in the metrics'
`all_items` setting a target that repeats a mentioned item is a miss; `exclude_mentioned` is the like-for-like
comparison with models that may repeat one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from revdial.config import RANKER_KINDS
from revdial.crs.benchmarks import Benchmark, EvalTurn
from revdial.curation.grounding import title_year_matcher

if TYPE_CHECKING:
    from revdial.generation.grounded import SeriesIndex

PREFIX = "ranker:"


def is_language_model(model: str) -> bool:
    """Whether `revdial eval --model` decodes text for `model` (a decoding applies), or ranks with no LM
    (`popularity`, `ranker:...`)."""
    return model != "popularity" and not model.startswith(PREFIX)


class RankerError(ValueError):
    """A `ranker:` model string or config that cannot make a ranker (names the model string and the key)."""


@dataclass(frozen=True)
class RankerSpec:
    kind: str
    config: Path


def parse_ranker(model: str) -> RankerSpec:
    """`ranker:<kind>:<pipeline.yaml>` -> RankerSpec; a bad kind or a missing path is a RankerError."""
    _, _, rest = model.partition(PREFIX)
    kind, _, config = rest.partition(":")
    if kind not in RANKER_KINDS or not config:
        raise RankerError(
            f"{model}: a ranker model is ranker:<kind>:<pipeline.yaml> with kind one of {', '.join(RANKER_KINDS)}"
        )
    return RankerSpec(kind, Path(config))


@dataclass
class SourceSignals:
    """The source's items and likes on the benchmark's item codes (0..n-1, the catalogue's order)."""

    item_ids: list[str]  # benchmark ids, by code
    liked: sp.csr_matrix  # users x items, binary
    metadata: dict[int, str]  # code -> metadata_text of the first source item mapped to it
    summary: dict

    @property
    def popularity(self) -> np.ndarray:
        return np.asarray(self.liked.sum(axis=0)).ravel()


def _on_benchmark_codes(items, bench: Benchmark) -> tuple[dict[str, int], dict[int, str]]:
    """(source item id -> benchmark code, benchmark code -> metadata text of the first source item mapped to it)."""
    import pandas as pd

    codes = {row["item_id"]: code for code, row in enumerate(bench.catalogue)}
    match = title_year_matcher(bench.catalogue)
    years = [None if y is pd.NA else int(y) for y in items["year"]]
    mapped = {
        item: codes[bench_id]
        for item, title, year in zip(items["item_id"], items["title"], years)
        if (bench_id := match(title, year)) is not None
    }
    metadata: dict[int, str] = {}
    for item, text in zip(items["item_id"], items["metadata_text"]):
        if item in mapped and text:
            metadata.setdefault(mapped[item], text)
    return mapped, metadata


def load_signals(spec: RankerSpec, model: str, bench: Benchmark) -> SourceSignals:
    """Read the config's tables with the seed loader (`join_tables`) and move items and likes onto `bench`'s ids."""
    import pandas as pd

    from revdial.seeds.build import join_tables
    from revdial.seeds.collaborative import liked_matrix
    from revdial.seeds.sources import load_seeds_config

    config = load_seeds_config(spec.config)
    if not {"interactions", "reviews"} & set(config.source.tables):
        raise RankerError(
            f"{model}: {spec.config} has no `source.tables.interactions`; the rankers count likes in it"
        )
    tables = join_tables(config, lambda message: None)
    if tables.interactions is None or not len(tables.interactions):
        raise RankerError(f"{model}: {spec.config}: `source.tables.interactions` gives no rating")
    mapped, metadata = _on_benchmark_codes(tables.items, bench)
    threshold = config.source.liked_min_rating
    liked = tables.interactions[tables.interactions["rating"] >= threshold]
    item_codes = liked["item_id"].map(mapped)
    users, uniques = pd.factorize(liked["user_id"][item_codes.notna()])
    matrix = liked_matrix(
        users, item_codes.dropna().to_numpy(dtype=np.int64), len(uniques), len(bench.catalogue)
    )
    summary = {
        "config": str(spec.config),
        "liked_min_rating": threshold,
        "source_items_mapped": f"{len(mapped)}/{len(tables.items)}",
        "benchmark_items_reached": len(set(mapped.values())),
        "likes_on_benchmark_items": f"{int(item_codes.notna().sum())}/{len(liked)}",
        "benchmark_items_liked": int((np.asarray(matrix.sum(axis=0)).ravel() > 0).sum()),
        "benchmark_items_with_metadata": len(metadata),
    }
    return SourceSignals([row["item_id"] for row in bench.catalogue], matrix, metadata, summary)


def cf_similarity(liked: sp.csr_matrix, min_common: int = 1) -> sp.csr_matrix:
    """items x items cosine of the items' liker sets (`item_neighbors`, every neighbour kept), zero diagonal."""
    from revdial.seeds.collaborative import item_neighbors

    n = liked.shape[1]
    active = np.flatnonzero(np.asarray(liked.sum(axis=0)).ravel() > 0)
    if not len(active):
        return sp.csr_matrix((n, n), dtype=np.float32)
    neighbors, scores = item_neighbors(liked[:, active].tocsr(), len(active), min_common=min_common)
    rows = np.repeat(np.arange(len(active)), neighbors.shape[1])
    keep = neighbors.ravel() >= 0
    return sp.csr_matrix(
        (scores.ravel()[keep], (active[rows[keep]], active[neighbors.ravel()[keep]])), shape=(n, n)
    )


def content_vectors(metadata: dict[int, str], n: int) -> sp.csr_matrix:
    """n x terms: the L2-normalised TF-IDF vector (`ContentIndex`) of each item's metadata text, empty rows for
    items without metadata. Dot products of rows are content cosines."""
    from revdial.generation.grounded import ContentIndex

    codes = sorted(metadata)
    index = ContentIndex.from_metadata([str(c) for c in codes], [metadata[c] for c in codes])
    place = sp.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n, len(codes)))
    return (place @ index.matrix).tocsr()


def _max_normalised(scores: np.ndarray) -> np.ndarray:
    top = scores.max(initial=0.0)
    return scores / top if top > 0 else scores


@dataclass
class Ranker:
    """Scores every benchmark item for a turn from the items its context mentions; popularity breaks ties."""

    kind: str
    signals: SourceSignals
    cf: sp.csr_matrix | None = None  # items x items cosine, zero diagonal
    content: sp.csr_matrix | None = None  # items x terms, rows L2-normalised
    series: SeriesIndex | None = None  # over the benchmark's titles, rows = item codes

    def __post_init__(self) -> None:
        self.codes = {item: code for code, item in enumerate(self.signals.item_ids)}
        self.popularity = self.signals.popularity
        # ties: more likers first, then the catalogue's order
        self._tie_order = np.lexsort((np.arange(len(self.popularity)), -self.popularity))
        self.turns_on_popularity = 0

    def scores(self, mentioned: list[int]) -> np.ndarray:
        """Each signal's similarity to the mentioned items, summed over them, divided by its largest value over the
        other items (mentioned items score 0), and the signals added; all zero for `popularity`."""
        total = np.zeros(len(self.signals.item_ids))
        if not mentioned:
            return total
        parts = []
        if self.cf is not None:
            parts.append(np.asarray(self.cf[mentioned].sum(axis=0)).ravel())
        if self.content is not None:
            parts.append(np.asarray((self.content[mentioned] @ self.content.T).sum(axis=0)).ravel())
        if self.series is not None:
            mates = np.zeros(len(self.signals.item_ids))
            for code in mentioned:
                mates[self.series.mate_rows(code)] += 1.0
            parts.append(mates)
        for part in parts:
            part[mentioned] = 0.0
            total += _max_normalised(part)
        return total

    def rank(self, turn: EvalTurn, k: int) -> list[str]:
        """The k best-scored items the turn's context does not mention; popularity when nothing scores."""
        mentioned = list(dict.fromkeys(self.codes[i] for i in turn.mentioned_ids if i in self.codes))
        scores = self.scores(mentioned)
        if scores.any():
            order = self._tie_order[np.argsort(-scores[self._tie_order], kind="stable")]
        else:
            self.turns_on_popularity += 1
            order = self._tie_order
        seen = set(mentioned)
        return [self.signals.item_ids[c] for c in order[: k + len(seen)] if c not in seen][:k]


def build_ranker(model: str, bench: Benchmark) -> Ranker:
    """The ranker a `ranker:<kind>:<pipeline.yaml>` model string names, on `bench`'s item ids."""
    spec = parse_ranker(model)
    signals = load_signals(spec, model, bench)
    cf = cf_similarity(signals.liked) if spec.kind in ("cf", "blend") else None
    content = (
        content_vectors(signals.metadata, len(signals.item_ids))
        if spec.kind in ("content", "blend")
        else None
    )
    from revdial.generation.grounded import SeriesIndex

    series = (
        SeriesIndex.from_titles(signals.item_ids, [row["title"] for row in bench.catalogue])
        if spec.kind == "series"
        else None
    )
    return Ranker(spec.kind, signals, cf, content, series)


def ranker_rankings(model: str, bench: Benchmark, k: int) -> tuple[list[list[str]], dict]:
    """(top-k benchmark ids per turn, what the report says about the ranker) of a `ranker:` model."""
    ranker = build_ranker(model, bench)
    rankings = [ranker.rank(turn, k) for turn in bench.turns]
    return rankings, {
        "ranker": {
            "kind": ranker.kind,
            **ranker.signals.summary,
            "turns_ranked_by_popularity_only": ranker.turns_on_popularity,
        }
    }
