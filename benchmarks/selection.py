"""Selection strategies at scale: time and peak memory per strategy and pool size, and fast-vs-exact objective.

    python benchmarks/selection.py                                  # N = 10k, 100k, 1M; d = 384; B = 10k
    python benchmarks/selection.py --sizes 10000 100000 --skip-compare
    python benchmarks/selection.py --sizes 0 --compare-n 100000 --compare-budget 1000   # objective ratios only
    python benchmarks/selection.py --sizes 0 --memmap-n 10000000 --skip-compare         # 10M float16, memory-mapped
    python benchmarks/selection.py --sizes 0 --memmap-n 10000000 --skip-compare --delete-pool   # ... then delete it

Pools are clustered random unit vectors (200 Gaussian clusters on the unit sphere, float32), generated in the
worker. Every (strategy, N) runs in a fresh subprocess so peak RSS values do not mix; "peak RSS" is the worker's
ru_maxrss and includes the pool itself ("pool MB"). The objective table runs fast and exact mode on one pool in one
process and prints fast/exact: log det(I + Σ xxᵀ/λ) for fisher, generalised JS divergence H(mean p) − mean H(p) of the
selection's soft assignments for js, exact/fast covering radius for kcenter (lower radius is better, so the ratio
is < 1 when fast is worse). Hybrid normalises its two gains per pick, so it maximises no closed-form set function;
its objective here is the same weighting applied to the two set objectives, each relative to exact hybrid's
selection S*: w·JS(S)/JS(S*) + (1 − w)·logdet(S)/logdet(S*) (w = hybrid's default weight, 0.5), printed as the
"combined" row (exact = 1 by construction) under the two component rows. Random's fraction of each exact objective
is the baseline.

`--memmap-n N` adds rows on an N-row float16 pool (the same generator, written block by block to a .npy file under
`--pool-dir`, default revdial's cache_dir()/benchmarks, and opened with `np.load(mmap_mode="r")`): created once (the
time is printed), reused by later runs, deleted after the run with `--delete-pool`. Its peak RSS counts the pages of
the mapped file that the worker read (file-backed, shared with the page cache) as well as its own memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STRATEGY_NAMES = ["random", "js", "fisher", "kcenter", "hybrid"]


def fill_pool(X: np.ndarray, seed: int = 0, clusters: int = 200, block: int = 65536) -> np.ndarray:
    """Write clustered unit vectors into X (any float array, a memmap too), block by block."""
    n, d = X.shape
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, d)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    for s in range(0, n, block):
        m = min(block, n - s)
        x = centers[rng.integers(0, clusters, m)] + 0.6 / np.sqrt(d) * rng.standard_normal(
            (m, d), dtype=np.float32
        )
        X[s : s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return X


def make_pool(n: int, d: int, seed: int = 0) -> np.ndarray:
    return fill_pool(np.empty((n, d), np.float32), seed)


def pool_file(folder: str | None, n: int, d: int, seed: int) -> Path:
    """The float16 pool's .npy file, created once (block by block, through a memmap) and then reused."""
    from revdial.paths import cache_dir

    path = Path(folder or cache_dir() / "benchmarks") / f"selection-pool-f16-{n}x{d}-seed{seed}.npy"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{path.name}")
        started = time.perf_counter()
        X = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(n, d))
        fill_pool(X, seed)
        X.flush()
        del X
        tmp.rename(path)  # a killed run leaves no half pool under the final name
        print(
            f"# created {path} ({path.stat().st_size / 2**30:.1f} GiB) in {time.perf_counter() - started:.0f} s"
        )
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker_time(args) -> dict:
    from revdial.selection.strategies import STRATEGIES

    X = np.load(args.pool, mmap_mode="r") if args.pool else make_pool(args.n, args.dim, seed=args.seed)
    pool_mb = X.nbytes / 2**20
    t, c = time.perf_counter(), time.process_time()
    sel = STRATEGIES[args.strategy](X, args.budget, seed=args.seed, mode=args.mode)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    assert len(set(sel.order.tolist())) == min(args.budget, args.n)
    return {
        "strategy": args.strategy,
        "n": args.n,
        "budget": args.budget,
        "mode": args.mode,
        "dtype": f"{X.dtype}{' memmap' if args.pool else ''}",
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "pool_mb": pool_mb,
    }


