"""Item-item neighbours and user histories on hand-computed cases (pure numpy/scipy, milliseconds)."""

import numpy as np

from revdial.seeds import collaborative


def _liked(pairs, n_users, n_items):
    users, items = np.array(pairs).T
    return collaborative.liked_matrix(users, items, n_users, n_items)


def test_neighbors_rank_by_cosine_of_liker_sets():
    # likers: item0 {0,1,2}, item1 {0,1}, item2 {2}, item3 {}
    liked = _liked([(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 2)], n_users=3, n_items=4)
    neighbors, scores = collaborative.item_neighbors(liked, k=3)
    # cos(0,1) = 2/sqrt(3*2) = 0.816; cos(0,2) = 1/sqrt(3*1) = 0.577; cos(1,2) = 0
    assert neighbors[0].tolist() == [1, 2, -1]
    np.testing.assert_allclose(scores[0, :2], [2 / np.sqrt(6), 1 / np.sqrt(3)], rtol=1e-6)
    assert neighbors[1].tolist() == [0, -1, -1]
    assert neighbors[2].tolist() == [0, -1, -1]
    assert neighbors[3].tolist() == [-1, -1, -1]  # nobody liked it: no neighbours, not an error


def test_neighbors_never_include_the_item_itself_and_respect_min_common():
    liked = _liked([(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)], n_users=2, n_items=3)
    neighbors, _ = collaborative.item_neighbors(liked, k=2, min_common=2)
    assert neighbors[0].tolist() == [1, -1]  # item 2 shares one liker with item 0: below min_common
    assert all(i not in row for i, row in enumerate(neighbors.tolist()))


def test_neighbors_do_not_depend_on_the_block_size():
    rng = np.random.default_rng(0)
    pairs = np.unique(np.c_[rng.integers(0, 50, 600), rng.integers(0, 37, 600)], axis=0)
    liked = _liked(pairs, 50, 37)
    whole = collaborative.item_neighbors(liked, k=5, block_size=1000)
    for blocks in (
        collaborative.item_neighbors(liked, k=5, block_size=4),
        collaborative.item_neighbors(liked, k=5, max_block_pairs=50),
    ):
        np.testing.assert_array_equal(whole[0], blocks[0])
        np.testing.assert_allclose(whole[1], blocks[1])


def test_blocks_cover_every_item_once_within_both_limits():
    cost = np.array([5.0, 1.0, 1.0, 9.0, 1.0, 1.0, 1.0])
    blocks = list(collaborative._blocks(cost, max_items=3, max_cost=4.0))
    assert blocks == [
        (0, 1),
        (1, 3),
        (3, 4),
        (4, 7),
    ]  # an item costlier than the limit still gets its own block


def test_duplicate_likes_count_once():
    liked = _liked([(0, 0), (0, 0), (0, 1)], n_users=1, n_items=2)
    assert liked.toarray().tolist() == [[1.0, 1.0]]


def test_histories_are_most_recent_first_and_capped():
    users = np.array([0, 0, 0, 1])
    items = np.array([5, 6, 7, 5])
    when = np.array([10.0, 30.0, 20.0, 1.0])
    history = collaborative.user_histories(users, items, when, max_len=2)
    assert history == {0: [6, 7], 1: [5]}


def test_history_without_removes_the_seed_item():
    assert collaborative.history_without([3, 4, 5], 4, max_len=5) == [3, 5]
    assert collaborative.history_without([3, 4, 5], 3, max_len=1) == [4]
    assert collaborative.history_without([3, 4, 5], 9, max_len=2) == [3, 4]
    assert collaborative.history_without(None, 3, max_len=1) == []
    assert collaborative.history_without([3, 4, 5], 4, max_len=5, labels=["c", "d", "e"]) == ["c", "e"]
