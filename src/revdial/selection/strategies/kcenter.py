"""Greedy k-center (farthest-first traversal): a coreset whose covering radius is at most twice the optimum."""

from __future__ import annotations

import math

import numpy as np

from revdial.selection.strategies.base import Progress, Selection, report, strategy

BLOCK = 16384  # rows per distance block: a 16k × 256 float32 block is 16 MB


def min_sq_dist(Y: np.ndarray, sqn: np.ndarray, C: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """min_j ‖y_i − c_j‖² for every row of Y, in blocks (never an N×|C| matrix); with `out`, min-updates it in place."""
    n = Y.shape[0]
    out = np.full(n, np.inf, np.float32) if out is None else out
    sqc = (C * C).sum(1)
    for s in range(0, n, BLOCK):
        blk = slice(s, s + BLOCK)
        d2 = Y[blk] @ C.T
        d2 *= -2.0
        d2 += sqc
        d2 += sqn[blk, None]
        np.minimum(out[blk], d2.min(1), out=out[blk])
    np.maximum(out, 0.0, out=out)
    return out


def covering_radius(X: np.ndarray, centers: np.ndarray) -> float:
    """max_i min_{c∈centers} ‖x_i − x_c‖ over the whole pool, full dimension (blocked)."""
    X = np.asarray(X, np.float32)
    C = X[np.asarray(centers)]
    sqn = (X * X).sum(1)
    d2 = np.full(X.shape[0], np.inf, np.float32)
    for s in range(0, C.shape[0], 1024):  # bounded |C| per call keeps blocks small
        min_sq_dist(X, sqn, C[s : s + 1024], out=d2)
    return float(np.sqrt(d2.max()))


@strategy
def kcenter(
    X: np.ndarray,
    budget: int,
    *,
    labelled: np.ndarray | None = None,
    seed: int = 0,
    mode: str = "fast",
    dim: int | None = None,
    picks_per_pass: int | None = None,
    candidate_factor: int = 4,
    progress: Progress = None,
) -> Selection:
    """Farthest-first traversal (Gonzalez 1985): repeatedly pick the seed farthest from everything chosen so far.

    A running vector mind_i = min_{s∈L∪S} ‖x_i − x_s‖² (L the labelled seeds) is min-updated after each pick, so a
    pick costs one pass over the pool. Without labelled seeds the first pick is the seed nearest the pool mean.
    `scores[t]` is the distance of the t-th pick to the seeds chosen before it (to the pool mean for the first pick).
    The covering radius of the result is at most twice the optimum (exact mode).

    mode="exact": one full-dimension pass per pick.
    mode="fast": p = `picks_per_pass` picks per pass (default max(1, N // 1024)) — farthest-first among the
    candidate_factor·p seeds with the largest mind, with exact in-batch distances, then one blocked GEMM min-update
    of mind for the whole batch — and for N > 200k, distances in a `dim`-dimensional Gaussian random projection
    (default 32; Johnson–Lindenstrauss). Neither depends on the budget, so prefixes are smaller-budget selections.
    """
    n, d = X.shape
    rng = np.random.default_rng(seed)
    if mode == "exact":
        per_pass, r = 1, d
    else:
        per_pass = picks_per_pass or max(1, n // 1024)
        r = dim if dim is not None else (d if n <= 200_000 else 32)
        r = min(r, d)
    if r < d:
        R = (rng.standard_normal((d, r)) / math.sqrt(r)).astype(np.float32)
        Y = np.empty((n, r), np.float32)
        for s in range(0, n, 65536):
            Y[s : s + 65536] = X[s : s + 65536] @ R
        Lab = None if labelled is None else labelled @ R
    else:
        Y, Lab = X, labelled
    sqn = (Y * Y).sum(1)
    mind = np.full(n, np.inf, np.float32)
    if Lab is not None:
        for s in range(0, Lab.shape[0], 1024):
            min_sq_dist(Y, sqn, Lab[s : s + 1024], out=mind)
    order: list[int] = []
    scores: list[float] = []
    if Lab is None:
        mu = Y.mean(0, dtype=np.float64).astype(np.float32)
        to_mu = min_sq_dist(Y, sqn, mu[None, :])
        first = int(np.argmin(to_mu))
        order.append(first)
        scores.append(float(np.sqrt(to_mu[first])))
        min_sq_dist(Y, sqn, Y[first][None, :], out=mind)
        mind[first] = -1.0
        report(progress, 1)
    while len(order) < budget:
        k = min(per_pass, budget - len(order))
        m = min(n - len(order), candidate_factor * per_pass)
        cand = np.argpartition(-mind, m - 1)[:m] if m < n else np.arange(n)
        local = mind[cand].copy()
        Yc, sqc = Y[cand], sqn[cand]
        batch = []
        for _ in range(k):
            j = int(np.argmax(local))
            batch.append(int(cand[j]))
            scores.append(float(np.sqrt(max(local[j], 0.0))))
            if k > 1:  # in-batch update: later picks of this pass keep away from earlier ones
                np.minimum(local, np.maximum(sqc - 2.0 * (Yc @ Yc[j]) + sqc[j], 0.0), out=local)
            local[j] = -1.0
        order.extend(batch)
        min_sq_dist(Y, sqn, Y[batch], out=mind)
        mind[batch] = -1.0
        report(progress, k)
    return Selection(np.asarray(order, np.int64), np.asarray(scores, np.float32))
