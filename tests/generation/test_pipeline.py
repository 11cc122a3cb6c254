"""The whole synthesis pipeline (real seeds and selection steps, fake LLM), run once for the module: outputs,
reject accounting, summary, plot and the saved pipeline.yaml."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from helpers import config, small_seeds_dir

from fakes.replies import INVENTED_TITLE
from revdial.generation.run import make_plan, run_plan
from revdial.generation.tasks import mask_title

N_SEEDS, K = 12, 2
TESTS_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    directory = small_seeds_dir(tmp_path_factory.mktemp("seeds") / "seeds", N_SEEDS)
    return directory, datasets.load_from_disk(str(directory))


@pytest.fixture(scope="module")
def run(seeds, tmp_path_factory):
    """One run with scripted misbehaviour: seed 0 leaks its title, seed 1 gets an empty request, seed 2 writes the
    same request twice (one duplicate), seed 3's answer names no catalogue title."""
    seeds_dir, ds = seeds
    s = [ds[i] for i in range(4)]

    def key(row):  # a piece of the seed's own review, as the request prompt shows it (title masked)
        return mask_title(row["review_text"], row["title"], "this movie")[:40]

    script = {
        key(s[0]): f"I loved {s[0]['title']} so much, what else is like it for me?",
        key(s[1]): "   ",
        key(s[2]): "Please find me a slow moody drama for a quiet evening alone",
        f'The best answer for this user is "{s[3]["title"]}': "1. Zzyzx Nonexistent Movie (1850) - trust me",
    }
    # Each script key must pick exactly one seed.
    for row in s[:3]:
        assert (
            sum(key(row) in mask_title(other["review_text"], other["title"], "this movie") for other in ds)
            == 1
        )
    tmp = tmp_path_factory.mktemp("run")
    calls = tmp / "calls.txt"
    llm = {
        "backend": "class",
        "path": "fakes.llm:FakeLLM",
        "kwargs": {"script": script, "calls_path": str(calls)},
    }
    mp = pytest.MonkeyPatch()
    mp.setenv("DISTILABEL_CACHE_DIR", str(tmp / "cache"))
    plan, echo, out = make_plan(config(llm, budget=N_SEEDS, k=K), out=tmp / "out", seeds_dir=seeds_dir)
    run_plan(plan, echo, out, quiet=True)
    mp.undo()
    return {"out": out, "seeds": s, "calls": calls, "plan": plan, "script": script}


def _load(out, name):
    return datasets.load_from_disk(str(out / name))["train"]


def test_every_selected_seed_is_kept_or_rejected_never_both(run):
    kept = set(_load(run["out"], "default")["seed_id"])
    rejected = set(_load(run["out"], "rejects")["seed_id"])
    assert not kept & rejected
    assert len(kept) + len(rejected) == N_SEEDS


def test_rejects_name_stage_reason_and_detail_per_seed(run):
    rejects = {r["seed_id"]: r for r in _load(run["out"], "rejects")}
    s = run["seeds"]
    assert rejects[s[0]["seed_id"]]["reason"] == "leak" and rejects[s[0]["seed_id"]]["stage"] == "filters"
    assert rejects[s[1]["seed_id"]]["reason"] == "empty"
    assert rejects[s[3]["seed_id"]]["reason"] == "no_grounded_titles"
    assert "Zzyzx" in rejects[s[3]["seed_id"]]["detail"]
    assert all(isinstance(r["selection_rank"], int) and r["selection_rank"] >= 0 for r in rejects.values())


def test_a_duplicate_request_rejects_the_row_but_the_seed_keeps_its_first(run):
    candidates = _load(run["out"], "candidates")
    rows = [r for r in candidates if r["seed_id"] == run["seeds"][2]["seed_id"]]
    assert sorted(r["reject_reason"] or "kept" for r in rows) == ["duplicate", "kept"]
    assert run["seeds"][2]["seed_id"] in set(_load(run["out"], "default")["seed_id"])


def test_kept_rows_are_valid_trl_conversations_with_the_target_in_the_list(run):
    kept = _load(run["out"], "default")
    assert len(kept) == (N_SEEDS - 3) * K - 1
    for row in kept:
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert all(m["content"].strip() for m in row["messages"])
        assert row["prompt"] + row["completion"] == row["messages"]
        assert row["target_item_id"] in row["recommended_item_ids"]
        assert row["recommended_titles"][0] in row["messages"][2]["content"]
        assert row["request"] == row["messages"][1]["content"]
        assert row["hallucinated_titles"] == [INVENTED_TITLE]  # dropped from the list, recorded
        assert INVENTED_TITLE.split(" (")[0] not in row["messages"][2]["content"]
        assert row["generator_model"] == "fake-llm" and row["selection_strategy"] == "random"
        assert row["style"] in run["plan"].generation.styles


def test_summary_counts_match_the_saved_configs(run):
    summary = json.loads((run["out"] / "distiset_configs" / "summary.json").read_text())
    candidates = _load(run["out"], "candidates")
    assert summary["accounting"] == {
        "seeds_selected": N_SEEDS,
        "seeds_kept": N_SEEDS - 3,
        "seeds_rejected": 3,
        "ok": True,
    }
    assert summary["funnel"]["rows kept"] == len(_load(run["out"], "default"))
    assert summary["reject_reasons"]["duplicate"] == 1
    assert sum(summary["reject_reasons"].values()) == len(candidates) - summary["funnel"]["rows kept"]
    hallucinated = sum(len(h or []) for h in candidates["hallucinated_titles"])
    total = sum(len(p or []) for p in candidates["parsed_titles"])
    assert summary["hallucination"]["rate"] == round(hallucinated / total, 4)
    assert summary["tokens"]["input"] == sum(candidates["tokens_in"]) > 0
    assert summary["tokens"]["output"] == sum(candidates["tokens_out"]) > 0
    assert summary["wall_time_s"] > 0


