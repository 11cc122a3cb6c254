"""Which evaluation decoding gives a small model K distinct titles: greedy vs penalty vs distinct vs sample.

    python benchmarks/eval_decoding.py --benchmark redial \
        --data ../shared/data/redial/train_split_partial/kgsf_valid_data.jsonl.gz --limit 120 --out DIR

Validation data only (ReDial train-split files, INSPIRED dev): design choices are never made on He et al.'s tests.
Prints, per decoding: mean distinct grounded titles per answer, share of answers with K, R@10 in both settings,
s/turn and the machine's load (timings on a shared CPU are noisy; compare quality first).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from revdial.crs.benchmarks import load_benchmark
from revdial.crs.evaluate import GenerationOptions, evaluate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="revdial://smollm2-135m-instruct")
    parser.add_argument("--benchmark", default="redial")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--limit", type=int, default=120)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--decodings", default="greedy,penalty,distinct,sample")
    parser.add_argument(
        "--threads", type=int, default=2, help="llama.cpp threads (1 avoids the barrier on a busy CPU)"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    bench = load_benchmark(args.benchmark, args.data, limit=args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    for decoding in args.decodings.split(","):
        load = os.getloadavg()[0]
        started = time.perf_counter()
        report, rows = evaluate(
            args.model,
            bench,
            GenerationOptions(k=args.k, decoding=decoding, n_threads=args.threads),
            progress=False,
            n_resamples=200,
        )
        seconds = time.perf_counter() - started
        (args.out / f"{decoding}.json").write_text(json.dumps(report, indent=2))
        (args.out / f"{decoding}.predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        g, m = report["grounding"], report["metrics"]
        print(
            f"{decoding:9s} turns={report['n_turns']} pairs={report['n_pairs']} "
            f"distinct_grounded={g['mean_list_length']:.2f} reach_K={g['turns_with_k_grounded_items'] / report['n_turns']:.2f} "
            f"unmatched={g['unmatched_rate']:.2f} "
            f"R@10 all={m['all_items']['recall@10']['mean']:.4f} excl={m['exclude_mentioned']['recall@10']['mean']:.4f} "
            f"calls/turn={report['generation']['decode_cost'].get('calls_per_turn', 0):.1f} "
            f"s/turn={seconds / report['n_turns']:.2f} load(start,end)={load:.1f},{os.getloadavg()[0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
