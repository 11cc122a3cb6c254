"""Feature extractors on real seed texts: MiniLM fp32 vs int8 (dynamic quantisation) vs a shorter max length, and
TF-IDF on the whole pool.

    python benchmarks/features.py --seeds .cache/selection/seeds-ml-latest-small --n 500 [--tfidf]

Prints texts/s per variant and its ratio to fp32 (same process, same texts, length-sorted batches of 32), the mean
and minimum cosine between each variant's embedding and fp32's, and neighbour agreement: the mean overlap of each
text's 10 nearest neighbours (among the N) under the variant and under fp32. Nothing is cached.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def encode(encoder, texts: list[str], batch: int = 32) -> tuple[np.ndarray, float]:
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), 384), np.float32)
    encoder.encode(texts[:batch])  # warm-up: first-call allocations are not the steady state
    started = time.perf_counter()
    for s in range(0, len(texts), batch):
        idx = order[s : s + batch]
        out[idx] = encoder.encode([texts[i] for i in idx])
    return out, time.perf_counter() - started


def knn(X: np.ndarray, k: int = 10) -> np.ndarray:
    S = X @ X.T
    np.fill_diagonal(S, -np.inf)
    return np.argsort(-S, axis=1)[:, :k]


def main() -> None:
    import datasets
    import torch

    from revdial.paths import minilm_path
    from revdial.selection.features import Encoder, compute_features

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default=".cache/selection/seeds-ml-latest-small")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--tfidf", action="store_true", help="also time tfidf on the whole pool (uncached)")
    args = ap.parse_args()
    ds = datasets.load_from_disk(args.seeds)
    idx = np.sort(np.random.default_rng(0).choice(len(ds), size=min(args.n, len(ds)), replace=False))
    texts = ds.select(idx)["text"]
    fp32 = Encoder("st", minilm_path())
    ntok = np.array([len(fp32.model.tokenizer(t)["input_ids"]) for t in texts])
    print(
        f"# {len(texts)} seed texts from {args.seeds}: {np.mean([len(t) for t in texts]):.0f} chars mean; tokens "
        f"mean {ntok.mean():.0f}, p90 {np.percentile(ntok, 90):.0f}, max {ntok.max()}; "
        f"> 128 tokens: {(ntok > 128).mean():.0%}; torch threads {torch.get_num_threads()}"
    )
    base, t_base = encode(fp32, texts)
    short = Encoder("st", minilm_path())
    short.model.max_seq_length = 128
    int8 = Encoder("st", minilm_path())
    # int8 weights, activations quantised per batch: CPU only, no calibration data
    int8.model = torch.ao.quantization.quantize_dynamic(int8.model, {torch.nn.Linear}, dtype=torch.qint8)
    nn_base = knn(base)
    unsorted = np.zeros_like(base)
    started = time.perf_counter()
    for s in range(0, len(texts), 32):  # the input order: each batch pads to its longest text
        unsorted[s : s + 32] = fp32.encode(texts[s : s + 32])
    t_unsorted = time.perf_counter() - started
    print(f"{'variant':<22}{'texts/s':>9}{'x fp32':>8}{'mean cos':>10}{'min cos':>9}{'10-NN overlap':>15}")
    print(
        f"{'minilm fp32 (256 tok)':<22}{len(texts) / t_base:>9.1f}{1.0:>8.2f}{1.0:>10.4f}{1.0:>9.4f}{1.0:>15.3f}"
    )
    print(
        f"{'fp32, input order':<22}{len(texts) / t_unsorted:>9.1f}{t_base / t_unsorted:>8.2f}"
        f"{(unsorted * base).sum(1).mean():>10.4f}{(unsorted * base).sum(1).min():>9.4f}{'':>15}"
    )
    for name, enc in (("minilm fp32 (128 tok)", short), ("minilm-int8 (256 tok)", int8)):
        X, t = encode(enc, texts)
        cos = (X * base).sum(1)
        overlap = np.mean([len(set(a) & set(b)) / a.size for a, b in zip(knn(X), nn_base)])
        print(
            f"{name:<22}{len(texts) / t:>9.1f}{t_base / t:>8.2f}{cos.mean():>10.4f}{cos.min():>9.4f}{overlap:>15.3f}"
        )
    if args.tfidf:
        import tempfile

        pool = ds["text"]
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            X = compute_features(pool, "tfidf", cache_dir=tmp, progress=False)
            first = time.perf_counter() - started
            started = time.perf_counter()
            compute_features(pool, "tfidf", cache_dir=tmp, progress=False)
            again = time.perf_counter() - started
        print(
            f"tfidf on {len(pool):,} texts -> {X.shape[1]}-d: {first:.1f} s ({len(pool) / first:,.0f} texts/s); "
            f"cached rerun {again:.2f} s"
        )


if __name__ == "__main__":
    main()
