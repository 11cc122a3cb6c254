"""render_seed: the one text a seed becomes (features and prompts both use it)."""

from revdial.seeds.render import render_seed

# A seed with every part render_seed can show.
FULL_SEED = {
    "title": "Heat",
    "year": 1995,
    "metadata_text": "genre: crime",
    "review_text": "Great shootout.",
    "rating": 4.5,
    "history_liked": ["Ronin"],
    "history_disliked": ["Cats"],
    "neighbor_titles": ["Collateral"],
}


def test_render_names_item_review_rating_history_and_neighbours():
    text = render_seed(FULL_SEED)
    assert text.splitlines() == [
        "Item: Heat (1995)",
        "About: genre: crime",
        "User review (rating 4.5/5): Great shootout.",
        "User also liked: Ronin",
        "User disliked: Cats",
        "Often liked together with: Collateral",
    ]


def test_render_omits_what_a_seed_does_not_have():
    assert (
        render_seed(
            {
                "title": "Catan",
                "year": None,
                "metadata_text": "",
                "review_text": "",
                "rating": None,
                "history_liked": [],
                "neighbor_titles": [],
            }
        )
        == "Item: Catan"
    )


def test_render_shows_a_rating_without_review_on_the_given_scale():
    text = render_seed({"title": "Catan", "rating": 8.0, "review_text": ""}, rating_max=10)
    assert "User rating: 8/10" in text


def test_render_cuts_long_lists():
    text = render_seed({"title": "X", "neighbor_titles": [f"n{i}" for i in range(20)]}, max_list=3)
    assert text.endswith("Often liked together with: n0; n1; n2")


def test_a_rating_outside_the_scale_is_never_rendered():
    for rating in (1e9, -3.0, float("inf"), float("nan"), 5.5):
        text = render_seed({"title": "Heat", "review_text": "Great.", "rating": rating})
        assert text == "Item: Heat\nUser review: Great.", rating
    assert "rating 5/5" in render_seed({"title": "Heat", "review_text": "Great.", "rating": 5.0})


def test_seed_parts_leave_out_exactly_the_parts_not_named():
    row = FULL_SEED
    assert render_seed(row, parts=["history", "neighbours"]).splitlines() == [
        "Item: Heat (1995)",
        "User rating: 4.5/5",  # the review goes, the user's rating stays
        "User also liked: Ronin",
        "User disliked: Cats",
        "Often liked together with: Collateral",
    ]
    assert render_seed(row, parts=["metadata", "review"]).splitlines() == [
        "Item: Heat (1995)",
        "About: genre: crime",
        "User review (rating 4.5/5): Great shootout.",
    ]
