"""Top-K recommendation metrics over ranked item ids, and dialogue-clustered bootstrap confidence intervals.

One evaluation turn is a ranked list of predicted item ids and a set of ground-truth ids (a ReDial recommender turn
may recommend several movies). The default mean is per (turn, target) pair, as He et al., CRSLab and UniCRS report:
each target is scored against the turn's list on its own. Per turn (`mean="turn"`), with binary relevance:
- Recall@K = |top-K ∩ targets| / |targets|
- NDCG@K   = sum over hits at rank r (1-based) of 1/log2(r+1), divided by the same sum for min(K, |targets|) hits
- MRR@K    = 1 / rank of the first hit within the top K, or 0.
Repeated predictions count once (the first occurrence keeps its rank).

He et al. (CIKM'23, "LLMs as Zero-Shot Conversational Recommenders") report two settings: all items, and one where
items already mentioned in the dialogue are removed from both the targets and the predictions (repeating a mentioned
movie is an easy shortcut); a turn whose targets are all already mentioned then has nothing to score and is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

KS: tuple[int, ...] = (1, 5, 10, 20, 50)
METRICS: tuple[str, ...] = ("recall", "ndcg", "mrr")


def dedupe(ranked: Iterable[str]) -> list[str]:
    """Keep the first occurrence of each id, in order."""
    seen: set[str] = set()
    out: list[str] = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def turn_metrics(ranked: Sequence[str], targets: Iterable[str], ks: Sequence[int] = KS) -> dict[str, float]:
    """{"recall@K", "ndcg@K", "mrr@K"} of one turn for each K. `targets` must be non-empty."""
    target_set = set(targets)
    if not target_set:
        raise ValueError("turn_metrics: a turn needs at least one target item")
    ranked = dedupe(ranked)
    hits = np.array([item in target_set for item in ranked[: max(ks)]], dtype=bool)
    gains = 1.0 / np.log2(np.arange(2, hits.size + 2)) if hits.size else np.zeros(0)
    out: dict[str, float] = {}
    for k in ks:
        top = hits[:k]
        found = int(top.sum())
        ideal = float((1.0 / np.log2(np.arange(2, min(k, len(target_set)) + 2))).sum())
        first = int(np.argmax(top)) + 1 if found else 0
        out[f"recall@{k}"] = found / len(target_set)
        out[f"ndcg@{k}"] = float(gains[: top.size][top].sum()) / ideal
        out[f"mrr@{k}"] = 1.0 / first if found else 0.0
    return out


def exclude_mentioned(
    ranked: Sequence[str], targets: Iterable[str], mentioned: Iterable[str]
) -> tuple[list[str], list[str]]:
    """He et al.'s second setting: drop already-mentioned items from the predictions and the targets."""
    seen = set(mentioned)
    return [i for i in ranked if i not in seen], [t for t in targets if t not in seen]


def pair_metrics(ranked: Sequence[str], target: str, ks: Sequence[int] = KS) -> dict[str, float]:
    """One (turn, target) pair, as He et al., CRSLab and UniCRS score: hit@K, 1/log2(rank+1), 1/rank."""
    return turn_metrics(ranked, [target], ks)


def bootstrap_ci(
    values: Sequence[float],
    clusters: Sequence[object] | None = None,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap interval of the mean, resampling whole clusters (dialogues: turns of
    one dialogue are not independent) with `scipy.stats.bootstrap`; without clusters every value is its own."""
    from scipy.stats import bootstrap

    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return float("nan"), float("nan"), float("nan")
    if clusters is None:
        clusters = range(data.size)
    _, group = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    sums = np.bincount(group, weights=data)
    counts = np.bincount(group).astype(np.float64)
    mean = float(data.mean())
    if sums.size < 2:
        return mean, float("nan"), float("nan")

    def ratio(s: np.ndarray, c: np.ndarray, axis: int = -1) -> np.ndarray:
        return s.sum(axis=axis) / c.sum(axis=axis)

    result = bootstrap(
        (sums, counts),
        ratio,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return mean, float(result.confidence_interval.low), float(result.confidence_interval.high)


MEANS = ("pair", "turn")


def _finite(value: float) -> float | None:
    """NaN (no interval: fewer than two dialogues) as None, so the report stays valid JSON."""
    return None if np.isnan(value) else value


def _units(
    ranked: Sequence[str], targets: Sequence[str], ks: Sequence[int], mean: str
) -> list[dict[str, float]]:
    if mean == "turn":
        return [turn_metrics(ranked, targets, ks)]
    return [pair_metrics(ranked, target, ks) for target in dict.fromkeys(targets)]


def score_turns(
    rankings: Sequence[Sequence[str]],
    targets: Sequence[Sequence[str]],
    mentioned: Sequence[Sequence[str]] | None = None,
    *,
    ks: Sequence[int] = KS,
    list_length: int | None = None,
    mean: str = "pair",
    dialog_ids: Sequence[str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, object]:
    """Mean and dialogue-clustered bootstrap 95% CI of every metric, in both settings.

    `mean="pair"` (default, the literature's) averages over (turn, target) pairs; `mean="turn"` over turns, with
    fractional recall and ideal-normalised NDCG. A metric at K > `list_length` (the list length asked for) is None,
    its reason under `not_reported`. Returns {"all_items": {...}, "exclude_mentioned": {...}}; each holds `mean`,
    `n_turns`, `n_pairs`, `n_skipped` (turns with no target left) and, per metric, {"mean", "ci_low", "ci_high"}.
    """
    if len(rankings) != len(targets):
        raise ValueError(f"score_turns: {len(rankings)} rankings but {len(targets)} target lists")
    if mean not in MEANS:
        raise ValueError(f"score_turns: mean must be one of {', '.join(MEANS)} (got {mean!r})")
    mentioned = mentioned if mentioned is not None else [[] for _ in rankings]
    dialog_ids = dialog_ids if dialog_ids is not None else [str(i) for i in range(len(rankings))]
    settings: dict[str, object] = {}
    for setting in ("all_items", "exclude_mentioned"):
        units: list[dict[str, float]] = []
        clusters: list[str] = []
        skipped = n_turns = n_pairs = 0
        for ranked, target, seen, dialog in zip(rankings, targets, mentioned, dialog_ids):
            if setting == "exclude_mentioned":
                ranked, target = exclude_mentioned(ranked, target, seen)
            if not target:
                skipped += 1
                continue
            n_turns += 1
            n_pairs += len(set(target))
            scored = _units(ranked, target, ks, mean)
            units.extend(scored)
            clusters.extend([dialog] * len(scored))
        summary: dict[str, object] = {
            "mean": f"per {mean}",
            "n_turns": n_turns,
            "n_pairs": n_pairs,
            "n_skipped": skipped,
        }
        not_reported: dict[str, str] = {}
        for name in (f"{m}@{k}" for m in METRICS for k in ks):
            k = int(name.split("@")[1])
            if list_length is not None and k > list_length:
                summary[name] = None
                not_reported[name] = f"the lists hold at most {list_length} items (--k {list_length})"
                continue
            values = [u[name] for u in units]
            value, low, high = bootstrap_ci(values, clusters, n_resamples=n_resamples, seed=seed)
            summary[name] = {"mean": _finite(value), "ci_low": _finite(low), "ci_high": _finite(high)}
        if not_reported:
            summary["not_reported"] = not_reported
        settings[setting] = summary
    return settings
