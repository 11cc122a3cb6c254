"""The quickstart, timed: `revdial synthesize --config pipelines/movies-sample.yaml` in a fresh process, with cold
revdial caches (a new REVDIAL_CACHE, HF_DATASETS_CACHE, output folder and distilabel cache, in a temporary working
directory), and the time of each stage.

    python benchmarks/quickstart.py [--config pipelines/movies-sample.yaml] [--runs 1] [--keep DIR]
                                    [--revdial-cache DIR]

The stages come from the run's OUT/distiset_configs/timings.json (revdial.generation.progress.Timeline: marks taken
by `synthesize`, and each pipeline step's load, first batch and last batch as its process logged them) and are
consecutive, so they add up to the total: process start + imports, config + LLM object, seeds, pipeline build,
pipeline start-up (worker processes, first stage loaded), features, selection, generation stage start-up (the
embedded model's load), request generation, answers, curation, writing (the leaves, the Distiset, summary, plot).
The goal (issue #13) is a total under 60 s on a quiet 2-core machine; the 1-minute load average is printed with
every run, and each stage is also shown as a share of the total of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (stage, the mark or step event that ends it); a stage starts where the previous one ended
STAGES = (
    ("process start + imports", ("mark", "start")),
    ("config + LLM object", ("mark", "seeds start")),
    ("seeds", ("mark", "seeds")),
    ("pipeline build", ("mark", "pipeline built")),
    ("pipeline start-up", ("step", "load_seeds", "first_batch")),
    ("features", ("step", "compute_features", "last_batch")),
    ("selection", ("step", "select_seeds", "last_batch")),
    ("generation start-up", ("step", "generate_request", "first_batch")),
    ("request generation", ("step", "generate_request", "last_batch")),
    ("answers", ("step", "recommend_items", "last_batch")),
    ("curation", ("step", "curate_rows", "last_batch")),
    ("writing", ("mark", "saved")),
)


def stage_times(timings: dict, spawned: float) -> list[tuple[str, float]]:
    """(stage, seconds) in order, from a timings.json and the time the process was started; a stage whose end
    was not recorded (a step the config has not) is merged into the next one."""
    rows, previous = [], spawned
    for name, end in STAGES:
        kind, *key = end
        if kind == "mark":
            at = timings["marks"].get(key[0])
        else:
            at = timings["steps"].get(key[0], {}).get(key[1])
        if at is None:
            continue
        rows.append((name, at - previous))
        previous = at
    return rows


def step_table(timings: dict, spawned: float) -> list[str]:
    """One line per pipeline step: when it loaded, took its first batch and sent its last (s after spawn)."""
    lines = [f"  {'step':<24} {'loaded':>7} {'first in':>8} {'last out':>8}"]
    steps = sorted(
        timings["steps"].items(), key=lambda item: item[1].get("loaded", item[1].get("first_batch", 0))
    )
    for name, events in steps:
        cells = [
            f"{events[key] - spawned:>8.2f}" if key in events else f"{'-':>8}"
            for key in ("loaded", "first_batch")
        ]
        cells.append(f"{events['last_batch'] - spawned:>8.2f}" if "last_batch" in events else f"{'-':>8}")
        lines.append(f"  {name:<24}" + "".join(cells))
    return lines


def run_once(config: Path, work: Path, revdial_cache: Path | None = None) -> dict:
    """Runs the quickstart command in a subprocess in `work` with fresh caches (`revdial_cache`: that one instead,
    e.g. with the features already computed); its timings, total, load and CPU time."""
    env = {
        **os.environ,
        "REVDIAL_CACHE": str(revdial_cache or work / "revdial-cache"),
        "HF_DATASETS_CACHE": str(work / "hf-datasets"),
        "DISTILABEL_CACHE_DIR": str(work / "distilabel-cache"),
    }
    out = work / "out"
    # the installed `revdial` command, as a user types it (beside this interpreter)
    script = Path(sys.executable).parent / "revdial"
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "revdial.cli"]
    command = [*launcher, "synthesize", "--config", str(config), "--out", str(out)]
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned = time.time()
    result = subprocess.run(command, check=False, cwd=work, env=env, capture_output=True, text=True)
    total = time.time() - spawned
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"quickstart failed with exit status {result.returncode}")
    summary = json.loads((out / "distiset_configs" / "summary.json").read_text())
    return {
        "timings": json.loads((out / "distiset_configs" / "timings.json").read_text()),
        "spawned": spawned,
        "total": total,
        # CPU seconds of the command and every process it waited for (its step processes): what a quiet machine
        # cannot shorten below cpu / cores
        "cpu": (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime),
        "load": (load_before, os.getloadavg()[0]),
        "kept": summary["accounting"]["seeds_kept"],
        "selected": summary["accounting"]["seeds_selected"],
    }


def report(run: dict) -> None:
    rows = stage_times(run["timings"], run["spawned"])
    total = run["total"]
    print(
        f"\nquickstart: {total:.1f} s in all (goal 60 s on a quiet 2-core machine), kept {run['kept']}/"
        f"{run['selected']}; 1-min load average {run['load'][0]:.2f} before, {run['load'][1]:.2f} after; "
        f"{run['cpu']:.1f} CPU-s ({run['cpu'] / total:.2f} cores busy on average)"
    )
    print(f"  {'stage':<26} {'s':>6} {'share':>6}")
    for name, seconds in rows:
        print(f"  {name:<26} {seconds:>6.1f} {seconds / total:>6.1%}")
    accounted = sum(seconds for _, seconds in rows)
    print(f"  {'exit (after the save)':<26} {total - accounted:>6.1f} {(total - accounted) / total:>6.1%}")
    print("\n".join(step_table(run["timings"], run["spawned"])))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=ROOT / "pipelines" / "movies-sample.yaml")
    parser.add_argument("--runs", type=int, default=1, help="cold runs, each in a fresh temporary folder")
    parser.add_argument("--keep", type=Path, help="run in this (new) folder and keep it")
    parser.add_argument(
        "--revdial-cache",
        type=Path,
        help="use this revdial cache (e.g. a kept run's revdial-cache: features come from it) to time the rest",
    )
    args = parser.parse_args()
    cache = args.revdial_cache.resolve() if args.revdial_cache else None
    for _ in range(args.runs):
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=False)
            report(run_once(args.config.resolve(), args.keep.resolve(), cache))
            continue
        with tempfile.TemporaryDirectory(prefix="revdial-quickstart-") as tmp:
            report(run_once(args.config.resolve(), Path(tmp), cache))


if __name__ == "__main__":
    main()
