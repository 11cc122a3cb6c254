"""`revdial experiment`: synthesis once per strategy at the top budget, students per budget, one table and plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict

from revdial.crs import experiment as ex
from revdial.crs.benchmarks import load_benchmark

ROOT = Path(__file__).resolve().parents[2]


def _fake_synthesis(calls: list):
    """Stands in for revdial.generation.run.synthesize: `budget` rows ranked 0..budget-1, in the contract's shape."""

    def synthesize(config, *, budget, strategy, out, features=None, labelled_seed_ids=None, llm_cache=None):
        calls.append(
            {
                "strategy": strategy,
                "budget": budget,
                "features": features,
                "labelled": labelled_seed_ids,
                "config": config,
                "llm_cache": llm_cache,
            }
        )
        offset = len(labelled_seed_ids or [])
        rows = []
        for rank in range(budget):
            system = {"role": "system", "content": "You are a movie recommender."}
            user = {"role": "user", "content": f"something tense please ({strategy} {rank + offset})"}
            answer = {"role": "assistant", "content": "1. Alien (1979)\n2. Jaws (1975)"}
            rows.append(
                {
                    "prompt": [system, user],
                    "completion": [answer],
                    "messages": [system, user, answer],
                    "seed_id": f"{strategy}-{rank + offset}",
                    "selection_rank": rank,
                }
            )
        DatasetDict({"train": Dataset.from_list(rows)}).save_to_disk(str(Path(out) / "default"))
        (Path(out) / "distiset_configs").mkdir()
        (Path(out) / "distiset_configs" / "summary.json").write_text("{}")  # where run_plan writes it
        return Path(out)

    return synthesize


