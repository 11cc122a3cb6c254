"""Turn what a (possibly weak) LLM wrote into a user request or a ranked list of titles.

Small models wrap answers in chatter, number their lists in five different ways, add "(Year)" or not, and
sometimes answer in JSON. These functions accept all of that and return plain data; they never raise on bad
text: an unusable answer is an empty result that the curation filters count as a reject.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

# "1. Title", "1) Title", "- Title", "* Title", "• Title", "#1: Title"
_ITEM_RE = re.compile(r"^\s*(?:#?\d{1,2}\s*[.):\-]|[-*\u2022])\s*(?P<body>.+?)\s*$")
_YEAR_RE = re.compile(r"\s*[\(\[]\s*(?P<year>(?:18|19|20)\d{2})\s*[\)\]]")
_QUOTED_RE = re.compile(r"^[\"'\u201c\u2018*_]+(?P<title>.+?)[\"'\u201d\u2019*_]+(?P<rest>.*)$")
_DASH_SPLIT_RE = re.compile(r"\s+(?:[-\u2013\u2014]|because|since)\s+", re.IGNORECASE)
_PREFIX_RE = re.compile(
    r"^\s*(?:user|seeker|request|query|assistant|recommender|answer|here(?:'s| is) (?:my|the|a) [\w ]+?)\s*:\s*",
    re.IGNORECASE,
)
_MAX_TITLE_CHARS = 120  # the movie domain's; a domain pack sets its own (title.max_chars)


@dataclass(frozen=True)
class Recommendation:
    """One parsed list entry: the title as written (year stripped), its year if given, and the reason."""

    title: str
    year: int | None = None
    reason: str = ""

    @property
    def display(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title


def parse_request(text: str | None) -> str:
    """The user's request from a generation: chatter, role prefixes and wrapping quotes removed ('' if none)."""
    if not text:
        return ""
    data = _load_json(text)
    if isinstance(data, dict):
        for key in ("request", "message", "query", "text"):
            if isinstance(data.get(key), str):
                return data[key].strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    # A preamble line ending in ':' ("Sure! Here is a request:") carries no request.
    while len(lines) > 1 and lines[0].endswith(":") and len(lines[0]) < 80:
        lines.pop(0)
    request = " ".join(lines)
    previous = None
    while request != previous:  # '"User: ..."' and 'User: "..."' both occur
        previous = request
        request = _PREFIX_RE.sub("", request).strip()
        if len(request) >= 2 and request[0] in "\"'\u201c" and request[-1] in "\"'\u201d":
            request = request[1:-1].strip()
    return whole_sentences(request)


# an initial ("M. Night Shyamalan") ends no sentence
_SENTENCE_END_RE = re.compile(r"(?:(?<!\b[A-Z])\.|[!?…])[\"'”’)]*(?=\s|$)")


def whole_sentences(text: str, min_chars: int = 15) -> str:
    """`text` up to its last complete sentence when a token cap cut it mid-sentence (at least `min_chars` kept);
    unchanged when it ends a sentence or has no earlier sentence end (the filters then call it cut off)."""
    if not text or text[-1] in ".!?…\"'”’)":
        return text
    ends = [m.end() for m in _SENTENCE_END_RE.finditer(text) if m.end() >= min_chars]
    return text[: ends[-1]].strip() if ends else text


def message_head(text: str, max_sentences: int = 2) -> str:
    """The first line of `text`, up to its first question or its first `max_sentences` sentences: a small model goes
    on after the message (echoing its prompt, answering itself); a person's request says what they want and asks."""
    lines = text.strip().splitlines()
    line = lines[0].strip() if lines else ""
    for count, match in enumerate(_SENTENCE_END_RE.finditer(line), 1):
        if count >= max_sentences or "?" in match.group():
            return line[: match.end()].strip()
    return line


def parse_recommendations(
    text: str | None,
    max_items: int = 10,
    max_title_chars: int = _MAX_TITLE_CHARS,
    known_titles: Mapping[str, str] | None = None,
) -> list[Recommendation]:
    """A ranked list of titles from a JSON object/array or from a numbered/bulleted/plain list.

    Duplicates (same title, case-insensitive) keep their first rank; titles longer than `max_title_chars` are
    chatter, not titles, and are left out. `known_titles` maps the titles the prompt showed (shortened for display)
    to the whole titles: a line that starts with one keeps it whole ("Duct Tape - Waterproof - a reason" is not cut
    at its first dash) and a shortened one written back is given its whole title, so both can ground.
    """
    if not text:
        return []
    data = _load_json(text)
    known = {shown.casefold(): whole for shown, whole in (known_titles or {}).items()}
    known.update({whole.casefold(): whole for whole in (known_titles or {}).values()})
    if data is not None:
        items = _from_json(data)
    elif '"title"' in text:
        items = _from_truncated_json(text)  # JSON cut off by the token limit: keep the complete entries
    else:
        items = _from_lines(text, known)
    items = [_whole(item, known) for item in items]
    seen: set[str] = set()
    unique = []
    for item in items:
        key = item.title.casefold()
        if key and key not in seen and len(item.title) <= max_title_chars:
            seen.add(key)
            unique.append(item)
    return unique[:max_items]


def split_title_year(text: str) -> tuple[str, int | None]:
    """`"Heat (1995)"` -> `("Heat", 1995)`; a year anywhere in brackets is taken, the rest is the title."""
    match = _YEAR_RE.search(text)
    if not match:
        return text.strip(), None
    title = (text[: match.start()] + text[match.end() :]).strip()
    return title, int(match.group("year"))


