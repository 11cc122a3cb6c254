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
    result = score_turns([["a", "b"], ["c", "d"]], [["a"], ["d"]], [["a"], []], ks=(1, 2), n_resamples=50)
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


def test_bootstrap_resamples_dialogues_not_turns():
    """defect 6: ten identical turns per dialogue are one observation, not ten; the interval must widen."""
    values = [float(d % 2) for d in range(20) for _ in range(10)]
    dialogues = [d for d in range(20) for _ in range(10)]
    _, turn_low, turn_high = bootstrap_ci(values, n_resamples=500)
    mean, low, high = bootstrap_ci(values, dialogues, n_resamples=500)
    assert mean == 0.5 and low < mean < high
    assert (high - low) > 2.5 * (turn_high - turn_low)
    scored = score_turns(
        [["a"]] * 200, [["a"] if v else ["b"] for v in values], ks=(1,), dialog_ids=dialogues, n_resamples=500
    )["all_items"]["recall@1"]
    assert (scored["ci_high"] - scored["ci_low"]) == pytest.approx(high - low)


def test_default_mean_is_per_pair_and_per_turn_is_an_option():
    """defect 9: two targets, one hit: per pair 1 of 3 pairs hit; per turn the turns score 0.5 and 0."""
    rankings, targets = [["t1", "x"], ["y"]], [["t1", "t2"], ["t3"]]
    pairs = score_turns(rankings, targets, ks=(1,), n_resamples=20)["all_items"]
    turns = score_turns(rankings, targets, ks=(1,), n_resamples=20, mean="turn")["all_items"]
    assert pairs["n_pairs"] == 3 and pairs["recall@1"]["mean"] == pytest.approx(1 / 3)
    assert turns["mean"] == "per turn" and turns["recall@1"]["mean"] == pytest.approx(0.25)


def test_a_metric_at_k_above_the_list_length_is_not_reported():
    """defect 4: @50 of 20-item lists equalled @20; it is now None with the reason."""
    result = score_turns([["a"]], [["a"]], ks=(1, 20, 50), list_length=20, n_resamples=20)["all_items"]
    assert result["recall@20"]["mean"] == 1.0
    assert result["recall@50"] is None and "at most 20 items" in result["not_reported"]["recall@50"]