def _config(tmp_path: Path, tiny_lm: Path, redial_dir: Path, rounds: int = 1) -> Path:
    config = {
        "experiment": {
            "synthesis_config": str(ROOT / "pipelines" / "movies-sample.yaml"),
            "strategies": ["random", "js"],
            "budgets": [4, 2],
            "rounds": rounds,
            "baselines": ["zero_shot", "popularity"],
            "train": {
                "recipe": str(ROOT / "recipes/smollm2-135m-instruct/sft/config_lora.yaml"),
                "student": str(tiny_lm),
                "overrides": {"max_steps": 1, "per_device_train_batch_size": 2, "logging_steps": 1},
            },
            "eval": {
                "k": 3,
                "batch_size": 4,
                "max_new_tokens": 6,
                "n_resamples": 20,
                "benchmarks": [{"name": "redial", "data": str(redial_dir / "original/test_data.jsonl.gz")}],
            },
        },
        "output": {"dir": str(tmp_path / "exp")},
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(json.dumps(config))
    return path


def test_both_shipped_experiment_configs_load():
    for name in (
        "experiment-cpu.yaml",
        "experiment-gpu.yaml",
        "experiment-movielens.yaml",
        "experiment-movielens-rounds.yaml",
    ):
        cfg = ex.load_experiment_config(ROOT / "pipelines" / name)
        assert cfg.synthesis_config.exists() and cfg.recipe.exists()
        assert cfg.budgets == sorted(cfg.budgets) and cfg.strategies


def test_missing_sections_are_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("experiment: {strategies: [js]}\n")
    with pytest.raises(
        ex.ExperimentConfigError,
        match=r"bad.yaml: experiment.synthesis_config: Field required; experiment.budgets: Field required",
    ):
        ex.load_experiment_config(path)


def test_one_synthesis_per_strategy_at_the_top_budget_and_a_student_per_budget(
    tmp_path, tiny_lm, redial_dir, monkeypatch
):
    from revdial.generation import run

    calls: list = []
    monkeypatch.setattr(run, "synthesize", _fake_synthesis(calls))
    cfg = ex.load_experiment_config(_config(tmp_path, tiny_lm, redial_dir))
    result = ex.run_experiment(cfg)

    assert [(c["strategy"], c["budget"]) for c in calls] == [("random", 4), ("js", 4)]
    assert {c["llm_cache"] for c in calls} == {
        cfg.out / "llm-calls.sqlite"
    }  # one call cache for all syntheses
    labels = [row["row"] for row in result["rows"]]
    assert labels == ["popularity", "zero-shot", "random-B2", "random-B4", "js-B2", "js-B4"]
    trained = json.loads((cfg.out / "models" / "random-B2" / "revdial_train_summary.json").read_text())
    assert trained["rows"] == 2 and trained["max_selection_rank"] == 2
    table = (cfg.out / "results.md").read_text()
    assert "| js-B4 | redial |" in table and "recall@50" in table
    assert (cfg.out / "budget_curves_redial.png").stat().st_size > 0

    # A second run reuses every synthesis, model and report.
    calls.clear()
    again = ex.run_experiment(cfg)
    assert calls == [] and [r["row"] for r in again["rows"]] == labels


def test_report_mode_tables_what_is_on_disk_and_lists_the_rest_without_computing(
    tmp_path, tiny_lm, redial_dir, monkeypatch
):
    from revdial.generation import run

    cfg = ex.load_experiment_config(_config(tmp_path, tiny_lm, redial_dir))
    cfg.strategies, cfg.baselines = [], ["popularity"]
    ex.run_experiment(cfg)  # the popularity report is on disk now

    def fail(*args, **kwargs):
        raise AssertionError("--report must not synthesize")

    monkeypatch.setattr(run, "synthesize", fail)
    finished = cfg.out / "synth" / "js-B4" / "distiset_configs"
    finished.mkdir(parents=True)
    (finished / "summary.json").write_text(json.dumps({"wall_time_s": 12.5}))
    cfg.strategies, cfg.baselines, cfg.cached_only = ["random", "js"], ["popularity", "zero_shot"], True
    result = ex.run_experiment(cfg)

    assert [row["row"] for row in result["rows"]] == ["popularity"]
    assert result["pending"] == [
        "zero-shot on redial",
        "random (not yet: random-B4)",
        "js-B2 (not yet: js-B2)",
        "js-B4 (not yet: js-B4)",
    ]
    assert not (cfg.out / "models").exists()
    assert result["compute_s"]["synthesis"] == 12.5 and result["compute_s"]["total"] >= 12.5
    table = (cfg.out / "results.md").read_text()
    assert "| popularity | redial |" in table and "- js-B4 (not yet: js-B4)" in table
    assert "| grounded titles / answer |" in table


def test_report_mode_keeps_the_rows_whose_reports_are_on_disk_without_their_models(
    tmp_path, tiny_lm, redial_dir
):
    """A fresh machine with only the committed reports: `--report` tables them, in budget order, and a row whose
    label merely starts like the strategy's ("jsx-B2") is not taken for one of its budgets."""
    cfg = ex.load_experiment_config(_config(tmp_path, tiny_lm, redial_dir))
    cfg.strategies, cfg.baselines = [], ["popularity"]
    ex.run_experiment(cfg)  # a real report to copy
    [popularity] = (cfg.out / "reports").glob("popularity--*.json")
    report = json.loads(popularity.read_text())
    assert report["experiment_row"] == {"label": "popularity", "strategy": "popularity", "budget": 0}
    for label, budget in (("js-B4", 4), ("js-B2", 2), ("jsx-B2", 2)):
        report["experiment_row"] = {"label": label, "strategy": label.split("-")[0], "budget": budget}
        path = popularity.with_name(popularity.name.replace("popularity", label))
        path.write_text(json.dumps(report))
    popularity.unlink()

    cfg.strategies, cfg.baselines, cfg.cached_only = ["js"], [], True
    result = ex.run_experiment(cfg)

    assert [(row["row"], row["strategy"], row["budget"]) for row in result["rows"]] == [
        ("js-B2", "js", 2),
        ("js-B4", "js", 4),
    ]
    assert result["pending"] == [] and not (cfg.out / "synth").exists()


def test_only_computes_the_chosen_row_and_the_synthesis_it_needs(tmp_path, tiny_lm, redial_dir, monkeypatch):
    from revdial.generation import run

    calls: list = []
    monkeypatch.setattr(run, "synthesize", _fake_synthesis(calls))
    cfg = ex.load_experiment_config(_config(tmp_path, tiny_lm, redial_dir))
    cfg.baselines, cfg.only = ["popularity", "zero_shot"], ["js-B2"]
    result = ex.run_experiment(cfg)

    assert [(c["strategy"], c["budget"]) for c in calls] == [("js", 4)]
    assert [row["row"] for row in result["rows"]] == ["js-B2"]
    assert sorted(p.name for p in (cfg.out / "models").iterdir()) == ["js-B2"]
    assert (
        "random (not yet: random-B4)" in result["pending"] and "js-B4 (not yet: js-B4)" in result["pending"]
    )
    assert "zero-shot on redial" in result["pending"]


def test_only_a_row_whose_label_starts_like_another_does_not_run_the_other():
    # "js" holds js-B1000, but the ablation "mentioned" is not inside "mentioned-history"
    assert ex._chosen("js", ["js-B1000"]) and ex._chosen("mentioned-history", ["mentioned-history"])
    assert not ex._chosen("mentioned", ["mentioned-history"])
    assert not ex._chosen("js", ["js-extra"])
    assert ex._chosen("anything", None)


def test_a_training_stopped_part_way_resumes_from_its_last_checkpoint(
    tmp_path, tiny_lm, redial_dir, monkeypatch
):
    cfg = ex.load_experiment_config(_config(tmp_path, tiny_lm, redial_dir))
    dataset = _fake_synthesis([])(None, budget=4, strategy="js", out=tmp_path / "synth")
    monkeypatch.setattr(ex, "CHECKPOINT_STEPS", 2)
    out = cfg.out / "models" / "js-B4"
    # a first run that got two steps in: its checkpoint stays, its summary is gone (it never finished)
    cfg.train_overrides = {**cfg.train_overrides, "max_steps": 2, "per_device_train_batch_size": 1}
    monkeypatch.setattr(ex.shutil, "rmtree", lambda *args, **kwargs: None)
    ex.train_cached(cfg, dataset, out)
    (out / "revdial_train_summary.json").unlink()
    assert ex.last_checkpoint(out) == out / "checkpoint-2"
    monkeypatch.undo()
    monkeypatch.setattr(ex, "CHECKPOINT_STEPS", 2)

    cfg.train_overrides = {**cfg.train_overrides, "max_steps": 4}
    ex.train_cached(cfg, dataset, out)
    summary = json.loads((out / "revdial_train_summary.json").read_text())
    assert summary["resumed_from"] == "checkpoint-2"
    assert ex.last_checkpoint(out) is None  # a finished model keeps no optimizer states


def test_active_rounds_select_around_used_seeds_with_the_students_features(
    tmp_path, tiny_lm, redial_dir, monkeypatch
):
    from revdial.generation import run

    calls: list = []
    monkeypatch.setattr(run, "synthesize", _fake_synthesis(calls))
    cfg = ex.load_experiment_config(_config(tmp_path, tiny_lm, redial_dir, rounds=2))
    cfg.strategies, cfg.budgets, cfg.baselines = ["js"], [4], []
    ex.run_experiment(cfg)
    first, second = calls
    assert first["budget"] == 2 and first["labelled"] is None and first["features"] == "minilm"
    assert second["budget"] == 2 and second["labelled"] == ["js-0", "js-1"]
    assert second["features"].startswith("lm:") and Path(second["features"][3:], "config.json").exists()
    trained = json.loads((cfg.out / "models" / "js-B4-r2" / "revdial_train_summary.json").read_text())
    assert trained["rows"] == 4  # round 2 trains on every row so far


@pytest.mark.parametrize(
    ("section", "named"),
    [
        (
            "experiment: {synthesis_config: s.yaml, strategies: [js], budgets: [2], round: 2}",
            "experiment.round: unknown key",
        ),
        ("experiment: {synthesis_config: s.yaml, strategies: [jss], budgets: [2]}", "experiment.strategies"),
        (
            "experiment: {synthesis_config: s.yaml, strategies: [js], budgets: [2], eval: {benchmarks: [{nme: redial}]}}",
            "experiment.eval.benchmarks.0.nme: unknown key",
        ),
    ],
)
def test_a_typo_in_the_experiment_yaml_is_named(tmp_path, section, named):
    path = tmp_path / "exp.yaml"
    path.write_text(section + "\n")
    with pytest.raises(ex.ExperimentConfigError, match=named):
        ex.load_experiment_config(path)


def test_sft_rows_answer_the_evaluation_prompt_with_the_turns_recommendations(redial_dir):
    bench = load_benchmark("redial", redial_dir / "original" / "test_data.jsonl.gz")
    rows = ex.sft_rows(bench, k=20)
    assert len(rows) == len(bench.turns)
    assert rows[1]["prompt"][0]["role"] == "system" and rows[1]["prompt"][-1]["role"] == "user"
    assert rows[1]["completion"] == [{"role": "assistant", "content": "1. Alien (1979)\n2. Heat (1995)"}]


def _result(row, strategy, budget, value, benchmark="redial", round_number=None, ndcg=0.05):
    metric = {"mean": value, "ci_low": value - 0.01, "ci_high": value + 0.01}
    ndcg_metric = None if ndcg is None else {"mean": ndcg, "ci_low": ndcg, "ci_high": ndcg}
    metrics = {"recall@10": metric, "ndcg@10": ndcg_metric}
    return {
        "row": row,
        "benchmark": benchmark,
        "strategy": strategy,
        "budget": budget,
        "round": round_number,
        "metrics": {"all_items": metrics},
    }


def test_plots_draw_the_last_rounds_curve_per_strategy_and_baselines_as_lines(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep each figure to look at
    rows = [
        _result("zero-shot", "zero-shot", None, 0.01),
        _result("popularity", "popularity", None, 0.02),
        _result("reference", "reference", 500, 0.40),  # its budget is its training rows: not drawn
        *(_result(f"js b{b} r1", "js", b, 0.1 * b, round_number=1) for b in (2, 4)),
        *(_result(f"js b{b} r2", "js", b, 0.2 * b, round_number=2) for b in (2, 4)),
        _result("random b2", "random", 2, 0.05, ndcg=None),  # no NDCG@10 reported: absent from that panel
        _result("zero-shot", "zero-shot", None, 0.03, benchmark="inspired"),
    ]
    paths = ex.plot_results(rows, tmp_path)
    assert paths == [tmp_path / "budget_curves_inspired.png", tmp_path / "budget_curves_redial.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    recall, ndcg = figures[1].axes
    lines = {line.get_label(): line for line in recall.get_lines()}
    assert sorted(lines) == ["js", "popularity", "random", "zero-shot"]
    assert list(lines["js"].get_xdata()) == [2, 4] and list(lines["js"].get_ydata()) == [0.4, 0.8]
    assert (
        list(lines["popularity"].get_ydata()) == [0.02, 0.02] and lines["popularity"].get_linestyle() == "--"
    )
    assert lines["popularity"].get_color() == "grey" and lines["zero-shot"].get_color() == "black"
    assert len(recall.collections) == 2  # CI bands: js and random
    assert "random" not in {line.get_label() for line in ndcg.get_lines()}
    assert recall.get_title() == "redial: recall@10"


def test_an_ablation_changes_dotted_keys_and_keeps_table_paths_pointing_at_the_same_files(tmp_path):
    path = ROOT / "pipelines" / "movielens-redial.yaml"
    config = ex.ablated_config(
        path,
        {
            "generation.answer": "llm",
            "generation.grounded.content_weight": 0,
            "source.seeds_from": ["ratings"],
        },
    )
    assert config["generation"]["answer"] == "llm" and config["generation"]["grounded"]["content_weight"] == 0
    assert config["generation"]["grounded"]["collaborative_weight"] == 1.0  # siblings untouched
    assert config["source"]["seeds_from"] == ["ratings"]
    items = Path(config["source"]["tables"]["items"]["path"])
    assert items.is_absolute() and items == (ROOT / "runs/data/movielens-redial/items.jsonl.gz").resolve()
    with pytest.raises(ex.ExperimentConfigError, match="ablation key 'name.x': 'name' is not a section"):
        ex.ablated_config(path, {"name.x": 1})


def test_an_ablation_row_synthesizes_the_changed_config_and_trains_and_evaluates_like_a_strategy(
    tmp_path, monkeypatch
):
    from revdial.generation import run

    calls: list = []
    monkeypatch.setattr(run, "synthesize", _fake_synthesis(calls))
    trained: list = []
    monkeypatch.setattr(
        ex, "train_cached", lambda cfg, data, out, extra=None: trained.append((data, out)) or out
    )
    evaluated: list = []
    monkeypatch.setattr(
        ex, "evaluate_cached", lambda cfg, model, spec, out: evaluated.append(model) or _fake_report(0.1)
    )
    path = tmp_path / "experiment.yaml"
    path.write_text(
        json.dumps(
            {
                "experiment": {
                    "synthesis_config": str(ROOT / "pipelines" / "movielens-redial.yaml"),
                    "strategies": ["js"],
                    "budgets": [2, 3],
                    "baselines": [],
                    "ablations": [{"label": "no-content", "set": {"generation.grounded.content_weight": 0}}],
                    "rankers": ["cf", "blend"],
                    "eval": {"benchmarks": ["redial"]},
                },
                "output": {"dir": str(tmp_path / "exp")},
            }
        )
    )
    result = ex.run_experiment(ex.load_experiment_config(path))
    ablation = calls[-1]
    assert (ablation["strategy"], ablation["budget"]) == ("js", 3)
    assert ablation["config"]["generation"]["grounded"]["content_weight"] == 0
    assert [r["row"] for r in result["rows"]][-1] == "ablation-no-content-js-B3"
    assert result["rows"][-1]["ablation"] == "no-content"
    assert trained[-1][0].name == "ablation-no-content-js-B3"
    assert (tmp_path / "exp" / "ablations_redial.png").stat().st_size > 0
    # the seed source's own rankers are rows too, scored on the synthesis config's tables
    source = ROOT / "pipelines" / "movielens-redial.yaml"
    assert evaluated[:2] == [f"ranker:cf:{source}", f"ranker:blend:{source}"]
    assert [r["row"] for r in result["rows"]][:2] == ["ranker-cf", "ranker-blend"]


def _fake_report(mean: float) -> dict:
    cell = {"mean": mean, "ci_low": mean / 2, "ci_high": mean * 2}
    metrics = {m: cell for m in ("recall@1", "recall@10", "recall@50", "ndcg@10")}
    return {
        "n_turns": 3,
        "metrics": {setting: {"n_turns": 3, **metrics} for setting in ("all_items", "exclude_mentioned")},
    }


def test_the_ablation_chart_compares_zero_shot_the_full_design_and_each_change():
    def row(name, strategy, budget, ablation=None):
        return {
            "row": name,
            "strategy": strategy,
            "budget": budget,
            "benchmark": "b",
            **_fake_report(0.1),
            **({"ablation": ablation} if ablation else {}),
        }

    rows = [
        row("zero-shot", "zero-shot", 0),
        row("js-B2", "js", 2),
        row("js-B4", "js", 4),
        row("random-B4", "random", 4),
        row("ablation-x", "js", 4, "x"),
    ]
    bars = ex._ablation_bars(rows, "b", "recall@10", "all_items")
    assert [r["row"] for r in bars] == ["zero-shot", "js-B4", "ablation-x"]


def test_real_plus_synthetic_adds_the_strategy_rows_below_its_budget(tmp_path):
    def save(folder: Path, rows: list[dict]) -> Path:
        DatasetDict({"train": Dataset.from_list(rows)}).save_to_disk(str(folder / "default"))
        return folder

    turn = {
        "prompt": [{"role": "user", "content": "hi"}],
        "completion": [{"role": "assistant", "content": "1. A"}],
    }
    real = save(tmp_path / "real", [{**turn, "dialog_id": "d1"}, {**turn, "dialog_id": "d2"}])
    cfg = ex.load_experiment_config(ROOT / "pipelines" / "experiment-movielens.yaml")
    cfg.out = tmp_path / "exp"
    save(
        cfg.out / "synth" / "js-B1000",
        [{**turn, "selection_rank": rank, "seed_id": str(rank)} for rank in range(5)],
    )
    both = ex._real_plus_synthetic(cfg, real, "js-B3", tmp_path / "both")
    from datasets import load_from_disk

    rows = load_from_disk(str(both / "default"))["train"]
    assert len(rows) == 2 + 3 and rows.column_names == ["prompt", "completion"]
    with pytest.raises(ex.ExperimentConfigError, match="no synthesis at .*random-B1000"):
        ex._real_plus_synthetic(cfg, real, "random-B3", tmp_path / "other")


def test_the_experiments_decoding_reaches_every_evaluation_and_names_the_language_models_reports(
    tmp_path, monkeypatch
):
    from revdial.crs import evaluate

    seen: list = []
    monkeypatch.setattr(evaluate, "eval_command", lambda **kwargs: seen.append(kwargs) or _fake_report(0.1))
    cfg = ex.load_experiment_config(ROOT / "pipelines" / "experiment-movielens.yaml")
    decoding = cfg.decoding
    assert decoding in ("penalty", "penalty_openings")
    cfg.out, cfg.strategies, cfg.reference, cfg.ablations, cfg.rankers = tmp_path, [], [], [], ["cf"]
    cfg.baselines = ["zero_shot", "popularity"]
    monkeypatch.setattr(ex, "plot_results", lambda rows, out: [])
    ex.run_experiment(cfg)
    assert {call["decoding"] for call in seen} == {decoding}
    names = sorted(p.name for p in (tmp_path / "reports").iterdir())
    # a ranker's list does not depend on the decoding: its report is not named after it
    assert names == [
        "popularity--he2023-redial-781.json",
        "popularity--inspired.json",
        "ranker-cf--he2023-redial-781.json",
        "ranker-cf--inspired.json",
        f"zero-shot--he2023-redial-781--{decoding}.json",
        f"zero-shot--inspired--{decoding}.json",
    ]
