"""Requests a person would write: the filters reject cut-off, instruction-like, markup/noise, listed, ask-nothing and
partially leaking requests (crafted rows, several of them what the 135M teacher wrote for issue #14), pass requests
written like ReDial seekers' and the domain packs' exemplars, and parsing keeps whole sentences when a token cap cut
the last one."""

import pytest

from revdial.curation.filters import REASONS, partial_leak, request_problem
from revdial.domains import load_pack, pack_names
from revdial.generation.parsing import parse_request

NATURAL = [
    "I loved Heat and Collateral, what else would I like?",
    "Something dark and moody for tonight, please.",
    "Hi, I want a comedy for date night (nothing too sad).",
    "My kids are 8 and 10 — any adventure movie we can all watch?",
    "Got anything like the old 90s action films? I miss those!",
    "I want a tense crime film with a great shootout tonight",  # unpunctuated but whole
    # written like ReDial seekers' opening turns
    "Hi! I loved Heat and Collateral, any other crime thrillers?",
    "I'm in the mood for a funny animated movie for my kids, any ideas?",
    "Hello, I am looking for a good horror movie",
    "I really like romantic comedies",
    "Hi, I am a big horror fan.",
    "A romcom, but nothing too sappy. Something my husband will like too",
    "My wife would like something romantic, she loves Titanic.",  # a person of the writer's own, not "the user"
    "any good comedies you could recommend to me",  # ends on a pronoun object, not cut
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


@pytest.mark.parametrize(
    "request_text",
    [
        "1) The story of a haunted house by Peter Benchmark is amazing. I'm sure you'll love it. 2) A fun ghost movie?",
        "Any of these? 1. a heist movie 2. a spy movie",
        "(a) a comedy for tonight (b) a drama for the weekend, please",
        "\u2022 a funny movie for tonight",
    ],
)
def test_a_numbered_or_bulleted_list_is_unparseable(request_text):
    assert request_problem(request_text) == "unparseable"


@pytest.mark.parametrize(
    "request_text",
    [
        # echoes of the request prompt
        (
            "You are offered two messages in this style about other movies (write one message and then provide "
            "your second message)."
        ),
        "Can you recommend something? Here are the two messages in this style.",
        "Any thriller for tonight? That is my message to the assistant.",
        # meta talk about the writing
        "The two paragraphs can be written in different ways to suit the user's style of writing.",
        "I crafted a short message asking for a comedy, what do you think?",
        "Aim to add a little more depth to your review by adding your own personal touch.",
        "Can you suggest a movie the user would enjoy?",
        "This is about M. Night Shyamalan's upcoming movie adaptation of The Dark Knight.",
        "Here is what you're looking for: Item: this movie About: genre: action, drama.",  # the seed's fields
        # the assistant's voice, and the prompt's words echoed
        "I'm so glad you enjoyed the movie Finding Nemo! I'd be happy to share some other movies.",
        "Hi! I'm excited to help you find your dream film, any ideas?",
        "I want a drama movie. I'm not sure if you're talking about a comedy or horror film.",
        "I'm in the mood for a drama movie with ghosts (write it), something dark?",
        "I want an action movie, but please no gore (not named).",
        "I want an action movie, but you're asking me to write your own story about it, any ideas?",
        # the seeker in the third person
        "The person asked me to write two messages in this style.",
        "This person would love to watch a romantic comedy. I'd suggest their favorite movie.",
        "They'd love a thriller with a twist, any ideas?",
        "(S)he would like a slow drama, what should they watch?",
    ],
)
def test_meta_talk_about_the_writing_task_or_the_user_is_instructions(request_text):
    assert request_problem(request_text) == "instructions"


@pytest.mark.parametrize(
    "request_text",
    [
        "M. Night Shyamalan's upcoming movie adaptation of The Dark Knight looks great.",
        "I loved this movie, the acting was great and the ending made me cry.",
        "The story follows a young detective in a small town.",
    ],
)
def test_a_text_that_asks_for_nothing_is_not_a_request(request_text):
    assert request_problem(request_text) == "not_a_request"


def test_every_reason_request_problem_returns_is_documented():
    assert {"cut_off", "instructions", "not_a_request", "unparseable"} <= set(REASONS)


@pytest.mark.parametrize("domain", pack_names())
def test_every_packs_exemplars_read_as_requests(domain):
    examples = [example for examples in load_pack(domain).styles.values() for example in examples]
    assert {example: request_problem(example) for example in examples} == dict.fromkeys(examples)


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


@pytest.mark.parametrize(
    "request_text",
    [
        "I'm looking for something from your shop here: https://www.example-shop.com/custom-home-care",
        "Any good mugs like the ones on www.example.com? I need a gift.",
    ],
)
def test_a_request_with_a_link_is_unparseable(request_text):
    assert request_problem(request_text) == "unparseable"
