"""MiniLM feature variants on real seed texts: seeds/s and cosine to today's float32 vectors, measured in one run.

    python benchmarks/features.py                              # the bundled sample's pool (~2,044 seeds)
    python benchmarks/features.py --n 512 --variants fp32 bf16-64 --tfidf
    python benchmarks/features.py --seeds .cache/selection/seeds-ml-latest-small --n 500

The pool is built from pipelines/movies-sample.yaml in memory (or read from --seeds, a `revdial seeds` folder).
Baseline: float32, length-sorted batches of 32 (what `compute_features` did before bfloat16), encoded first in the
same process; every variant encodes the same texts after a one-batch warm-up, and prints seeds/s (wall), CPU seconds,
its speed as a ratio to the baseline's, the mean and minimum cosine of its vectors to the baseline's, the mean
overlap of each text's 10 nearest neighbours (among the N) with the baseline's, and the 1-minute load average before
and after it (the machine may be shared: ratios and CPU seconds are the comparable numbers). The last row is the
default path end to end: `compute_features(texts, "minilm")` on an empty cache (model load included). Nothing is
cached between rows.

Variants (`--variants`): fp32-32 (baseline, always run), fp32-64, autocast-64 (float32 weights under
torch.autocast(bfloat16)), bf16-32, bf16-64, bf16-128 (bfloat16 weights; the number is the batch size).
Not offered, measured before: int8 dynamic quantisation of the Linear layers (0.92 mean cosine); a 128-token limit.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ["fp32-32", "fp32-64", "autocast-64", "bf16-32", "bf16-64", "bf16-128"]


def pool_texts(seeds: str | None) -> list[str]:
    if seeds:
        import datasets

        return datasets.load_from_disk(seeds)["text"]
    from revdial.seeds.build import build_seeds

    return build_seeds(ROOT / "pipelines" / "movies-sample.yaml").seeds["text"]


def encode(encoder, texts: list[str], batch: int, autocast: bool = False) -> tuple[np.ndarray, float, float]:
    """Longest first in batches of `batch`: (vectors in input order, wall seconds, CPU seconds)."""
    import torch

    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), 384), np.float32)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    with ctx:
        encoder.encode(
            [texts[i] for i in order[:batch]]
        )  # warm-up: first-call allocations are not the steady state
        wall, cpu = time.perf_counter(), time.process_time()
        for s in range(0, len(texts), batch):
            idx = order[s : s + batch]
            out[idx] = encoder.encode([texts[i] for i in idx])
    return out, time.perf_counter() - wall, time.process_time() - cpu


def knn(X: np.ndarray, k: int = 10) -> np.ndarray:
    S = X @ X.T
    np.fill_diagonal(S, -np.inf)
    return np.argsort(-S, axis=1)[:, :k]


def row(name, n, wall, cpu, t_base, X, base, nn_base, load0) -> str:
    cos = (X * base).sum(1)
    overlap = np.mean([len(set(a) & set(b)) / a.size for a, b in zip(knn(X), nn_base)])
    return (
        f"{name:<24}{n / wall:>9.1f}{cpu:>8.1f}{t_base / wall:>8.2f}{cos.mean():>10.5f}{cos.min():>9.5f}"
        f"{overlap:>8.3f}{load0:>6.1f}{os.getloadavg()[0]:>6.1f}"
    )


def main() -> None:
    import torch

    from revdial.paths import minilm_path
    from revdial.selection.features import Encoder, compute_features, resolve_dtype

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", help="a `revdial seeds` folder (default: build the bundled sample's pool)")
    ap.add_argument("--n", type=int, default=0, help="a seeded random subset of this many texts (0: all)")
    ap.add_argument("--variants", nargs="+", default=VARIANTS[1:], choices=VARIANTS)
    ap.add_argument("--tfidf", action="store_true", help="also time tfidf on the whole pool (uncached)")
    args = ap.parse_args()
    pool = pool_texts(args.seeds)
    texts = pool
    if args.n and args.n < len(pool):
        idx = np.sort(np.random.default_rng(0).choice(len(pool), size=args.n, replace=False))
        texts = [pool[i] for i in idx]
    n = len(texts)
    fp32 = Encoder("st", minilm_path())
    ntok = np.array([len(fp32.model.tokenizer(t)["input_ids"]) for t in texts])
    print(
        f"# {n} seed texts: {np.mean([len(t) for t in texts]):.0f} chars mean; word pieces mean {ntok.mean():.0f}, "
        f"p90 {np.percentile(ntok, 90):.0f}, max {ntok.max()}, > {fp32.model.max_seq_length} (cut): "
        f"{(ntok > fp32.model.max_seq_length).mean():.1%}; torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads; native bf16: {resolve_dtype('auto') == 'bf16'}; {os.cpu_count()} CPUs"
    )
    print(
        f"{'variant':<24}{'seeds/s':>9}{'cpu s':>8}{'x base':>8}{'mean cos':>10}{'min cos':>9}{'10-NN':>8}"
        f"{'load':>6}{'->':>6}"
    )
    load0 = os.getloadavg()[0]
    base, t_base, c_base = encode(fp32, texts, 32)
    nn_base = knn(base)
    print(row("fp32-32 (baseline)", n, t_base, c_base, t_base, base, base, nn_base, load0), flush=True)
    bf16 = None
    for name in args.variants:
        kind, batch = name.split("-")
        if kind == "bf16":
            bf16 = bf16 or Encoder("st", minilm_path(), dtype="bf16")
        load0 = os.getloadavg()[0]
        X, wall, cpu = encode(
            bf16 if kind == "bf16" else fp32, texts, int(batch), autocast=kind == "autocast"
        )
        print(row(name, n, wall, cpu, t_base, X, base, nn_base, load0), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        load0 = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        X = compute_features(texts, "minilm", cache_dir=tmp, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    label = f"minilm default ({resolve_dtype('auto')})"
    print(
        row(label, n, wall, cpu, t_base, X, base, nn_base, load0)
        + "   (compute_features, model load included)"
    )
    if args.tfidf:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            X = compute_features(pool, "tfidf", cache_dir=tmp, progress=False)
            first = time.perf_counter() - started
        print(
            f"tfidf on {len(pool):,} texts -> {X.shape[1]}-d: {first:.1f} s ({len(pool) / first:,.0f} texts/s)"
        )


if __name__ == "__main__":
    main()