def objectives(X: np.ndarray, order: np.ndarray, seed: int, centroids: np.ndarray) -> dict:
    from revdial.selection.strategies.fisher import logdet_gain
    from revdial.selection.strategies.js import set_divergence, soft_assign
    from revdial.selection.strategies.kcenter import covering_radius

    return {
        "logdet": logdet_gain(X, order),
        "js": set_divergence(soft_assign(X[order], centroids, 0.05)),
        "radius": covering_radius(X, order),
    }


def worker_compare(args) -> dict:
    from revdial.selection.strategies import STRATEGIES
    from revdial.selection.strategies.js import kmeans_centroids

    X = make_pool(args.n, args.dim, seed=args.seed)
    centroids = kmeans_centroids(X, 100, args.seed)  # what js/hybrid fit internally (same K, seed)
    out = {"strategy": args.strategy, "n": args.n, "budget": args.budget}
    for mode in ("fast", "exact") if args.strategy != "random" else ("fast",):
        t = time.perf_counter()
        sel = STRATEGIES[args.strategy](X, args.budget, seed=args.seed, mode=mode)
        out[f"{mode}_seconds"] = time.perf_counter() - t
        out[mode] = objectives(X, sel.order, args.seed, centroids)
    return out


def hybrid_weight() -> float:
    """hybrid's default `weight` (the w of its combined objective), read from its signature."""
    import inspect

    from revdial.selection.strategies import hybrid

    return float(inspect.signature(hybrid).parameters["weight"].default)


