"""Budget x strategy experiment: synthesize -> train the student -> evaluate -> one table and plots.

    revdial experiment --config pipelines/experiment-cpu.yaml

For each selection strategy the synthesis runs ONCE at the largest budget: the strategies produce an order over
the seed pool, so budget b's seeds are a prefix of budget B's; each budget's student trains on the rows whose seed
has `selection_rank < b` (`max_selection_rank`). Everything is cached under `output.dir` (a finished synthesis,
model or report is reused), so an interrupted experiment resumes where it stopped.

With `rounds: R > 1` the loop is active in the full sense: round r synthesizes b*r/R seeds in total, selected with
the round r-1 student's own hidden states as features (`lm:` features of the merged student) and around the seeds
already used (`labelled_seed_ids`); the round-r student trains on every row so far.

Rows of the table: zero-shot (the student before training), popularity, `reference` students (optional: trained on
the benchmark's own training split, an in-domain upper reference), and one row per (strategy, budget[, round]).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revdial.config import BenchmarkSpec, ConfigError, PipelineConfig, parse, read_yaml
from revdial.crs.student import STUDENT_TOKEN

if TYPE_CHECKING:
    from revdial.crs.benchmarks import Benchmark


class ExperimentConfigError(ConfigError):
    """An experiment YAML that cannot be run; the message names the file and the key."""


class NotCached(Exception):
    """`--report`: a stage whose output is not on disk yet (its row is listed as pending, nothing is computed)."""


@dataclass
class ExperimentConfig:
    """An experiment YAML's `experiment:` section (revdial.config.ExperimentSection, where the defaults are) with
    its paths resolved against the YAML's folder."""

    path: Path
    synthesis_config: Path
    strategies: list[str]
    budgets: list[int]
    rounds: int
    features: str
    recipe: Path | None
    train_overrides: dict[str, Any]
    student: str
    benchmarks: list[BenchmarkSpec]
    k: int
    batch_size: int
    max_new_tokens: int | None
    backend: str
    decoding: str | None
    baselines: list[str]
    rankers: list[str]
    reference: list[dict[str, Any]]
    ablations: list[dict[str, Any]]
    out: Path
    n_resamples: int
    cached_only: bool = False  # `--report`: table and plots from what is on disk, no synthesis/training/eval
    only: list[str] | None = None  # `--only LABEL`: compute these rows only, read the rest from disk


def load_experiment_config(path: Path | str) -> ExperimentConfig:
    path = Path(path)
    raw = read_yaml(path)
    try:
        parsed = parse(PipelineConfig, raw, str(path))
    except ConfigError as error:
        raise ExperimentConfigError(str(error)) from None
    section = parsed.experiment
    if section is None:
        raise ExperimentConfigError(f"{path}: needs an `experiment:` section; sections are: {', '.join(raw)}")
    base = path.resolve().parent

    def rel(value: str | None) -> Path | None:
        if value is None:
            return None
        p = Path(value)
        return p if p.is_absolute() else base / p

    evaluation = section.eval
    return ExperimentConfig(
        path=path,
        synthesis_config=rel(section.synthesis_config),
        strategies=list(section.strategies),
        budgets=list(section.budgets),
        rounds=section.rounds,
        features=section.features,
        recipe=rel(section.train.recipe),
        train_overrides=dict(section.train.overrides),
        student=section.train.student or STUDENT_TOKEN,
        benchmarks=list(evaluation.benchmarks),
        k=evaluation.k,
        batch_size=evaluation.batch_size,
        max_new_tokens=evaluation.max_new_tokens,
        backend=evaluation.backend,
        decoding=evaluation.decoding,
        baselines=list(section.baselines),
        rankers=list(section.rankers),
        reference=[ref.model_dump(exclude_none=True) for ref in section.reference],
        ablations=[ablation.model_dump() for ablation in section.ablations],
        out=Path(parsed.output.dir or "runs/experiment"),
        n_resamples=evaluation.n_resamples,
    )


