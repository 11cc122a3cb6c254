"""PII scrubbing specification: review boilerplate removed, contact details replaced, every removal counted."""

from __future__ import annotations

import csv
import gzip

import pytest

from revdial.curation.pii import PII_KINDS, scrub_pii

REVIEW_CELL = (
    "Christine F\n"
    "2 months ago\n"
    "I found this movie to be delightfully absurd and hilarious.  Definitely not the movie for you.\n"
    "1 person found this helpful.\n"
    "Helpful\n"
    "Unhelpful"
)


def test_review_header_and_vote_boilerplate_are_stripped() -> None:
    text, counts = scrub_pii(REVIEW_CELL)
    assert (
        text
        == "I found this movie to be delightfully absurd and hilarious.  Definitely not the movie for you."
    )
    assert counts["name"] == 1 and counts["date"] == 1
    assert counts["boilerplate"] == 3


def test_the_reviewers_name_signed_in_the_text_is_replaced() -> None:
    cell = "Jack Morris\na year ago\nGreat fun. Signed, jack morris\nWas this review helpful to you?\nHelpful\nUnhelpful"
    text, counts = scrub_pii(cell)
    assert text == "Great fun. Signed, [NAME]"
    assert counts["name"] == 2


def test_truncation_marker_is_removed_and_counted() -> None:
    cell = "Kim G\n3 years ago\nMaybe I'll give it another sho ...MORE\n2 people found this helpful.\nHelpful\nUnhelpful"
    text, counts = scrub_pii(cell)
    assert text == "Maybe I'll give it another sho ..."
    assert counts["boilerplate"] == 4


@pytest.mark.parametrize(
    ("raw", "expected", "kind"),
    [
        ("write me at jane.doe+films@example.co.uk!", "write me at [EMAIL]!", "email"),
        ("trailer: https://youtu.be/abc?t=1.", "trailer: [URL].", "url"),
        ("see www.imdb.com/title/tt0111161/ for more", "see [URL] for more", "url"),
        ("my blog moviefan.net has it", "my blog [URL] has it", "url"),
        ("call (555) 123-4567 now", "call [PHONE] now", "phone"),
        ("call 555-123-4567", "call [PHONE]", "phone"),
        ("ring +44 20 7946 0958 today", "ring [PHONE] today", "phone"),
        ("follow me at @solly_fleming for more", "follow me at [HANDLE] for more", "handle"),
    ],
)
def test_contact_details_become_placeholders(raw: str, expected: str, kind: str) -> None:
    text, counts = scrub_pii(raw)
    assert text == expected
    assert counts[kind] == 1
    assert sum(counts.values()) == 1


@pytest.mark.parametrize(
    "raw",
    [
        "It came out on November 17 1995 and was set in 1930-1934.",
        "Watched it on 2-18-2022 and 12.25.19, rated 8/10.",
        "Born @1986, I saw it at 10000000000 % volume.",
        "Ocean's Eleven. A fun heist. Mr. Smith was great",
        "This was helpful for my mood, a year ago I would have hated it.",
    ],
)
def test_ordinary_text_with_numbers_and_dots_is_left_alone(raw: str) -> None:
    text, counts = scrub_pii(raw)
    assert text == raw
    assert counts == dict.fromkeys(PII_KINDS, 0)


def test_email_is_not_also_counted_as_a_handle_or_url() -> None:
    _, counts = scrub_pii("mail bob@films.org")
    assert counts["email"] == 1 and counts["handle"] == 0 and counts["url"] == 0


def test_scrubbing_is_idempotent_and_empty_text_is_fine() -> None:
    once, _ = scrub_pii(REVIEW_CELL + " mail a@b.com")
    twice, counts = scrub_pii(once)
    assert twice == once and sum(counts.values()) == 0
    assert scrub_pii("") == ("", dict.fromkeys(PII_KINDS, 0))
    assert scrub_pii(None)[0] == ""


@pytest.mark.shared_data
def test_real_review_cells_lose_every_header_and_vote_line(shared_data) -> None:
    path = shared_data / "movie_reviews" / "ml100k_user_reviews" / "movie_reviews.csv.gz"
    with gzip.open(path, "rt", newline="") as f:
        cells = [row["review"] for row in csv.DictReader(f)]  # all 3,591
    totals = dict.fromkeys(PII_KINDS, 0)
    for cell in cells:
        reviewer, date = cell.split("\n")[:2]
        text, counts = scrub_pii(cell)
        for kind, n in counts.items():
            totals[kind] += n
        lines = text.split("\n")
        assert reviewer not in lines[:1] and date not in lines[:1]
        assert lines[-1] not in {"Helpful", "Unhelpful", "Was this review helpful to you?"}
        assert "found this helpful" not in text
        assert text.strip()
    assert totals["name"] >= len(cells) and totals["date"] >= len(
        cells
    )  # one cell has a second, absolute date line
    assert totals["boilerplate"] >= 3 * len(cells)