def _load_json(text: str) -> object | None:
    """The first JSON object or array in `text` (models like to fence it in ```json blocks), else None."""
    stripped = text.strip()
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = stripped.find(opener), stripped.rfind(closer)
        if start != -1 and end > start:
            try:
                return json.loads(stripped[start : end + 1])
            except ValueError:
                continue
    return None


def _from_json(data: object) -> list[Recommendation]:
    if isinstance(data, dict):
        for key in ("recommendations", "movies", "items", "titles", "list"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data] if "title" in data else []
    if not isinstance(data, list):
        return []
    items = []
    for entry in data:
        if isinstance(entry, str):
            items.append(_from_text_entry(entry))
        elif isinstance(entry, dict) and isinstance(entry.get("title"), str):
            title, year = split_title_year(entry["title"])
            raw_year = entry.get("year")
            if year is None and isinstance(raw_year, (int, str)) and str(raw_year).isdigit():
                year = int(raw_year)
            reason = entry.get("reason") or entry.get("why") or ""
            items.append(Recommendation(_clean_title(title), year, str(reason).strip()))
    return [item for item in items if item.title]


# a JSON string: escaped quotes (\") and backslashes stay inside it
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_TITLE_FIELD_RE = re.compile(
    rf'"title"\s*:\s*(?P<title>{_JSON_STRING})(?:\s*,\s*"reason"\s*:\s*(?P<reason>{_JSON_STRING}))?'
)


def _from_truncated_json(text: str) -> list[Recommendation]:
    items = []
    for match in _TITLE_FIELD_RE.finditer(text):
        title, year = split_title_year(_json_string(match.group("title")))
        reason = _json_string(match.group("reason")) if match.group("reason") else ""
        items.append(Recommendation(_clean_title(title), year, reason.strip()))
    return [item for item in items if item.title]


def _json_string(literal: str) -> str:
    """The text of a JSON string literal (quotes included); its inside as written when it does not decode."""
    try:
        return str(json.loads(literal))
    except ValueError:
        return literal[1:-1]


def _whole(item: Recommendation, known: Mapping[str, str]) -> Recommendation:
    """`item` with the whole title of a title the prompt showed shortened."""
    whole = known.get(item.title.casefold())
    if not whole:
        return item
    title, year = split_title_year(whole)
    return Recommendation(title, year or item.year, item.reason)


def _known_prefix(body: str, known: Mapping[str, str]) -> tuple[str, str] | None:
    """(whole title, rest) when `body` starts with a title the prompt showed (the longest such), else None."""
    stripped = body.lstrip("\"'\u201c\u2018*_")
    folded = stripped.casefold()
    for form in sorted(known, key=len, reverse=True):
        if folded.startswith(form) and not stripped[len(form) : len(form) + 1].isalnum():
            rest = stripped[len(form) :].lstrip("\"'\u201d\u2019*_")
            return known[form], rest
    return None


def _from_lines(text: str, known: Mapping[str, str] | None = None) -> list[Recommendation]:
    lines = [line for line in text.splitlines() if line.strip()]
    listed = [m.group("body") for line in lines if (m := _ITEM_RE.match(line))]
    if not listed:
        # No list markers: a comma/semicolon list of titles in one line, or one title per line.
        candidates = lines if len(lines) > 1 else re.split(r"[;,]\s+", lines[0]) if lines else []
        listed = [line for line in candidates if not line.rstrip().endswith(":")]
    return [item for item in (_from_text_entry(body, known or {}) for body in listed) if item.title]


def _from_text_entry(body: str, known: Mapping[str, str] | None = None) -> Recommendation:
    body = body.strip()
    prefix = _known_prefix(body, known) if known else None
    if prefix:
        title, year = split_title_year(prefix[0])
        return Recommendation(title, year, _reason(prefix[1]))
    quoted = _QUOTED_RE.match(body)
    year = _YEAR_RE.search(body)
    if quoted:
        title_part, rest = quoted.group("title"), quoted.group("rest")
    elif year:
        # "Thor: Ragnarok (2017): fun" - a bracketed year ends the title, colons and all.
        title_part, rest = body[: year.end()], body[year.end() :]
    else:
        parts = _DASH_SPLIT_RE.split(body, maxsplit=1)
        if len(parts) == 1:
            # a colon separates a reason only when a sentence follows ("Alien: Covenant" is one title)
            head, sep, tail = body.partition(": ")
            parts = [head, tail] if sep and len(tail.split()) >= 4 else [body]
        title_part, rest = parts[0], (parts[1] if len(parts) > 1 else "")
    title, year = split_title_year(title_part)
    if year is None:
        rest_year = _YEAR_RE.match(rest)
        if rest_year:
            year, rest = int(rest_year.group("year")), rest[rest_year.end() :]
    return Recommendation(_clean_title(title), year, _reason(rest))


def _reason(rest: str) -> str:
    return re.sub(r"^\s*(?:[-\u2013\u2014:,]|because|since)\s*", "", rest, flags=re.IGNORECASE).strip()


def _clean_title(title: str) -> str:
    title = re.sub(r"^\s*(?:title\s*:\s*)", "", title, flags=re.IGNORECASE)
    return title.strip().strip("\"'\u201c\u201d\u2018\u2019*_").strip().rstrip(".,;:").strip()
