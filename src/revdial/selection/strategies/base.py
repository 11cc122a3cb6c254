"""What every selection strategy shares: the `Selection` result, input checks, duplicate handling, candidate rounds.

Documented behaviour on awkward input (each case is tested in tests/selection/test_bad_input.py):

- an empty pool, a budget below 1, a non-2-D array, NaN/inf features, or labelled features of another width raise
  `SelectionInputError` naming the row;
- a budget larger than the pool ranks the whole pool: the order has length N (a `UserWarning` says so);
- duplicate feature rows (the same seed text twice) are ranked as one point: only the first occurrence is eligible
  while distinct rows remain; if the budget exceeds the distinct rows, the duplicates follow in index order with
  score 0, so no strategy ever spends budget on a copy before every distinct seed is taken.

Pools larger than memory: a float16 pool (e.g. `np.load(path, mmap_mode="r")` of a float16 .npy file) is never
copied whole. The checks read it in blocks of `CHUNK` rows, and every strategy converts only the rows it computes with
(a round's candidates, a block of a projection or a distance pass) to float32, with the same blocks whatever the
dtype: a float16 pool selects exactly what the same values as in-memory float32 select (tested). Other dtypes are
converted to float32 up front, as before. (A float16 pool with duplicate rows is copied once without them.)
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


CHUNK = 65536  # rows per block when a pass reads the whole pool (a 65k × 384 float32 block is 100 MB)


def as_float32(A: np.ndarray) -> np.ndarray:
    """`A` as C-contiguous float32: a no-op for float32, a copy of just these rows for float16 or memmap slices."""
    return np.ascontiguousarray(A, dtype=np.float32)


def project_rows(X: np.ndarray, R: np.ndarray, block: int = 1024) -> np.ndarray:
    """X @ R in float32, converting `block` rows at a time into one reused buffer that stays in cache (2.8x less CPU
    than 65k-row blocks for a float16 memmap with a 2-column R, measured)."""
    out = np.empty((X.shape[0], R.shape[1]), np.float32)
    buf = np.empty((block, X.shape[1]), np.float32)
    for s in range(0, X.shape[0], block):
        m = min(block, X.shape[0] - s)
        buf[:m] = X[s : s + m]
        np.matmul(buf[:m], R, out=out[s : s + m])
    return out


def finite_rows(block: np.ndarray) -> np.ndarray:
    """Which rows of `block` are all finite (float16 by its bits: an all-ones exponent is inf or NaN)."""
    if block.dtype == np.float16:
        return ~((block.view(np.uint16) & 0x7C00) == 0x7C00).any(axis=1)
    return np.isfinite(block).all(axis=1)


def check_features(
    X: np.ndarray, what: str = "pool", dim: int | None = None, keep_half: bool = False
) -> np.ndarray:
    """`X` as float32 after the shape and finiteness checks; with `keep_half`, a float16 `X` (a memmap, say) is
    returned as it is, checked block by block, never converted whole."""
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    if X.ndim != 2:
        raise SelectionInputError(f"{what} features must be a 2-D array (rows x dims), got shape {X.shape}")
    if dim is not None and X.shape[1] != dim:
        raise SelectionInputError(f"{what} features have {X.shape[1]} dims but the pool has {dim}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    bad = np.zeros(X.shape[0], bool)
    if X.size:
        for s in range(0, X.shape[0], CHUNK):
            bad[s : s + CHUNK] = ~finite_rows(X[s : s + CHUNK])
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
    if keep_half and X.dtype == np.float16:
        return X
    return as_float32(X)


def distinct_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first index of every distinct row, indices of the later copies), both ascending.

    Rows are keyed by two random float32 projections (one blocked GEMM; the pair's 64 bits are the key), and only rows
    sharing a key are compared exactly, so ten million rows cost one pass, one sort of 64-bit keys and no sort of
    768-byte rows. Equal rows always get equal keys; distinct rows that share one stay distinct after the comparison.
    """
    n = X.shape[0]
    r = np.random.default_rng(12345).standard_normal((X.shape[1], 2)).astype(np.float32)
    pairs = project_rows(X, r)
    pairs += 0.0  # -0.0 -> +0.0: equal values, equal bits
    keys = pairs.view(np.uint64).ravel()
    by_key = np.argsort(keys, kind="stable")  # stable: each key's rows stay in ascending index order
    sorted_keys = keys[by_key]
    same = sorted_keys[1:] == sorted_keys[:-1]
    if not same.any():
        return np.arange(n), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    ends = np.append(starts[1:], n)
    is_copy = np.zeros(n, bool)
    for lo, hi in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
        reps: list[int] = []
        for i in by_key[
            lo:hi
        ]:  # exact check within a key group; a true collision of distinct rows stays distinct
            if any(np.array_equal(X[i], X[j]) for j in reps):
                is_copy[i] = True
            else:
                reps.append(int(i))
    return np.flatnonzero(~is_copy), np.flatnonzero(is_copy)


def strategy(fn: Callable[..., Selection]) -> Callable[..., Selection]:
    """Wrap a strategy body with the shared checks, budget clipping and duplicate handling (see module docstring).

    The body receives finite float32 or float16 features without duplicate rows and 1 <= budget <= N; it converts
    what it computes with to float32 block by block (`as_float32`).
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
        X = check_features(X, "pool", keep_half=True)
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
        # One thread for BLAS and OpenMP: greedy picks are long chains of small matrix-vector products, where threads
        # cost more in handoffs than they save (fisher ran 6x slower with 2 than with 1 on a loaded 2-core machine;
        # the 1,024-row projections of `project_rows` 5x), and an OpenMP pool inherited through distilabel's fork
        # hangs scikit-learn's k-means in a worker.
        with threadpool_limits(limits=1):
            keep, copies = distinct_rows(X)
            inner = min(budget, keep.size)
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
    taken = np.zeros(0, np.int64)  # sorted: the seeds picked so far
    order: list[int] = []
    scores: list[float] = []
    while len(order) < budget:
        left, free = budget - len(order), n - taken.size
        if mode == "exact" or free <= sample_size:
            cand = untaken(np.arange(free), taken)
            picks = left if mode == "exact" else min(picks_per_round, left, cand.size)
        else:
            # the same draw as rng.choice(<the untaken indices>, ...), without listing N indices every round
            cand = np.sort(untaken(rng.choice(free, size=sample_size, replace=False), taken))
            picks = min(picks_per_round, left, cand.size)
        scorer = start_round(cand, as_float32(X if cand.size == n else X[cand]))
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
        taken = np.union1d(taken, cand[used])
        if mode == "fast":
            report(progress, picks)
    return Selection(np.asarray(order, np.int64), np.asarray(scores, np.float32))


def untaken(ranks: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The indices of rank `ranks` among 0, 1, 2, ... without the sorted indices `taken`.

    Index i is the rank-q free index when i = q + #{t ∈ taken : t ≤ i}; with shift_k = taken_k − k (non-decreasing),
    that count is #{k : shift_k ≤ q}.
    """
    return ranks + np.searchsorted(taken - np.arange(taken.size), ranks, side="right")


def report(progress: Progress, k: int) -> None:
    if progress is not None and k:
        progress(k)
