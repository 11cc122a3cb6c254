"""Cluster coverage: how many of K k-means clusters of the pool a selection touches (the plot's and table's metric)."""

from __future__ import annotations

import numpy as np

from revdial.selection.strategies.base import as_float32
from revdial.selection.strategies.js import kmeans_centroids
from revdial.selection.strategies.kcenter import BLOCK


def nearest_centroid(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of each row's nearest centroid (blocked, float32)."""
    labels = np.empty(X.shape[0], np.int64)
    sqc = (centroids * centroids).sum(1)
    for s in range(0, X.shape[0], BLOCK):
        labels[s : s + BLOCK] = np.argmin(sqc - 2.0 * (as_float32(X[s : s + BLOCK]) @ centroids.T), axis=1)
    return labels


def cluster_labels(X: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Hard k-means labels of the pool with K = min(k, N) clusters (one k-means run, one thread)."""
    from threadpoolctl import threadpool_limits

    k = max(1, min(int(k), X.shape[0]))
    with threadpool_limits(limits=1):  # see strategies/base.py: forked workers and a shared machine
        return nearest_centroid(X, kmeans_centroids(X, k, seed, n_init=1))


def clusters_covered(labels: np.ndarray, selected: np.ndarray) -> int:
    return int(np.unique(labels[np.asarray(selected, np.int64)]).size)


def expected_random_coverage(labels: np.ndarray, budget: int) -> float:
    """E[clusters touched] by `budget` seeds drawn uniformly without replacement: Σ_c 1 − C(N−n_c, B)/C(N, B)."""
    n = labels.size
    sizes = np.bincount(labels)
    sizes = sizes[sizes > 0]
    # C(N−n_c, B)/C(N, B) = Π_{t<B} (N−n_c−t)/(N−t), in logs
    t = np.arange(min(budget, n))
    miss = []
    for nc in sizes:
        frac = (n - nc - t) / (n - t)
        miss.append(0.0 if (frac <= 0).any() else float(np.exp(np.log(frac).sum())))
    return float(len(sizes) - sum(miss))
