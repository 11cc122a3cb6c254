"""Random selection: the baseline every other strategy must beat."""

from __future__ import annotations

import numpy as np

from revdial.selection.strategies.base import Progress, Selection, report, strategy


@strategy
def random(
    X: np.ndarray,
    budget: int,
    *,
    labelled: np.ndarray | None = None,
    seed: int = 0,
    mode: str = "fast",
    progress: Progress = None,
) -> Selection:
    """A seeded permutation of the pool, cut at the budget. `labelled` and `mode` are ignored; every score is 0."""
    order = np.random.default_rng(seed).permutation(X.shape[0])[:budget]
    report(progress, budget)
    return Selection(order, np.zeros(budget, np.float32))
