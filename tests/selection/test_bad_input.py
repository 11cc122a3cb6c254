"""Awkward input gets a clear error or the behaviour documented in strategies/base.py."""

from __future__ import annotations

import numpy as np
import pytest

from revdial.selection.strategies import STRATEGIES, SelectionInputError, get_strategy, js

ALL = list(STRATEGIES)


def pool(n: int = 30, d: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


@pytest.mark.parametrize("name", ALL)
def test_an_empty_pool_is_an_error(name):
    with pytest.raises(SelectionInputError, match="pool is empty"):
        STRATEGIES[name](np.zeros((0, 4), np.float32), 3)


@pytest.mark.parametrize("name", ALL)
def test_nan_features_are_an_error_naming_the_row(name):
    X = pool()
    X[17, 2] = np.nan
    with pytest.raises(SelectionInputError, match="first at row 17"):
        STRATEGIES[name](X, 3)


@pytest.mark.parametrize("name", ALL)
def test_a_budget_larger_than_the_pool_ranks_the_whole_pool(name):
    X = pool(12)
    with pytest.warns(UserWarning, match="exceeds the pool of 12"):
        sel = STRATEGIES[name](X, 50, n_clusters=3) if name in ("js", "hybrid") else STRATEGIES[name](X, 50)
    assert sorted(sel.order.tolist()) == list(range(12))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("budget", [0, -2, 2.5])
def test_a_budget_below_one_or_fractional_is_an_error(name, budget):
    with pytest.raises(SelectionInputError, match="budget"):
        STRATEGIES[name](pool(), budget)


@pytest.mark.parametrize("name", ALL)
def test_duplicate_seeds_are_picked_only_after_every_distinct_seed(name):
    X = pool(10)
    X = np.concatenate([X, X[[2, 2, 5]]])  # rows 10, 11 copy row 2; row 12 copies row 5
    params = {"n_clusters": 3} if name in ("js", "hybrid") else {}
    order = STRATEGIES[name](X, 13, **params).order.tolist()
    assert sorted(order[:10]) == list(range(10))
    assert order[10:] == [10, 11, 12]


def test_more_clusters_than_seeds_uses_one_cluster_per_seed():
    with pytest.warns(UserWarning, match="n_clusters=50 exceeds the 8 distinct seeds"):
        sel = js(pool(8), 8, n_clusters=50)
    assert sorted(sel.order.tolist()) == list(range(8))


def test_labelled_features_of_another_width_are_an_error():
    with pytest.raises(SelectionInputError, match="labelled features have 3 dims but the pool has 4"):
        STRATEGIES["kcenter"](pool(), 3, labelled=np.zeros((2, 3), np.float32))


def test_an_unknown_strategy_or_mode_is_an_error():
    with pytest.raises(SelectionInputError, match="unknown strategy 'greedy'; choose one of: random, js"):
        get_strategy("greedy")
    with pytest.raises(SelectionInputError, match="mode must be 'fast' or 'exact'"):
        STRATEGIES["fisher"](pool(), 3, mode="slow")


def test_one_dimensional_features_are_an_error():
    with pytest.raises(SelectionInputError, match="2-D"):
        STRATEGIES["random"](np.zeros(5, np.float32), 2)
