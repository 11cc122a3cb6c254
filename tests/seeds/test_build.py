"""build_seeds on the bundled sample and on a tiny hand-made source: the seed contract, signals, stability."""

import json

import datasets
import pytest

from revdial.paths import REPO_DIR
from revdial.seeds.build import SEED_COLUMNS, build_seeds, load_catalogue, load_seeds, save_seeds
from revdial.seeds.render import render_seed

SAMPLE = REPO_DIR / "pipelines" / "movies-sample.yaml"


@pytest.fixture(scope="module")
def sample():
    return build_seeds(SAMPLE)


def test_sample_seeds_follow_the_contract(sample):
    seeds = sample.seeds
    assert list(seeds.column_names) == list(SEED_COLUMNS)
    assert seeds.features["history_liked"].feature.dtype == "string"
    assert len(set(seeds["seed_id"])) == len(seeds)
    row = seeds[0]
    assert isinstance(json.loads(row["metadata_json"]), dict)
    assert row["domain"] == "movies" and row["text"] == render_seed(row)
    assert all(t for t in seeds["review_text"])  # seeds_from: [reviews] -> every seed has text a user wrote


def test_sample_summary_accounts_for_every_row(sample):
    summary = sample.summary
    for role, entry in summary["tables"].items():
        dropped = sum(entry["dropped"].values())
        merged = entry["changed"].get("rows merged into one review per (user, item)", 0)
        assert entry["rows_read"] == entry["rows_kept"] + dropped + merged, role
    assert summary["seeds"]["total"] == summary["tables"]["reviews"]["rows_kept"] == len(sample.seeds)
    assert summary["seeds"]["items"] == len(sample.catalogue) >= 200


def test_seed_ids_are_stable_across_runs(sample):
    again = build_seeds(SAMPLE)
    assert again.seeds["seed_id"] == sample.seeds["seed_id"]


def test_histories_and_neighbours_never_name_the_seed_item(sample):
    for row in sample.seeds.select(range(0, len(sample.seeds), 7)):
        assert (
            row["title"] not in row["history_liked"] + row["history_disliked"]
            or list(sample.catalogue["title"]).count(row["title"]) > 1
        )
        assert row["item_id"] not in row["neighbor_ids"]
    assert sum(1 for h in sample.seeds["history_liked"] if h) > len(sample.seeds) / 2


def test_save_and_load_round_trip(sample, tmp_path):
    save_seeds(sample, tmp_path / "seeds")
    assert datasets.load_from_disk(str(tmp_path / "seeds"))["seed_id"] == sample.seeds["seed_id"]
    assert load_seeds(tmp_path / "seeds").num_rows == len(sample.seeds)
    catalogue = load_catalogue(tmp_path / "seeds")
    assert catalogue.column_names == ["item_id", "title", "year", "metadata_text"]
    assert json.loads((tmp_path / "seeds" / "summary.json").read_text())["seeds"]["total"] == len(
        sample.seeds
    )


def test_tiny_source_joins_reviews_ratings_histories_and_neighbours(tiny):
    build = build_seeds(_with_base(tiny))
    rows = {r["review_text"]: r for r in build.seeds}
    heat = rows["Great shootout."]
    assert (heat["title"], heat["year"], heat["rating"], heat["user_id"]) == ("Heat", 1995, 5.0, "u1")
    assert json.loads(heat["metadata_json"]) == {"genres": ["Crime", "Thriller"]}
    # u1 liked Ronin (t=2) and Collateral (t=3): most recent first, Heat itself excluded
    assert heat["history_liked"] == ["Collateral", "Ronin"]
    # Heat's likers {u1,u2}; Ronin's {u1,u2}; Collateral's {u1}: Ronin first
    assert heat["neighbor_titles"] == ["Ronin", "Collateral"]
    # r3 has no rating of its own: taken from u1's rating of item 3
    assert rows["Tom Cruise as a hitman."]["rating"] == 4.0
    assert build.summary["tables"]["reviews"]["changed"]["rating_taken_from_interactions"] == 1


def test_ratings_and_items_can_be_seeds_too(tiny):
    build = build_seeds(_with_base(tiny, seeds_from=["reviews", "ratings", "items"]))
    kinds = build.summary["seeds"]["by_kind"]
    # 6 ratings, 3 of them already reviewed (u1-1, u2-2, u1-3) -> 3 rating seeds; 3 item seeds
    assert kinds == {"review": 3, "rating": 3, "item": 3}
    rating_only = [r for r in build.seeds if r["provenance"].startswith("interactions")]
    assert all(r["review_text"] == "" and r["rating"] is not None for r in rating_only)
    items_only = [r for r in build.seeds if r["provenance"].startswith("items")]
    assert all(r["user_id"] is None and r["history_liked"] == [] for r in items_only)


def test_limit_rows_reads_only_the_head_of_every_table(tiny):
    build = build_seeds(_with_base(tiny, limit_rows=2))
    assert {e["rows_read"] for e in build.summary["tables"].values()} == {2}
    assert build.summary["tables"]["reviews"]["rows_kept"] == len(build.seeds) == 2


def _with_base(tiny, **source):
    from revdial.seeds.sources import load_seeds_config

    return load_seeds_config(tiny(**source), base_dir=tiny.dir)
