"""Dialogue throughput of the synthesis pipeline against a bare asyncio client, on a loopback OpenAI-compatible
server with a fixed per-request latency (tests/fakes/server.py, in its own process).

    python benchmarks/generation.py [--latency 0.5] [--concurrency 8 64 256] [--dialogues-per-slot 8] [--ray]

A dialogue is two dependent requests (the user request, then the recommendation). The baseline sends them with
`openai.AsyncOpenAI` under a semaphore of C; the pipeline runs the generation half of `build_pipeline` (PII scrub,
request generation, recommendation generation, grounding, curation, SFT formatting) with `batch_size`, which
is how a user sets its concurrency: both LLM steps run at once (request generation for one batch while the previous
batch gets its answers), so each gets C/2 (C/(2 x replicas) per replica) to keep at most C requests in flight, as
the baseline. Throughput is dialogues/s; "steady" counts from the server's first request to
its last response (excludes distilabel's process start-up), "end-to-end" is the whole `pipeline.run()`.

`--ray` (needs `pip install -e '.[ray]'`) runs the same pipeline a third time with `run_plan(ray=True)`, on the
loopback-only local Ray cluster `revdial synthesize --ray` starts (its start and stop counted in end-to-end), and
prints its dialogues/s beside the local pipeline's and the bare client's, with the load average of the run.
"""

import argparse
import asyncio
import json
import os
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

    from revdial.generation.prompts import render, sample_styles
    from revdial.generation.tasks import mask_title
    from revdial.seeds.render import render_seed

    async def run() -> None:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=60)
        gate = asyncio.Semaphore(concurrency)

        async def dialogue(row: dict) -> None:
            style = sample_styles(row["seed_id"], 1)[0]
            seed_text = mask_title(render_seed(row), row["title"], "this movie")
            variables = {
                "item_noun": "movie",
                "seed_text": seed_text,
                "title": row["title"],
                "history_liked": row["history_liked"],
                "history_disliked": row["history_disliked"],
            }
            chat = [
                {"role": "system", "content": render("request_system", item_noun="movie")},
                {
                    "role": "user",
                    "content": render(
                        "request", style_instruction=render(f"style_{style}", **variables), **variables
                    ),
                },
            ]
            async with gate:
                first = await client.chat.completions.create(model="m", messages=chat, max_tokens=128)
            request = first.choices[0].message.content
            prompt = render(
                "recommend",
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
                        {"role": "system", "content": render("recommend_system", item_noun="movie")},
                        {"role": "user", "content": prompt},
                    ],
                )

        await asyncio.gather(*(dialogue(row) for row in rows))
        await client.close()

    started = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - started


def pipeline_run(
    base_url: str, rows: list[dict], concurrency: int, replicas: int, work: Path, ray: bool = False
) -> float:
    import datasets

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
    started = time.perf_counter()
    run_plan(plan, echo, out, quiet=True, upstream=upstream, started=started, ray=ray)
    elapsed = time.perf_counter() - started
    kept = len(datasets.load_from_disk(str(out / "default"))["train"])
    assert kept > 0.9 * len(rows), f"only {kept} of {len(rows)} dialogues kept"
    return elapsed


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
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    process, base_url = serve_in_process(args.latency)
    results, ray_rows = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for concurrency in args.concurrency:
                rows = seed_rows(concurrency * args.dialogues_per_slot)
                server_stats(base_url, reset=True)
                base_s = baseline(base_url, rows, concurrency)
                base_stats = server_stats(base_url, reset=True)
                pipe_s = pipeline_run(base_url, rows, concurrency, args.replicas, Path(tmp))
                pipe_stats = server_stats(base_url, reset=True)
                steady = pipe_stats["last_response_at"] - pipe_stats["first_request_at"]
                base_steady = base_stats["last_response_at"] - base_stats["first_request_at"]
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
    ray_s = pipeline_run(base_url, rows, concurrency, replicas, work, ray=True)
    stats = server_stats(base_url, reset=True)
    steady = stats["last_response_at"] - stats["first_request_at"]
    _, n, base, _, _, local_e2e, _ = local
    return concurrency, n, base, local_e2e, n / steady, n / ray_s, os.getloadavg()[0]


if __name__ == "__main__":
    main()
