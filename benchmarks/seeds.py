"""How long and how much memory building seeds from all 100,836 ml-latest-small ratings takes.

    python benchmarks/seeds.py                    # needs ../shared/data (or REVDIAL_SHARED_DATA)
    python benchmarks/seeds.py --repeat 1 --synthetic 0      # quicker: one timing run, no synthetic scale test

Baseline: reading the same three tables (ratings, tags, movies + links) through the same `datasets.load_dataset`
path, nothing else. Each case runs (a) in this process, best of --repeat, for time, with tracemalloc for the Python/
numpy heap peak in a separate run (tracemalloc slows allocation-heavy code, so it is not timed), and (b) in a fresh
child process for its peak RSS (VmHWM: the whole interpreter, datasets and pyarrow included).
The scrub table times seeds.scrub on every raw review cell against the whitespace flattening alone (its baseline).
`--synthetic N` also times the collaborative part alone (item neighbours + histories) on N random interactions,
to show that millions fit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pipelines" / "movielens-latest-small.yaml"
SHARED = Path(os.environ.get("REVDIAL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def load_only() -> int:
    """The baseline: read every table of the config exactly as build_seeds does."""
    from revdial.seeds.reading import load_table
    from revdial.seeds.sources import load_seeds_config

    config = load_seeds_config(CONFIG)
    rows = 0
    for role, table in config.source.tables.items():
        frame, _ = load_table(table, config, role)
        rows += len(frame)
        for join in table.join:
            rows += len(load_table(join, config, role)[0])
    return rows


def build(phases: dict | None = None) -> int:
    from revdial.seeds.build import build_seeds

    last = [time.perf_counter(), None]

    def progress(message: str) -> None:
        now = time.perf_counter()
        if phases is not None and last[1]:
            phases[last[1]] = phases.get(last[1], 0.0) + now - last[0]
        last[:] = [now, message]

    result = build_seeds(CONFIG, progress=progress)
    progress("")
    return len(result.seeds)


def synthetic(n: int) -> int:
    import numpy as np

    from revdial.seeds import collaborative

    rng = np.random.default_rng(0)
    n_users, n_items = max(n // 40, 10), max(n // 100, 10)
    users = rng.integers(0, n_users, n)
    items = np.minimum(rng.zipf(1.3, n) - 1, n_items - 1)  # popular head, long tail
    liked = rng.random(n) < 0.5
    matrix = collaborative.liked_matrix(users[liked], items[liked], n_users, n_items)
    collaborative.item_neighbors(matrix, k=10, min_common=2)
    collaborative.user_histories(users[liked], items[liked], rng.random(int(liked.sum())), 11)
    return n


CASES = {"load tables (baseline)": load_only, "build seeds": build}


def scrub_cost(repeat: int) -> list[tuple[str, int, float, float]]:
    """(cells, n, flatten-only seconds, scrub + flatten seconds) for scraped reviews and MovieLens tags: the cost of
    scrubbing every raw cell (seeds.scrub) over the whitespace flattening the builder did before it."""
    import csv
    import gzip

    from revdial.seeds.scrub import LineRules
    from revdial.seeds.values import review_text

    sets = []
    reviews = SHARED / "movie_reviews" / "ml100k_user_reviews" / "movie_reviews.csv.gz"
    if reviews.exists():
        with gzip.open(reviews, "rt", newline="") as handle:
            sets.append(("scraped reviews (ml100k)", [row["review"] for row in csv.DictReader(handle)]))
    with open(SHARED / "movielens" / "ml-latest-small" / "tags.csv", newline="", encoding="utf-8") as handle:
        sets.append(("tags (ml-latest-small)", [row["tag"] for row in csv.DictReader(handle)]))
    rules, rows = LineRules(), []
    for name, cells in sets:
        flat, scrub = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            [" ".join(cell.split()) for cell in cells]
            flat.append(time.perf_counter() - started)
            started = time.perf_counter()
            [review_text(cell, rules) for cell in cells]
            scrub.append(time.perf_counter() - started)
        rows.append((name, len(cells), min(flat), min(scrub)))
    return rows


def child(case: str, n: int) -> None:
    """Run one case in this (fresh) process and print its result and peak RSS as JSON."""
    started = time.perf_counter()
    out = synthetic(n) if case == "synthetic" else CASES[case]()
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": out, "seconds": seconds, "peak_rss_mib": peak_rss_mib()}))


def peak_rss_mib() -> float:
    """This process's high-water RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across
    fork+exec, so a child started by a big parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(case: str, n: int = 0) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, __file__, "--child", case, "--synthetic", str(n)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def heap_peak(fn, *args) -> float:
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--synthetic", type=int, default=2_000_000, help="interactions for the scale test (0: skip)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HOME", str(ROOT / ".cache" / "hf"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    if args.child:
        import datasets

        datasets.disable_progress_bars()
        child(args.child, args.synthetic)
        return
    if not (SHARED / "movielens" / "ml-latest-small" / "ratings.csv.gz").exists():
        sys.exit(f"needs ml-latest-small under {SHARED} (set REVDIAL_SHARED_DATA)")
    import datasets

    datasets.disable_progress_bars()
    load_only()  # warm the datasets cache: both cases then read the same prepared Arrow files

    results = {}
    for name, fn in CASES.items():
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            rows = fn()
            times.append(time.perf_counter() - started)
        results[name] = {
            "rows": rows,
            "seconds": min(times),
            "heap_mib": heap_peak(fn),
            "peak_rss_mib": in_child(name)["peak_rss_mib"],
        }
    phases: dict[str, float] = {}
    build(phases)

    base, full = results["load tables (baseline)"], results["build seeds"]
    print(f"ml-latest-small seeds benchmark ({CONFIG.name}; best of {args.repeat}; {os.cpu_count()} CPUs)")
    print(f"{'case':<24} {'rows':>9} {'time s':>8} {'x base':>7} {'heap peak MiB':>14} {'peak RSS MiB':>13}")
    for name, r in results.items():
        print(
            f"{name:<24} {r['rows']:>9,} {r['seconds']:>8.2f} {r['seconds'] / base['seconds']:>7.2f} "
            f"{r['heap_mib']:>14.1f} {r['peak_rss_mib']:>13.1f}"
        )
    print(
        f"seeds per second (build): {full['rows'] / full['seconds']:,.0f}; "
        f"peak RSS over the baseline: {full['peak_rss_mib'] - base['peak_rss_mib']:+.1f} MiB "
        f"({full['peak_rss_mib'] / base['peak_rss_mib']:.2f}x)"
    )
    print("build phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    print(
        f"{'scrub (per raw cell)':<28} {'cells':>7} {'flatten s':>10} {'scrub s':>8} {'cells/s':>9} {'x base':>7}"
    )
    for name, n, flat, scrub in scrub_cost(args.repeat):
        print(f"{name:<28} {n:>7,} {flat:>10.3f} {scrub:>8.3f} {n / scrub:>9,.0f} {scrub / flat:>7.1f}")
    if args.synthetic:
        scale = in_child("synthetic", args.synthetic)
        print(
            f"collaborative only, {args.synthetic:,} synthetic interactions ({args.synthetic // 40:,} users x "
            f"{args.synthetic // 100:,} items, half liked): {scale['seconds']:.2f} s, peak RSS "
            f"{scale['peak_rss_mib']:.1f} MiB"
        )


if __name__ == "__main__":
    main()
