"""Hybrid: a weighted sum of the JS-diversity and Fisher-information gains."""

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
    top: int = 8,
    lam: float = 1.0,
    picks_per_round: int = 32,
    sample_size: int = 4096,
    progress: Progress = None,
) -> Selection:
    """Pick argmax_i w·JS_i/max_k JS_k + (1 − w)·F_i/max_k F_k, with w = `weight`.

    JS_i is `js`'s gain (JS divergence of p_i from the chosen seeds' mean assignment; entropy for the first pick) and
    F_i is `fisher`'s gain log(1 + x_iᵀA⁻¹x_i); each is divided by its maximum over the current candidates so the two
    are on one scale. weight=1 is `js`, weight=0 is `fisher` (up to ties). Both states are updated after every pick.
    Fast mode samples candidates as both do and cuts p_i to its `top` entries as `js` does.
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
