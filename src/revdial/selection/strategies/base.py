"""What every selection strategy shares: the `Selection` result, input checks, duplicate handling, candidate rounds.

Documented behaviour on awkward input (each case is tested in tests/selection/test_bad_input.py):

- an empty pool, a budget below 1, a non-2-D array, NaN/inf features, or labelled features of another width raise
  `SelectionInputError` naming the row;
- a budget larger than the pool ranks the whole pool: the order has length N (a `UserWarning` says so);
- duplicate feature rows (the same seed text twice) are ranked as one point: only the first occurrence is eligible
  while distinct rows remain; if the budget exceeds the distinct rows, the duplicates follow in index order with
  score 0, so no strategy ever spends budget on a copy before every distinct seed is taken.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import NamedTuple, Protocol

import numpy as np
from threadpoolctl import threadpool_limits  # ships with scikit-learn

Progress = Callable[[int], None] | None


class SelectionInputError(ValueError):
    """Features or a budget a strategy cannot work with; the message names the offending row."""


class Selection(NamedTuple):
    """`order[:b]` is the selection at budget b; `scores[t]` is the strategy's gain when `order[t]` was picked."""

    order: np.ndarray  # int64, distinct pool indices
    scores: np.ndarray  # float32, same length


def check_features(X: np.ndarray, what: str = "pool", dim: int | None = None) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise SelectionInputError(f"{what} features must be a 2-D array (rows x dims), got shape {X.shape}")
    if dim is not None and X.shape[1] != dim:
        raise SelectionInputError(f"{what} features have {X.shape[1]} dims but the pool has {dim}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    bad = ~np.isfinite(X).all(axis=1) if X.size else np.zeros(0, bool)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise SelectionInputError(
            f"{what} features: {rows.size} row(s) contain NaN or inf, first at row {int(rows[0])}"
            + (
                f" (also rows {', '.join(map(str, rows[1:6]))}{'...' if rows.size > 6 else ''})"
                if rows.size > 1
                else ""
            )
        )
    return np.ascontiguousarray(X, dtype=np.float32)


