"""Speed of the CRS stage on this machine: evaluation throughput and a LoRA epoch, with the 135M student.

Claims (issue 6): 500 ReDial turns at K = 20 evaluate within 15 minutes; a LoRA epoch over 1,000 rows trains within
15 minutes. Each measurement prints wall time, the per-unit rate, the projection to the claimed size, and the ratio
to a baseline measured in the same process (eval: transformers' batched generate in bf16 against the default
llama.cpp backend on the student's Q8_0 GGUF export; training: full fine-tuning against LoRA).

    python benchmarks/crs.py                          # the claimed sizes: 500 turns, 1,000 rows
    python benchmarks/crs.py --turns 64 --rows 128    # a quick look; projections scale the measured rate
    python benchmarks/crs.py --dataset runs/movies-sample   # train on a synthesized Distiset (rows repeated to --rows)

Training rows default to ReDial train-split turns in the evaluation prompt format (longer than synthetic rows,
so a pessimistic stand-in). The machine is shared: the load average is printed next to every number.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def time_eval(turns: int, k: int, backend: str, batch_size: int = 32) -> tuple[float, dict]:
    from revdial.crs.benchmarks import load_benchmark
    from revdial.crs.evaluate import GenerationOptions, evaluate

    bench = load_benchmark("redial", limit=turns)
    started = time.perf_counter()
    report, _ = evaluate(
        "revdial://smollm2-135m-instruct",
        bench,
        GenerationOptions(k=k, batch_size=batch_size, dtype="bfloat16", backend=backend, decoding="greedy"),
        n_resamples=100,
    )
    return time.perf_counter() - started, report


def eval_shaped_rows(n: int, k: int = 20) -> list[dict]:
    """n rows shaped like what issue 14's students train on: the eval system prompt, a one-line request naming two
    liked titles, and a numbered list of k "Title (Year)" lines (~230 tokens with SmolLM2's tokenizer)."""
    import random

    import pandas as pd

    from revdial.crs.evaluate import system_prompt
    from revdial.paths import DATA_DIR

    titles = pd.read_json(DATA_DIR / "movies_sample" / "items.jsonl.gz", lines=True)["title"].tolist()
    rng = random.Random(0)
    rows = []
    for _ in range(n):
        liked, answer = rng.sample(titles, 2), rng.sample(titles, k)
        rows.append(
            {
                "prompt": [
                    {"role": "system", "content": system_prompt(k, "movie")},
                    {
                        "role": "user",
                        "content": f"I loved {liked[0]} and {liked[1]}. What else would I like?",
                    },
                ],
                "completion": [
                    {
                        "role": "assistant",
                        "content": "\n".join(f"{i}. {t}" for i, t in enumerate(answer, start=1)),
                    }
                ],
            }
        )
    return rows


def time_train(rows: int, use_peft: bool, dataset: str | None, overrides: tuple[str, ...] = ()) -> float:
    from datasets import Dataset, DatasetDict

    from revdial.crs.benchmarks import load_benchmark, shared_data_dir
    from revdial.crs.experiment import sft_rows
    from revdial.crs.train import build_trainer, parse_recipe

    work = Path(tempfile.mkdtemp(prefix="crs-bench-"))
    if dataset is None:
        train_split = shared_data_dir() / "redial/train_split_partial/train_split_union.jsonl.gz"
        data = sft_rows(load_benchmark("redial", train_split, limit=rows))
        DatasetDict({"train": Dataset.from_list(data)}).save_to_disk(str(work / "data" / "default"))
        dataset = str(work / "data")
    recipe = (
        ROOT / "recipes/smollm2-135m-instruct/sft" / ("config_lora.yaml" if use_peft else "config_full.yaml")
    )
    args = parse_recipe(
        recipe,
        [
            "--dataset_name",
            dataset,
            "--output_dir",
            str(work / "model"),
            "--num_train_epochs",
            "1",
            "--logging_steps",
            "1000",
            *overrides,
        ],
    )
    trainer, _ = build_trainer(*args)
    # A small synthesized set is repeated up to `rows`: the epoch's cost is per row, and the rows keep their real lengths.
    tokenized = trainer.train_dataset
    if len(tokenized) < rows:
        from datasets import concatenate_datasets

        tokenized = concatenate_datasets([tokenized] * -(-rows // len(tokenized)))
    trainer.train_dataset = tokenized.select(range(rows))
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--baseline-turns", type=int, default=32)
    parser.add_argument("--baseline-rows", type=int, default=32)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument(
        "--train-variants",
        action="store_true",
        help="LoRA rows/s on eval-shaped rows (<= 256 tokens): fp32 baseline vs bf16 autocast, "
        "bf16 weights, padding-free packing and batch size, in one process",
    )
    args = parser.parse_args()

    print(f"cores: {os.cpu_count()}  load before: {load()}")
    if args.train_variants:
        return train_variants(args.rows)
    table = []
    if not args.skip_eval:
        base_s, _ = time_eval(args.baseline_turns, args.k, "transformers", args.batch_size)
        base_rate = base_s / args.baseline_turns
        table.append(
            (
                f"eval baseline (transformers bf16, batch {args.batch_size})",
                args.baseline_turns,
                base_s,
                base_rate,
                500,
                load(),
            )
        )
        wall, report = time_eval(args.turns, args.k, "llamacpp")
        rate = wall / args.turns
        table.append((f"eval (llama.cpp Q8_0, 8 slots, K={args.k})", args.turns, wall, rate, 500, load()))
        print(
            f"eval: transformers/llama.cpp time per turn = {base_rate / rate:.2f}x; "
            f"unmatched titles {report['grounding']['unmatched_titles']}/{report['grounding']['titles_parsed']}"
        )
    if not args.skip_train:
        full_s = time_train(args.baseline_rows, False, args.dataset)
        table.append(
            (
                "train baseline (full FT, 1 epoch)",
                args.baseline_rows,
                full_s,
                full_s / args.baseline_rows,
                1000,
                load(),
            )
        )
        lora_s = time_train(args.rows, True, args.dataset)
        table.append(("train LoRA (1 epoch)", args.rows, lora_s, lora_s / args.rows, 1000, load()))
        print(f"train: full/LoRA time per row = {(full_s / args.baseline_rows) / (lora_s / args.rows):.2f}x")

    print(f"\n{'measurement':40} {'n':>6} {'wall s':>9} {'s/unit':>8} {'projected':>18} {'load':>15}")
    for name, n, wall, per, target, at in table:
        projected = f"{per * target / 60:.1f} min @{target}"
        print(f"{name:40} {n:>6} {wall:>9.1f} {per:>8.2f} {projected:>18} {at:>15}")


TRAIN_VARIANTS = {
    "fp32, batch 4x2 (baseline)": ("--use_cpu", "true"),
    "bf16 autocast": ("--use_cpu", "true", "--bf16", "true"),
    "bf16 weights + autocast": ("--use_cpu", "true", "--bf16", "true", "--dtype", "bfloat16"),
    # the experiment's setting (pipelines/experiment-movielens.yaml): LoRA dropout's Bernoulli masks and multiplies
    # were ~10% of a profiled step
    "bf16 weights + autocast, no LoRA dropout": (
        "--use_cpu",
        "true",
        "--bf16",
        "true",
        "--dtype",
        "bfloat16",
        "--lora_dropout",
        "0",
    ),
    "bf16 autocast, batch 8x1": (
        "--use_cpu",
        "true",
        "--bf16",
        "true",
        "--per_device_train_batch_size",
        "8",
        "--gradient_accumulation_steps",
        "1",
    ),
    "bf16 autocast, packed (bfd, padding-free)": (
        "--use_cpu",
        "true",
        "--bf16",
        "true",
        "--packing",
        "true",
        "--packing_strategy",
        "bfd",
        "--padding_free",
        "true",
        "--per_device_train_batch_size",
        "8",
        "--gradient_accumulation_steps",
        "1",
    ),
}


def train_variants(rows: int) -> None:
    """LoRA rows/s per variant on the same eval-shaped rows; each variant's ratio to the fp32 baseline."""
    from datasets import Dataset, DatasetDict

    work = Path(tempfile.mkdtemp(prefix="crs-variants-"))
    DatasetDict({"train": Dataset.from_list(eval_shaped_rows(rows))}).save_to_disk(str(work / "default"))
    results = []
    for name, overrides in TRAIN_VARIANTS.items():
        wall = time_train(rows, True, str(work), ("--max_length", "256", *overrides))
        results.append((name, rows / wall, load()))
        print(f"{name:40} {rows / wall:6.2f} rows/s  (load {load()})", flush=True)
    base = results[0][1]
    print(f"\n{'LoRA variant (<= 256 tokens)':40} {'rows/s':>7} {'x baseline':>10} {'load':>15}")
    for name, rate, at in results:
        print(f"{name:40} {rate:>7.2f} {rate / base:>10.2f} {at:>15}")


if __name__ == "__main__":
    sys.exit(main())
