"""Grounding throughput: revdial's Catalogue.ground against a per-query rapidfuzz extractOne baseline.

    python benchmarks/grounding.py [--queries 10000] [--baseline-queries 2000]

The catalogue is MovieLens ml-latest-small (9,742 titles) from ../shared/data, padded with synthetic titles to 10,000.
Queries mix the forms a generator writes: exact "Title (Year)" (25%), title without year (25%), a typo (25%) and an
invented title (25%). The baseline is what a first version would do: normalise, then one `process.extractOne` with
`token_sort_ratio` over all titles per query, no exact-key dict, no batching. Both run in this process.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from pathlib import Path

from rapidfuzz import fuzz, process

from revdial.curation.grounding import Catalogue, normalize_title, split_year

MOVIES = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "movielens"
    / "ml-latest-small"
    / "movies.csv"
)


def catalogue_records(size: int) -> list[dict]:
    rows = []
    if MOVIES.exists():
        with open(MOVIES, newline="") as f:
            rows = [{"item_id": r["movieId"], "title": r["title"]} for r in csv.DictReader(f)]
    rng = random.Random(1)
    words = ["night", "river", "shadow", "summer", "last", "city", "blue", "dark", "love", "road", "king"]
    while len(rows) < size:
        title = " ".join(rng.sample(words, 3)).title()
        rows.append({"item_id": f"syn{len(rows)}", "title": f"{title} ({rng.randint(1930, 2020)})"})
    return rows[:size]


def queries(records: list[dict], n: int) -> list[str]:
    rng = random.Random(0)
    out = []
    for i in range(n):
        title = rng.choice(records)["title"]
        kind = i % 4
        if kind == 1:
            title = split_year(title)[0]
        elif kind == 2:
            base = split_year(title)[0]
            cut = rng.randrange(1, max(2, len(base) - 1))
            title = base[:cut] + base[cut + 1 :]
        elif kind == 3:
            title = f"The Unmade Film Number {i} ({rng.randint(1950, 2020)})"
        out.append(title)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--catalogue", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--baseline-queries", type=int, default=2_000)
    args = parser.parse_args()

    records = catalogue_records(args.catalogue)
    qs = queries(records, args.queries)

    start = time.perf_counter()
    catalogue = Catalogue.from_records(records)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    _, unmatched = catalogue.ground(qs)
    revdial_s = time.perf_counter() - start

    keys = [normalize_title(split_year(r["title"])[0]) for r in records]
    base_qs = qs[: args.baseline_queries]
    start = time.perf_counter()
    base_matched = 0
    for q in base_qs:
        hit = process.extractOne(
            normalize_title(split_year(q)[0]), keys, scorer=fuzz.token_sort_ratio, score_cutoff=88
        )
        base_matched += hit is not None
    baseline_s = time.perf_counter() - start

    revdial_rate = len(qs) / revdial_s
    baseline_rate = len(base_qs) / baseline_s
    print(f"catalogue: {len(catalogue)} items (built in {build_s:.2f} s)")
    print(f"{'method':<34}{'queries':>9}{'seconds':>10}{'queries/s':>12}{'matched':>10}")
    print(
        f"{'revdial Catalogue.ground':<34}{len(qs):>9}{revdial_s:>10.2f}{revdial_rate:>12.0f}{len(qs) - len(unmatched):>10}"
    )
    print(
        f"{'baseline extractOne per query':<34}{len(base_qs):>9}{baseline_s:>10.2f}{baseline_rate:>12.0f}{base_matched:>10}"
    )
    print(f"speed-up (queries/s ratio to baseline): {revdial_rate / baseline_rate:.1f}x")


if __name__ == "__main__":
    main()