def test_an_experiment_sees_a_finished_run_as_finished(run):
    from revdial.crs.experiment import finished_synthesis

    assert finished_synthesis(run["out"]) == run["out"] / "distiset_configs" / "summary.json"


def test_funnel_plot_and_pipeline_yaml_are_written(run):
    assert (run["out"] / "distiset_configs" / "funnel.png").read_bytes()[:4] == b"\x89PNG"
    pipeline_yaml = (run["out"] / "distiset_configs" / "pipeline.yaml").read_text()
    for step in (
        "load_seeds",
        "select_seeds",
        "keep_top_b",
        "scrub_pii",
        "generate_request",
        "recommend_items",
        "ground_recommendations",
        "curate_rows",
        "default",
        "rejects",
    ):
        assert f"name: {step}" in pipeline_yaml


def test_timings_record_the_run_marks_and_every_step_load(run):
    timings = json.loads((run["out"] / "distiset_configs" / "timings.json").read_text())
    marks = timings["marks"]
    assert marks["start"] <= marks["pipeline.run"] <= marks["pipeline returned"] <= marks["saved"]
    steps = timings["steps"]
    for step in (
        "load_seeds",
        "compute_features",
        "select_seeds",
        "keep_top_b",
        "generate_request",
        "curate_rows",
    ):
        assert {"loaded", "first_batch", "last_batch"} <= set(steps[step]), step
        assert (
            marks["pipeline.run"]
            <= steps[step]["loaded"]
            <= steps[step]["last_batch"]
            <= marks["pipeline returned"]
        )
    # select_seeds (a GlobalStep) is a load stage of its own, after the steps before it; curation and the leaves
    # (WholeRunSteps) load with the generation steps, before any answer is written
    assert steps["select_seeds"]["loaded"] >= steps["compute_features"]["last_batch"]
    for step in ("curate_rows", "default", "rejects", "candidates"):
        assert steps[step]["loaded"] <= steps["recommend_items"]["first_batch"], step


def test_the_llm_was_called_once_per_request_and_once_per_answer(run):
    # 24 requests; the empty one and the leak (rejected only after both calls) - the empty skips the answer.
    calls = run["calls"].read_text().splitlines()
    assert len(calls) == N_SEEDS * K * 2 - K


@pytest.mark.slow
def test_saved_pipeline_yaml_reruns_with_the_distilabel_cli(run, tmp_path):
    # --ignore-cache: steps rebuilt from the YAML do not all hash like the originals, and distilabel 1.5.3 waits
    # forever on a partly cached pipeline (argilla-io/distilabel#1065); a fresh run shows the YAML is complete.
    env = {
        **os.environ,
        "DISTILABEL_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        "-m",
        "distilabel",
        "pipeline",
        "run",
        "--ignore-cache",
        "--config",
        str(run["out"] / "distiset_configs" / "pipeline.yaml"),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        printed, _ = process.communicate(timeout=400)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, printed[-3000:]
    assert all(config in printed for config in ("default", "rejects", "candidates"))


def test_a_changed_budget_reruns_cleanly_and_reuses_every_finished_llm_call(
    run, seeds, tmp_path, monkeypatch
):
    # Same cache, smaller budget: distilabel must not see a half-cached pipeline (it would hang), and the seeds
    # already generated come back from the LLM call cache.
    monkeypatch.setenv("DISTILABEL_CACHE_DIR", run["plan"].cache_dir)
    calls_before = len(run["calls"].read_text().splitlines())
    llm = {
        "backend": "class",
        "path": "fakes.llm:FakeLLM",
        "kwargs": {"script": run["script"], "calls_path": str(run["calls"])},
    }
    plan, echo, out = make_plan(
        config(llm, budget=N_SEEDS - 2, k=K), out=tmp_path / "out", seeds_dir=seeds[0]
    )
    run_plan(plan, echo, out, quiet=True)
    summary = json.loads((out / "distiset_configs" / "summary.json").read_text())
    assert summary["accounting"]["ok"] and summary["accounting"]["seeds_selected"] == N_SEEDS - 2
    assert len(run["calls"].read_text().splitlines()) == calls_before


def test_the_output_folder_opens_as_a_distiset(run):
    from distilabel.distiset import Distiset

    distiset = Distiset.load_from_disk(str(run["out"]))
    assert set(distiset) == {"default", "rejects", "candidates"}


def test_distilabel_execution_cache_is_saved_at_most_every_interval_and_always_at_the_end(monkeypatch):
    from distilabel.pipeline import Pipeline

    from revdial.generation.pipeline import SynthesisPipeline

    saves = []
    monkeypatch.setattr(Pipeline, "_cache", lambda self: saves.append(1))
    monkeypatch.setattr(Pipeline, "_finalize_pipeline_execution", lambda self: self._cache())
    pipeline = SynthesisPipeline(name="throttle-test")
    for _ in range(50):  # one save per batch is what distilabel asks for
        pipeline._cache()
    assert len(saves) == 1
    pipeline._last_cache_at -= pipeline.cache_interval_s
    pipeline._cache()
    assert len(saves) == 2
    pipeline._finalize_pipeline_execution()  # the save a finished re-run is served from is never skipped
    assert len(saves) == 3
