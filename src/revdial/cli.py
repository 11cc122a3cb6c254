"""The `revdial` command line: one typer app; each command is a thin call into a stage module.

Heavy imports (torch, distilabel, transformers) happen inside the commands so that `revdial --help` is instant.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer

app = typer.Typer(
    help="revdial: conversational recommender data from reviews, metadata and ratings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
argilla_app = typer.Typer(
    help="Human labeling in Argilla: push rows for review, pull labels back.", no_args_is_help=True
)
app.add_typer(argilla_app, name="argilla")

_DEBUG = {"on": False}

# Errors in what the user gave (a config, a path, an option, an endpoint, a data file): one line, exit 2.
_USER_ERRORS = (
    ("revdial.config", "UserError"),
    ("revdial.seeds.errors", "SeedSourceError"),
    ("revdial.selection.strategies.base", "SelectionInputError"),
    ("revdial.selection.features", "FeatureSpecError"),
    ("revdial.selection.features", "FeatureInputError"),
    ("revdial.crs.evaluate", "EvaluationError"),
    ("revdial.crs.rankers", "RankerError"),
    ("revdial.crs.benchmarks", "BenchmarkFormatError"),
    ("revdial.crs.student", "StudentModelError"),
    ("revdial.crs.gguf_export", "GGUFExportError"),
    ("revdial.argilla.client", "ArgillaConnectionError"),
    ("revdial.argilla.schema", "RowError"),
    ("revdial.hub.push", "HubPushError"),
    ("revdial.hub.cards", "CardError"),
)


def _is_user_error(error: BaseException) -> bool:
    for module, name in _USER_ERRORS:
        loaded = sys.modules.get(
            module
        )  # an error class whose module is not imported cannot have been raised
        if loaded is not None and isinstance(error, getattr(loaded, name, ())):
            return True
    return isinstance(error, FileNotFoundError)


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command so that no traceback shows local variables and no message shows a secret: a user error is
    one line and exit 2; anything else is one line and exit 1, or (with --debug) a plain traceback, without locals."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from revdial.errors import keep_tracebacks_plain, scrub_secrets

        keep_tracebacks_plain()
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            typer.echo("\nstopped (Ctrl-C).", err=True)
            raise typer.Exit(130) from None
        except Exception as error:  # noqa: BLE001 - the one place errors meet the terminal
            if _is_user_error(error) and not _DEBUG["on"]:
                typer.echo(scrub_secrets(f"error: {error}"), err=True)
                raise typer.Exit(2) from None
            if _DEBUG["on"]:
                import traceback

                typer.echo(scrub_secrets("".join(traceback.format_exception(error))), err=True)
            else:
                typer.echo(
                    scrub_secrets(f"error: {type(error).__name__}: {error}")
                    + "\n(run `revdial --debug ...` for the traceback)",
                    err=True,
                )
            raise typer.Exit(2 if _is_user_error(error) else 1) from None

    return run


@app.callback()
def main(
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of an error (never local variables)."
    ),
) -> None:
    """revdial: conversational recommender data from reviews, metadata and ratings."""
    _DEBUG["on"] = debug
    # pydantic's deprecation / field warnings from the libraries revdial drives are not the user's to act on
    warnings.filterwarnings("ignore", module=r"pydantic\..*")
    warnings.filterwarnings("ignore", category=UserWarning, message=r".*Field.*")


# --- seeds (issue: foundation) -------------------------------------------------------------------------------
@app.command()
@guarded
def seeds(
    config: Path = typer.Option(..., "--config", "-c", help="Source config YAML (a pipelines/*.yaml)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Directory for the seeds dataset (datasets.save_to_disk)."
    ),
) -> None:
    """Build seed records (item x review x user signal) from a source config."""
    from revdial.seeds.build import seeds_command

    seeds_command(config=config, out=out)


# --- selection ------------------------------------------------------------------------------------------------
@app.command()
@guarded
def select(
    seeds_dir: Path = typer.Option(..., "--seeds", help="Seeds directory written by `revdial seeds`."),
    strategy: str = typer.Option("js", help="random | js | fisher | kcenter | hybrid"),
    budget: int = typer.Option(100, help="Number of seeds to select (B)."),
    features: str = typer.Option(
        "minilm",
        help="minilm[:dtype=auto|bf16|fp32,backend=auto|torch|openvino|onnx] (semantic; OpenVINO bf16 where the CPU "
        "has it; cached) | st:MODEL_PATH | "
        "lm:PATH (student LM hidden states) | tfidf[:dim=384,ngrams=2,min_df=2] (TF-IDF + SVD fitted on the pool; "
        "100k+ seeds on a CPU in minutes).",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the ranked seeds."),
    plot: Optional[Path] = typer.Option(
        None, help="Write a PNG: PCA of the pool with the selection highlighted."
    ),
    mode: str = typer.Option(
        "fast", help="fast (stochastic / batched greedy) | exact (rescan the pool per pick)."
    ),
    seed: int = typer.Option(0, help="Random seed."),
    param: Optional[list[str]] = typer.Option(
        None,
        "--param",
        help="Strategy parameter KEY=VALUE, repeatable (n_clusters, tau, lam, weight, dim, ...).",
    ),
    sample: Optional[int] = typer.Option(
        None, help="Rank a seeded random sample of N seeds (others get rank -1)."
    ),
    coverage_k: Optional[int] = typer.Option(
        None, help="k-means clusters for the coverage table (default min(B, 100))."
    ),
    compare: bool = typer.Option(False, help="Print every strategy's cluster coverage (implied by --plot)."),
) -> None:
    """Rank seeds with an active-selection strategy: OUT keeps every row with its rank, OUT/selected the top B."""
    from revdial.selection.run import select_command

    select_command(
        seeds_dir=seeds_dir,
        strategy=strategy,
        budget=budget,
        features=features,
        out=out,
        plot=plot,
        mode=mode,
        seed=seed,
        params=param,
        sample=sample,
        coverage_k=coverage_k,
        compare=compare,
    )


# --- synthesis --------------------------------------------------------------------------------------------------
@app.command()
@guarded
def synthesize(
    config: Path = typer.Option(
        Path("pipelines/movies-sample.yaml"), "--config", "-c", help="Pipeline YAML."
    ),
    budget: Optional[int] = typer.Option(None, help="Override the selection budget B."),
    strategy: Optional[str] = typer.Option(None, help="Override the selection strategy."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory for the Distiset."),
    ray: bool = typer.Option(
        False,
        "--ray",
        help="Run it on Ray (the ray extra: pip install ray==2.60.0): a local cluster on 127.0.0.1 unless --ray-address.",
    ),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", help="An existing Ray cluster (ray://HOST:10001, or auto); implies --ray."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show distilabel's logs instead of the live line."
    ),
) -> None:
    """Seeds -> selection -> LLM requests and recommendations -> grounding/filters -> SFT-ready Distiset.

    Re-run the same command after an interruption to resume: finished LLM calls are not repeated.
    """
    from revdial.generation.run import synthesize_command

    synthesize_command(
        config=config,
        budget=budget,
        strategy=strategy,
        out=out,
        ray=ray,
        verbose=verbose,
        ray_address=ray_address,
    )


# --- publishing ------------------------------------------------------------------------------------------------
@app.command()
@guarded
def push(
    directory: Path = typer.Argument(..., help="A Distiset directory written by `revdial synthesize`."),
    repo_id: str = typer.Option(..., "--repo-id", help="OWNER/NAME on the Hub."),
    private: bool = typer.Option(False, "--private"),
    license: Optional[str] = typer.Option(
        None, "--license", help="Hub licence id; default: strictest of the sources'."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Pipeline YAML (default: the echo in summary.json)."
    ),
) -> None:
    """Push a synthesized dataset (every config, pipeline.yaml, summary, plot) with its dataset card."""
    from revdial.hub.push import push_command

    push_command(directory=directory, repo_id=repo_id, private=private, license=license, config=config)


@argilla_app.command("push")
@guarded
def argilla_push(
    directory: Path = typer.Argument(..., help="A Distiset directory written by `revdial synthesize`."),
    dataset: str = typer.Option(..., "--dataset", help="Argilla dataset name."),
    workspace: Optional[str] = typer.Option(None, "--workspace"),
) -> None:
    """Create or update an Argilla dataset for review (idempotent)."""
    from revdial.argilla.push import argilla_push_command

    argilla_push_command(directory=directory, dataset=dataset, workspace=workspace)


@argilla_app.command("pull")
@guarded
def argilla_pull(
    dataset: str = typer.Option(..., "--dataset", help="Argilla dataset name."),
    out: Path = typer.Option(..., "--out", "-o"),
    workspace: Optional[str] = typer.Option(None, "--workspace"),
    min_quality: Optional[int] = typer.Option(
        None, "--min-quality", help="Keep rows rated at least N (1-5)."
    ),
    source: Optional[Path] = typer.Option(
        None,
        "--source",
        help="The synthesis output that was pushed: its summary and pipeline.yaml come along.",
    ),
) -> None:
    """Read submitted labels back into a new Distiset (configs `labelled` and `default`)."""
    from revdial.argilla.pull import argilla_pull_command

    argilla_pull_command(
        dataset=dataset, out=out, workspace=workspace, min_quality=min_quality, source=source
    )


# --- train / eval / experiment ---------------------------------------------------------------------------------
@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@guarded
def train(
    ctx: typer.Context,
    config: Path = typer.Option(..., "--config", "-c", help="A recipes/<model>/sft/config_*.yaml."),
) -> None:
    """Fine-tune the CRS with TRL SFT; extra `--key value` pairs override the recipe."""
    from revdial.crs.train import train_command

    train_command(config=config, overrides=list(ctx.args))


@app.command(name="eval")
@guarded
def evaluate(
    model: Optional[str] = typer.Option(
        None,
        "--model",
        help="Model path or Hub id, 'popularity', 'openai:MODEL' or 'ranker:popularity|cf|content|blend:PIPELINE.yaml' "
        "(or give --predictions).",
    ),
    predictions: Optional[Path] = typer.Option(
        None,
        "--predictions",
        help="Score recorded replies: jsonl(.gz) of {dialog_id, turn_id, text | titles}.",
    ),
    benchmark: str = typer.Option(
        ..., "--benchmark", help="redial | he2023-redial (alias redial-crslab) | he2023-inspired | inspired"
    ),
    data: Optional[Path] = typer.Option(
        None, "--data", help="Benchmark file (default: ../shared/data copy)."
    ),
    protocol: str = typer.Option(
        "revdial",
        "--protocol",
        help="revdial (year-aware grounding) | he2023 (He et al.'s evaluator, r1..r4).",
    ),
    mean: str = typer.Option(
        "pair", "--mean", help="pair: per (turn, target) pair, as the literature | turn."
    ),
    popularity_from_test: bool = typer.Option(
        False, "--popularity-from-test", help="Popularity without a training side counts the evaluated file."
    ),
    limit: Optional[int] = typer.Option(None, "--limit", help="Evaluate the first N turns."),
    out: Path = typer.Option(Path("report.json"), "--out", "-o"),
    k: int = typer.Option(20, "--k", help="Length of the recommendation list asked for."),
    batch_size: int = typer.Option(16, "--batch-size", help="Prompts per generate() call."),
    max_new_tokens: Optional[int] = typer.Option(
        None, "--max-new-tokens", help="Default: 10 per asked title."
    ),
    dtype: str = typer.Option("bfloat16", "--dtype", help="bfloat16 | float32 (transformers backend)."),
    backend: str = typer.Option(
        "auto",
        "--backend",
        help="auto | llamacpp | transformers. auto: llama.cpp for llama-shaped local models.",
    ),
    decoding: Optional[str] = typer.Option(
        None,
        "--decoding",
        help="greedy | penalty | penalty_openings | distinct | sample (default: distinct for local models, greedy "
        "for openai:). distinct: K different titles, repeats re-asked with their first token banned.",
    ),
) -> None:
    """Recall/NDCG/MRR@K of a model (or of its recorded replies) on ReDial or INSPIRED, with bootstrap CIs."""
    from revdial.config import missing_local_path
    from revdial.crs.evaluate import eval_command
    from revdial.crs.rankers import PREFIX as RANKER_PREFIX

    if model and not model.startswith(RANKER_PREFIX):  # a ranker's YAML is checked when it is read
        missing_local_path(model, "--model")
    if predictions:
        missing_local_path(str(predictions), "--predictions")

    eval_command(
        model=model,
        benchmark=benchmark,
        data=data,
        limit=limit,
        out=out,
        k=k,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        dtype=dtype,
        backend=backend,
        predictions=predictions,
        protocol=protocol,
        mean=mean,
        popularity_from_test=popularity_from_test,
        decoding=decoding,
    )


@app.command()
@guarded
def experiment(
    config: Path = typer.Option(..., "--config", "-c", help="pipelines/experiment-*.yaml"),
    report: bool = typer.Option(
        False,
        "--report",
        help="Only write the table and plots from the stages already on disk (rows not run yet are listed).",
    ),
    only: Optional[list[str]] = typer.Option(
        None,
        "--only",
        help="Run only this row (repeatable: js-B1000, mentioned, zero-shot, ...); the others are read from disk.",
    ),
) -> None:
    """Strategies x budgets -> synthesis -> training -> evaluation -> table and plots."""
    from revdial.crs.experiment import experiment_command

    experiment_command(config=config, report=report, only=only)


if __name__ == "__main__":
    app()
