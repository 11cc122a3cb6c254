"""A board-game table built here: nothing in seed building assumes movies (no years, a 1-10 scale, no ratings file)."""

import json

from revdial.seeds.build import build_seeds
from revdial.seeds.sources import load_seeds_config


def test_board_games_make_seeds_without_any_movie_assumption(tiny):
    tiny.write_jsonl(
        tiny.dir / "games.jsonl",
        [
            {
                "bgg_id": 13,
                "name": "Catan",
                "designer": "Klaus Teuber",
                "mechanics": ["Dice Rolling", "Trading"],
                "players": "3-4",
            },
            {
                "bgg_id": 822,
                "name": "Carcassonne",
                "designer": "Klaus-Jürgen Wrede",
                "mechanics": ["Tile Placement"],
                "players": "2-5",
            },
            {
                "bgg_id": 30549,
                "name": "Pandemic (2008)",
                "designer": "Matt Leacock",
                "mechanics": ["Cooperative"],
                "players": "2-4",
                "published": 2008,
            },
        ],
    )
    tiny.write_csv(
        tiny.dir / "comments.tsv",
        ["player", "game", "comment", "score"],
        [
            ["ann", "13", "Trading with friends never gets old.", "9"],
            ["ann", "822", "Relaxing, but a bit dry.", "6"],
            ["bob", "13", "Too much luck in the dice.", "5"],
            ["bob", "30549", "We lost three times and loved it.", "10"],
            ["cy", "822", "Gateway classic.", "8"],
            ["cy", "13", "Still fun.", "8"],
        ],
    )
    # the tsv writer used commas; say so (a per-table parsing hint)
    config = load_seeds_config(
        {
            "name": "games",
            "domain": "board games",
            "source": {
                "tables": {
                    "items": {
                        "path": "games.jsonl",
                        "columns": {"item_id": "bgg_id", "title": "name", "year": "published"},
                    },
                    "reviews": {
                        "path": "comments.tsv",
                        "read": {"sep": ","},
                        "columns": {
                            "user_id": "player",
                            "item_id": "game",
                            "text": "comment",
                            "rating": "score",
                        },
                    },
                },
                "rating_max": 10,
                "liked_min_rating": 8,
                "disliked_max_rating": 5,
            },
        },
        base_dir=tiny.dir,
    )
    build = build_seeds(config)
    seeds = {r["review_text"]: r for r in build.seeds}
    assert len(seeds) == 6 and set(build.seeds["domain"]) == {"board games"}
    catan = seeds["Trading with friends never gets old."]
    assert catan["item_id"] == "13" and catan["title"] == "Catan" and catan["year"] is None
    # title_has_year is off: "(2008)" is part of this name, not a release year
    pandemic = build.catalogue.filter(lambda r: r["item_id"] == "30549")[0]
    assert (pandemic["title"], pandemic["year"]) == (
        "Pandemic (2008)",
        2008,
    )  # the year comes from its column
    assert json.loads(catan["metadata_json"])["mechanics"] == ["Dice Rolling", "Trading"]
    assert "designer: Klaus Teuber" in catan["metadata_text"]
    assert "(rating 9/10)" in catan["text"]
    # ann liked Catan (9) only; cy liked Carcassonne and Catan (8): they are each other's neighbours
    assert catan["neighbor_titles"] == ["Carcassonne"]
    assert seeds["Relaxing, but a bit dry."]["history_liked"] == ["Catan"]
    assert seeds["Too much luck in the dice."]["history_disliked"] == []  # Catan itself is excluded
    assert "movie" not in " ".join(build.seeds["text"]).lower()
