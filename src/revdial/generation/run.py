"""`revdial synthesize`: read a pipeline YAML, build the seeds, run the synthesis Pipeline, save the Distiset with
its summary and funnel plot.

    revdial synthesize --config pipelines/movies-sample.yaml [--budget B] [--strategy S] [--out DIR]
                       [--ray [--ray-address ADDR]]

`--ray` runs the same pipeline with distilabel's RayPipeline (every step a Ray actor, `replicas` of a step are
that many actors): on the cluster at ADDR (`ray://host:10001`, or `auto` for the one `ray start` made on this
machine), or without an address on a local cluster started for the run, bound to 127.0.0.1 only and stopped after.

Python: `synthesize(config, budget=..., strategy=..., out=..., features=..., labelled_seed_ids=...) -> OUT`.
Re-running the same command after an interruption (Ctrl-C, kill -9) resumes: a finished run is served from
distilabel's cache (DISTILABEL_CACHE_DIR, default .OUT.work/cache next to OUT), and every finished LLM call is kept
in an LLM call cache in the same place, so an interrupted run makes none of them again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from revdial.config import ConfigError, SelectionConfig, UserError, describe, load_pipeline_config
from revdial.paths import DATA_DIR


class SynthesisConfigError(ConfigError):
    """A pipeline config or option that cannot be used; the message names the file and key or the option."""


class SynthesisInterrupted(RuntimeError):
    """The pipeline stopped before every selected seed went through; the next run resumes."""


class LLMFailure(UserError):
    """A run that kept no row because the LLM calls failed (the endpoint is down or refuses the requests)."""


class AccountingError(RuntimeError):
    """Selected seeds != kept + rejected: a seed was lost, which is a bug."""


def resolve_path(value: str | Path, base: Path) -> Path:
    text = str(value)
    if text.startswith("pkg://"):
        return DATA_DIR / text[len("pkg://") :]
    path = Path(text).expanduser()
    return path if path.is_absolute() else (base / path)


def with_overrides(selection: SelectionConfig, **options: Any) -> SelectionConfig:
    """`selection` with the command line's --budget / --strategy / --features applied and validated (an unknown
    strategy fails here, before anything runs, naming the option)."""
    given = {key: value for key, value in options.items() if value is not None}
    if not given:
        return selection
    try:
        return SelectionConfig.model_validate({**selection.model_dump(), **given})
    except ValidationError as error:
        raise SynthesisConfigError(describe(error, "command line", option=True)) from None


def redact(value: Any) -> Any:
    """A config echo safe to write: the cards' rule (api_key, hf_token, secret, ...; token *counts* such as
    max_new_tokens stay readable), except that `api_key_env` stays, as it only names the variable holding the key."""
    from revdial.redact import redact as redact_secrets

    return redact_secrets(value, keep=frozenset({"api_key_env"}))


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def work_dir_of(out_dir: Path) -> Path:
    """Where a run keeps its seeds, token ledger, run state and (without DISTILABEL_CACHE_DIR) distilabel's cache:
    next to OUT, not inside it, because `Distiset.load_from_disk(OUT)` reads every folder in OUT as a config."""
    return out_dir.parent / f".{out_dir.name}.work"


def prepare_seeds(raw: dict[str, Any], base: Path, work_dir: Path, label: str) -> Path:
    """Build (or reuse) the seeds directory for the config's `source` section; keyed by the section's content."""
    from revdial.seeds.build import build_seeds, save_seeds
    from revdial.seeds.sources import load_seeds_config

    if "source" not in raw:
        raise SynthesisConfigError(f"{label}: no `source` section (what the seeds are made from)")
    seeds_dir = (
        work_dir
        / f"seeds-{_hash({'name': raw.get('name'), 'domain': raw.get('domain'), 'source': raw['source'], 'base': str(base)})}"
    )
    if (seeds_dir / "catalogue.parquet").exists() and (seeds_dir / "dataset_info.json").exists():
        return seeds_dir
    build = build_seeds(load_seeds_config(raw, base_dir=base))
    partial = seeds_dir.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    save_seeds(build, partial)
    shutil.rmtree(seeds_dir, ignore_errors=True)
    partial.rename(seeds_dir)
    return seeds_dir


def make_plan(
    config: Path | str | dict,
    *,
    budget: int | None = None,
    strategy: str | None = None,
    out: Path | str | None = None,
    features: str | None = None,
    labelled_seed_ids: list[str] | None = None,
    seeds_dir: Path | None = None,
    timeline: Any = None,
    llm_cache: Path | str | None = None,
) -> tuple[Any, dict[str, Any], Path]:
    """(SynthesisPlan, redacted config echo, OUT) from a config and the command-line overrides; every config error
    is raised here, before any seed is built or any LLM is called. `timeline` (progress.Timeline) gets the marks
    `seeds start` and `seeds`. `llm_cache`: an LLM call cache file shared with other runs (default: one per run
    folder and config name); a call is reused only with the same backend, settings and prompt."""
    from revdial.config import OpenAILLMConfig
    from revdial.generation.llms import build_llm, check_endpoint
    from revdial.generation.pipeline import SynthesisPlan

    parsed, raw, base, label = load_pipeline_config(config)
    selection = with_overrides(parsed.selection, budget=budget, strategy=strategy, features=features)
    generation, curation = parsed.generation, parsed.curation
    out_dir = (
        Path(out) if out is not None else resolve_path(parsed.output.dir or f"runs/{parsed.name}", Path.cwd())
    )
    out_dir = out_dir.resolve()
    llm = build_llm(generation.llm)
    if isinstance(generation.llm, OpenAILLMConfig) and generation.llm.preflight:
        check_endpoint(
            generation.llm
        )  # a dead endpoint, a refused key or an unknown model fail here, in seconds
    work_dir = work_dir_of(out_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    if timeline is not None:
        timeline.mark("seeds start")
    seeds_dir = seeds_dir or prepare_seeds(raw, base, work_dir, label)
    if timeline is not None:
        timeline.mark("seeds")

    echo = redact(
        {
            "name": parsed.name,
            "domain": parsed.domain,
            "selection": selection.model_dump(),
            "generation": generation.model_dump(),
            "curation": curation.model_dump(),
            "output": {"dir": str(out_dir)},
            "labelled_seed_ids": len(labelled_seed_ids or []),
        }
    )
    cache_dir = os.environ.get("DISTILABEL_CACHE_DIR") or str(work_dir / "cache")
    plan = SynthesisPlan(
        name=parsed.name,
        domain=parsed.domain,
        seeds_dir=str(seeds_dir),
        catalogue_path=str(seeds_dir / "catalogue.parquet"),
        llm=llm,
        selection=selection,
        generation=generation,
        curation=curation,
        labelled_seed_ids=list(labelled_seed_ids) if labelled_seed_ids else None,
        # One ledger per distinct run setup, so a resumed run continues its count and a new setup starts at 0.
        ledger_path=str(work_dir / f"tokens-{_hash(echo)}.json"),
        cache_dir=cache_dir,
        llm_cache_path=str(llm_cache or Path(cache_dir) / "revdial-llm-calls" / f"{parsed.name}.sqlite"),
    )
    return plan, echo, out_dir


def synthesize(
    config: Path | str | dict,
    *,
    budget: int | None = None,
    strategy: str | None = None,
    out: Path | str | None = None,
    features: str | None = None,
    labelled_seed_ids: list[str] | None = None,
    ray: bool = False,
    ray_address: str | None = None,
    quiet: bool = False,
    verbose: bool = False,
    llm_cache: Path | str | None = None,
) -> Path:
    """Run the synthesis pipeline for a config; returns OUT, a saved Distiset (configs default, rejects,
    candidates) with summary.json, funnel.png, pipeline.yaml and pipeline.log in OUT/distiset_configs/.
    `quiet`: print nothing; default: one live progress line and the final summary; `verbose`: distilabel's logs.
    `llm_cache`: an LLM call cache shared with other runs (see make_plan)."""
    from revdial.generation.progress import Timeline

    started, timeline = time.perf_counter(), Timeline()
    if not verbose:
        from revdial.generation.progress import quiet_libraries

        quiet_libraries()
    plan, echo, out_dir = make_plan(
        config,
        budget=budget,
        strategy=strategy,
        out=out,
        features=features,
        labelled_seed_ids=labelled_seed_ids,
        timeline=timeline,
        llm_cache=llm_cache,
    )
    return run_plan(
        plan,
        echo,
        out_dir,
        started=started,
        ray=ray,
        ray_address=ray_address,
        quiet=quiet,
        verbose=verbose,
        timeline=timeline,
    )


def run_plan(
    plan: Any,
    echo: dict[str, Any],
    out_dir: Path,
    *,
    started: float | None = None,
    ray: bool = False,
    ray_address: str | None = None,
    quiet: bool = False,
    verbose: bool = False,
    upstream: Any = None,
    timeline: Any = None,
) -> Path:
    """Build and run the Pipeline of a plan, save the Distiset, summary.json, funnel.png and pipeline.yaml, and the
    run's progress.Timeline (`timeline`, or one started here) as timings.json."""
    from revdial.generation.pipeline import build_pipeline
    from revdial.generation.progress import Timeline
    from revdial.generation.summary import build_summary, complete_distiset, plot_funnel, print_summary

    started = time.perf_counter() if started is None else started
    timeline = timeline or Timeline()
    timeline.mark("build pipeline")
    pipeline = build_pipeline(plan) if upstream is None else build_pipeline(plan, upstream)
    # One cache folder per exact configuration. distilabel 1.5.3 hangs on a pipeline whose early steps are cached
    # and later ones changed (a new budget or strategy in the same cache: argilla-io/distilabel#1065); keyed by
    # every step's signature, a changed run starts clean, while the LLM call cache (shared) still saves its calls.
    pipeline.name = f"{plan.name}-{pipeline.aggregated_steps_signature[:12]}"
    state = work_dir_of(out_dir) / "run-state.json"
    if state.exists() and json.loads(state.read_text()).get("status") in ("running", "stopped"):
        # The previous run was interrupted. distilabel cannot resume a run killed mid-batch (it waits forever
        # for batches the dead workers held, argilla-io/distilabel#1065), so its execution cache is cleared and
        # the pipeline starts again; finished LLM calls come back from the LLM call cache instead of the LLM.
        _clear_distilabel_cache(pipeline)
        if not quiet:
            print(f"resuming an interrupted run: LLM calls already made are read from {plan.llm_cache_path}")
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"status": "running"}))
    resume = f"re-run the same command to resume (finished LLM calls are kept in {plan.llm_cache_path})"
    pipeline.run_state_path, pipeline.resume_hint = str(state), resume
    pipeline.timeline = timeline
    if ray or ray_address:
        pipeline = ray_pipeline(pipeline, ray_address)
    timeline.mark("pipeline built")
    try:
        with local_ray_cluster(pipeline):
            distiset = _run_pipeline(pipeline, plan, quiet=quiet, verbose=verbose, timeline=timeline)
            timeline.mark("pipeline returned")
            distiset = complete_distiset(distiset)
    except KeyboardInterrupt:
        state.write_text(json.dumps({"status": "stopped"}))
        raise SynthesisInterrupted(f"interrupted; {resume}") from None
    # A stopped run (Ctrl-C, a dead worker) returns what reached the leaves; only a complete one is saved, so the
    # next run resumes.
    selected, expected = len(set(distiset["candidates"]["train"]["seed_id"])), expected_selection(plan)
    if selected < expected:
        state.write_text(json.dumps({"status": "stopped"}))
        raise SynthesisInterrupted(
            f"synthesis stopped with {selected} of {expected} selected seeds through the pipeline; {resume}"
        )
    for name in ("default", "rejects", "candidates", "distiset_configs"):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    # One shard per split: datasets cannot reload an empty split saved with zero shards.
    distiset.save_to_disk(
        out_dir, num_shards={"train": 1}, save_card=False, save_pipeline_config=True, save_pipeline_log=True
    )
    # Next to distilabel's pipeline.yaml and pipeline.log: every other entry of OUT must be a config, or
    # `Distiset.load_from_disk(OUT)` fails on it.
    configs_dir = out_dir / "distiset_configs"
    configs_dir.mkdir(parents=True, exist_ok=True)
    summary = build_summary(distiset, plan, echo, wall_time_s=time.perf_counter() - started)
    (configs_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    plot_funnel(summary, configs_dir / "funnel.png")
    timeline.mark("saved")
    (configs_dir / "timings.json").write_text(json.dumps(timeline.to_dict(), indent=2) + "\n")
    if not quiet:
        print_summary(summary, out_dir)
    state.write_text(json.dumps({"status": "finished"}))
    accounting = summary["accounting"]
    if not accounting["ok"]:
        raise AccountingError(f"{out_dir}: selected seeds != kept + rejected: {accounting}")
    llm_errors = summary["reject_reasons"].get("llm_error", 0)
    if accounting["seeds_selected"] and not accounting["seeds_kept"] and llm_errors:
        raise LLMFailure(
            f"0 of {accounting['seeds_selected']} selected seeds kept: {llm_errors} of "
            f"{summary['funnel']['requests planned']} requests failed at the LLM ({plan.llm.model_name}); "
            f"reject reasons: {summary['reject_reasons']}; output saved in {out_dir}"
        )
    return out_dir


def local_ray_init_kwargs(num_cpus: int | None = None) -> dict[str, Any]:
    """`ray.init` arguments of the local cluster `--ray` starts without an address: its node address, GCS, raylet
    and object store on 127.0.0.1 (never the machine's network address), no dashboard, no usage report, and as
    many CPUs as the machine has (Ray would otherwise start a worker per logical CPU it sees, capped here at 8).
    Every step is an actor, which takes no CPU once placed, so a small `num_cpus` still runs the whole DAG."""
    cpus = num_cpus or min(
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8
    )
    return {
        "_node_ip_address": "127.0.0.1",
        "include_dashboard": False,
        "num_cpus": cpus,
        "log_to_driver": False,
        "configure_logging": False,
        # The workers import revdial from wherever this process does (a checkout's src/ without an install).
        "runtime_env": {"env_vars": {"PYTHONPATH": os.pathsep.join(_import_roots())}},
    }


def _import_roots() -> list[str]:
    import revdial

    roots = [str(Path(revdial.__file__).resolve().parents[1])]
    return roots + [
        path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path and path not in roots
    ]


def ray_pipeline(pipeline: Any, address: str | None = None) -> Any:
    """The RayPipeline of `pipeline`: on the cluster at `address`, or on a loopback-only local one."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise SynthesisConfigError(
            "--ray runs the pipeline on a Ray cluster and needs Ray: pip install 'revdial[ray]'"
        )
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves the machine
    if address:
        return pipeline.ray(ray_head_node_url=address)
    _loopback_only()
    return pipeline.ray(ray_init_kwargs=local_ray_init_kwargs())


def _loopback_only() -> None:
    """Keep a local cluster on 127.0.0.1. Ray resolves a `_node_ip_address` of 127.0.0.1 to the machine's network
    address unless its single-machine mode is on (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, the macOS/Windows default);
    in it the GCS, raylet, agents and workers bind and connect to loopback only. The variable reaches the
    processes the cluster spawns; the flag is also set in this process, where Ray may already be imported."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_DISABLE_DOCKER_CPU_WARNING", "1")
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False


