"""Dialogue throughput of the synthesis pipeline against a bare asyncio client, on a loopback OpenAI-compatible
server with a fixed per-request latency (tests/fakes/server.py, in its own process).

    python benchmarks/generation.py [--latency 0.5] [--concurrency 8 64 256] [--dialogues-per-slot 8] [--ray]

A dialogue is two dependent requests (the user request, then the recommendation). The baseline sends them with
`openai.AsyncOpenAI` under a semaphore of C; the pipeline runs the generation half of `build_pipeline` (PII scrub,
request generation, recommendation generation, grounding, curation, SFT formatting) with `batch_size`, which
is how a user sets its concurrency: both LLM steps run at once (request generation for one batch while the previous
batch gets its answers), so each gets C/2 (C/(2 x replicas) per replica) to keep at most C requests in flight, as
the baseline. Throughput is dialogues/s; "steady" counts from the server's first request to
its last response (excludes distilabel's process start-up), "end-to-end" is the whole `run_plan()` (pipeline
build, run, Distiset saved with its summary and plot).

Before the table, a breakdown per C of where the rest of end-to-end goes (from the run's timings.json, see
revdial.generation.progress.Timeline, and the server's clock): imports (a fresh interpreter, outside end-to-end),
pipeline build, pipeline.run to the first request (worker pool, step loads, the first batches through the steps),
the requests, the tail after the last response, and the save, with each step's load time. `--stock-start-up` runs
the pipeline a second time, first, with distilabel's own start-up (SynthesisPipeline.fast_start off: a check every
2.5 s per load stage, signatures recomputed at every cache-path lookup, a cache save before the first batch) and
prints both breakdowns side by side, with the 1-minute load average of the same run.

`--ray` (needs `pip install -e '.[ray]'`) runs the same pipeline a third time with `run_plan(ray=True)`, on the
loopback-only local Ray cluster `revdial synthesize --ray` starts (its start and stop counted in end-to-end), and
prints its dialogues/s beside the local pipeline's and the bare client's, with the load average of the run.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.server import serve_in_process


def server_stats(base_url: str, reset: bool = False) -> dict:
    request = urllib.request.Request(
        base_url.replace("/v1", "/stats"), method="POST" if reset else "GET", data=b"" if reset else None
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def seed_rows(n: int) -> list[dict]:
    from revdial.seeds.build import build_seeds

    seeds = build_seeds(ROOT / "pipelines" / "movies-sample.yaml").seeds
    rows = [seeds[i % len(seeds)] for i in range(n)]
    # distinct ids: a dialogue per row even when the sample is recycled
    return [
        {
            **row,
            "seed_id": f"{row['seed_id']}-{i}",
            "selection_rank": i,
            "selection_score": 1.0,
            "selection_strategy": "bench",
        }
        for i, row in enumerate(rows)
    ]


def baseline(base_url: str, rows: list[dict], concurrency: int) -> float:
    """Seconds for a bare asyncio client to make every dialogue: same prompts as the pipeline's tasks."""
    import openai

    from revdial.domains import load_pack
    from revdial.generation.tasks import mask_title
    from revdial.prompts import exemplars, render, sample_styles
    from revdial.seeds.render import render_seed

    pack = load_pack("movies")
    styles = ["mood", "similar_to", "attributes", "negative", "occasion"]  # pipelines/movies-sample.yaml

    async def run() -> None:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=60)
        gate = asyncio.Semaphore(concurrency)

        async def dialogue(row: dict) -> None:
            style = sample_styles(row["seed_id"], 1, styles)[0]
            seed_text = mask_title(
                pack.seed_text({**row, "seed_text": render_seed(row)}), row["title"], "this movie"
            )
            variables = {
                "domain": "movies",
                "item_noun": "movie",
                "seed_text": seed_text,
                "title": row["title"],
                "history_liked": row["history_liked"],
                "history_disliked": row["history_disliked"],
            }
            examples = [e for e in exemplars(style, "movies") if mask_title(e, row["title"], "") == e]
            chat = [
                {"role": "system", "content": render("request_system", "movies", item_noun="movie")},
                {
                    "role": "user",
                    "content": render(
                        "request",
                        style_instruction=render(f"style_{style}", **variables),
                        exemplars=examples,
                        **variables,
                    ),
                },
            ]
            async with gate:
                first = await client.chat.completions.create(model="m", messages=chat, max_tokens=128)
            request = first.choices[0].message.content
            prompt = render(
                "recommend",
                "movies",
                item_noun="movie",
                conversation=[{"role": "user", "content": request}],
                target=row["title"],
                candidates=row["neighbor_titles"][:6],
                n_recommendations=3,
                structured=False,
            )
            async with gate:
                await client.chat.completions.create(
                    model="m",
                    max_tokens=128,
                    messages=[
                        {
                            "role": "system",
                            "content": render("recommend_system", "movies", item_noun="movie"),
                        },
                        {"role": "user", "content": prompt},
                    ],
                )

        await asyncio.gather(*(dialogue(row) for row in rows))
        await client.close()

    started = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - started


