"""Collaborative signals from a user-item interaction list: item-item neighbours and per-user histories.

Pure numpy/scipy. Everything works on integer codes (0..n_users-1, 0..n_items-1); mapping ids and titles is the
caller's job. The co-like matrix is computed one block of items at a time, so memory stays bounded by the block's
co-occurrences instead of the full items x items product (millions of interactions fit).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def liked_matrix(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """Binary users x items matrix with a 1 where the user liked the item (duplicates count once)."""
    data = np.ones(len(users), dtype=np.float32)
    matrix = sp.csr_matrix((data, (users, items)), shape=(n_users, n_items), dtype=np.float32)
    matrix.data[:] = 1.0  # (user, item) pairs given twice were summed by the constructor
    return matrix


def item_neighbors(
    liked: sp.csr_matrix,
    k: int,
    *,
    min_common: int = 1,
    block_size: int = 4096,
    max_block_pairs: int = 4_000_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k co-liked items of every item, by cosine similarity of their (binary) liker sets.

    cos(i, j) = |likers(i) & likers(j)| / sqrt(|likers(i)| |likers(j)|); pairs with fewer than `min_common` common
    likers are not neighbours. Ties are broken by the lower item code, so the result is deterministic.

    A block holds at most `block_size` items and, beyond its first item, at most `max_block_pairs` co-like pairs
    (estimated by the sum of the likers' degrees), so popular items do not blow up the memory of one block.

    Returns (neighbors, scores), both (n_items, k): item codes padded with -1, float32 scores padded with 0.
    """
    n_items = liked.shape[1]
    neighbors = np.full((n_items, k), -1, dtype=np.int64)
    scores = np.zeros((n_items, k), dtype=np.float32)
    if k <= 0 or n_items == 0:
        return neighbors, scores
    by_item = liked.T.tocsr()  # items x users
    popularity = np.asarray(by_item.sum(axis=1)).ravel()
    norm = np.sqrt(np.maximum(popularity, 1.0))
    # upper bound of the co-like pairs of each item: sum over its likers of their number of likes
    pairs = by_item @ np.asarray(liked.sum(axis=1)).ravel()
    for start, stop in _blocks(pairs, block_size, max_block_pairs):
        co = (by_item[start:stop] @ liked).tocoo()  # block x items: common likers
        rows, cols, common = co.row, co.col, co.data
        keep = (cols != rows + start) & (common >= min_common)
        rows, cols, common = rows[keep], cols[keep], common[keep]
        sim = (common / (norm[rows + start] * norm[cols])).astype(np.float32)
        order = np.lexsort((cols, -sim, rows))
        rows, cols, sim = rows[order], cols[order], sim[order]
        # rank of each entry inside its row = position - first position of that row
        first = np.searchsorted(rows, rows, side="left")
        rank = np.arange(len(rows)) - first
        top = rank < k
        neighbors[rows[top] + start, rank[top]] = cols[top]
        scores[rows[top] + start, rank[top]] = sim[top]
    return neighbors, scores


def _blocks(cost: np.ndarray, max_items: int, max_cost: float):
    """Consecutive [start, stop) ranges of at most `max_items` items whose summed cost stays under `max_cost`."""
    start, n = 0, len(cost)
    cumulative = np.cumsum(cost)
    while start < n:
        offset = cumulative[start - 1] if start else 0.0
        stop = int(np.searchsorted(cumulative, offset + max_cost, side="right"))
        stop = min(max(stop, start + 1), start + max_items, n)
        yield start, stop
        start = stop


def user_histories(
    users: np.ndarray, items: np.ndarray, recency: np.ndarray, max_len: int
) -> dict[int, list[int]]:
    """For each user code, up to `max_len` item codes, most recent (highest `recency`) first.

    `recency` orders the interactions (a timestamp, or the row order when there is none); ties keep the lower item
    code first.
    """
    if len(users) == 0:
        return {}
    order = np.lexsort((items, -np.asarray(recency, dtype=np.float64), users))
    users, items = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    stops = np.r_[starts[1:], len(users)]
    return {int(users[a]): items[a : min(b, a + max_len)].tolist() for a, b in zip(starts, stops)}


def history_without(history: list[int] | None, item: int, max_len: int, labels: list | None = None) -> list:
    """The user's history minus the seed's own item (a seed must not list its target as already liked).

    With `labels` (e.g. the titles of `history`, same order), the kept labels are returned instead of the codes.
    """
    if not history:
        return []
    labels = history if labels is None else labels
    if item in history:
        at = history.index(item)
        return (labels[:at] + labels[at + 1 :])[:max_len]
    return labels[:max_len]
