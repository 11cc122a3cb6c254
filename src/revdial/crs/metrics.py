"""Top-K recommendation metrics over ranked item ids, and bootstrap confidence intervals. Pure numpy.

One evaluation turn is a ranked list of predicted item ids and a set of ground-truth ids (a ReDial recommender turn
may recommend several movies). With binary relevance:
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


def bootstrap_ci(
    values: Sequence[float], *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(mean, low, high): the percentile bootstrap interval of the mean over turns."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_resamples, data.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(data.mean()), float(low), float(high)


def score_turns(
    rankings: Sequence[Sequence[str]],
    targets: Sequence[Sequence[str]],
    mentioned: Sequence[Sequence[str]] | None = None,
    *,
    ks: Sequence[int] = KS,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, object]:
    """Mean and bootstrap 95% CI of every metric over turns, in both settings.

    Returns {"all_items": {...}, "exclude_mentioned": {...}}; each holds `n_turns`, `n_skipped` (turns with no target
    left) and, per metric, {"mean", "ci_low", "ci_high"}.
    """
    if len(rankings) != len(targets):
        raise ValueError(f"score_turns: {len(rankings)} rankings but {len(targets)} target lists")
    mentioned = mentioned if mentioned is not None else [[] for _ in rankings]
    settings: dict[str, object] = {}
    for setting in ("all_items", "exclude_mentioned"):
        per_turn: list[dict[str, float]] = []
        skipped = 0
        for ranked, target, seen in zip(rankings, targets, mentioned):
            if setting == "exclude_mentioned":
                ranked, target = exclude_mentioned(ranked, target, seen)
            if not target:
                skipped += 1
                continue
            per_turn.append(turn_metrics(ranked, target, ks))
        summary: dict[str, object] = {"n_turns": len(per_turn), "n_skipped": skipped}
        for name in (f"{m}@{k}" for m in METRICS for k in ks):
            mean, low, high = bootstrap_ci([t[name] for t in per_turn], n_resamples=n_resamples, seed=seed)
            summary[name] = {"mean": mean, "ci_low": low, "ci_high": high}
        settings[setting] = summary
    return settings