# --- stages (each cached on disk) -----------------------------------------------------------------------------------
def synthesize_cached(
    cfg: ExperimentConfig,
    strategy: str,
    budget: int,
    out: Path,
    config: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Path:
    """One synthesis of the experiment's config (or `config`, an ablated copy of it); a finished one is reused.
    Every synthesis of the experiment shares one LLM call cache (OUTPUT/llm-calls.sqlite): an ablation that changes
    only the answers pays for no request twice."""
    if finished_synthesis(out):
        return out
    if cfg.cached_only:
        raise NotCached(out)
    from revdial.generation.run import synthesize

    return Path(
        synthesize(
            config or cfg.synthesis_config,
            budget=budget,
            strategy=strategy,
            out=out,
            llm_cache=cfg.out / "llm-calls.sqlite",
            **kwargs,
        )
    )


def finished_synthesis(out: Path) -> Path | None:
    """The summary a finished synthesis wrote (`run_plan`: OUT/distiset_configs/summary.json), else None."""
    summary = out / "distiset_configs" / "summary.json"
    return summary if summary.exists() else None


def ablated_config(path: Path, changes: dict[str, Any]) -> dict[str, Any]:
    """The synthesis YAML at `path` as a mapping with `changes` (dotted keys) applied; its tables' relative paths
    are made absolute, since a mapping has no folder to resolve them against."""
    import copy

    raw = copy.deepcopy(read_yaml(path))
    for table in ((raw.get("source") or {}).get("tables") or {}).values():
        if isinstance(table, dict) and "://" not in str(table.get("path", "://")):
            table["path"] = str((path.resolve().parent / table["path"]).resolve())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = raw
        for key in parents:
            if not isinstance(node.get(key, {}), dict):
                raise ExperimentConfigError(f"{path}: ablation key {dotted!r}: {key!r} is not a section")
            node = node.setdefault(key, {})
        node[leaf] = value
    return raw


# A student's training saves a checkpoint this often (optimizer steps), so a stopped experiment resumes it.
CHECKPOINT_STEPS = 10


def train_cached(
    cfg: ExperimentConfig, dataset: Path, out: Path, extra: dict[str, Any] | None = None
) -> Path:
    """Train the student with the experiment's recipe; a finished model folder is reused, and a training stopped
    part-way (the process killed, the session over) resumes from its last checkpoint."""
    if (out / "revdial_train_summary.json").exists():
        return out
    if cfg.cached_only:
        raise NotCached(out)
    from revdial.crs.train import main, parse_recipe, resolve_precision

    if cfg.recipe is None:
        raise ExperimentConfigError(f"{cfg.path}: experiment.train.recipe is required to train students")
    settings = {
        **resolve_precision(cfg.train_overrides),
        **(extra or {}),
        "model_name_or_path": cfg.student,
        "dataset_name": str(dataset),
        "output_dir": str(out),
        "save_strategy": "steps",
        "save_steps": CHECKPOINT_STEPS,
        "save_total_limit": 1,
    }
    checkpoint = last_checkpoint(out)
    if checkpoint is not None:
        settings["resume_from_checkpoint"] = str(checkpoint)
    overrides = [part for key, value in settings.items() for part in (f"--{key}", _cli_value(value))]
    model = main(*parse_recipe(cfg.recipe, overrides))
    # the model is saved: its checkpoints (optimizer states) are not needed any more
    for finished in out.glob("checkpoint-*"):
        shutil.rmtree(finished, ignore_errors=True)
    return model


def last_checkpoint(out: Path) -> Path | None:
    """The newest complete `checkpoint-N` folder a Trainer left in `out`, if any (transformers'
    `get_last_checkpoint` would also return one whose save was cut short: it has no trainer_state.json)."""
    done = [
        p
        for p in out.glob("checkpoint-*")
        if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").exists()
    ]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _cli_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def evaluate_cached(cfg: ExperimentConfig, model: str, spec: BenchmarkSpec, out: Path) -> dict:
    if out.exists():
        return json.loads(out.read_text())
    if cfg.cached_only:
        raise NotCached(out)
    from revdial.crs.evaluate import eval_command

    return eval_command(
        model=model,
        benchmark=spec.name,
        data=Path(spec.data) if spec.data else None,
        limit=spec.limit,
        out=out,
        k=cfg.k,
        batch_size=cfg.batch_size,
        max_new_tokens=cfg.max_new_tokens,
        backend=cfg.backend,
        decoding=cfg.decoding,
    )


def merged_student(model_dir: Path) -> Path:
    """A LoRA student merged into a plain folder (what `lm:` features load)."""
    merged = model_dir / "merged"
    if (merged / "config.json").exists() or not (model_dir / "adapter_config.json").exists():
        return merged if merged.exists() else model_dir
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    AutoPeftModelForCausalLM.from_pretrained(str(model_dir)).merge_and_unload().save_pretrained(str(merged))
    AutoTokenizer.from_pretrained(str(model_dir)).save_pretrained(str(merged))
    return merged


def _seed_ids(dataset_dir: Path, max_rank: int | None = None) -> list[str]:
    from datasets import load_from_disk

    rows = load_from_disk(str(dataset_dir / "default"))["train"]
    ranks = rows["selection_rank"] if max_rank is not None else [0] * len(rows)
    return sorted({s for s, r in zip(rows["seed_id"], ranks) if max_rank is None or r < max_rank})


def _union_dataset(
    parts: list[tuple[Path, int | None]],
    out: Path,
    columns: tuple[str, ...] = ("prompt", "completion", "seed_id", "selection_rank"),
) -> Path:
    """Rows of several datasets (each optionally rank-sliced) saved as one Distiset-shaped folder."""
    from datasets import DatasetDict, concatenate_datasets, load_from_disk

    if (out / "default").exists():
        return out
    pieces = []
    for folder, max_rank in parts:
        rows = load_from_disk(str(folder / "default"))["train"]
        if max_rank is not None:
            rows = rows.filter(lambda r, top=max_rank: 0 <= r < top, input_columns="selection_rank")
        pieces.append(rows.select_columns(list(columns)))
    DatasetDict({"train": concatenate_datasets(pieces)}).save_to_disk(str(out / "default"))
    return out


# --- the experiment -------------------------------------------------------------------------------------------------
def run_experiment(cfg: ExperimentConfig) -> dict:
    out = cfg.out
    (out / "reports").mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    pending: list[str] = []  # `--report`: rows (or row x benchmark) whose stages have not run yet
    timings: dict[str, float] = {}

    def evaluate_row(label: str, model: str, meta: dict) -> None:
        for spec in cfg.benchmarks:
            started = time.perf_counter()
            path = out / "reports" / report_name(cfg, label, spec, model)
            try:
                report = evaluate_cached(cfg, model, spec, path)
            except NotCached:
                pending.append(f"{label} on {spec.name}")
                continue
            # what the table needs when only the report travels (`--report`)
            if "experiment_row" not in report:
                report["experiment_row"] = {"label": label, **meta}
                path.write_text(json.dumps(report, indent=2))
            timings[f"eval {label} {spec.name}"] = round(time.perf_counter() - started, 1)
            rows.append(_table_row(label, meta, spec, report))

    def attempt(label: str, run_row: Any) -> None:
        """Run one row's stages; with `--only`, a row not chosen is only read from disk."""
        cached_only = cfg.cached_only
        cfg.cached_only = cached_only or not _chosen(label, cfg.only)
        try:
            run_row()
        except NotCached as missing:
            reported = reported_rows(cfg, label)
            rows.extend(reported)
            if not reported:
                pending.append(f"{label} (not yet: {Path(str(missing)).name})")
        finally:
            cfg.cached_only = cached_only

    if "popularity" in cfg.baselines:
        attempt(
            "popularity",
            lambda: evaluate_row("popularity", "popularity", {"strategy": "popularity", "budget": 0}),
        )
    for kind in cfg.rankers:  # what the seeds' own data recommends with no language model
        model, meta = f"ranker:{kind}:{cfg.synthesis_config}", {"strategy": f"ranker-{kind}", "budget": 0}
        attempt(f"ranker-{kind}", lambda m=model, k=kind, d=meta: evaluate_row(f"ranker-{k}", m, d))
    if "zero_shot" in cfg.baselines:
        meta = {"strategy": "zero-shot", "budget": 0}
        attempt("zero-shot", lambda: evaluate_row("zero-shot", cfg.student, meta))
    for strategy in cfg.strategies:
        if cfg.rounds == 1:
            attempt(strategy, lambda s=strategy: _strategy_rows(cfg, s, evaluate_row, timings, attempt))
        else:
            for budget in cfg.budgets:
                label = f"{strategy}-B{budget}"
                attempt(label, lambda s=strategy, b=budget: _active_rounds(cfg, s, b, evaluate_row, timings))

    for ablation in cfg.ablations:
        attempt(ablation["label"], lambda a=ablation: _ablation_row(cfg, a, evaluate_row, timings))

    # References last: the synthetic rows are the question, the in-domain students the yardstick beside them.
    for reference in cfg.reference:
        label = reference.get("label", f"reference-{reference['benchmark']}")
        attempt(label, lambda r=reference, name=label: _reference_row(cfg, r, name, evaluate_row, timings))

    result = {
        "config": str(cfg.path),
        "rows": rows,
        "pending": pending,
        "timings_s": timings,
        "compute_s": compute_seconds(out),
    }
    (out / "results.json").write_text(json.dumps(result, indent=2))
    (out / "results.md").write_text(results_table(rows) + _pending_note(pending))
    plot_results(rows, out)
    plot_ablations(rows, out)
    return result


def report_name(cfg: ExperimentConfig, label: str, spec: BenchmarkSpec, model: str) -> str:
    """The file of row `label`'s report on `spec`: another decoding is another report, but a ranker's list (no
    language model) does not depend on the decoding."""
    from revdial.crs.rankers import is_language_model

    decoded = f"--{cfg.decoding}" if cfg.decoding and is_language_model(model) else ""
    return f"{label}--{spec.key}{decoded}.json"


def reported_rows(cfg: ExperimentConfig, label: str) -> list[dict]:
    """Table rows of `label` (or of its budget rows, `label-B<b>`) from reports on disk whose synthesis or model is
    not: a fresh machine with the committed reports copied into OUTPUT/reports keeps its table."""
    inside = re.compile(rf"{re.escape(label)}(?:-B\d+)?")
    found: dict[tuple[str, str], dict] = {}
    for path in cfg.out.glob("reports/*.json"):
        report = json.loads(path.read_text())
        name = (report.get("experiment_row") or {}).get("label")
        if inside.fullmatch(str(name)):
            found[(name, path.name)] = report
    # js-B250 before js-B1000
    labels = sorted({name for name, _ in found}, key=lambda name: (len(name), name))
    return [
        _table_row(name, _row_meta(report), spec, report)
        for name in labels
        for spec in cfg.benchmarks
        for (owner, file), report in found.items()
        if owner == name and file == report_name(cfg, name, spec, report["model"])
    ]


def _row_meta(report: dict) -> dict:
    return {key: value for key, value in report["experiment_row"].items() if key != "label"}


def _chosen(label: str, only: list[str] | None) -> bool:
    """Whether `--only` lets row `label` compute: no --only, the label itself, or a budget row inside it ("js" runs
    the synthesis that `--only js-B1000` trains on; `--only mentioned-history` does not run `mentioned`)."""
    inside = re.compile(rf"{re.escape(label)}-B\d+")
    return not only or any(name == label or inside.fullmatch(name) for name in only)


def _table_row(label: str, meta: dict, spec: BenchmarkSpec, report: dict) -> dict:
    return {
        "row": label,
        **meta,
        "benchmark": spec.name,
        "n_turns": report["n_turns"],
        "eval_wall_time_s": report.get("wall_time_s"),
        "metrics": report["metrics"],
        "unmatched_rate": report.get("grounding", {}).get("unmatched_rate"),
        "mean_list_length": report.get("grounding", {}).get("mean_list_length"),
    }


def _strategy_rows(cfg: ExperimentConfig, strategy: str, evaluate_row, timings: dict, attempt) -> None:
    """One synthesis at the largest budget; a student per budget on its prefix of the ranked seeds."""
    top = cfg.budgets[-1]
    started = time.perf_counter()
    synth = synthesize_cached(
        cfg, strategy, top, cfg.out / "synth" / f"{strategy}-B{top}", features=cfg.features
    )
    timings[f"synthesize {strategy} B={top}"] = round(time.perf_counter() - started, 1)
    for budget in cfg.budgets:
        label = f"{strategy}-B{budget}"

        def train_and_score(label: str = label, budget: int = budget) -> None:
            started = time.perf_counter()
            model = train_cached(cfg, synth, cfg.out / "models" / label, {"max_selection_rank": budget})
            timings[f"train {label}"] = round(time.perf_counter() - started, 1)
            evaluate_row(label, str(model), {"strategy": strategy, "budget": budget})

        attempt(label, train_and_score)


def _reference_row(cfg: ExperimentConfig, reference: dict, label: str, evaluate_row, timings: dict) -> None:
    """A student trained on real benchmark turns (optionally with a strategy row's synthetic rows added)."""
    dataset = build_reference_dataset(reference, cfg.out / "data" / label, cfg.k)
    if reference.get("plus"):
        dataset = _real_plus_synthetic(
            cfg, dataset, reference["plus"], cfg.out / "data" / f"{label}+synthetic"
        )
    started = time.perf_counter()
    model = train_cached(cfg, dataset, cfg.out / "models" / label, reference.get("train_overrides"))
    timings[f"train {label}"] = round(time.perf_counter() - started, 1)
    evaluate_row(label, str(model), {"strategy": "reference", "budget": _rows_in(dataset)})


def compute_seconds(out: Path) -> dict[str, float]:
    """Wall seconds spent so far, from what each cached stage recorded (the experiment may span sessions): every
    synthesis's summary (the run that finished it), every student's training, every report's evaluation."""
    totals = {"synthesis": 0.0, "training": 0.0, "evaluation": 0.0}
    for summary in out.glob("synth/*/distiset_configs/summary.json"):
        totals["synthesis"] += float(json.loads(summary.read_text()).get("wall_time_s") or 0)
    for summary in out.glob("models/*/revdial_train_summary.json"):
        totals["training"] += float(json.loads(summary.read_text()).get("train_seconds") or 0)
    for report in out.glob("reports/*.json"):
        totals["evaluation"] += float(json.loads(report.read_text()).get("wall_time_s") or 0)
    return {key: round(value, 1) for key, value in totals.items()} | {"total": round(sum(totals.values()), 1)}


def _pending_note(pending: list[str]) -> str:
    if not pending:
        return ""
    return "\n### not run yet\n\n" + "\n".join(f"- {item}" for item in pending) + "\n"


def _ablation_row(cfg: ExperimentConfig, ablation: dict[str, Any], evaluate_row, timings: dict) -> None:
    """One changed synthesis (e.g. `generation.answer: llm`), trained and evaluated like a strategy row."""
    strategy = ablation.get("strategy") or cfg.strategies[0]
    budget = ablation.get("budget") or cfg.budgets[-1]
    label = f"ablation-{ablation['label']}-{strategy}-B{budget}"
    config = ablated_config(cfg.synthesis_config, ablation["set"])
    started = time.perf_counter()
    synth = synthesize_cached(cfg, strategy, budget, cfg.out / "synth" / label, config, features=cfg.features)
    timings[f"synthesize {label}"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    model = train_cached(cfg, synth, cfg.out / "models" / label)
    timings[f"train {label}"] = round(time.perf_counter() - started, 1)
    meta = {"strategy": strategy, "budget": budget, "ablation": ablation["label"]}
    evaluate_row(label, str(model), meta)


def _active_rounds(cfg: ExperimentConfig, strategy: str, budget: int, evaluate_row, timings: dict) -> None:
    """R rounds toward `budget` seeds; round r picks its seeds with the round r-1 student's features."""
    out = cfg.out
    parts: list[tuple[Path, int | None]] = []
    labelled: list[str] = []
    features = cfg.features
    for round_number in range(1, cfg.rounds + 1):
        target = max(1, round(budget * round_number / cfg.rounds))
        new = max(1, target - len(labelled))
        label = f"{strategy}-B{budget}-r{round_number}"
        started = time.perf_counter()
        synth = synthesize_cached(
            cfg, strategy, new, out / "synth" / label, features=features, labelled_seed_ids=labelled or None
        )
        timings[f"synthesize {label}"] = round(time.perf_counter() - started, 1)
        parts.append((synth, None))
        labelled = sorted(set(labelled) | set(_seed_ids(synth)))
        dataset = _union_dataset(parts, out / "data" / label)
        started = time.perf_counter()
        model = train_cached(cfg, dataset, out / "models" / label)
        timings[f"train {label}"] = round(time.perf_counter() - started, 1)
        evaluate_row(label, str(model), {"strategy": strategy, "budget": budget, "round": round_number})
        features = f"lm:{merged_student(Path(model))}"


def _real_plus_synthetic(cfg: ExperimentConfig, real: Path, row: str, out: Path) -> Path:
    """The reference's real rows and the synthetic rows of strategy row `row` ("js-B1000": the top-budget synthesis
    of js, seeds ranked below 1,000), in one training set."""
    if (out / "default").exists():
        return out
    strategy, budget = row.rsplit("-B", 1)
    synth = cfg.out / "synth" / f"{strategy}-B{cfg.budgets[-1]}"
    if not (synth / "default").exists():
        if cfg.cached_only:
            raise NotCached(synth)
        raise ExperimentConfigError(
            f"{cfg.path}: reference plus {row!r}: no synthesis at {synth} (list it first)"
        )
    return _union_dataset([(real, None), (synth, int(budget))], out, columns=("prompt", "completion"))


def build_reference_dataset(reference: dict, out: Path, k: int) -> Path:
    """A benchmark's training side (e.g. ReDial's train split) as prompt-completion rows, in a Distiset-shaped dir."""
    from datasets import Dataset, DatasetDict

    from revdial.crs.benchmarks import load_benchmark, shared_data_dir

    if (out / "default").exists():
        return out
    data = reference.get("data")
    if data is None:
        root = shared_data_dir()
        if root is None:
            raise ExperimentConfigError("reference rows need `data:` (no ../shared/data here)")
        data = root / "redial/train_split_partial/train_split_union.jsonl.gz"
    bench = load_benchmark(reference["benchmark"], data, limit=reference.get("limit"))
    DatasetDict({"train": Dataset.from_list(sft_rows(bench, k=k))}).save_to_disk(str(out / "default"))
    return out


def sft_rows(bench: Benchmark, k: int = 20, item_noun: str = "movie") -> list[dict]:
    """Prompt-completion rows (TRL conversational format) from benchmark turns: the evaluation prompt, answered with
    the turn's recommended titles. Built from a training split, they train an in-domain reference student."""
    from revdial.prompts import build_messages

    titles = bench.titles()
    rows = []
    for turn in bench.turns:
        answer = "\n".join(f"{rank}. {titles[i]}" for rank, i in enumerate(turn.target_ids, start=1))
        rows.append(
            {
                "prompt": build_messages(turn, k, item_noun),
                "completion": [{"role": "assistant", "content": answer}],
                "dialog_id": turn.dialog_id,
                "target_item_id": turn.target_ids[0],
            }
        )
    return rows


def _rows_in(dataset: Path) -> int:
    from datasets import load_from_disk

    return len(load_from_disk(str(dataset / "default"))["train"])


# --- table and plots ------------------------------------------------------------------------------------------------
HEADLINE = ("recall@1", "recall@10", "recall@50", "ndcg@10")


def _cell(value: dict | None) -> str:
    from revdial.crs.evaluate import format_cell  # a metric at K > the list length is None: "n/a"

    return format_cell(value)


def results_table(rows: list[dict], setting: str = "all_items") -> str:
    """Markdown: one line per (row, benchmark) with the mean number of catalogue titles per answer and
    Recall@1/10/50 and NDCG@10, mean [95% CI]."""
    lines = []
    for name in ("all_items", "exclude_mentioned"):
        lines += [
            f"### {name.replace('_', ' ')}",
            "",
            "| row | benchmark | turns | grounded titles / answer | " + " | ".join(HEADLINE) + " |",
            "|---|---|---|---|" + "---|" * len(HEADLINE),
        ]
        for row in rows:
            metrics, grounded = row["metrics"][name], row.get("mean_list_length")
            lines.append(
                f"| {row['row']} | {row['benchmark']} | {metrics['n_turns']} | "
                + ("-" if grounded is None else f"{grounded:.1f}")
                + " | "
                + " | ".join(_cell(metrics[m]) for m in HEADLINE)
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def _last_round_curve(subset: list[dict], strategy: str) -> list[dict]:
    """A strategy's rows that have a budget, by budget, from its last round only (rows without a round stay)."""
    points = sorted(
        (r for r in subset if r["strategy"] == strategy and r["budget"]), key=lambda r: r["budget"]
    )
    if not points:
        return []
    last = max(p.get("round") or 0 for p in points)
    return [r for r in points if r.get("round") in (None, last)]


# Rows without a budget are horizontal lines: the zero-shot student solid black, the rest dashed and told apart.
_BASELINE_STYLE = {"zero-shot": ("black", "-"), "popularity": ("grey", "--")}
_RANKER_COLOURS = ("tab:green", "tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink")


def _draw_baselines(axis: Any, subset: list[dict], strategy: str, metric: str, setting: str) -> None:
    """A horizontal line per row of the strategy (the zero-shot student solid black, popularity grey dashed, each
    ranker its own colour, dotted)."""
    rankers = sorted({r["strategy"] for r in subset if r["strategy"].startswith("ranker-")})
    colour, style = _BASELINE_STYLE.get(strategy, ("black", "--"))
    if strategy in rankers:
        colour, style = _RANKER_COLOURS[rankers.index(strategy) % len(_RANKER_COLOURS)], ":"
    for r in subset:
        if r["strategy"] == strategy:
            axis.axhline(r["metrics"][setting][metric]["mean"], linestyle=style, label=strategy, color=colour)


def _draw_curve(axis: Any, points: list[dict], strategy: str, metric: str, setting: str) -> None:
    """The metric's mean against budget, with its 95% CI as a band."""
    xs = [r["budget"] for r in points]
    values = [r["metrics"][setting][metric] for r in points]
    axis.plot(xs, [v["mean"] for v in values], marker="o", label=strategy)
    axis.fill_between(xs, [v["ci_low"] for v in values], [v["ci_high"] for v in values], alpha=0.2)


def _draw_metric(axis: Any, rows: list[dict], benchmark: str, metric: str, setting: str) -> None:
    """One panel: a curve per strategy with budgets, baselines (and strategies without budgets) as lines; reference
    students with a budget (their training rows, not seeds) are not drawn."""
    # a metric at K above the evaluated list length is not reported (None): nothing to plot
    subset = [
        r
        for r in rows
        if r["benchmark"] == benchmark and r["metrics"][setting].get(metric) and not r.get("ablation")
    ]
    for strategy in sorted({r["strategy"] for r in subset}):
        points = _last_round_curve(subset, strategy)
        if strategy in ("popularity", "zero-shot") or not points:
            _draw_baselines(axis, subset, strategy, metric, setting)
        elif strategy != "reference":
            _draw_curve(axis, points, strategy, metric, setting)
    axis.set_xlabel("budget B (seeds)")
    axis.set_ylabel(metric)
    axis.set_title(f"{benchmark}: {metric}")
    axis.legend(fontsize=8)


def plot_results(rows: list[dict], out: Path, setting: str = "all_items") -> list[Path]:
    """Recall@10 and NDCG@10 against budget per strategy (CI bands), baselines as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for benchmark in sorted({r["benchmark"] for r in rows}):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for axis, metric in zip(axes, ("recall@10", "ndcg@10")):
            _draw_metric(axis, rows, benchmark, metric, setting)
        paths.append(_save(fig, out / f"budget_curves_{benchmark}.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    """Lay out, write and close a figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _ablation_bars(rows: list[dict], benchmark: str, metric: str, setting: str) -> list[dict]:
    """The rows an ablation chart compares: zero-shot, the full design each ablation changes one thing of, and
    the ablations, in that order."""
    here = [r for r in rows if r["benchmark"] == benchmark and r["metrics"][setting].get(metric)]
    changed = [r for r in here if r.get("ablation")]
    bases = {(r["strategy"], r["budget"]) for r in changed}
    full = [
        r
        for r in here
        if not r.get("ablation") and (r["strategy"], r["budget"]) in bases and r.get("round") in (None, 1)
    ]
    return [r for r in here if r["strategy"] == "zero-shot"] + full + changed


def plot_ablations(rows: list[dict], out: Path, metric: str = "recall@10") -> list[Path]:
    """One horizontal bar per row (mean, 95% CI whiskers) for each benchmark and setting: what each change to the
    synthesis did to the trained student."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for benchmark in sorted({r["benchmark"] for r in rows if r.get("ablation")}):
        fig, axes = plt.subplots(1, 2, figsize=(11, 0.5 * len(rows) + 2))
        for axis, setting in zip(axes, ("all_items", "exclude_mentioned")):
            bars = _ablation_bars(rows, benchmark, metric, setting)
            values = [r["metrics"][setting][metric] for r in bars]
            means = [v["mean"] for v in values]
            errors = [
                [m - v["ci_low"] for m, v in zip(means, values)],
                [v["ci_high"] - m for m, v in zip(means, values)],
            ]
            axis.barh([r["row"] for r in bars], means, xerr=errors, color="tab:blue", alpha=0.7)
            axis.invert_yaxis()
            axis.set_xlabel(f"{metric} ({setting.replace('_', ' ')})")
        fig.suptitle(f"{benchmark}: ablations")
        paths.append(_save(fig, out / f"ablations_{benchmark}.png"))
    return paths


def experiment_command(config: Path, report: bool = False, only: list[str] | None = None) -> dict:
    cfg = load_experiment_config(config)
    cfg.cached_only, cfg.only = report, only or None
    result = run_experiment(cfg)
    print(results_table(result["rows"]) + _pending_note(result["pending"]))
    print(f"compute so far (wall s): {result['compute_s']}")
    print(
        f"results: {cfg.out / 'results.md'}  {cfg.out / 'results.json'}  plots: {cfg.out}/budget_curves_*.png"
    )
    return result
