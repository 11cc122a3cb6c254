"""grounded.py: answers built from the seeds' neighbours and the catalogue, never from the teacher's memory."""

from revdial.generation.grounded import (
    ContentIndex,
    blend,
    grounded_list,
    named_ids,
    parse_metadata_text,
    shared_reason,
)

CATALOGUE = {
    "1": (
        "Heat",
        1995,
        (
            "genre: crime, thriller; director: Michael Mann; star: Al Pacino, Robert De Niro; plot: A "
            "group of professional bank robbers start to feel the heat from police."
        ),
    ),
    "2": (
        "Collateral",
        2004,
        (
            "genre: crime, thriller; director: Michael Mann; star: Tom Cruise, Jamie Foxx; plot: "
            "A cab driver finds himself the hostage of an engaging contract killer."
        ),
    ),
    "3": (
        "The Godfather",
        1972,
        (
            "genre: crime, drama; director: Francis Ford Coppola; star: Al Pacino, Marlon "
            "Brando; plot: The aging patriarch of an organized crime dynasty transfers control."
        ),
    ),
    "4": (
        "Toy Story",
        1995,
        (
            "genre: animation, comedy; director: John Lasseter; star: Tom Hanks, Tim Allen; plot: A "
            "cowboy doll is profoundly threatened when a new spaceman figure supplants him."
        ),
    ),
    "5": ("No Metadata", 2001, None),
}


def _index():
    ids = list(CATALOGUE)
    return ContentIndex.from_metadata(ids, [CATALOGUE[i][2] for i in ids])


def test_metadata_text_fields_are_parsed_with_lists_split_and_plot_whole():
    fields = parse_metadata_text(CATALOGUE["1"][2])
    assert fields["genre"] == ["crime", "thriller"]
    assert fields["star"] == ["Al Pacino", "Robert De Niro"]
    assert fields["plot"].startswith("A group of professional bank robbers")
    assert parse_metadata_text(None) == {} and parse_metadata_text("") == {}


def test_content_neighbours_rank_shared_director_and_genre_above_unrelated_items():
    index = _index()
    assert index.neighbors("1", 3)[0] == "2"  # same director, same genres
    assert "4" not in index.neighbors("1", 2)
    assert "5" not in index.neighbors("1", 10)  # no metadata: shares nothing, never a neighbour
    assert index.neighbors("1", 10).count("1") == 0  # never itself
    assert index.neighbors("unknown", 3) == []


def test_a_person_is_one_term_so_sharing_a_first_name_is_not_similarity():
    texts = [
        "star: Tom Hanks; genre: drama; director: Ann Lee; plot: a long war story",
        "star: Tom Cruise; genre: action; director: Bob Ray; plot: fast cars race",
        "star: Tom Hanks; genre: drama; director: Cy Moe; plot: quiet family dinner",
    ]
    index = ContentIndex.from_metadata(["a", "b", "c"], texts)
    assert index.neighbors("a", 2) == ["c"]


def test_blend_prefers_items_ranked_high_in_both_lists_and_ignores_zero_weights():
    assert blend([(["x", "y", "z"], 1.0), (["y", "x", "w"], 1.0)])[:2] in (["x", "y"], ["y", "x"])
    assert blend([(["x", "y"], 1.0), (["z"], 0.0)]) == ["x", "y"]
    assert blend([(["x", "y"], 1.0), (["y"], 1.0)])[0] == "y"


def test_grounded_list_starts_with_the_target_has_n_distinct_items_and_skips_excluded():
    answer = grounded_list("1", ["2", "3", "2"], ["3", "4"], n=3, exclude={"4"})
    assert answer[0] == "1"
    assert len(answer) == len(set(answer)) == 3
    assert "4" not in answer
    assert grounded_list("1", [], [], n=5) == ["1"]  # never pads with invented items


def test_grounded_list_weights_move_content_neighbours_ahead_of_collaborative_ones():
    assert grounded_list("t", ["c1"], ["m1"], n=2, weights=(1.0, 0.0)) == ["t", "c1"]
    assert grounded_list("t", ["c1"], ["m1"], n=2, weights=(0.0, 1.0)) == ["t", "m1"]


