"""Greedy k-center (farthest-first traversal): a coreset whose covering radius is at most twice the optimum."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from revdial.selection.strategies.base import (
    CHUNK,
    Progress,
    Selection,
    as_float32,
    project_rows,
    report,
    strategy,
)

BLOCK = 16384  # rows per block where a caller needs an N × |C| product in pieces (coverage.nearest_centroid)
TILE = (
    1 << 20
)  # distance entries per tile (4 MB): a tile of [y, 1]·[2c, −‖c‖²] stays in cache while it is reduced


def sq_norms(Y: np.ndarray) -> np.ndarray:
    """‖y_i‖² for every row (float32), in blocks of float32 rows."""
    out = np.empty(Y.shape[0], np.float32)
    for s in range(0, Y.shape[0], CHUNK):
        y = as_float32(Y[s : s + CHUNK])
        out[s : s + CHUNK] = np.einsum("ij,ij->i", y, y)
    return out


def min_sq_dist(Y: np.ndarray, sqn: np.ndarray, C: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """min_j ‖y_i − c_j‖² for every row of Y (float32 or float16); with `out`, min-updates it in place.

    ‖y − c‖² = ‖y‖² − (2y·c − ‖c‖²): for a tile of rows and centres, one GEMM against 2c, then −‖c‖² and the
    row maximum while the tile is in cache; never an N×|C| matrix (4x less CPU than subtracting and adding whole
    16k-row blocks, measured at |C| = 9,765). float32 rows are read in place, float16 rows converted per tile.
    """
    n = Y.shape[0]
    out = np.full(n, np.inf, np.float32) if out is None else out
    C = as_float32(C)
    cols = max(1, min(C.shape[0], TILE // 512))
    C2 = [np.ascontiguousarray(2.0 * C[j : j + cols].T) for j in range(0, C.shape[0], cols)]
    sqc = [np.einsum("ij,ij->i", C[j : j + cols], C[j : j + cols]) for j in range(0, C.shape[0], cols)]
    rows = max(512, min(CHUNK, TILE // cols))
    best = np.empty(rows, np.float32)
    for s in range(0, n, rows):
        Yb = as_float32(Y[s : s + rows])
        m = Yb.shape[0]
        best[:m] = -np.inf
        for Cb, sq in zip(C2, sqc):
            G = Yb @ Cb
            G -= sq
            np.maximum(best[:m], G.max(axis=1), out=best[:m])
        np.minimum(out[s : s + m], sqn[s : s + m] - best[:m], out=out[s : s + m])
    np.maximum(out, 0.0, out=out)
    return out


def covering_radius(X: np.ndarray, centers: np.ndarray) -> float:
    """max_i min_{c∈centers} ‖x_i − x_c‖ over the whole pool, full dimension (tiled, float16 pools in blocks)."""
    d2 = min_sq_dist(X, sq_norms(X), as_float32(X[np.asarray(centers)]))
    return float(np.sqrt(d2.max()))


def pool_mean(Y: np.ndarray) -> np.ndarray:
    total = np.zeros(Y.shape[1], np.float64)
    for s in range(0, Y.shape[0], CHUNK):
        total += as_float32(Y[s : s + CHUNK]).sum(0, dtype=np.float64)
    return (total / Y.shape[0]).astype(np.float32)


PRUNE_MIN = 512  # picks per pass from which a pass's distance update is pruned (`LazyDistances`)
ANCHOR_GROUP = 16  # new centres per anchor in `LazyDistances.bound`


class LazyDistances:
    """mind_i = min over the chosen centres of ‖y_i − c‖², kept exact only where it decides the next candidates.

    With p picks per pass a full update costs N·p distances; at N = 10M and p = 9,765 that is ~100 CPU seconds, while
    the next pass only reads the m = candidate_factor·p largest values. So, per pass:
    1. an upper bound everywhere, cheaply: the new centres are grouped by their nearest of p/16 anchors (new centres
       themselves, `ANCHOR_GROUP`); each point is compared with the anchors, then with the centres of its nearest
       anchor's group (~p/16 + 16 distances a point instead of p);
    2. exact values where they can matter: the 2m points with the largest bounds get their exact minimum; T = the
       m-th largest exact value is at most the true m-th largest, so a point whose bound is below T cannot be among
       the m; every point whose bound is ≥ T is made exact and T recomputed, until no bound ≥ T is inexact.
    The top m by the result are then exactly the top m by true distance (the same values as a full update: each
    distance is the same tile product), and points left inexact keep an upper bound and the number of centres their
    exact part covers, to be finished if a later pass needs them.
    """

    def __init__(self, Y: np.ndarray, sqn: np.ndarray, mind: np.ndarray, budget: int):
        self.Y, self.sqn, self.mind = Y, sqn, mind
        self.base = mind.copy()  # exact minimum over centres[: upto[i]] (and the labelled seeds)
        self.upto = np.zeros(Y.shape[0], np.int64)
        self.centres = np.empty((budget, Y.shape[1]), np.float32)
        self.total = 0

    def add(self, C: np.ndarray, m: int) -> None:
        start, self.total = self.total, self.total + C.shape[0]
        self.centres[start : self.total] = C
        self.bound(C)
        exact = self.upto == self.total
        T = -np.inf
        todo = np.argpartition(-self.mind, min(2 * m, self.mind.size) - 1)[: 2 * m]
        while True:
            todo = todo[~exact[todo]]
            if todo.size == 0:
                return
            self.finish(todo)
            exact[todo] = True
            values = self.mind[exact]
            T = max(
                T,
                float(np.partition(values, values.size - m)[values.size - m])
                if values.size >= m
                else -np.inf,
            )
            todo = np.flatnonzero((self.mind >= T) & ~exact)

    def bound(self, C: np.ndarray) -> None:
        """min-update mind with an upper bound from the centres of each point's nearest anchor group."""
        anchors = C[np.linspace(0, C.shape[0] - 1, max(1, C.shape[0] // ANCHOR_GROUP)).astype(np.int64)]
        group_of_centre = nearest(C, anchors)
        group_of_point = nearest(self.Y, anchors)
        by_group = np.argsort(group_of_point, kind="stable")
        edges = np.searchsorted(group_of_point[by_group], np.arange(anchors.shape[0] + 1))
        for g in range(anchors.shape[0]):
            pts = by_group[edges[g] : edges[g + 1]]
            if pts.size:
                near = min_sq_dist(self.Y[pts], self.sqn[pts], C[group_of_centre == g])
                self.mind[pts] = np.minimum(self.mind[pts], near)

    def finish(self, pts: np.ndarray) -> None:
        """Exact mind for `pts`: their exact part extended over every centre it does not cover yet."""
        for u in np.unique(self.upto[pts]):
            sel = pts[self.upto[pts] == u]
            self.base[sel] = min_sq_dist(
                self.Y[sel], self.sqn[sel], self.centres[u : self.total], out=self.base[sel]
            )
            self.upto[sel] = self.total
            self.mind[sel] = np.where(self.mind[sel] < 0, self.mind[sel], self.base[sel])  # picked stay -1

    def picked(self, idx: list[int]) -> None:
        self.mind[idx] = -1.0
        self.upto[idx] = self.total


def nearest(Y: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Index of each row's nearest row of A (up to a few thousand rows): argmax of [y, 1]·[2a, −‖a‖²] in tiles."""
    n, r = Y.shape
    Aa = np.concatenate([2.0 * A, -np.einsum("ij,ij->i", A, A)[:, None]], axis=1).T.copy()
    rows = max(512, min(CHUNK, TILE // A.shape[0]))
    Ya = np.ones((rows, r + 1), np.float32)
    out = np.empty(n, np.int64)
    for s in range(0, n, rows):
        m = min(rows, n - s)
        Ya[:m, :r] = Y[s : s + m]
        out[s : s + m] = np.argmax(Ya[:m] @ Aa, axis=1)
    return out


def _pass_sizes(n: int, d: int, mode: str, dim: int | None, picks_per_pass: int | None) -> tuple[int, int]:
    """(picks per pass, working dimension): one full-dimension pick a pass in exact mode; in fast mode
    `picks_per_pass` (default N // 1024) and `dim` (default the full dimension up to 200k seeds, 32 above)."""
    if mode == "exact":
        return 1, d
    per_pass = picks_per_pass or max(1, n // 1024)
    r = dim if dim is not None else (d if n <= 200_000 else 32)
    return per_pass, min(r, d)


def _working_space(
    X: np.ndarray, labelled: np.ndarray | None, r: int, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The pool and the labelled seeds in an r-dimensional Gaussian random projection, or as they are when r is the
    full dimension (then the pool may be float16: every use converts the rows it reads)."""
    d = X.shape[1]
    if r == d:
        return X, labelled
    R = (np.random.default_rng(seed).standard_normal((d, r)) / math.sqrt(r)).astype(np.float32)
    return project_rows(X, R), None if labelled is None else labelled @ R


def _distances_to(Y: np.ndarray, sqn: np.ndarray, Lab: np.ndarray | None) -> np.ndarray:
    """min over the labelled seeds of ‖y_i − l‖² for every row (inf everywhere without labelled seeds)."""
    mind = np.full(Y.shape[0], np.inf, np.float32)
    if Lab is not None:
        for s in range(0, Lab.shape[0], 1024):
            min_sq_dist(Y, sqn, Lab[s : s + 1024], out=mind)
    return mind


def _candidates(mind: np.ndarray, m: int) -> np.ndarray:
    """The m rows with the largest mind, in index order (ties go to the lower index, whatever the values outside the
    top m)."""
    n = mind.size
    return np.sort(np.argpartition(-mind, m - 1)[:m]) if m < n else np.arange(n)


def _farthest_first(
    local: np.ndarray, Yc: np.ndarray, sqc: np.ndarray, k: int
) -> tuple[list[int], list[float]]:
    """k farthest-first picks among candidate rows `Yc` whose distances to the chosen seeds are `local` (updated in
    place): their positions among the candidates, and the distance of each when it was picked."""
    rows: list[int] = []
    scores: list[float] = []
    for _ in range(k):
        j = int(np.argmax(local))
        rows.append(j)
        scores.append(float(np.sqrt(max(local[j], 0.0))))
        if k > 1:  # in-batch update: later picks of this pass keep away from earlier ones
            np.minimum(local, np.maximum(sqc - 2.0 * (Yc @ Yc[j]) + sqc[j], 0.0), out=local)
        local[j] = -1.0
    return rows, scores


@dataclass
class _Traversal:
    """The pool in working space, mind_i = min ‖y_i − c‖² over the labelled and chosen seeds (−1 once picked), the
    lazy updater where passes are large enough, and the picks so far with their scores."""

    Y: np.ndarray
    sqn: np.ndarray
    mind: np.ndarray
    lazy: LazyDistances | None = None
    order: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def start_at_the_mean(self) -> None:
        """The first pick: the seed nearest the pool mean, scored by its distance to the mean."""
        to_mu = min_sq_dist(self.Y, self.sqn, pool_mean(self.Y)[None, :])
        first = int(np.argmin(to_mu))
        self.order.append(first)
        self.scores.append(float(np.sqrt(to_mu[first])))
        min_sq_dist(self.Y, self.sqn, as_float32(self.Y[first][None, :]), out=self.mind)
        self.mind[first] = -1.0

    def use_lazy_updates(self, budget: int) -> None:
        """From here on, a pass's distance update is `LazyDistances`' (told about a first pick already made)."""
        self.lazy = LazyDistances(self.Y, self.sqn, self.mind, budget)
        if self.order:
            self.lazy.total, self.lazy.centres[0] = 1, as_float32(self.Y[self.order[0]])
            self.lazy.base[:], self.lazy.upto[:] = self.mind, 1

    def run_pass(self, k: int, wanted: int, budget: int) -> None:
        """k picks, farthest-first among the `wanted` seeds (fewer if fewer remain) with the largest mind, then mind
        min-updated for the whole batch unless the budget is reached (the last pass's distances would choose
        nothing)."""
        n = self.mind.size
        cand = _candidates(self.mind, min(n - len(self.order), wanted))
        Yc = as_float32(self.Y[cand])
        rows, scores = _farthest_first(self.mind[cand].copy(), Yc, self.sqn[cand], k)
        batch = [int(cand[j]) for j in rows]
        self.order.extend(batch)
        self.scores.extend(scores)
        if len(self.order) < budget and self.lazy is not None:
            self.lazy.add(Yc[rows], min(n - len(self.order), wanted))
        elif len(self.order) < budget:
            min_sq_dist(self.Y, self.sqn, Yc[rows], out=self.mind)
        if self.lazy is not None:
            self.lazy.picked(batch)
        self.mind[batch] = -1.0


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
    of mind for the whole batch (from p = 512, i.e. N ≥ 512k, a lazy one that is exact wherever it decides the next
    candidates: `LazyDistances`) — and for N > 200k, distances in a `dim`-dimensional Gaussian random projection
    (default 32; Johnson–Lindenstrauss). Neither depends on the budget, so prefixes are smaller-budget selections.
    A float16 pool (a memmap) is read in blocks; only the projection (N × dim float32) is held in memory.
    """
    n, d = X.shape
    per_pass, r = _pass_sizes(n, d, mode, dim, picks_per_pass)
    Y, Lab = _working_space(X, labelled, r, seed)
    sqn = sq_norms(Y)
    traversal = _Traversal(Y, sqn, _distances_to(Y, sqn, Lab))
    if Lab is None:
        traversal.start_at_the_mean()
        report(progress, 1)
    if mode == "fast" and per_pass >= PRUNE_MIN:
        traversal.use_lazy_updates(budget)
    while len(traversal.order) < budget:
        k = min(per_pass, budget - len(traversal.order))
        traversal.run_pass(k, candidate_factor * per_pass, budget)
        report(progress, k)
    return Selection(np.asarray(traversal.order, np.int64), np.asarray(traversal.scores, np.float32))