def spawn(kind: str, **kw) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind] + [
        f"--{k.replace('_', '-')}={v}" for k, v in kw.items()
    ]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        return {
            "error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit {res.returncode}"
        }
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--budget", type=int, default=10_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--strategies", nargs="+", default=STRATEGY_NAMES)
    p.add_argument("--mode", default="fast")
    p.add_argument("--compare-n", type=int, default=100_000)
    p.add_argument(
        "--compare-budget",
        type=int,
        default=1_000,
        help="B for the fast/exact comparison (exact greedy at B = 10k on 100k takes ~15 min per strategy)",
    )
    p.add_argument("--skip-compare", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write every row here")
    p.add_argument("--memmap-n", type=int, default=0, help="also time an N-row float16 memory-mapped pool")
    p.add_argument("--pool-dir", help="where the memmap pool lives (default: revdial cache_dir()/benchmarks)")
    p.add_argument("--delete-pool", action="store_true", help="delete the memmap pool after the run")
    p.add_argument("--worker", choices=["time", "compare"], help=argparse.SUPPRESS)
    p.add_argument("--pool", default="", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--strategy", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker_time(args) if args.worker == "time" else worker_compare(args)))
        return

    rows, cmp_rows = [], []
    print(
        f"# time and peak RSS, mode={args.mode}, d={args.dim}, B={args.budget} (one subprocess per cell); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        "# wall = elapsed seconds; cpu = the worker's CPU seconds (strategies run one BLAS/OpenMP thread, so cpu"
    )
    print("# is what an idle core would take, and is less disturbed by other processes on a shared machine)")
    print(
        f"{'strategy':<9} {'N':>9} {'B':>6} {'wall s':>9} {'cpu s':>8} {'peak RSS MB':>12} {'pool MB':>8} "
        f"{'RSS - pool':>11} {'load':>5} {'pool':<15}"
    )
    cells = [(n, "") for n in args.sizes if n > 0]
    if args.memmap_n > 0:
        path = pool_file(args.pool_dir, args.memmap_n, args.dim, args.seed)
        cells.append((args.memmap_n, str(path)))
    for n, pool in cells:
        for name in args.strategies:
            load = os.getloadavg()[0]
            r = spawn(
                "time",
                n=n,
                strategy=name,
                budget=args.budget,
                dim=args.dim,
                mode=args.mode,
                seed=args.seed,
                pool=pool,
            )
            rows.append(r)
            if "error" in r:
                print(f"{name:<9} {n:>9} ERROR {r['error']}", flush=True)
                continue
            r["load"] = load
            print(
                f"{name:<9} {n:>9} {r['budget']:>6} {r['seconds']:>9.2f} {r['cpu_seconds']:>8.2f} {r['peak_rss_mb']:>12.0f} "
                f"{r['pool_mb']:>8.0f} {r['peak_rss_mb'] - r['pool_mb']:>11.0f} {load:>5.1f} {r['dtype']:<15}",
                flush=True,
            )
    if args.memmap_n > 0 and args.delete_pool:
        Path(cells[-1][1]).unlink()
        print(f"# deleted {cells[-1][1]}")
    by = {(r["strategy"], r["n"]): r for r in rows if "error" not in r}
    sizes = sorted({r["n"] for r in by.values()})
    if len(sizes) > 1:
        print(f"\n# cpu seconds relative to the smallest N ({sizes[0]}) for the same strategy")
        for (name, n), r in by.items():
            base = by.get((name, sizes[0]))
            if n != sizes[0] and base and base["cpu_seconds"] > 0.05:
                print(f"{name:<9} {n:>9} {r['cpu_seconds'] / base['cpu_seconds']:>8.2f}x")

    if not args.skip_compare:
        n, b = args.compare_n, args.compare_budget
        print(f"\n# fast / exact objective, N={n}, B={b}, d={args.dim} (fast and exact in one subprocess)")
        print(
            f"{'strategy':<9} {'objective':<10} {'fast':>10} {'exact':>10} {'fast/exact':>11} {'random/exact':>13} "
            f"{'fast s':>8} {'exact s':>8}"
        )
        rnd = spawn("compare", n=n, strategy="random", budget=b, dim=args.dim, seed=args.seed)
        cmp_rows.append(rnd)
        what = {"js": ["js"], "fisher": ["logdet"], "kcenter": ["radius"], "hybrid": ["logdet", "js"]}
        for name in [s for s in args.strategies if s != "random"]:
            r = spawn("compare", n=n, strategy=name, budget=b, dim=args.dim, seed=args.seed)
            cmp_rows.append(r)
            if "error" in r:
                print(f"{name:<9} ERROR {r['error']}", flush=True)
                continue
            ratios, rratios = {}, {}
            for obj in what[name]:
                f, e, rv = r["fast"][obj], r["exact"][obj], rnd.get("fast", {}).get(obj, float("nan"))
                ratio, rratio = (e / f, e / rv) if obj == "radius" else (f / e, rv / e)
                ratios[obj], rratios[obj] = ratio, rratio
                print(
                    f"{name:<9} {obj:<10} {f:>10.4f} {e:>10.4f} {ratio:>11.4f} {rratio:>13.4f} "
                    f"{r['fast_seconds']:>8.2f} {r['exact_seconds']:>8.2f}",
                    flush=True,
                )
            if name == "hybrid":
                w = hybrid_weight()
                comb = w * ratios["js"] + (1 - w) * ratios["logdet"]
                rcomb = w * rratios["js"] + (1 - w) * rratios["logdet"]
                r["combined"] = {"weight": w, "fast_over_exact": comb, "random_over_exact": rcomb}
                print(
                    f"{name:<9} {'combined':<10} {comb:>10.4f} {1.0:>10.4f} {comb:>11.4f} {rcomb:>13.4f} "
                    f"{r['fast_seconds']:>8.2f} {r['exact_seconds']:>8.2f}",
                    flush=True,
                )
        print("(radius: ratios are exact/fast and exact/random, so 1.0 = as good as exact greedy)")
        print("(combined: w·JS/JS(exact) + (1 − w)·logdet/logdet(exact) with hybrid's weight w; exact = 1)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"time": rows, "compare": cmp_rows}, fh, indent=2)


if __name__ == "__main__":
    main()