@contextmanager
def local_ray_cluster(pipeline: Any, grace_s: float = 15.0) -> Iterator[None]:
    """Stops the local Ray cluster a RayPipeline starts: `ray.shutdown`, then every process the run started (the
    GCS, raylet, agents and workers: this process's new descendants) gets `grace_s` to exit and is killed by pid
    if it has not. A cluster already connected before (an address, or the caller's own `ray.init`) is left running."""
    from distilabel.pipeline import RayPipeline

    owned = False
    if isinstance(pipeline, RayPipeline):
        import ray

        owned = not ray.is_initialized()
    if not owned:
        yield
        return
    import psutil

    before = {child.pid for child in psutil.Process().children(recursive=True)}
    try:
        yield
    finally:
        started = [child for child in psutil.Process().children(recursive=True) if child.pid not in before]
        import ray

        ray.shutdown()
        _, alive = psutil.wait_procs(started, timeout=grace_s)
        for process in alive:
            with suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(alive, timeout=5)


def _run_pipeline(pipeline: Any, plan: Any, *, quiet: bool, verbose: bool, timeline: Any) -> Any:
    """pipeline.run; unless verbose, distilabel's console shows only warnings and a live line shows progress. The
    steps' start and end times go to `timeline`."""
    from contextlib import nullcontext

    from revdial.generation.progress import ConsoleAtLevel, LiveProgress, StepTimes

    times = (StepTimes(timeline),)
    timeline.mark("pipeline.run")
    if verbose:
        return pipeline.run(use_cache=True, logging_handlers=ConsoleAtLevel(None, times))
    generation = plan.generation
    # per row: the request, 2 calls per extra turn, and the answer unless the list is grounded (no LLM call)
    per_row = 2 * generation.n_turns - (1 if generation.answer == "grounded" else 0)
    calls = expected_selection(plan) * generation.k * per_row
    with nullcontext() if quiet else LiveProgress(plan.ledger_path, calls):
        return pipeline.run(use_cache=True, logging_handlers=ConsoleAtLevel(handlers=times))


def expected_selection(plan: Any) -> int:
    """`summary.selection_size` of the plan's seeds pool."""
    import datasets

    from revdial.generation.summary import selection_size

    return selection_size(plan, len(datasets.load_from_disk(plan.seeds_dir)))


def _clear_distilabel_cache(pipeline: Any) -> None:
    location = pipeline._cache_location
    shutil.rmtree(location["pipeline"].parent, ignore_errors=True)
    shutil.rmtree(location["steps_data"], ignore_errors=True)


def synthesize_command(
    config: Path,
    budget: int | None,
    strategy: str | None,
    out: Path | None,
    ray: bool,
    verbose: bool = False,
    ray_address: str | None = None,
) -> None:
    """The `revdial synthesize` command body: one live progress line, then the funnel table, hallucination rate,
    tokens and the dataset's location (`verbose`: distilabel's own logs instead of the live line)."""
    import typer

    try:
        synthesize(
            config,
            budget=budget,
            strategy=strategy,
            out=out,
            ray=ray,
            ray_address=ray_address,
            verbose=verbose,
        )
    except SynthesisInterrupted as stop:
        typer.echo(f"\nstopped: {stop}", err=True)
        raise typer.Exit(130) from None
