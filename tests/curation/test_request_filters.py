"""Requests a person would write: the filters reject cut-off, instruction-like, markup/noise and partially leaking
requests (crafted rows), and parsing keeps whole sentences when a token cap cut the last one."""

import pytest

from revdial.curation.filters import partial_leak, request_problem
from revdial.generation.parsing import parse_request

NATURAL = [
    "I loved Heat and Collateral, what else would I like?",
    "Something dark and moody for tonight, please.",
    "Hi, I want a comedy for date night (nothing too sad).",
    "My kids are 8 and 10 — any adventure movie we can all watch?",
    "Got anything like the old 90s action films? I miss those!",
    "I want a tense crime film with a great shootout tonight",  # unpunctuated but whole
]


@pytest.mark.parametrize("request_text", NATURAL)
def test_natural_requests_pass(request_text):
    assert request_problem(request_text) is None


@pytest.mark.parametrize(
    "request_text",
    [
        "Any comedy like the old ones from the 90s for a",
        "I want something scary that my friends and",
        "Give me a comedy, something light,",
    ],
)
def test_a_request_that_stops_mid_sentence_is_cut_off(request_text):
    assert request_problem(request_text) == "cut_off"


@pytest.mark.parametrize(
    "request_text",
    [
        "Here is a suggested story based on the user's preferences.",
        "Sure! I'd recommend you ask for a thriller.",
        "Write a request for a comedy movie.",
        "Please describe a classic favorite of yours! I'm going to write something about it.",
        "Hey Emily, I hope you're doing well!",
        "Title: A Journey Through Time (2019) User review Rating: 5/5.",
        "You have successfully crafted a message for the assistant.",
    ],
)
def test_requests_that_address_the_assistant_or_echo_the_prompt_are_instructions(request_text):
    assert request_problem(request_text) == "instructions"


@pytest.mark.parametrize(
    "request_text",
    [
        "<|im_start|>system recommend movies",
        "Looking for a <b>funny</b> movie.",
        "[INST] give me a thriller [/INST]",
        "### Request\nA funny movie.",
        "1. Heat 2. Ronin",
        "A movie like @@@@@@@ please.",
    ],
)
def test_markup_control_tokens_and_noise_are_unparseable(request_text):
    assert request_problem(request_text) == "unparseable"


def test_a_distinctive_title_word_in_another_form_is_a_partial_leak():
    assert (
        partial_leak("Something with the Focker family in it, please.", "Meet the Fockers (2004)") == "Focker"
    )
    assert partial_leak("Anything like the Avengers?", "Avengers: Endgame (2019)") == "Avengers"


def test_common_or_uncapitalised_words_are_not_partial_leaks():
    assert partial_leak("Something funny to meet my friends with.", "Meet the Fockers (2004)") is None
    assert partial_leak("I love a dark story.", "The Dark Knight (2008)") is None  # 'Dark' is under 5 letters
    assert (
        partial_leak("a knight's tale kind of movie", "The Dark Knight (2008)") is None
    )  # not written as a name


def test_parsing_keeps_whole_sentences_when_the_last_one_was_cut():
    assert (
        parse_request("Any comedy like the old ones? Something from the 90s for a")
        == "Any comedy like the old ones?"
    )
    assert parse_request("A funny movie for tonight, please.") == "A funny movie for tonight, please."
    assert (
        parse_request("A funny movie for tonight with") == "A funny movie for tonight with"
    )  # nothing whole: kept
