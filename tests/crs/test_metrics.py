"""Metrics against cases worked out by hand."""

from __future__ import annotations

import math

import pytest

from revdial.crs.metrics import bootstrap_ci, exclude_mentioned, score_turns, turn_metrics


def test_single_target_hit_at_rank_three():
    m = turn_metrics(["a", "b", "t", "c"], ["t"], ks=(1, 2, 3, 5))
    assert m["recall@1"] == 0.0 and m["recall@2"] == 0.0
    assert m["recall@3"] == 1.0 and m["recall@5"] == 1.0
    assert m["ndcg@3"] == pytest.approx(1 / math.log2(4))  # one hit at rank 3, ideal = 1
    assert m["mrr@3"] == pytest.approx(1 / 3)
    assert m["mrr@2"] == 0.0


def test_two_targets_recall_is_a_fraction_and_ndcg_uses_the_ideal_of_two():
    m = turn_metrics(["x", "t1", "y", "t2"], ["t1", "t2"], ks=(1, 2, 4))
    assert m["recall@2"] == 0.5
    assert m["recall@4"] == 1.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert m["ndcg@4"] == pytest.approx(dcg / ideal)
    # At K=1 the ideal holds one hit only.
    assert m["ndcg@1"] == 0.0
    assert m["mrr@4"] == pytest.approx(0.5)


def test_repeated_predictions_count_once():
    m = turn_metrics(["x", "x", "t"], ["t"], ks=(2,))
    assert m["recall@2"] == 1.0
    assert m["mrr@2"] == pytest.approx(0.5)


def test_empty_ranking_scores_zero_and_empty_targets_are_an_error():
    assert turn_metrics([], ["t"], ks=(1, 10))["ndcg@10"] == 0.0
    with pytest.raises(ValueError, match="at least one target"):
        turn_metrics(["a"], [], ks=(1,))


def test_exclude_mentioned_removes_seen_items_from_both_sides():
    ranked, targets = exclude_mentioned(["seen", "t", "u"], ["seen", "t"], ["seen"])
    assert ranked == ["t", "u"] and targets == ["t"]


def test_score_turns_skips_turns_whose_targets_were_all_mentioned():
    result = score_turns(
        [["a", "b"], ["c", "d"]], [["a"], ["d"]], [["a"], []], ks=(1, 2), n_resamples=50
    )
    everything = result["all_items"]
    assert everything["n_turns"] == 2
    assert everything["recall@1"]["mean"] == 0.5  # turn 1 hits at rank 1, turn 2 at rank 2
    excluded = result["exclude_mentioned"]
    assert excluded["n_turns"] == 1 and excluded["n_skipped"] == 1
    assert excluded["mrr@2"]["mean"] == 0.5


def test_bootstrap_interval_contains_the_mean_and_collapses_for_constant_values():
    mean, low, high = bootstrap_ci([0.0, 1.0] * 50, n_resamples=200)
    assert low < mean == 0.5 < high
    assert bootstrap_ci([0.3] * 10) == pytest.approx((0.3, 0.3, 0.3))
    assert all(math.isnan(v) for v in bootstrap_ci([]))