def distinct_rows(X: np.ndarray, block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """(first index of every distinct row, indices of the later copies), both ascending.

    Rows are keyed by a random float64 projection (cheap, blockwise) and only rows sharing a key are compared exactly,
    so a million rows cost one pass and no sort of 1.5 KB byte strings.
    """
    n = X.shape[0]
    r = np.random.default_rng(12345).standard_normal(X.shape[1])
    keys = np.empty(n)
    for s in range(0, n, block):
        keys[s : s + block] = X[s : s + block].astype(np.float64) @ r
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    if (counts == 1).all():
        return np.arange(n), np.zeros(0, np.int64)
    is_copy = np.zeros(n, bool)
    for g in np.flatnonzero(counts > 1):
        members = np.flatnonzero(inverse == g)
        reps: list[int] = []
        for i in members:  # exact check within a key group; a true collision of distinct rows stays distinct
            if any(np.array_equal(X[i], X[j]) for j in reps):
                is_copy[i] = True
            else:
                reps.append(int(i))
    return np.flatnonzero(~is_copy), np.flatnonzero(is_copy)


def strategy(fn: Callable[..., Selection]) -> Callable[..., Selection]:
    """Wrap a strategy body with the shared checks, budget clipping and duplicate handling (see module docstring).

    The body receives finite float32 features without duplicate rows and 1 <= budget <= N.
    """

    @functools.wraps(fn)
    def run(
        X: np.ndarray,
        budget: int,
        *,
        labelled: np.ndarray | None = None,
        seed: int = 0,
        mode: str = "fast",
        **params,
    ) -> Selection:
        X = check_features(X, "pool")
        n = X.shape[0]
        if n == 0:
            raise SelectionInputError("the pool is empty: there is nothing to select from")
        if int(budget) != budget or budget < 1:
            raise SelectionInputError(f"budget must be a positive integer, got {budget!r}")
        if mode not in ("fast", "exact"):
            raise SelectionInputError(f"mode must be 'fast' or 'exact', got {mode!r}")
        budget = int(budget)
        if budget > n:
            warnings.warn(
                f"budget {budget} exceeds the pool of {n} seeds: ranking the whole pool", stacklevel=2
            )
            budget = n
        if labelled is not None:
            labelled = check_features(labelled, "labelled", dim=X.shape[1])
            if labelled.shape[0] == 0:
                labelled = None
        keep, copies = distinct_rows(X)
        inner = min(budget, keep.size)
        # One thread for BLAS and OpenMP: greedy picks are long chains of small matrix-vector products, where threads
        # cost more in handoffs than they save (fisher ran 6x slower with 2 than with 1 on a loaded 2-core machine),
        # and an OpenMP pool inherited through distilabel's fork hangs scikit-learn's k-means in a worker.
        with threadpool_limits(limits=1):
            sel = fn(
                X if copies.size == 0 else X[keep], inner, labelled=labelled, seed=seed, mode=mode, **params
            )
        order, scores = keep[sel.order], np.asarray(sel.scores, np.float32)
        if budget > inner:
            order = np.concatenate([order, copies[: budget - inner]])
            scores = np.concatenate([scores, np.zeros(budget - inner, np.float32)])
        return Selection(order.astype(np.int64), scores.astype(np.float32))

    return run


class Round(Protocol):
    """One round's candidates, scored against the strategy's current state."""

    def gains(self) -> np.ndarray: ...

    def pick(self, j: int) -> None: ...


def greedy_rounds(
    X: np.ndarray,
    budget: int,
    start_round: Callable[[np.ndarray, np.ndarray], Round],
    *,
    rng: np.random.Generator,
    mode: str,
    picks_per_round: int,
    sample_size: int,
    progress: Progress,
) -> Selection:
    """Greedy selection in rounds, shared by `fisher`, `js` and `hybrid`.

    mode="exact": a single round whose candidates are the whole pool, so every pick rescans every seed (classic greedy).
    mode="fast": stochastic greedy (Mirzasoleiman et al. 2015) in rounds — each round draws `sample_size` random seeds
    not yet picked, scores them once against the current state (one GEMM) and makes `picks_per_round` exact greedy
    picks among them; the state (A⁻¹, mean assignment) is global, so later rounds see every earlier pick. Each pick
    chooses among at least S − p random candidates, which is stochastic greedy's (N/B)·ln(1/ε) with
    ε = exp(−(S − p)·B/N): at N = 1M, B = 10k, S = 4096, p = 32 that is ε ≈ e^-40.
    The sample does not depend on the budget, so prefixes of one run are the selections at smaller budgets.
    """
    n = X.shape[0]
    taken = np.zeros(n, bool)
    order: list[int] = []
    scores: list[float] = []
    while len(order) < budget:
        left = budget - len(order)
        pool = np.flatnonzero(~taken)
        if mode == "exact":
            cand, picks = pool, left
        else:
            size = min(pool.size, sample_size)
            cand = np.sort(rng.choice(pool, size=size, replace=False)) if size < pool.size else pool
            picks = min(picks_per_round, left, cand.size)
        scorer = start_round(cand, X if cand.size == n else X[cand])
        used = np.zeros(cand.size, bool)
        for _ in range(picks):
            g = np.where(used, -np.inf, scorer.gains())
            j = int(np.argmax(g))
            used[j] = True
            order.append(int(cand[j]))
            scores.append(float(g[j]))
            scorer.pick(j)
            if mode == "exact":
                report(progress, 1)
        taken[cand[used]] = True
        if mode == "fast":
            report(progress, picks)
    return Selection(np.asarray(order, np.int64), np.asarray(scores, np.float32))


def report(progress: Progress, k: int) -> None:
    if progress is not None and k:
        progress(k)
