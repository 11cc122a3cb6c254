"""parsing.py: weak-model output -> a request, or a ranked list of (title, year, reason)."""

from revdial.generation.parsing import (
    Recommendation,
    message_head,
    parse_recommendations,
    parse_request,
    split_title_year,
)


def titles(text):
    return [(r.title, r.year) for r in parse_recommendations(text)]


def test_numbered_list_with_years_and_reasons_is_parsed_in_rank_order():
    text = "Sure! Here are some picks:\n1. Heat (1995) - a tense crime epic\n2) Collateral (2004): night in LA\n3. Thief"
    parsed = parse_recommendations(text)
    assert [(r.title, r.year) for r in parsed] == [("Heat", 1995), ("Collateral", 2004), ("Thief", None)]
    assert parsed[0].reason == "a tense crime epic"
    assert parsed[1].reason == "night in LA"


def test_bullets_quotes_and_markdown_bold_are_stripped():
    text = '- "The Matrix" (1999) because it bends reality\n* **Dark City** (1998)\n\u2022 Inception'
    assert titles(text) == [("The Matrix", 1999), ("Dark City", 1998), ("Inception", None)]


def test_json_object_and_json_in_a_code_fence_are_read():
    text = '```json\n{"recommendations": [{"title": "Heat (1995)", "reason": "crime"}, {"title": "Ronin", "year": 1998}]}\n```'
    parsed = parse_recommendations(text)
    assert [(r.title, r.year) for r in parsed] == [("Heat", 1995), ("Ronin", 1998)]
    assert parsed[0].reason == "crime"


def test_json_array_of_strings_is_read():
    assert titles('["Alien (1979)", "Aliens"]') == [("Alien", 1979), ("Aliens", None)]


def test_unlisted_comma_separated_titles_are_read():
    assert titles("Heat, Ronin, The Town") == [("Heat", None), ("Ronin", None), ("The Town", None)]


def test_duplicates_keep_their_first_rank():
    assert titles("1. Heat\n2. heat (1995)\n3. Ronin") == [("Heat", None), ("Ronin", None)]


def test_empty_or_missing_output_gives_no_recommendations():
    assert parse_recommendations("") == []
    assert parse_recommendations(None) == []


def test_a_sentence_longer_than_any_title_is_not_a_title():
    rambling = "I think that you would really enjoy many of the films I can think of " * 3
    assert parse_recommendations(rambling) == []


def test_display_adds_the_year_when_known():
    assert Recommendation("Heat", 1995).display == "Heat (1995)"
    assert Recommendation("Heat").display == "Heat"


def test_split_title_year_takes_a_bracketed_year():
    assert split_title_year("Heat (1995)") == ("Heat", 1995)
    assert split_title_year("Blade Runner 2049") == ("Blade Runner 2049", None)


def test_request_loses_preamble_role_prefix_and_wrapping_quotes():
    assert parse_request('Sure! Here is the message:\n"User: any cosy film for a rainy day?"') == (
        "any cosy film for a rainy day?"
    )


def test_request_from_json_and_empty_request():
    assert parse_request('{"request": "something scary"}') == "something scary"
    assert parse_request("   \n ") == ""
    assert parse_request(None) == ""


def test_titles_with_colons_stay_whole():
    assert titles(
        "1. Thor: Ragnarok (2017) - fun\n2. Alien: Covenant\n3. Heat: a slow burn crime epic with heists"
    ) == [("Thor: Ragnarok", 2017), ("Alien: Covenant", None), ("Heat", None)]


def test_json_cut_off_by_the_token_limit_keeps_its_complete_entries():
    text = '{"recommendations": [{"title": "Heat (1995)", "reason": "heists"}, {"title": "Ronin", "reason": "car ch'
    assert titles(text) == [("Heat", 1995), ("Ronin", None)]


def test_a_known_long_title_with_dashes_quotes_and_brackets_is_kept_whole():
    whole = 'Reli. Duct Tape, Black | 1.88" x 120 Yards (6 Rolls) - Waterproof - Tear by Hand (Black)'
    shown = 'Reli. Duct Tape, Black | 1.88" x 120…'
    text = f"1. {whole} - strong and cheap\n2. {shown} - same again\n3. Upside Down - fun"
    items = parse_recommendations(text, max_title_chars=500, known_titles={shown: whole, "Up": "Up"})
    assert [item.title for item in items] == [whole, "Upside Down"]  # the shortened one is the same item
    assert items[0].reason == "strong and cheap"


def test_escaped_quotes_in_truncated_json_survive():
    text = '{"recommendations": [{"title": "Ruler 12\\" [Pack of 2] (Nintendo Switch)", "reason": "a \\"good\\" one"}, {"ti'
    [item] = parse_recommendations(text)
    assert item.title == 'Ruler 12" [Pack of 2] (Nintendo Switch)' and item.reason == 'a "good" one'


def test_titles_over_the_domain_limit_are_left_out_and_under_it_kept():
    long = "Stainless Travel Mug " * 10
    assert parse_recommendations(f'[{{"title": "{long.strip()}"}}]') == []
    assert (
        parse_recommendations(f'[{{"title": "{long.strip()}"}}]', max_title_chars=500)[0].title
        == long.strip()
    )


def test_message_head_keeps_the_first_line_up_to_the_first_question_or_two_sentences():
    assert message_head("Can you recommend a comedy starring Meryl Streep? The story of a bride-to-be.") == (
        "Can you recommend a comedy starring Meryl Streep?"
    )
    assert (
        message_head("I want a comedy. Nothing sad. Something light. Thanks")
        == "I want a comedy. Nothing sad."
    )
    assert (
        message_head("Any crime movie like Heat\nItem: this movie\nAbout: genre: crime")
        == "Any crime movie like Heat"
    )
    assert message_head(
        "I'm in the mood for a drama. I've heard that M. Night Shyamalan has one. Ideas?"
    ) == (
        "I'm in the mood for a drama. I've heard that M. Night Shyamalan has one."
    )  # an initial ends no sentence
    assert message_head("") == ""
