"""Hybrid: a weighted sum of the JS-diversity and Fisher-information gains.

What hybrid's objective is: each pick normalises the two gains by their maxima over the current candidates, so no
set function is maximised in closed form. A selection S is scored by the same weights applied to the two set
objectives, each relative to exact greedy's selection S* (mode="exact", same pool, budget and parameters):

    hybrid(S) = w · JS(S) / JS(S*) + (1 − w) · logdet(S) / logdet(S*)

with JS(S) = H(mean_{s∈S} p_s) − mean_{s∈S} H(p_s) (`js.set_divergence`) and logdet(S) = log det(I + Σ_{s∈S} x_s x_sᵀ/λ)
(`fisher.logdet_gain`). Exact greedy scores 1; benchmarks/selection.py prints this ratio for fast mode next to the
two component ratios (fast mode may trade a little of one for the other, as exact greedy itself does along the way).
"""

from __future__ import annotations

import numpy as np

from revdial.selection.strategies.base import Progress, Selection, greedy_rounds, strategy
from revdial.selection.strategies.fisher import FisherRound, FisherState
from revdial.selection.strategies.js import JSRound, js_state


def _unit(g: np.ndarray) -> np.ndarray:
    """Scale gains to [0, 1] by their largest finite value among the candidates (all zeros stay zeros)."""
    top = np.max(g) if g.size else 0.0
    return g / top if top > 0 else np.zeros_like(g)


class HybridRound:
    def __init__(self, js: JSRound, fisher: FisherRound, weight: float):
        self.js, self.fisher, self.weight = js, fisher, weight

    def gains(self) -> np.ndarray:
        return self.weight * _unit(self.js.gains()) + (1 - self.weight) * _unit(self.fisher.gains())

    def pick(self, j: int) -> None:
        self.js.pick(j)
        self.fisher.pick(j)


@strategy
def hybrid(
    X: np.ndarray,
    budget: int,
    *,
    labelled: np.ndarray | None = None,
    seed: int = 0,
    mode: str = "fast",
    weight: float = 0.5,
    n_clusters: int = 100,
    tau: float = 0.05,
    top: int | None = None,
    lam: float = 1.0,
    picks_per_round: int = 32,
    sample_size: int = 4096,
    progress: Progress = None,
) -> Selection:
    """Pick argmax_i w·JS_i/max_k JS_k + (1 − w)·F_i/max_k F_k, with w = `weight`.

    JS_i is `js`'s gain (JS divergence of p_i from the chosen seeds' mean assignment; entropy for the first pick) and
    F_i is `fisher`'s gain log(1 + x_iᵀA⁻¹x_i); each is divided by its maximum over the current candidates so the two
    are on one scale. weight=1 is `js`, weight=0 is `fisher` (up to ties). Both states are updated after every pick.
    How a selection is scored against exact greedy: see the module docstring.

    Fast mode samples candidates as both do (`base.greedy_rounds`) and scores each candidate's full assignment p_i.
    `top=k` cuts p_i to its k largest entries as `js` does, for K in the thousands, at a cost: the cut overestimates
    the JS gain of seeds spread over many clusters and so compresses JS_i/max JS, and the Fisher term then decides
    the picks. With top = 8 (the default until this was measured) fast hybrid reached 0.92 of exact's JS and 1.03 of
    its log det, 0.974 combined (benchmarks/selection.py, N = 100k, B = 1k, K = 100); with every entry 0.997, 0.992
    and 0.994. Normalising by the max over the round's sample rather than the whole pool is not what cost JS: rounds
    scanning the whole pool (sample_size = N, N = 20k) kept the same 0.93 with top = 8.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    jstate = js_state(X, budget, labelled, seed, n_clusters, tau, top if mode == "fast" else None)
    fstate = FisherState(X.shape[1], lam, labelled)

    def start(cand: np.ndarray, Xc: np.ndarray) -> HybridRound:
        return HybridRound(jstate.round(cand, Xc), fstate.round(cand, Xc), weight)

    return greedy_rounds(
        X,
        budget,
        start,
        rng=np.random.default_rng(seed),
        mode=mode,
        picks_per_round=picks_per_round,
        sample_size=sample_size,
        progress=progress,
    )