def test_reason_names_only_metadata_both_items_hold():
    heat = {"metadata_text": CATALOGUE["1"][2], "year": 1995}
    collateral = {"metadata_text": CATALOGUE["2"][2], "year": 2004}
    godfather = {"metadata_text": CATALOGUE["3"][2], "year": 1972}
    assert (
        shared_reason(heat, collateral, "Heat") == "also a crime thriller movie with Michael Mann, like Heat"
    )
    assert "Al Pacino" in shared_reason(heat, godfather, "Heat")
    assert "Michael Mann" not in shared_reason(heat, godfather, "Heat")
    toy = {"metadata_text": CATALOGUE["4"][2], "year": 1995}
    assert shared_reason(heat, toy, "Heat") == "also a 1990s movie, like Heat"
    assert shared_reason({}, {}, "Heat", noun="game") == "often liked by people who liked Heat"


def test_grounded_list_blends_in_the_neighbours_of_mentioned_titles_only_when_weighted():
    mentioned_neighbours = ["7", "8"]
    off = grounded_list("1", ["2", "3"], ["3", "4"], n=4, mentioned=mentioned_neighbours)
    on = grounded_list("1", ["2", "3"], ["3", "4"], n=4, mentioned=mentioned_neighbours, mentioned_weight=2.0)
    assert off == ["1", "3", "2", "4"]
    assert on[0] == "1" and on[1] == "7" and "8" in on


