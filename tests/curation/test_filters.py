"""Filter specification: leaks, lengths, missing targets and near-duplicates, each with its reason code."""

from __future__ import annotations

import pytest

from revdial.curation.filters import (
    REASONS,
    check_length,
    copied_exemplar,
    duplicate_of,
    leaks_title,
    missing_target,
    named_titles,
)


@pytest.mark.parametrize(
    ("request_text", "title"),
    [
        ("Any film like the matrix?", "Matrix, The (1999)"),
        ("I loved THE MATRIX, something similar", "The Matrix"),
        ("Something like Amelie but darker", "Amélie (2001)"),
        ("more like spider-man please", "Spider-Man"),
        ("I just rewatched Se7en and want more", "Seven (a.k.a. Se7en) (1995)"),
        ("Something like Up, with a talking dog", "Up (2009)"),
        ("I adored rocky 2", "Rocky II"),
    ],
)
def test_a_request_naming_the_target_title_leaks(request_text: str, title: str) -> None:
    assert leaks_title(request_text, title)


@pytest.mark.parametrize(
    ("request_text", "title"),
    [
        ("I want something that will heat up my evening", "Heat"),
        ("look it up, something cheerful", "Up (2009)"),
        ("a film about a matrix of spies", "The Matrix Reloaded"),
        ("a film like The Mummy", "Mummy Returns, The"),
        ("Something with heathers and hats", "Heat"),
    ],
)
def test_partial_words_and_common_short_words_do_not_leak(request_text: str, title: str) -> None:
    assert not leaks_title(request_text, title)


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("", {}, "empty"),
        ("   \n", {}, "empty"),
        (None, {}, "empty"),
        ("hi", {"min_chars": 10}, "too_short"),
        ("two words", {"min_words": 3}, "too_short"),
        ("x" * 101, {"max_chars": 100}, "too_long"),
        ("x" * 100, {"max_chars": 100}, None),
        ("a good request", {"min_chars": 5, "min_words": 3, "max_chars": 50}, None),
    ],
)
def test_check_length_returns_the_reason_code(text, options, expected) -> None:
    assert check_length(text, **options) == expected
    assert expected is None or expected in REASONS


def test_a_list_without_the_target_is_flagged() -> None:
    assert missing_target(["a", "b"], "c")
    assert not missing_target(["a", "c"], "c")
    assert missing_target([], "c")


def test_near_duplicate_requests_point_at_the_first_of_their_group() -> None:
    texts = [
        "I want a slow burning thriller set in a small town with a twist ending",
        "Any recommendations for a cosy animated film for kids this weekend?",
        "I want a slow-burning thriller set in a small town with a twist ending!",
        "i want a slow burning thriller set in a small town with a twist ending",
        "Give me a loud action movie with car chases",
    ]
    assert duplicate_of(texts) == [None, None, 0, 0, None]


def test_distinct_texts_are_not_duplicates() -> None:
    texts = [f"request number {i} about topic {i * 7} with mood {i * 13}" for i in range(30)]
    assert duplicate_of(texts, threshold=0.9) == [None] * 30


def test_a_request_copying_most_of_an_exemplar_names_it_and_a_shared_opening_does_not() -> None:
    examples = ["I want something dark and slow-burning tonight, the kind of film that stays with you after."]
    copied = (
        "I'm in the mood for a biography that's dark and slow-burning tonight, the kind of film that stays."
    )
    assert copied_exemplar(copied, examples) == examples[0]
    assert copied_exemplar("I want something dark for a rainy night, any ideas?", examples) is None
    assert copied_exemplar(copied, examples, max_overlap=0) is None
    assert "copies_exemplar" in REASONS


@pytest.mark.parametrize(
    ("request_text", "titles"),
    [
        ('I\'ve heard of a film called "Skylark Tonight", anything like it?', ["Skylark Tonight"]),
        ("I loved \u201cHeat\u201d and \u201cThe Matrix\u201d, what else?", ["Heat", "The Matrix"]),
        ("I heard of a film called The Lord of the Rings: is it good?", ["The Lord of the Rings"]),
        ('Something "dark" and slow for tonight?', []),  # a quoted word, not a title
        ("My dog named Rex loves action films, any ideas?", []),  # "named" introduces people and pets
        ("A tense crime film for tonight?", []),
    ],
)
def test_named_titles_are_the_quoted_ones_or_those_after_called(request_text, titles):
    assert named_titles(request_text) == titles
