"""Seeds from the real data in ../shared/data (skipped on a fresh clone without it)."""

import gzip
import json

import pytest

from revdial.paths import DATA_DIR, REPO_DIR
from revdial.seeds.build import build_seeds

pytestmark = pytest.mark.shared_data
PIPELINES = REPO_DIR / "pipelines"


def test_ml_latest_small_turns_every_rating_into_a_seed_or_a_tagged_seed(shared_data):
    build = build_seeds(PIPELINES / "movielens-latest-small.yaml")
    summary = build.summary
    interactions = summary["tables"]["interactions"]
    assert interactions["rows_read"] == 100_836 and interactions["rows_kept"] == 100_836
    covered = interactions["not_seeded"]["already seeded by a review"]
    assert summary["seeds"]["by_kind"]["rating"] + covered == 100_836
    reviews = summary["tables"]["reviews"]
    assert reviews["rows_read"] == 3_683
    assert summary["seeds"]["by_kind"]["review"] == reviews["rows_kept"]
    tagged = build.seeds.filter(lambda r: r["review_text"].startswith("tags: "))
    assert len(tagged) == reviews["rows_kept"] and all(
        r["metadata_text"].startswith("genres: ") for r in tagged.select(range(20))
    )
    toy = build.seeds.filter(lambda r: r["item_id"] == "1")[0]
    assert (toy["title"], toy["year"]) == ("Toy Story", 1995)
    assert json.loads(toy["metadata_json"])["imdbId"] == "0114709"  # ids keep their zero padding
    assert summary["join_coverage"]["seeds with neighbours"]["fraction"] > 0.5


def test_movie_reviews_join_ml100k_titles_and_lose_their_boilerplate(shared_data):
    build = build_seeds(PIPELINES / "movie-reviews-ml100k.yaml")
    summary = build.summary
    assert summary["tables"]["items"]["rows_read"] == 1_682  # u.item is Latin-1: read with the encoding hint
    assert summary["join_coverage"]["reviews matched to the catalogue"]["fraction"] == 1.0
    assert summary["seeds"]["items_seeded"] == 215
    texts = build.seeds["review_text"]
    assert not any("found this helpful" in t or t.endswith("Unhelpful") or "...MORE" in t for t in texts)
    first = build.seeds[0]
    assert first["title"] == "Joe's Apartment" and "Christine" not in first["review_text"]  # no reviewer name
    assert "genres: Comedy, Musical" in first["metadata_text"]
    kept = summary["tables"]["reviews"]["rows_kept"]
    assert len(build.seeds) == kept == 3_591 - sum(summary["tables"]["reviews"]["dropped"].values())


def test_redial_catalogue_joins_ievalm_metadata(shared_data):
    build = build_seeds(PIPELINES / "redial-catalogue.yaml")
    assert len(build.catalogue) == 6_924 == len(build.seeds)
    coverage = build.summary["join_coverage"]["items with id2info.json.gz"]
    assert coverage["matched"] == 6_583
    with_plot = [r for r in build.seeds.select(range(200)) if "plot: " in r["metadata_text"]]
    assert with_plot and all(json.loads(r["metadata_json"])["imdb_id"].startswith("tt") for r in with_plot)
    assert all("imdb" not in r["metadata_text"] for r in with_plot)  # ids stay out of the text


def test_bundled_sample_uses_no_redial_test_dialogue(shared_data):
    with gzip.open(
        shared_data / "redial" / "original" / "test_data.jsonl.gz", "rt", encoding="utf-8"
    ) as handle:
        test_ids = {str(json.loads(line)["conversationId"]) for line in handle}
    with gzip.open(DATA_DIR / "movies_sample" / "reviews.jsonl.gz", "rt", encoding="utf-8") as handle:
        used = {
            json.loads(line)["review_id"].split(":")[1]
            for line in handle
            if line.startswith('{"review_id": "redial')
        }
    assert used and not used & test_ids


def test_scraped_reviews_lose_names_dates_and_votes_without_any_source_rule(shared_data):
    """movie_reviews.csv.gz cells are "name / N months ago / text / N people found this helpful / Helpful /
    Unhelpful"; with the YAML's text_clean rules removed, the built-in scrub alone must leave none of it."""
    import csv
    import re

    import yaml

    from revdial.seeds.sources import load_seeds_config

    raw = yaml.safe_load((PIPELINES / "movie-reviews-ml100k.yaml").read_text())
    del raw["source"]["tables"]["reviews"]["text_clean"]
    build = build_seeds(load_seeds_config(raw, base_dir=PIPELINES))
    path = shared_data / "movie_reviews" / "ml100k_user_reviews" / "movie_reviews.csv.gz"
    with gzip.open(path, "rt", newline="") as handle:
        headers = [row["review"].split("\n")[:2] for row in csv.DictReader(handle)]
    assert len(build.seeds) > 3000
    for row in build.seeds:
        reviewer, date = (line.strip() for line in headers[int(row["provenance"].rsplit("#row", 1)[1]) - 1])
        text = row["review_text"]
        assert not re.search(r"found this helpful|Was this review helpful|\bUnhelpful\b", text), text
        assert not text.startswith(reviewer) and not text.startswith(date), text
        if len(reviewer.split()) >= 2:
            assert not re.search(rf"(?<!\w){re.escape(reviewer)}(?!\w)", text, re.IGNORECASE), (
                reviewer,
                text,
            )