def test_the_step_answers_a_request_naming_a_title_with_that_titles_neighbours(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from revdial.generation.grounded import GroundedAnswer

    path = tmp_path / "catalogue.parquet"
    rows = [
        {"item_id": i, "title": title, "year": year, "metadata_text": meta}
        for i, (title, year, meta) in CATALOGUE.items()
    ]
    pq.write_table(pa.Table.from_pylist(rows), path)
    row = {
        "item_id": "4",  # the seed: Toy Story; the request names The Godfather
        "neighbor_ids": [],
        "conversation": [{"role": "user", "content": "I loved The Godfather, anything like it?"}],
    }
    lists = {}
    for weight in (0.0, 1.0):
        step = GroundedAnswer(
            name="g", catalogue_path=str(path), n_recommendations=3, mentioned_weight=weight
        )
        step.load()
        lists[weight] = step.answer(row)[0]
    assert lists[0.0] == ["Toy Story (1995)"]  # Toy Story shares no metadata term with the others
    assert lists[1.0][0] == "Toy Story (1995)" and "Heat (1995)" in lists[1.0]
    assert not any(title.startswith("The Godfather") for title in lists[1.0])


def test_named_titles_are_written_as_names_and_a_longer_title_hides_the_ones_inside_it():
    titles = {
        "1": "dark",
        "2": "comedy",
        "3": "heat",
        "4": "how to train your dragon",
        "5": "train",
        "6": "collateral",
    }
    assert named_ids(["I want a dark comedy tonight, any ideas?"], titles) == set()
    assert named_ids(["I loved Heat and Collateral, what else?"], titles) == {"3", "6"}
    assert named_ids(["Something like How to Train Your Dragon?"], titles) == {"4"}
    # a capitalised word opening a sentence is no name; a title of two capitalised words still is
    openers = {"1": "they", "2": "heat", "3": "toy story"}
    assert named_ids(["Something like M, please. They loved it. It was fun"], openers) == set()
    assert named_ids(["Toy Story was great. I also loved Heat"], openers) == {"3", "2"}


def test_series_mates_extend_a_title_or_share_its_first_two_words_and_one_shared_word_is_not_enough():
    from revdial.generation.grounded import SeriesIndex, same_series, title_words

    assert title_words("The Avengers (2012)") == ("avengers",)
    assert title_words("Alien: Covenant") == ("alien", ":", "covenant")
    assert same_series(title_words("Toy Story"), title_words("Toy Story 2 (1999)"))
    assert same_series(title_words("The Avengers"), title_words("Avengers: Infinity War"))
    assert same_series(
        title_words("Harry Potter and the Goblet of Fire"),
        title_words("Harry Potter and the Chamber of Secrets"),
    )
    assert same_series(title_words("Saw"), title_words("Saw II"))
    assert same_series(title_words("Alien"), title_words("Alien: Covenant"))
    pairs = [("Heat", "Red Heat"), ("Happy Gilmore", "Happy Feet"), ("Rear Window", "Secret Window")]
    for a, b in [*pairs, ("Seven", "Seven Pounds")]:
        assert not same_series(title_words(a), title_words(b))
    assert not same_series(title_words("Heat"), title_words("Heat (1995)"))  # one movie under two ids
    ids = ["1", "2", "3", "4", "5"]
    titles = [
        "Toy Story (1995)",
        "Toy Story That Time Forgot",
        "Toy Story 2 (1999)",
        "The Matrix (1999)",
        "Toy Soldiers",
    ]
    index = SeriesIndex.from_titles(ids, titles)
    assert index.mates("1") == ["3", "2"]  # extensions of its title first, the shorter first
    assert index.mates("4") == [] and index.mates("unknown") == []
    wordless = SeriesIndex.from_titles(
        ["1", "2"], ["夏", "Toy Story"]
    )  # a title the words pattern cannot read
    assert wordless.mates("1") == [] and wordless.mates("2") == []


def _catalogue_file(tmp_path, extra: dict) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "catalogue.parquet"
    rows = [
        {"item_id": i, "title": title, "year": year, "metadata_text": meta}
        for i, (title, year, meta) in {**CATALOGUE, **extra}.items()
    ]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


def test_the_step_lists_the_series_mates_of_a_named_title_only_when_weighted(tmp_path):
    from revdial.generation.grounded import GroundedAnswer

    # Toy Story 2 shares no metadata term with Heat or with Toy Story (its own metadata is genre-free here)
    path = _catalogue_file(tmp_path, {"6": ("Toy Story 2", 1999, "plot: Woody is stolen by a collector.")})
    row = {
        "item_id": "1",  # the seed: Heat; the request names Toy Story
        "neighbor_ids": ["2"],
        "conversation": [{"role": "user", "content": "I loved Toy Story, what else is there?"}],
    }
    lists = {}
    for weight in (0.0, 3.0):  # 3 / (10 + 0) outranks Collateral, co-liked and content neighbour: 2 x 1 / 10
        step = GroundedAnswer(name="g", catalogue_path=path, n_recommendations=3, series_weight=weight)
        step.load()
        lists[weight] = step.answer(row)[0]
    assert "Toy Story 2 (1999)" not in lists[0.0]
    assert lists[3.0][:2] == ["Heat (1995)", "Toy Story 2 (1999)"]
    assert "Toy Story (1995)" not in lists[3.0]  # the named title itself is never recommended back
    first = GroundedAnswer(name="g", catalogue_path=path, n_recommendations=3, series_first=True)
    first.load()
    assert first.answer(row)[0][:2] == ["Toy Story 2 (1999)", "Heat (1995)"]


def test_a_movie_held_under_two_ids_is_listed_once(tmp_path):
    from revdial.generation.grounded import GroundedAnswer

    twin = ("Collateral", 2004, CATALOGUE["2"][2])  # ReDial's catalogue holds some movies under several ids
    path = _catalogue_file(tmp_path, {"7": twin})
    row = {
        "item_id": "1",
        "neighbor_ids": ["2", "7", "3"],
        "conversation": [{"role": "user", "content": "Hi"}],
    }
    step = GroundedAnswer(name="g", catalogue_path=path, n_recommendations=3)
    step.load()
    titles, reasons = step.answer(row)
    assert titles == ["Heat (1995)", "Collateral (2004)", "The Godfather (1972)"]
    assert len(reasons) == 3


def test_an_item_known_only_by_its_genre_is_no_content_neighbour():
    ids = ["heat", "collateral", "genre-only"]
    texts = [CATALOGUE["1"][2], CATALOGUE["2"][2], "genre: crime, thriller"]
    index = ContentIndex.from_metadata(ids, texts)
    assert index.neighbors("heat", 5) == ["collateral"]
    assert set(index.neighbors("genre-only", 5)) == {
        "heat",
        "collateral",
    }  # it still has neighbours of its own
