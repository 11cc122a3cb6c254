"""Rebuild the bundled movie sample (src/revdial/data/movies_sample/) from ../shared/data.

    python pipelines/build_movies_sample.py                       # reads ../shared/data, writes the package's sample
    python pipelines/build_movies_sample.py --shared /path/to/shared/data --items 300 --out /tmp/sample

Only redistributable sources go in (see the sample's README.md data card):
- ReDial (CC BY 4.0): the movie list (movies_with_mentions.csv) and TRAIN-split dialogues only
  (redial/train_split_partial/train_split_union.jsonl.gz). The official test split is the evaluation set; it is read
  here for one thing only: to assert that no conversation id from it enters the sample.
- iEvaLM-CRS id2info.json (MIT): genre, director, stars, writer, plot, IMDb id of each ReDial movie.
- MovieLens ml-latest-small (GroupLens terms: redistribution of transformations allowed under the same terms,
  non-commercial, cite Harper & Konstan 2015): ratings and tags of the chosen movies, joined through IMDb ids.
Never the movie_reviews folder (no licence) nor INSPIRED.

Items: the `--items` movies most mentioned by seekers in the train split that have iEvaLM metadata and a MovieLens
link. Reviews: (a) per (train conversation, movie), the seeker's messages that mention the movie, `@id` replaced by
the title; rating from the seeker's own answer (initiatorQuestions, else respondentQuestions): liked -> 5.0,
disliked -> 1.0, "did not say" -> no rating; (b) MovieLens tags of those movies. Interactions: MovieLens ratings of
those movies plus the ReDial liked/disliked answers (same 5.0 / 1.0 mapping).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "src" / "revdial" / "data" / "movies_sample"
MENTION = re.compile(r"@(\d+)")
LIKED_RATING = {1: 5.0, 0: 1.0}  # ReDial answer codes: 1 liked, 0 disliked, 2 did not say


def read_jsonl(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_csv(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def imdb_key(value: str) -> str:
    return value.strip().lower().removeprefix("tt").lstrip("0")


def seeker_answers(dialogue: dict) -> dict[str, int]:
    """The seeker's liked answer per movie: their own form first, the recommender's account of them otherwise."""
    answers: dict[str, int] = {}
    for key in ("respondentQuestions", "initiatorQuestions"):  # later wins: the seeker's own answers
        questions = dialogue.get(key)
        if isinstance(questions, dict):
            for movie_id, answer in questions.items():
                if isinstance(answer, dict) and answer.get("liked") in (0, 1, 2):
                    answers[str(movie_id)] = int(answer["liked"])
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="../shared/data")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--items", type=int, default=300, help="number of movies in the sample")
    parser.add_argument(
        "--max-ratings-per-item",
        type=int,
        default=60,
        help="MovieLens ratings kept per movie (most recent), to keep the sample small",
    )
    parser.add_argument(
        "--max-dialogue-reviews-per-item",
        type=int,
        default=6,
        help="ReDial seeker reviews kept per movie (longest first), so the seed pool stays varied",
    )
    args = parser.parse_args()
    shared, out = args.shared, args.out
    redial, ml = shared / "redial", shared / "movielens" / "ml-latest-small"

    test_ids = {str(d["conversationId"]) for d in read_jsonl(redial / "original" / "test_data.jsonl.gz")}
    dialogues = list(read_jsonl(redial / "train_split_partial" / "train_split_union.jsonl.gz"))
    leaked = {str(d["conversationId"]) for d in dialogues} & test_ids
    assert not leaked, f"train-split file shares {len(leaked)} conversations with the ReDial test split"

    names = {
        row["movieId"]: " ".join(row["movieName"].split())
        for row in read_csv(redial / "original" / "movies_with_mentions.csv")
    }
    with gzip.open(redial / "ievalm_crs" / "id2info.json.gz", "rt", encoding="utf-8") as handle:
        info = json.load(handle)
    links = {imdb_key(row["imdbId"]): row["movieId"] for row in read_csv(ml / "links.csv")}

    # seeker mentions in the train split decide which movies are in
    mentions: Counter = Counter()
    for dialogue in dialogues:
        seeker = dialogue["initiatorWorkerId"]
        for message in dialogue["messages"]:
            if message.get("senderWorkerId") == seeker:
                mentions.update(set(MENTION.findall(message.get("text") or "")))
    chosen = []
    for movie_id, _ in sorted(mentions.items(), key=lambda kv: (-kv[1], int(kv[0]))):
        meta = info.get(movie_id)
        if movie_id in names and meta and meta.get("imdb_id") and imdb_key(meta["imdb_id"]) in links:
            chosen.append(movie_id)
        if len(chosen) == args.items:
            break
    chosen_set = set(chosen)
    ml_to_redial = {links[imdb_key(info[m]["imdb_id"])]: m for m in chosen}

    items = []
    for movie_id in chosen:
        meta = info[movie_id]
        items.append(
            {
                "movie_id": movie_id,
                "title": names[movie_id],
                "genre": meta.get("genre") or [],
                "director": meta.get("director") or [],
                "star": meta.get("star") or [],
                "writer": meta.get("writer") or [],
                "plot": meta.get("plot") or "",
                "imdb_id": meta["imdb_id"],
                "movielens_id": links[imdb_key(meta["imdb_id"])],
            }
        )

    def title_of(match: re.Match) -> str:
        return names.get(match.group(1), match.group(0))

    reviews, interactions = [], []
    for dialogue in dialogues:
        seeker = dialogue["initiatorWorkerId"]
        conversation = str(dialogue["conversationId"])
        answers = seeker_answers(dialogue)
        said: dict[str, list[str]] = defaultdict(list)
        for message in dialogue["messages"]:
            text = message.get("text") or ""
            if message.get("senderWorkerId") != seeker:
                continue
            for movie_id in dict.fromkeys(MENTION.findall(text)):
                if movie_id in chosen_set:
                    said[movie_id].append(" ".join(MENTION.sub(title_of, text).split()))
        for movie_id, texts in said.items():
            reviews.append(
                {
                    "review_id": f"redial:{conversation}:{movie_id}",
                    "user_id": f"redial:{seeker}",
                    "movie_id": movie_id,
                    "text": " ".join(texts),
                    "rating": LIKED_RATING.get(answers.get(movie_id)),
                    "source": "redial-train-seeker",
                }
            )
        for movie_id, answer in answers.items():
            if movie_id in chosen_set and answer in LIKED_RATING:
                interactions.append(
                    {
                        "user_id": f"redial:{seeker}",
                        "movie_id": movie_id,
                        "rating": LIKED_RATING[answer],
                        "timestamp": "",
                    }
                )

    per_item: dict[str, list[dict]] = defaultdict(list)
    for review in reviews:
        per_item[review["movie_id"]].append(review)
    reviews = []
    for movie_id in chosen:
        # the longest messages say the most about the movie; ties broken by id so a rebuild is identical
        ranked = sorted(per_item[movie_id], key=lambda r: (-len(r["text"]), r["review_id"]))
        reviews.extend(ranked[: args.max_dialogue_reviews_per_item])

    # a seeker answers for the same movie in several conversations: the last answer stands
    interactions = list({(r["user_id"], r["movie_id"]): r for r in interactions}.values())

    tags: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in read_csv(ml / "tags.csv"):
        if row["movieId"] in ml_to_redial:
            tags[(row["userId"], row["movieId"])].append(row["tag"].strip())
    for (user, ml_id), values in sorted(tags.items()):
        reviews.append(
            {
                "review_id": f"movielens:{user}:{ml_id}",
                "user_id": f"ml:{user}",
                "movie_id": ml_to_redial[ml_id],
                "text": "tags: " + ", ".join(dict.fromkeys(values)),
                "rating": None,
                "source": "movielens-tags",
            }
        )
    by_item: dict[str, list[dict]] = defaultdict(list)
    with gzip.open(ml / "ratings.csv.gz", "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["movieId"] in ml_to_redial:
                by_item[row["movieId"]].append(row)
    tagged = set(tags)
    for ml_id, rows in by_item.items():
        # keep the tagged users' ratings (their tag reviews get a rating) plus the most recent others
        rows.sort(key=lambda r: ((r["userId"], ml_id) not in tagged, -int(r["timestamp"])))
        for row in rows[: args.max_ratings_per_item]:
            interactions.append(
                {
                    "user_id": f"ml:{row['userId']}",
                    "movie_id": ml_to_redial[ml_id],
                    "rating": float(row["rating"]),
                    "timestamp": row["timestamp"],
                }
            )

    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "items.jsonl.gz", items)
    write_jsonl(out / "reviews.jsonl.gz", reviews)
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["user_id", "movie_id", "rating", "timestamp"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(interactions)
    write_bytes(out / "interactions.csv.gz", buffer.getvalue().encode("utf-8"))
    sources = Counter(r["source"] for r in reviews)
    print(f"items: {len(items)}; reviews: {len(reviews)} {dict(sources)}; interactions: {len(interactions)}")
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"wrote {out} ({total / 1024:.0f} KiB)")


def write_bytes(path: Path, data: bytes) -> None:
    # mtime=0: the same input gives byte-identical files, so a rebuild shows up in git only when the data changed
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
        handle.write(data)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    write_bytes(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))


if __name__ == "__main__":
    main()
