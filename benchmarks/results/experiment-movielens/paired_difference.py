"""Paired difference of two LM rows on He et al.'s ReDial test: R@10 with mentioned items excluded, per (turn,
target) pair, dialogues resampled with replacement (the same draws for both rows).

    python benchmarks/results/experiment-movielens/paired_difference.py \
        benchmarks/results/experiment-movielens/reports/ablation-series-first-js-B1000--he2023-redial-781--penalty_openings.predictions.jsonl.gz \
        benchmarks/results/experiment-movielens/reports/zero-shot--he2023-redial-781--penalty_openings.predictions.jsonl.gz

A one-off analysis (session 9), not yet a revdial command: it reads the committed predictions and matches mentioned
items by title, so its means can differ from the reports' in the fourth decimal (0.0202 / 0.0067 against 0.0201 /
0.0067). Printed in session 9: pairs 892, difference +0.0135 [0.0043, 0.0236], P(diff <= 0) = 0.0035.
"""

from __future__ import annotations

import gzip
import json
import sys

import numpy as np

from revdial.crs.benchmarks import load_benchmark


def pair_hits(path: str, bench, k: int = 10) -> tuple[list[str], np.ndarray]:
    """(dialog id, hit@k) per (turn, target) pair whose target the context does not mention."""
    titles = bench.titles()
    with gzip.open(path, "rt") as handle:
        rows = [json.loads(line) for line in handle]
    if len(rows) != len(bench.turns):
        raise SystemExit(f"{path}: {len(rows)} predictions for {len(bench.turns)} turns")
    dialogs, hits = [], []
    for turn, row in zip(bench.turns, rows):
        if (row["dialog_id"], row["turn_id"]) != (turn.dialog_id, turn.turn_id):
            raise SystemExit(f"{path}: prediction for {row['dialog_id']}/{row['turn_id']} is out of order")
        mentioned = {titles.get(i, i) for i in turn.mentioned_ids}
        ranked = [t for t in row["ranked"] if t not in mentioned][:k]
        for target in (titles.get(i, i) for i in turn.target_ids):
            if target not in mentioned:
                dialogs.append(turn.dialog_id)
                hits.append(float(target in ranked))
    return dialogs, np.array(hits)


def main(first: str, second: str, n_resamples: int = 10_000, seed: int = 0) -> None:
    bench = load_benchmark("he2023-redial", None, limit=781)
    dialogs, a = pair_hits(first, bench)
    _, b = pair_hits(second, bench)
    _, index = np.unique(dialogs, return_inverse=True)
    sum_a, sum_b, pairs = np.bincount(index, a), np.bincount(index, b), np.bincount(index)
    draws = np.random.default_rng(seed).integers(0, len(pairs), (n_resamples, len(pairs)))
    counts = np.stack([np.bincount(d, minlength=len(pairs)) for d in draws])
    diffs = (counts @ sum_a - counts @ sum_b) / (counts @ pairs)
    low, high = np.percentile(diffs, [2.5, 97.5])
    print(f"pairs {len(a)}  R@10 {a.mean():.4f} vs {b.mean():.4f}")
    print(
        f"difference {a.mean() - b.mean():+.4f} [{low:.4f}, {high:.4f}]  P(diff <= 0) = {(diffs <= 0).mean():.4f}"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