def pipeline_run(
    base_url: str,
    rows: list[dict],
    concurrency: int,
    replicas: int,
    work: Path,
    ray: bool = False,
    stock: bool = False,
) -> tuple[float, dict]:
    """(seconds of run_plan, the run's timings.json). `stock`: distilabel's own start-up (SynthesisPipeline's
    fast_start off: stage checks every 2.5 s, signatures recomputed at every cache-path lookup, first cache save
    before the first batch)."""
    import datasets

    from revdial.generation.pipeline import SynthesisPipeline
    from revdial.generation.run import make_plan, run_plan

    # The rows as a seeds directory read by the real LoadSeeds step (rows inlined into a LoadDataFromDicts would
    # be re-serialised into distilabel's cached pipeline.yaml after every batch and dominate the timing).
    seeds_dir = work / f"seeds-{len(rows)}"
    if not seeds_dir.exists():
        from revdial.seeds.build import build_seeds

        datasets.Dataset.from_list(rows).save_to_disk(str(seeds_dir))
        build_seeds(ROOT / "pipelines" / "movies-sample.yaml").catalogue.to_parquet(
            str(seeds_dir / "catalogue.parquet")
        )

    def upstream(plan):
        from revdial.seeds.steps import LoadSeeds

        load = LoadSeeds(name="load_seeds", seeds_dir=str(seeds_dir), batch_size=1024)
        return load, load

    import yaml

    raw = yaml.safe_load((ROOT / "pipelines" / "movies-sample.yaml").read_text())
    raw["name"] = f"bench-{concurrency}-{replicas}-{len(rows)}-{'ray-' if ray else ''}{time.time_ns()}"
    raw["selection"] = {"budget": len(rows)}
    raw["generation"] = {
        **raw["generation"],
        "structured": False,
        "answer": "llm",  # two requests per dialogue, as the baseline's
        "k": 1,  # one dialogue per seed, as the baseline's (the sample asks for 2 requests per seed)
        "batch_size": max(concurrency // (2 * replicas), 1),
        "replicas": replicas,
        "llm": {
            "backend": "openai",
            "model": "m",
            "base_url": base_url,
            "preflight": False,
            "api_key_env": "BENCH_KEY",
            "max_retries": 0,
            "timeout": 60,
            "generation_kwargs": {"max_new_tokens": 128},
        },
    }
    os.environ["BENCH_KEY"] = "bench"
    os.environ["DISTILABEL_CACHE_DIR"] = str(work / "cache")
    plan, echo, out = make_plan(raw, out=work / raw["name"], seeds_dir=seeds_dir)
    plan.llm_cache_path = None  # every call must reach the server
    SynthesisPipeline.fast_start = not stock
    try:
        started = time.perf_counter()
        run_plan(plan, echo, out, quiet=True, upstream=upstream, started=started, ray=ray)
        elapsed = time.perf_counter() - started
    finally:
        SynthesisPipeline.fast_start = True
    kept = len(datasets.load_from_disk(str(out / "default"))["train"])
    assert kept > 0.9 * len(rows), f"only {kept} of {len(rows)} dialogues kept"
    return elapsed, json.loads((out / "distiset_configs" / "timings.json").read_text())


def import_seconds() -> float:
    """Seconds a fresh interpreter takes to import what a synthesis run imports before its pipeline starts."""
    code = (
        "import time; t = time.perf_counter(); import revdial.generation.run, revdial.generation.pipeline, "
        "revdial.generation.llms, distilabel.models.llms.openai; print(time.perf_counter() - t)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def breakdown(timings: dict, stats: dict, imports_s: float) -> dict[str, float]:
    """Seconds of each part of a pipeline run, consecutive (they add up to end-to-end), from its timings.json
    and the server's first request / last response; `load <step>`: when the step had loaded, after pipeline.run
    (not a part: the steps load together)."""
    marks, steps = timings["marks"], timings["steps"]
    first = stats["first_request_at"]
    # the first stage has loaded when its last step has (steps loaded before the first request)
    stage0 = max((e["loaded"] for e in steps.values() if e.get("loaded", first) < first), default=None)
    pool = marks.get("worker pool up", marks["pipeline built"])
    parts = {
        "imports (fresh process, not in end-to-end)": imports_s,
        "pipeline build": marks["pipeline built"] - marks["start"],
        "pipeline.run set-up + worker pool (process spawns)": pool - marks["pipeline built"],
        "first stage's steps loaded": None if stage0 is None else stage0 - pool,
        "-> first request (first batches through the steps)": first - (stage0 or pool),
        "first request -> last response": stats["last_response_at"] - first,
        "last response -> pipeline.run returned": marks["pipeline returned"] - stats["last_response_at"],
        "Distiset saved, summary, plot": marks["saved"] - marks["pipeline returned"],
    }
    loads = {
        f"  load {name} (s after pipeline.run)": events["loaded"] - marks["pipeline.run"]
        for name, events in sorted(steps.items(), key=lambda item: item[1].get("loaded", 0))
        if "loaded" in events
    }
    return {**parts, **loads}


def print_breakdowns(concurrency: int, runs: dict[str, tuple[dict, float, float]], load: float) -> None:
    """runs: label -> (breakdown, end-to-end s, bare client s)."""
    labels = list(runs)
    print(f"\nstart-up and tail at C={concurrency}, seconds (1-min load average {load:.2f}):")
    print(f"  {'':<50}" + "".join(f"{label:>10}" for label in labels))
    keys = list(
        dict.fromkeys(key for parts, _, _ in runs.values() for key in parts)
    )  # first run's order first
    for key in keys:
        cells = [runs[label][0].get(key) for label in labels]
        print(f"  {key:<50}" + "".join(f"{c:>10.2f}" if c is not None else f"{'-':>10}" for c in cells))
    print(f"  {'end-to-end (run_plan)':<50}" + "".join(f"{runs[label][1]:>10.2f}" for label in labels))
    print(
        f"  {'end-to-end throughput / bare client':<50}"
        + "".join(f"{runs[label][2] / runs[label][1]:>10.2f}" for label in labels)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request at the server")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--dialogues-per-slot", type=int, default=8, help="dialogues = C x this")
    parser.add_argument("--ray", action="store_true", help="also run the pipeline on a local Ray cluster")
    parser.add_argument(
        "--replicas",
        type=int,
        default=2,
        help="replicas of each LLM step (2: batches half as large overlap, measured 0.96 vs 0.83 at C=64)",
    )
    parser.add_argument(
        "--stock-start-up",
        action="store_true",
        help="also run the pipeline with distilabel's own start-up (SynthesisPipeline.fast_start off), before "
        "revdial's, and print both breakdowns",
    )
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    imports_s = import_seconds()
    process, base_url = serve_in_process(args.latency)
    results, ray_rows, breakdowns = [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for concurrency in args.concurrency:
                rows = seed_rows(concurrency * args.dialogues_per_slot)
                server_stats(base_url, reset=True)
                base_s = baseline(base_url, rows, concurrency)
                base_stats = server_stats(base_url, reset=True)
                base_steady = base_stats["last_response_at"] - base_stats["first_request_at"]
                runs = {}
                for label in ("stock", "revdial") if args.stock_start_up else ("revdial",):
                    pipe_s, timings = pipeline_run(
                        base_url, rows, concurrency, args.replicas, Path(tmp), stock=label == "stock"
                    )
                    pipe_stats = server_stats(base_url, reset=True)
                    runs[label] = (breakdown(timings, pipe_stats, imports_s), pipe_s, base_steady)
                breakdowns.append((concurrency, runs, os.getloadavg()[0]))
                steady = pipe_stats["last_response_at"] - pipe_stats["first_request_at"]
                results.append(
                    (
                        concurrency,
                        len(rows),
                        len(rows) / base_steady,
                        base_stats["max_in_flight"],
                        len(rows) / steady,
                        len(rows) / pipe_s,
                        pipe_stats["max_in_flight"],
                    )
                )
                print(
                    f"C={concurrency}: baseline {base_s:.1f}s, pipeline {pipe_s:.1f}s (steady {steady:.1f}s)",
                    flush=True,
                )
                if args.ray:
                    ray_rows.append(
                        ray_row(base_url, rows, concurrency, args.replicas, Path(tmp), results[-1])
                    )
    finally:
        process.terminate()
    for concurrency, runs, load in breakdowns:
        print_breakdowns(concurrency, runs, load)
    ideal = 1 / (2 * args.latency)
    print(
        f"\nlatency {args.latency}s/request, 2 requests per dialogue, replicas {args.replicas}; dialogues/s "
        f"(ideal per slot {ideal:.2f})"
    )
    print(
        f"{'C':>4} {'dialogues':>9} {'baseline':>9} {'in-flight':>9} {'pipeline':>9} {'ratio':>6} "
        f"{'end-to-end':>10} {'ratio':>6} {'in-flight':>9}"
    )
    for c, n, base, base_inflight, steady, e2e, inflight in results:
        print(
            f"{c:>4} {n:>9} {base:>9.1f} {base_inflight:>9} {steady:>9.1f} {steady / base:>6.2f} {e2e:>10.1f} "
            f"{e2e / base:>6.2f} {inflight:>9}"
        )
    if ray_rows:
        print(
            "\nRay (local cluster on 127.0.0.1, started and stopped inside end-to-end); dialogues/s, ratios to the "
            "bare client / the local pipeline"
        )
        print(
            f"{'C':>4} {'dialogues':>9} {'baseline':>9} {'local e2e':>9} {'ray steady':>10} {'ray e2e':>8} "
            f"{'/client':>7} {'/local':>6} {'load':>5}"
        )
        for c, n, base, local_e2e, ray_steady, ray_e2e, load in ray_rows:
            print(
                f"{c:>4} {n:>9} {base:>9.1f} {local_e2e:>9.2f} {ray_steady:>10.1f} {ray_e2e:>8.2f} "
                f"{ray_e2e / base:>7.3f} {ray_e2e / local_e2e:>6.2f} {load:>5.1f}"
            )


def ray_row(
    base_url: str, rows: list[dict], concurrency: int, replicas: int, work: Path, local: tuple
) -> tuple:
    """(C, dialogues, baseline/s, local e2e/s, ray steady/s, ray e2e/s, 1-min load average after the Ray run)."""
    ray_s, _ = pipeline_run(base_url, rows, concurrency, replicas, work, ray=True)
    stats = server_stats(base_url, reset=True)
    steady = stats["last_response_at"] - stats["first_request_at"]
    _, n, base, _, _, local_e2e, _ = local
    return concurrency, n, base, local_e2e, n / steady, n / ray_s, os.getloadavg()[0]


if __name__ == "__main__":
    main()
