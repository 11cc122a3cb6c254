"""build_summary on small hand-made configs: the funnel, per-step rows, accounting, hallucination and tokens."""

from types import SimpleNamespace

import datasets

from revdial.generation.summary import build_summary


def _plan(seeds_dir, budget, max_total_tokens=0):
    return SimpleNamespace(
        name="tiny",
        seeds_dir=str(seeds_dir),
        strategy="random",
        budget=budget,
        features=["text"],
        labelled_seed_ids=None,
        curation=SimpleNamespace(on_hallucination="drop"),
        generation=SimpleNamespace(max_total_tokens=max_total_tokens),
    )


def _distiset(kept, rejects, candidates):
    return {
        name: {"train": datasets.Dataset.from_list(rows) if rows else datasets.Dataset.from_dict({})}
        for name, rows in (("default", kept), ("rejects", rejects), ("candidates", candidates))
    }


def _seeds(tmp_path, n):
    datasets.Dataset.from_dict({"seed_id": [f"s{i}" for i in range(n)]}).save_to_disk(str(tmp_path / "seeds"))
    return tmp_path / "seeds"


def _candidate(seed_id, request, parsed, grounded, hallucinated, reason, model="m1", tokens=(10, 5)):
    return {
        "seed_id": seed_id,
        "request": request,
        "parsed_titles": parsed,
        "recommended_item_ids": grounded,
        "hallucinated_titles": hallucinated,
        "reject_reason": reason,
        "model_name": model,
        "tokens_in": tokens[0],
        "tokens_out": tokens[1],
    }


def test_a_run_with_one_kept_and_one_rejected_seed(tmp_path):
    candidates = [
        _candidate("s0", "a request", ["A", "B"], ["i1"], ["B"], None),
        _candidate("s0", "another", ["C"], [], [], "duplicate"),
        _candidate("s1", "", [], [], [], "empty"),
    ]
    kept = [{"seed_id": "s0"}]
    rejects = [{"seed_id": "s1", "reason": "empty"}]
    plan = _plan(_seeds(tmp_path, 5), budget=2, max_total_tokens=1000)
    summary = build_summary(_distiset(kept, rejects, candidates), plan, {"echo": 1}, wall_time_s=1.234)
    assert summary["generator_model"] == "m1"
    assert summary["funnel"] == {
        "seeds in pool": 5,
        "seeds selected": 2,
        "requests planned": 3,
        "requests generated": 2,
        "answers parsed": 2,
        "answers grounded": 1,
        "rows kept": 1,
    }
    assert summary["rows_per_step"]["keep_top_b"] == {"in": 5, "out": 2}
    assert summary["rows_per_step"]["recommend_items"] == {"in": 2, "out": 2}
    assert summary["rows_per_step"]["curate_rows"] == {"in": 3, "out": 1}
    assert summary["reject_reasons"] == {"duplicate": 1, "empty": 1}
    assert summary["rejected_seed_reasons"] == {"empty": 1}
    assert summary["accounting"] == {"seeds_selected": 2, "seeds_kept": 1, "seeds_rejected": 1, "ok": True}
    assert summary["hallucination"] == {
        "titles_recommended": 3,
        "titles_hallucinated": 1,
        "rate": 0.3333,
        "policy": "drop",
    }
    assert summary["tokens"] == {"input": 30, "output": 15, "total": 45, "cap": 1000}
    assert summary["wall_time_s"] == 1.23 and summary["config"] == {"echo": 1}


def test_accounting_fails_when_a_seed_is_both_kept_and_rejected_or_the_selection_is_short(tmp_path):
    candidates = [
        _candidate("s0", "r", ["A"], ["i1"], [], None),
        _candidate("s1", "r", ["A"], ["i1"], [], None),
    ]
    both = _distiset([{"seed_id": "s0"}, {"seed_id": "s1"}], [{"seed_id": "s1", "reason": "x"}], candidates)
    seeds = _seeds(tmp_path, 4)
    assert build_summary(both, _plan(seeds, budget=2), {}, 0.0)["accounting"]["ok"] is False
    short = _distiset([{"seed_id": "s0"}], [{"seed_id": "s1", "reason": "x"}], candidates)
    assert build_summary(short, _plan(seeds, budget=2), {}, 0.0)["accounting"]["ok"] is True
    assert build_summary(short, _plan(seeds, budget=3), {}, 0.0)["accounting"]["ok"] is False


def test_several_models_no_titles_and_no_cap(tmp_path):
    candidates = [
        _candidate("s0", "r", [], [], [], "no_grounded_titles", model="m2", tokens=(None, None)),
        _candidate("s1", "r", None, None, None, "no_grounded_titles", model="m1"),
    ]
    rejects = [
        {"seed_id": "s0", "reason": "no_grounded_titles"},
        {"seed_id": "s1", "reason": "no_grounded_titles"},
    ]
    summary = build_summary(_distiset([], rejects, candidates), _plan(_seeds(tmp_path, 2), budget=8), {}, 0.0)
    assert summary["generator_model"] == ["m1", "m2"]
    assert summary["hallucination"]["rate"] is None
    assert summary["tokens"] == {"input": 10, "output": 5, "total": 15, "cap": None}
    assert summary["funnel"]["rows kept"] == 0 and summary["accounting"]["ok"] is True
