"""MiniLM feature variants on real seed texts: seeds/s and cosine to today's float32 vectors, measured in one run.

    python benchmarks/features.py                              # the bundled sample's pool (~2,044 seeds)
    python benchmarks/features.py --n 512 --variants fp32 bf16-64 --tfidf
    python benchmarks/features.py --seeds .cache/selection/seeds-ml-latest-small --n 500

The pool is built from pipelines/movies-sample.yaml in memory (or read from --seeds, a `revdial seeds` folder).
Baseline: float32, length-sorted batches of 32 (what `compute_features` did before bfloat16), encoded first in the
same process; every variant encodes the same texts after a one-batch warm-up, and prints seeds/s (wall), CPU seconds
(all threads), seeds per CPU second, its wall speed as a ratio to the baseline's, the mean and minimum cosine of its
vectors to the baseline's, the mean overlap of each text's 10 nearest neighbours (among the N) with the baseline's,
and the 1-minute load average before and after it (the machine may be shared: CPU seconds and seeds per CPU second
are the numbers the load moves least; on a quiet machine seeds/s is about threads x seeds per CPU second). The last
row is the default path end to end: `compute_features(texts, "minilm")` on an empty cache (model load included).
Nothing is cached between rows.

Variants (`--variants`, KIND-BATCH[-unsorted]; the number is the batch size):
  torch:    fp32-32 (baseline, always run), fp32-64, autocast-64 (float32 weights under torch.autocast(bfloat16)),
            bf16-32, bf16-64, bf16-128 (bfloat16 weights);
  openvino: ov-bf16-64, ov-bf16-128 (bfloat16 inference on AMX/AVX512-BF16; one one-thread stream per thread, each
            on its share of the batch), ov1-bf16-64 (one stream of all the threads), ov-fp32-64;
  onnx:     onnx-fp32-32, onnx-fp32-64 (ONNX Runtime, the graph with its BERT fusions, float32);
  -unsorted: the same texts in pool order instead of longest first (batches pad to their longest text).
The OpenVINO and ONNX Runtime variants run the model exported once into revdial's cache (`export_onnx`: the export
is not timed); a variant whose package is not installed is skipped with a line saying so. `--threads N` sets
torch.set_num_threads(N) first; OpenVINO and ONNX Runtime take the same number of threads.
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
BASE = ["fp32-32", "fp32-64", "autocast-64", "bf16-32", "bf16-64", "bf16-128"]
BASE += ["ov-bf16-64", "ov-bf16-128", "ov1-bf16-64", "ov-fp32-64", "onnx-fp32-32", "onnx-fp32-64"]
VARIANTS = BASE + [f"{v}-unsorted" for v in BASE]
DEFAULT = ["bf16-128", "ov-bf16-64", "ov-bf16-128", "ov1-bf16-64", "ov-fp32-64", "onnx-fp32-32"]
BACKEND = {"ov": "openvino", "ov1": "openvino", "onnx": "onnx"}


def pool_texts(seeds: str | None) -> list[str]:
    if seeds:
        import datasets

        return datasets.load_from_disk(seeds)["text"]
    from revdial.seeds.build import build_seeds

    return build_seeds(ROOT / "pipelines" / "movies-sample.yaml").seeds["text"]


def encode(
    encoder, texts: list[str], batch: int, autocast: bool = False, ordered: bool = True
) -> tuple[np.ndarray, float, float]:
    """Longest first (or in pool order) in batches of `batch`: (vectors in input order, wall s, CPU s)."""
    import torch

    order = np.argsort([-len(t) for t in texts], kind="stable") if ordered else np.arange(len(texts))
    out = np.zeros((len(texts), 384), np.float32)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    with ctx:
        # warm-up: first-call allocations (and OpenVINO's first shapes) are not the steady state
        encoder.encode([texts[i] for i in order[:batch]])
        wall, cpu = time.perf_counter(), time.process_time()
        for s in range(0, len(texts), batch):
            idx = order[s : s + batch]
            out[idx] = encoder.encode([texts[i] for i in idx])
    return out, time.perf_counter() - wall, time.process_time() - cpu


def parse_variant(name: str) -> tuple[str, str, int, bool]:
    """'ov-bf16-64-unsorted' -> (backend 'openvino', kind 'bf16', batch 64, ordered False)."""
    ordered = not name.endswith("-unsorted")
    parts = name.removesuffix("-unsorted").split("-")
    backend = BACKEND.get(parts[0], "torch")
    return backend, parts[-2], int(parts[-1]), ordered


def knn(X: np.ndarray, k: int = 10) -> np.ndarray:
    S = X @ X.T
    np.fill_diagonal(S, -np.inf)
    return np.argsort(-S, axis=1)[:, :k]


def row(name, n, wall, cpu, t_base, X, base, nn_base, load0) -> str:
    cos = (X * base).sum(1)
    overlap = np.mean([len(set(a) & set(b)) / a.size for a, b in zip(knn(X), nn_base)])
    return (
        f"{name:<24}{n / wall:>9.1f}{cpu:>8.1f}{n / cpu:>8.1f}{t_base / wall:>8.2f}{cos.mean():>10.5f}{cos.min():>9.5f}"
        f"{overlap:>8.3f}{load0:>6.1f}{os.getloadavg()[0]:>6.1f}"
    )


def main() -> None:
    import torch

    from revdial.paths import minilm_path
    from revdial.selection.features import (
        BACKEND_PACKAGES,
        Encoder,
        OpenVINORunner,
        backend_installed,
        backend_version,
        compute_features,
        export_onnx,
        resolve_dtype,
        resolve_minilm,
    )

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", help="a `revdial seeds` folder (default: build the bundled sample's pool)")
    ap.add_argument("--n", type=int, default=0, help="a seeded random subset of this many texts (0: all)")
    ap.add_argument("--variants", nargs="+", default=DEFAULT, choices=VARIANTS, metavar="VARIANT")
    ap.add_argument("--tfidf", action="store_true", help="also time tfidf on the whole pool (uncached)")
    ap.add_argument(
        "--threads", type=int, default=0, help="torch.set_num_threads(N) first (0: torch's default)"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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
        f"threads; native bf16: {resolve_dtype('auto') == 'bf16'}; {os.cpu_count()} CPUs; "
        + ", ".join(
            f"{b}: {backend_version(b) if backend_installed(b) else 'not installed'}"
            for b in ("openvino", "onnx")
        )
    )
    print(
        f"{'variant':<24}{'seeds/s':>9}{'cpu s':>8}{'/cpu s':>8}{'x base':>8}{'mean cos':>10}{'min cos':>9}{'10-NN':>8}"
        f"{'load':>6}{'->':>6}"
    )
    load0 = os.getloadavg()[0]
    base, t_base, c_base = encode(fp32, texts, 32)
    nn_base = knn(base)
    print(row("fp32-32 (baseline)", n, t_base, c_base, t_base, base, base, nn_base, load0), flush=True)
    encoders = {("torch", "fp32"): fp32}
    for name in args.variants:
        backend, kind, batch, ordered = parse_variant(name)
        if not backend_installed(backend):
            print(f"{name:<24}skipped: needs {', '.join(BACKEND_PACKAGES[backend])}", flush=True)
            continue
        dtype = "fp32" if kind == "autocast" else kind
        key = ("ov1" if name.startswith("ov1-") else backend, dtype)
        if key not in encoders:
            encoders[key] = Encoder("st", minilm_path(), dtype=dtype, backend=backend)
            if name.startswith("ov1-"):  # one stream of all the threads instead of one stream per thread
                path = export_onnx(minilm_path())
                encoders[key].runner = OpenVINORunner(path, dtype, torch.get_num_threads(), streams=1)
        enc = encoders[key]
        if enc.runner is not None:  # the variant's batch, split over the runner's streams
            enc.runner.rows = -(-batch // enc.runner.streams)
        load0 = os.getloadavg()[0]
        X, wall, cpu = encode(enc, texts, batch, kind == "autocast", ordered)
        print(row(name, n, wall, cpu, t_base, X, base, nn_base, load0), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        load0 = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        X = compute_features(texts, "minilm", cache_dir=tmp, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    label = "default: {}-{}".format(*resolve_minilm({"dtype": "auto", "backend": "auto"}))
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
