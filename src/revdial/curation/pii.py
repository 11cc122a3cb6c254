"""Scrub personal data from review text before it reaches a prompt: offline, regex-based, counted per kind.

Scraped reviews carry a header and a footer around the text a reviewer wrote:

    Christine F                      <- reviewer name
    2 months ago                     <- relative date
    I found this movie to be ...     <- the review
    1 person found this helpful.     <- vote boilerplate
    Helpful
    Unhelpful

The header is recognised by its second line (a relative date); both header lines are removed and the reviewer's name is
replaced wherever else it appears. Footer lines and the "...MORE" truncation marker are removed. In the text itself,
e-mail addresses, URLs, phone numbers and @handles become placeholders ([EMAIL], [URL], [PHONE], [HANDLE], [NAME]).
"""

from __future__ import annotations

import re

__all__ = ["PII_KINDS", "scrub_pii"]

PII_KINDS = ("email", "url", "phone", "handle", "name", "date", "boilerplate")

_RELATIVE_DATE_RE = re.compile(
    r"^\s*(?:(?:a|an|one|\d+)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago|yesterday|today|just now)\s*$",
    re.IGNORECASE,
)
_FOOTER_LINE_RE = re.compile(
    r"^\s*(?:\d[\d,]*\s+(?:person|people)\s+found\s+this\s+(?:review\s+)?helpful\.?"
    r"|was\s+this\s+review\s+helpful(?:\s+to\s+you)?\??"
    r"|helpful|unhelpful|not\s+helpful|report(?:\s+abuse)?|read\s+more|\.\.\.\s*more)\s*$",
    re.IGNORECASE,
)
_MORE_MARKER_RE = re.compile(r"\s*\.\.\.\s?MORE\s*$")
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_URL_RE = re.compile(
    r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]}]"
    r"|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|org|net|io|co|edu|gov|tv|me|ly|be|uk|de|fr|info|biz)"
    r"(?:/[^\s<>\"']*[^\s<>\"'.,;:!?)\]}])?(?![\w.])",
    re.IGNORECASE,
)
# North-American 3-3-4 (with optional +1 and parentheses) or international with a leading +. Year ranges ("1930-1934")
# and dates ("2-18-2022") do not have these shapes.
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"
    r"|(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\w-])"
)
# A handle needs a letter: "@1986" is a year, not a user.
_HANDLE_RE = re.compile(r"(?<![\w@])@(?=[\w.]*[A-Za-z])[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,29}[A-Za-z0-9_])?")
_BLANK_RUN_RE = re.compile(r"\n{3,}")


def _strip_header(lines: list[str], counts: dict[str, int]) -> tuple[list[str], str | None]:
    """Drop "name / relative date" header lines; return the remaining lines and the reviewer's name, if any."""
    if len(lines) >= 2 and _RELATIVE_DATE_RE.match(lines[1]) and 0 < len(lines[0].strip()) <= 80:
        counts["name"] += 1
        counts["date"] += 1
        return lines[2:], lines[0].strip()
    if lines and _RELATIVE_DATE_RE.match(lines[0]):
        counts["date"] += 1
        return lines[1:], None
    return lines, None


def _strip_footer(lines: list[str], counts: dict[str, int]) -> list[str]:
    while lines and (not lines[-1].strip() or _FOOTER_LINE_RE.match(lines[-1])):
        if lines[-1].strip():
            counts["boilerplate"] += 1
        lines = lines[:-1]
    if lines and _MORE_MARKER_RE.search(lines[-1]):
        counts["boilerplate"] += 1
        lines = [*lines[:-1], _MORE_MARKER_RE.sub(" ...", lines[-1])]
    return lines


def _replace(pattern: re.Pattern[str], placeholder: str, kind: str, text: str, counts: dict[str, int]) -> str:
    text, n = pattern.subn(placeholder, text)
    counts[kind] += n
    return text


def scrub_pii(text: str | None) -> tuple[str, dict[str, int]]:
    """(scrubbed text, {kind: number of replacements or removals}) with every kind of `PII_KINDS` as a key.

    Idempotent: scrubbing scrubbed text changes nothing and counts nothing.
    """
    counts = dict.fromkeys(PII_KINDS, 0)
    if not text:
        return "", counts
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines, name = _strip_header(lines, counts)
    lines = _strip_footer(lines, counts)
    body = "\n".join(lines).strip()

    # Order matters: an e-mail contains an @handle and a domain; a URL may contain digits shaped like a phone.
    body = _replace(_EMAIL_RE, "[EMAIL]", "email", body, counts)
    body = _replace(_URL_RE, "[URL]", "url", body, counts)
    body = _replace(_PHONE_RE, "[PHONE]", "phone", body, counts)
    body = _replace(_HANDLE_RE, "[HANDLE]", "handle", body, counts)
    # The reviewer's full name signed inside the text; a lone first name is too often an ordinary word.
    if name and len(name) >= 4:
        body = _replace(
            re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE), "[NAME]", "name", body, counts
        )
    return _BLANK_RUN_RE.sub("\n\n", body), counts
