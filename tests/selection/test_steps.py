"""distilabel steps: ranks are added to every row, labelled seeds are skipped, KeepTopB cuts the budget."""

from __future__ import annotations

import numpy as np
import pytest

from revdial.selection.steps import ComputeFeatures, KeepTopB, SelectSeeds, rank_rows
from revdial.selection.strategies import STRATEGIES, SelectionInputError


def rows(n: int = 40, d: int = 5, seed: int = 0) -> list[dict]:
    X = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return [{"seed_id": f"s{i}", "text": f"seed {i}", "features": x.tolist()} for i, x in enumerate(X)]


def test_rank_rows_keeps_every_row_and_ranks_the_strategy_order():
    out = rank_rows(rows(), "kcenter", 10, mode="exact")
    assert len(out) == 40
    expected = STRATEGIES["kcenter"](
        np.asarray([r["features"] for r in rows()], np.float32), 10, mode="exact"
    )
    ranked = sorted((r for r in out if r["selection_rank"] >= 0), key=lambda r: r["selection_rank"])
    assert [r["seed_id"] for r in ranked] == [f"s{i}" for i in expected.order]
    assert [r["selection_score"] for r in ranked] == pytest.approx(expected.scores.tolist())
    unranked = [r for r in out if r["selection_rank"] < 0]
    assert len(unranked) == 30 and all(
        r["selection_rank"] == -1 and r["selection_score"] is None for r in unranked
    )
    assert {r["selection_strategy"] for r in out} == {"kcenter"}


def test_select_seeds_passes_on_only_the_ranked_seeds_without_their_features():
    step = SelectSeeds(strategy="kcenter", budget=10, mode="exact")
    step.load()
    out = next(step.process(rows()))
    ranked = rank_rows(rows(), "kcenter", 10, mode="exact")
    expected = {r["seed_id"]: r["selection_rank"] for r in ranked if r["selection_rank"] >= 0}
    assert {r["seed_id"]: r["selection_rank"] for r in out} == expected and len(out) == 10
    assert not any("features" in r for r in out)


def test_labelled_seeds_stay_unranked_and_are_selected_around():
    data = rows()
    labelled = [f"s{i}" for i in range(0, 40, 4)]
    out = rank_rows(data, "kcenter", 30, mode="exact", labelled_seed_ids=labelled)
    assert all(r["selection_rank"] == -1 for r in out if r["seed_id"] in labelled)
    assert sorted(r["selection_rank"] for r in out if r["seed_id"] not in labelled) == list(range(30))


def test_nan_features_name_the_seed():
    data = rows()
    data[7]["features"][1] = float("nan")
    with pytest.raises(SelectionInputError, match="first at row 7.*seed_id 's7'"):
        rank_rows(data, "js", 5)


def test_ragged_features_are_an_error():
    data = rows()
    data[3]["features"] = data[3]["features"][:2]
    with pytest.raises(SelectionInputError, match="different lengths"):
        rank_rows(data, "random", 5)


def test_keep_top_b_keeps_exactly_the_prefix():
    data = rank_rows(rows(), "fisher", 20)
    step = KeepTopB(budget=5)
    step.load()
    kept = next(step.process(data))
    assert sorted(r["selection_rank"] for r in kept) == [0, 1, 2, 3, 4]


def test_compute_features_adds_a_vector_per_text(tmp_path):
    step = ComputeFeatures(cache_dir=str(tmp_path))
    step.load()
    out = next(step.process([{"text": "a dog"}, {"text": "a spaceship"}]))
    assert len(out[0]["features"]) == 384 and out[0]["features"] != out[1]["features"]


@pytest.mark.timeout(180)
def test_pipeline_ranks_filters_and_exposes_runtime_parameters(tmp_path, monkeypatch):
    from distilabel.pipeline import Pipeline
    from distilabel.steps import LoadDataFromDicts

    monkeypatch.setenv("DISTILABEL_CACHE_DIR", str(tmp_path / "cache"))
    with Pipeline(name="selection-test") as pipeline:
        load = LoadDataFromDicts(data=rows(30), batch_size=8)
        select = SelectSeeds(strategy="js", budget=12, params={"n_clusters": 4})
        keep = KeepTopB(budget=6)
        load >> select >> keep
    dumped = pipeline.dump()
    names = {
        p["name"] for s in dumped["pipeline"]["steps"] for p in s["step"].get("runtime_parameters_info", [])
    }
    assert {"strategy", "budget", "mode", "params", "labelled_seed_ids"} <= names
    distiset = pipeline.run(use_cache=False)
    ds = distiset["default"]["train"]
    assert sorted(ds["selection_rank"]) == list(range(6))
    assert set(ds["selection_strategy"]) == {"js"}


def test_params_serve_every_strategy_and_a_typo_is_an_error():
    data = rank_rows(rows(), "fisher", 5, params={"lam": 2.0, "n_clusters": 4, "weight": 0.3})
    assert sum(r["selection_rank"] >= 0 for r in data) == 5
    with pytest.raises(SelectionInputError, match="unknown selection parameter.* n_cluster;"):
        rank_rows(rows(), "js", 5, params={"n_cluster": 4})
