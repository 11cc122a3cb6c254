"""Build the MovieLens → ReDial seed source: MovieLens ml-latest-small ratings and tags on the ReDial catalogue.

    python pipelines/build_movielens_redial.py                    # reads ../shared/data, writes runs/data/movielens-redial
    python pipelines/build_movielens_redial.py --shared /path/to/shared/data --out /tmp/ml-redial
    revdial seeds --config pipelines/movielens-redial.yaml --out runs/seeds-movielens-redial

Why: a CRS evaluated on ReDial must name ReDial items. MovieLens has the collaborative signal (100,836 ratings by
610 users) but its own movie ids; the ReDial catalogue (movies_with_mentions.csv, CC BY 4.0) with iEvaLM-CRS's
id2info.json (MIT; genre, director, stars, writer, plot, IMDb id) has the items. The two meet on IMDb ids
(MovieLens links.csv). What is written (all keyed by the ReDial movieId):
- items.jsonl.gz: every ReDial movie (title "Title (Year)" + id2info metadata where it exists, MovieLens id where
  it maps);
- interactions.csv.gz: the MovieLens ratings of movies that map (user_id is "ml:<userId>");
- reviews.jsonl.gz: one row per (user, movie) MovieLens tagging, text "tags: a, b", rating = that user's rating.
Counts (mapped movies, ratings kept, ratings dropped because their movie is not in the ReDial catalogue) are printed
and written to stats.json. Research use under the GroupLens terms (non-commercial; cite Harper & Konstan 2015).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from collections import defaultdict
from pathlib import Path

from build_movies_sample import (
    imdb_key,
    read_csv,
)  # the same CSV reading and IMDb-id keys as the bundled sample

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "runs" / "data" / "movielens-redial"
METADATA = ("genre", "director", "star", "writer", "plot", "imdb_id")


def redial_items(shared: Path) -> list[dict]:
    """The ReDial catalogue with iEvaLM metadata; the most-mentioned id wins where two share an IMDb id."""
    mentions = read_csv(shared / "redial" / "original" / "movies_with_mentions.csv")
    with gzip.open(shared / "redial" / "ievalm_crs" / "id2info.json.gz", "rt", encoding="utf-8") as handle:
        info = json.load(handle)
    items = []
    for row in sorted(mentions, key=lambda r: -int(r["nbMentions"] or 0)):
        meta = info.get(row["movieId"], {})
        # nbMentions counts the test split too: it only orders ties here and is not written out.
        item = {"movie_id": row["movieId"], "title": " ".join(row["movieName"].split())}
        item.update({key: meta.get(key) for key in METADATA})
        items.append(item)
    return items


def movielens_to_redial(shared: Path, items: list[dict]) -> dict[str, str]:
    """MovieLens movieId -> ReDial movieId through IMDb ids (first, i.e. most-mentioned, ReDial id per IMDb id)."""
    by_imdb: dict[str, str] = {}
    for item in items:
        if item.get("imdb_id"):
            by_imdb.setdefault(imdb_key(item["imdb_id"]), item["movie_id"])
    links = read_csv(shared / "movielens" / "ml-latest-small" / "links.csv")
    return {
        row["movieId"]: by_imdb[imdb_key(row["imdbId"])]
        for row in links
        if imdb_key(row["imdbId"]) in by_imdb
    }


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def tag_reviews(shared: Path, to_redial: dict[str, str], ratings: dict[tuple[str, str], dict]) -> list[dict]:
    """One review per (user, movie) that the user tagged: "tags: a, b", with the user's rating of it (if any)."""
    tags: dict[tuple[str, str], list[str]] = defaultdict(list)
    stamps: dict[tuple[str, str], int] = {}
    for row in read_csv(shared / "movielens" / "ml-latest-small" / "tags.csv"):
        if row["movieId"] in to_redial and row["tag"].strip():
            key = (row["userId"], row["movieId"])
            tags[key].append(row["tag"].strip())
            stamps[key] = max(stamps.get(key, 0), int(row["timestamp"]))
    reviews = []
    for (user, movie), words in sorted(tags.items()):
        rated = ratings.get((user, movie))
        reviews.append(
            {
                "review_id": f"ml-tags:{user}:{movie}",
                "user_id": f"ml:{user}",
                "movie_id": to_redial[movie],
                "text": "tags: " + ", ".join(dict.fromkeys(words)),
                "rating": float(rated["rating"]) if rated else None,
                "timestamp": stamps[(user, movie)],
            }
        )
    return reviews


def main(shared: Path, out: Path) -> dict:
    items = redial_items(shared)
    to_redial = movielens_to_redial(shared, items)
    ml_ids = defaultdict(list)
    for ml, redial in to_redial.items():
        ml_ids[redial].append(ml)
    for item in items:
        item["movielens_id"] = ",".join(ml_ids.get(item["movie_id"], [])) or None
    ratings = read_csv(shared / "movielens" / "ml-latest-small" / "ratings.csv.gz")
    kept = [row for row in ratings if row["movieId"] in to_redial]
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "items.jsonl.gz", items)
    with gzip.open(out / "interactions.csv.gz", "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "movie_id", "rating", "timestamp"])
        for row in kept:
            writer.writerow(
                [f"ml:{row['userId']}", to_redial[row["movieId"]], row["rating"], row["timestamp"]]
            )
    reviews = tag_reviews(shared, to_redial, {(r["userId"], r["movieId"]): r for r in kept})
    write_jsonl(out / "reviews.jsonl.gz", reviews)
    stats = {
        "redial_items": len(items),
        "redial_items_with_metadata": sum(1 for item in items if item.get("genre") is not None),
        "movielens_movies_mapped": len(to_redial),
        "redial_items_with_ratings": len({to_redial[row["movieId"]] for row in kept}),
        "ratings_kept": len(kept),
        "ratings_liked_kept": sum(1 for row in kept if float(row["rating"]) >= 4.0),
        "ratings_dropped_not_in_catalogue": len(ratings) - len(kept),
        "tag_reviews": len(reviews),
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the three tables are written")
    args = parser.parse_args()
    for key, value in main(args.shared, args.out).items():
        print(f"{key}: {value:,}")
