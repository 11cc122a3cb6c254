"""Scrub raw review text before anything else reads it: offline, regex-based, line-aware, counted per kind.

Seeds call `scrub_review` on every raw review cell, before any line is joined: scraped reviews wrap the text a
reviewer wrote in page chrome that is only recognisable line by line:

    Christine F                      <- reviewer name (a short line next to chrome: removed, and replaced elsewhere)
    2 months ago                     <- date ("3 months ago", "Reviewed in the United States on May 2, 2021", ...)
    Verified Purchase                <- badge ("Verified Buyer", "Top 500 Reviewer", "5.0 out of 5 stars", ...)
    I found this movie to be ...     <- the review
    1 person found this helpful.     <- votes and buttons ("Was this review helpful?", "Helpful", "Report", ...)

What is removed or replaced, by kind (the keys of the counts):
- `control`: chat-template and tokenizer control tokens (`<|im_start|>`, `</s>`, `[INST]`, `<|eot_id|>`, `<<SYS>>`,
  `<start_of_turn>`, ...) and invisible control / bidi characters; `markup`: HTML tags and comments (`<br>` and block
  tags become line breaks first, entities are decoded);
- `name`, `date`, `boilerplate`: the chrome lines above (header and footer), unambiguous chrome phrases anywhere
  ("12 people found this helpful", "Verified Purchase", "Report abuse", "...MORE"), and the header's or signature's
  name wherever else it appears (two words or more, or a user name with a digit: a lone first name or surname is too
  often an ordinary word);
- `email`, `url`, `phone`, `handle`: placeholders [EMAIL], [URL], [PHONE], [HANDLE] ([NAME] for names).

`scrub_pii` is the same scrub without a source's own line rules (curation calls it again as a second line of
defence); both are idempotent.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["PII_KINDS", "LineRules", "neutralise", "scrub_pii", "scrub_review"]

PII_KINDS = ("email", "url", "phone", "handle", "name", "date", "boilerplate", "control", "markup")

# --- control tokens and markup -----------------------------------------------------------------------------------
_CONTROL_TOKEN_RE = re.compile(
    r"<\|[^<>|\n]{0,40}\|>"  # ChatML, Llama 3, Phi: <|im_start|> <|eot_id|> <|endoftext|> <|user|>
    r"|<｜[^<>\n]{0,40}｜>"  # DeepSeek's full-width bars
    r"|\[/?(?:INST|SYS|SYSTEM|USER|ASSISTANT|AVAILABLE_TOOLS|TOOL_CALLS|TOOL_RESULTS)\]"  # Llama 2, Mistral
    r"|<</?SYS>>"
    r"|</?s>|<(?:bos|eos|pad|unk|mask|sep|cls)>|\[(?:CLS|SEP|PAD|MASK|UNK|BOS|EOS)\]"
    r"|<(?:start|end)_of_turn>"  # Gemma
    r"|</?(?:system|user|assistant|think|tool_call|tool_response)>",
    re.IGNORECASE,
)
_INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_LINE_BREAK_TAG_RE = re.compile(
    r"<(?:br|hr)\s*/?>|</?(?:p|div|li|ul|ol|tr|h[1-6]|blockquote)(?:\s[^<>]*)?>", re.IGNORECASE
)
_MARKUP_RE = re.compile(
    r"<(script|style)\b[^>]*>.*?</\1\s*>"  # with their content
    r"|<!--.*?-->"
    r"|</?[A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z_:][^<>]*)?\s*/?>",
    re.IGNORECASE | re.DOTALL,
)


_LINK_MARKUP_RE = re.compile(r"(\S?)\[\[[A-Za-z]+:[^\s\]]+\s+([^\]]*)\]\]")  # Amazon's [[ASIN:B00X chisel]]


def _link_text(match: re.Match[str]) -> str:
    before, text = match.group(1), match.group(2)
    return f"{before} {text}" if before else text


def _sub_counted(
    pattern: re.Pattern[str],
    replacement: str | Callable[[re.Match[str]], str],
    text: str,
    counts: dict[str, int],
    kind: str,
) -> str:
    text, n = pattern.subn(replacement, text)
    counts[kind] += n
    return text


def neutralise(text: str, counts: dict[str, int] | None = None) -> str:
    """Control tokens and markup out of `text` (entities decoded first, so `&lt;/s&gt;` goes too); lines are kept."""
    counts = counts if counts is not None else dict.fromkeys(PII_KINDS, 0)
    if "&" in text:
        text = html.unescape(text)
    text = _sub_counted(_INVISIBLE_RE, "", text, counts, "control")
    if "<" not in text and "[" not in text and "｜" not in text:
        return text
    for _ in range(3):  # removing one token must not leave another behind ("<|im_<|x|>start|>")
        before = text
        text = _sub_counted(_CONTROL_TOKEN_RE, " ", text, counts, "control")
        text = _sub_counted(_LINE_BREAK_TAG_RE, "\n", text, counts, "markup")
        text = _sub_counted(_MARKUP_RE, " ", text, counts, "markup")
        text = _sub_counted(_LINK_MARKUP_RE, _link_text, text, counts, "markup")
        if text == before:
            break
    return text


# --- page chrome --------------------------------------------------------------------------------------------------
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}(?:[ T][\d:.]+Z?)?|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})"
)
_AGO = r"(?:(?:a|an|one|\d+)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago|yesterday|today|just now)"
_DATE_LINE_RE = re.compile(
    rf"^\s*(?:(?:posted|edited|updated|reviewed|written|published)(?:\s+on)?:?\s+)?(?:{_AGO}|{_DATE})\s*$"
    rf"|^\s*reviewed in [^\n]{{1,60}}? on {_DATE}\s*$",
    re.IGNORECASE,
)
_CHROME_LINE_RE = re.compile(
    r"^\s*(?:"
    r"(?:\d[\d,]*|one|a|no)\s+(?:person|people|customers?|users?|readers?)\s+found\s+this\s+(?:review\s+)?"
    r"(?:helpful|useful)\.?"
    r"|\d[\d,]*\s+(?:of|out\s+of)\s+\d[\d,]*\s+(?:people|customers|users)\s+found\s+(?:this|the\s+following)\s+"
    r"(?:review\s+)?helpful:?"
    r"|was\s+this\s+(?:review\s+)?(?:helpful|useful)(?:\s+to\s+you)?\s*\??"
    r"|(?:helpful|unhelpful|not\s+helpful)(?:\s*\(\d+\))?|(?:useful|funny|cool)\s*\(?\d+\)?"
    r"|report(?:\s+(?:abuse|review|this(?:\s+review)?|as\s+inappropriate))?"
    r"|flag|share|reply|comment|permalink|translate(?:\s+review)?(?:\s+to\s+\w+)?"
    r"|(?:read|show|see)\s+(?:more|less|all\s+reviews?)|\.\.\.\s*more"
    r")\s*$",
    re.IGNORECASE,
)
# Badges sit next to the reviewer's name; a short line above one is a name (above a vote button it is the review).
_BADGE_LINE_RE = re.compile(
    r"^\s*(?:"
    r"verified\s+(?:purchase|buyer|owner|reviewer)|top\s+(?:\d[\d,]*\s+)?(?:reviewer|contributor)(?::.*)?"
    r"|vine\s+customer\s+review\s+of\s+free\s+product|early\s+reviewer\s+rewards?"
    r"|(?:rated\s+)?\d(?:\.\d)?\s+out\s+of\s+\d\s+stars?|[★☆✩✪✭⭐]{1,10}(?:\s*\d(?:\.\d)?(?:\s*/\s*\d+)?)?"
    r"|(?:size|colou?r|format|style|edition|platform|pattern|capacity|configuration)\s*:\s*[^.!?]{1,60}"
    r")\s*$",
    re.IGNORECASE,
)
_FOOTER_ONLY_RE = re.compile(
    r"^\s*(?:yes|no)(?:\s*\(\d+\))?\s*$", re.IGNORECASE
)  # vote buttons under a question
# The same chrome when a scrape was already flattened into one line: only phrases no reviewer writes.
_INLINE_CHROME_RE = re.compile(
    r"\s*\b\d[\d,]*\s+(?:person|people)\s+found\s+this\s+(?:review\s+)?helpful\.?"
    r"|\s*\bwas\s+this\s+review\s+helpful(?:\s+to\s+you)?\s*\?"
    r"|\s*\bverified\s+purchase\b|\s*\breport\s+abuse\b"
    rf"|\s*\breviewed\s+in\s+the\s+[A-Z][\w ]{{1,40}}?\s+on\s+{_DATE}",
    re.IGNORECASE,
)
_INLINE_HINTS = ("found this", "was this review", "verified purchase", "report abuse", "reviewed in")
_MORE_MARKER_RE = re.compile(r"\s*\.\.\.\s?MORE\s*$")
_BYLINE_RE = re.compile(
    r"^\s*(?:by|reviewed\s+by|posted\s+by|review\s+by|[-—–~]+)\s*(?P<name>[^\s\d@].{0,48}?)"
    rf"(?:\s+(?:on|-|—|,)\s+(?:{_DATE}|{_AGO}))?\s*$"
    r"|^\s*(?P<wrote>[^\s\d@].{0,48}?)\s+(?:wrote|says|said):\s*$",
    re.IGNORECASE,
)
_CAPITALISED_RE = re.compile(r"^(?:[A-ZÀ-Ý][\w'’-]*\.?|(?:[A-Z]\.)+)$")  # "Jane", "F.", "J.R.", "O'Neil"
_HANDLE_WORD_RE = re.compile(r"^[\w'’.-]+$")
_SENTENCE_RE = re.compile(r"[!?,;:\"()]")


def _is_chrome(line: str, footer: bool = False) -> str | None:
    """The kind of a chrome line ("date", "badge" or "vote"), or None for a line a reviewer may have written."""
    if _DATE_LINE_RE.match(line):
        return "date"
    if _BADGE_LINE_RE.match(line):
        return "badge"
    if _CHROME_LINE_RE.match(line) or (footer and _FOOTER_ONLY_RE.match(line)):
        return "vote"
    return None


def _looks_like_name(line: str) -> bool:
    """A display name: "Christine F", "J. R. Smith", "moviebuff99" (one token); not a sentence, not a phrase."""
    line = line.strip()
    words = line.split()
    if not 1 <= len(words) <= 4 or len(line) > 40 or _SENTENCE_RE.search(line):
        return False
    if line.endswith(".") and not re.search(
        r"(?:^|\s)[A-Z]\.$", line
    ):  # "Christine F." yes, "He was right." no
        return False
    if len(words) == 1:
        return bool(_HANDLE_WORD_RE.match(line))
    return all(_CAPITALISED_RE.match(word) for word in words)


def _is_short_line(line: str) -> bool:
    line = line.strip()
    return 0 < len(line) <= 80 and len(line.split()) <= 12 and not re.search(r"[!?]|\w{3,}\.$", line)


def _is_header_name(lines: Sequence[str], at: int) -> bool:
    """Is line `at` of the header a display name? The first line above a date is, whatever it reads ("Harshal.",
    "Spencer K, Author.", "Willow Eats golden beans!"); a later one must be short; above a badge it must look like a
    name."""
    line, below = lines[at], _is_chrome(_next_text(lines, at + 1, 1))
    if below == "date":
        first = not any(previous.strip() for previous in lines[:at])
        return 0 < len(line.strip()) <= 80 if first else _is_short_line(line)
    return below == "badge" and _looks_like_name(line)


def _byline_name(line: str, footer: bool = False) -> str | None:
    """The name in "By Jane Doe on May 2, 2021", "— Jane Doe", "Jane Doe wrote:"; at the bottom a bare "By ..." line
    is more often the review's own ("By Far The Best"), so only dashes and "posted/reviewed by" count there."""
    match = _BYLINE_RE.match(line)
    if not match or (footer and re.match(r"\s*by\s", line, re.IGNORECASE)):
        return None
    name = (match.group("name") or match.group("wrote") or "").strip()
    return name if _looks_like_name(name) else None


def _next_text(lines: Sequence[str], start: int, step: int) -> str:
    at = start
    while 0 <= at < len(lines) and not lines[at].strip():
        at += step
    return lines[at] if 0 <= at < len(lines) else ""


def _header(lines: Sequence[str], counts: dict[str, int]) -> tuple[int, list[str]]:
    """(lines the header takes, reviewer names in it): chrome lines, and name lines next to one, from the top."""
    at, names = 0, []
    while at < len(lines) and at < 8:
        line = lines[at]
        kind = _is_chrome(line) if line.strip() else "blank"
        name = None if kind else _byline_name(line)
        if not kind and not name and _is_header_name(lines, at):
            name = line.strip()
        if not kind and not name:
            break
        _tally(kind, name, names, counts)
        at += 1
    return at, names


def _tally(kind: str | None, name: str | None, names: list[str], counts: dict[str, int]) -> None:
    """Count one header/footer line: a reviewer name (kept to replace in the text), a date or other chrome."""
    if name:
        names.append(name)
        counts["name"] += 1
    elif kind != "blank":
        counts["date" if kind == "date" else "boilerplate"] += 1


def _footer(lines: Sequence[str], start: int, counts: dict[str, int]) -> tuple[int, list[str]]:
    """(index where the footer starts, names in it): chrome lines and signatures ("— Jane Doe"), from the bottom."""
    at, names = len(lines), []
    while at > start:
        line = lines[at - 1]
        kind = _is_chrome(line, footer=True) if line.strip() else "blank"
        name = (
            None if kind else _byline_name(line, footer=True)
        )  # a bare short line there is the review's own
        if not kind and not name:
            break
        _tally(kind, name, names, counts)
        at -= 1
    return at, names


# --- contact details ----------------------------------------------------------------------------------------------
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
_URL_HINT_RE = re.compile(
    r"://|www\.|\.(?:com|org|net|io|co|edu|gov|tv|me|ly|be|uk|de|fr|info|biz)\b", re.IGNORECASE
)
_BLANK_RUN_RE = re.compile(r"\n{3,}")
_DIGITS_RE = re.compile(r"\d{3}")


def _contacts(body: str, counts: dict[str, int]) -> str:
    # Order matters: an e-mail contains an @handle and a domain; a URL may contain digits shaped like a phone.
    if "@" in body:
        body = _sub_counted(_EMAIL_RE, "[EMAIL]", body, counts, "email")
    if _URL_HINT_RE.search(body):  # the full pattern is slow to fail on every word of a long review
        body = _sub_counted(_URL_RE, "[URL]", body, counts, "url")
    if _DIGITS_RE.search(body):
        body = _sub_counted(_PHONE_RE, "[PHONE]", body, counts, "phone")
    if "@" in body:
        body = _sub_counted(_HANDLE_RE, "[HANDLE]", body, counts, "handle")
    return body


def _replace_name(body: str, name: str, counts: dict[str, int]) -> str:
    """Every case-insensitive, whole-word occurrence of `name` -> [NAME] (no regex: names are one-offs, and compiling
    one pattern per review was most of the scrub's time)."""
    low, key = body.lower(), name.lower()
    if key not in low:
        return body
    if len(low) != len(body):  # a character whose lower case is longer ("İ"): let the regex engine do it
        return _sub_counted(
            re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE), "[NAME]", body, counts, "name"
        )
    parts, at = [], 0
    start = low.find(key)
    while start >= 0:
        stop = start + len(key)
        whole = (start == 0 or not low[start - 1].isalnum() and low[start - 1] != "_") and (
            stop == len(low) or not low[stop].isalnum() and low[stop] != "_"
        )
        if whole:
            parts += [body[at:start], "[NAME]"]
            at = stop
            counts["name"] += 1
        start = low.find(key, stop if whole else start + 1)
    return "".join(parts) + body[at:]


def _name_forms(name: str) -> list[str]:
    """The forms of a display name worth replacing inside the text: the whole name and its core ("Spencer Kissack,
    Author." -> "Spencer Kissack"; "JENNIFER ARCE.209." -> "JENNIFER ARCE"). A lone word is too often an ordinary
    one ("Brown", "Maria") unless it carries a digit or underscore like a user name ("moviebuff99")."""
    core = re.split(r",|\s[-–—|]\s|\(", name, maxsplit=1)[0]
    core = re.sub(r"[\W\d_]+$", "", core).strip()
    forms = []
    for form in dict.fromkeys((name.strip(), core)):
        words = form.split()
        if len(form) >= 4 and (len(words) >= 2 or re.search(r"[\d_]", form)):
            forms.append(form)
    return forms


def _names(body: str, names: Sequence[str], counts: dict[str, int]) -> str:
    for name in dict.fromkeys(form for n in names for form in _name_forms(n)):
        body = _replace_name(body, name, counts)
    return body


# --- the scrub ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineRules:
    """A source's own chrome rules (a table's `text_clean`), applied to the raw lines with the built-in ones."""

    drop_leading_lines: int = 0
    drop_line_patterns: tuple[re.Pattern[str], ...] = ()  # a (stripped) line matching one is removed
    remove_patterns: tuple[re.Pattern[str], ...] = ()  # removed wherever they occur

    @classmethod
    def compile(
        cls,
        drop_leading_lines: int = 0,
        drop_line_patterns: Sequence[str] = (),
        remove_patterns: Sequence[str] = (),
    ) -> LineRules:
        return cls(
            drop_leading_lines,
            tuple(map(re.compile, drop_line_patterns)),
            tuple(map(re.compile, remove_patterns)),
        )


NO_RULES = LineRules()


def _body_lines(lines: list[str], rules: LineRules, counts: dict[str, int]) -> tuple[list[str], list[str]]:
    """The lines a reviewer wrote (header, footer and the source's chrome lines gone) and the names found.

    A one-line cell has no header or footer: "funny" is a MovieLens tag, not a vote button."""
    head, names = _header(lines, counts) if sum(1 for line in lines if line.strip()) > 1 else (0, [])
    start = max(head, rules.drop_leading_lines)
    tail, footer_names = _footer(lines, start, counts) if len(lines) - start > 1 else (len(lines), [])
    body = lines[start:tail]
    if rules.drop_line_patterns:
        kept = [line for line in body if not any(p.search(line.strip()) for p in rules.drop_line_patterns)]
        counts["boilerplate"] += len(body) - len(kept)
        body = kept
    return body, names + footer_names


def scrub_review(text: str | None, rules: LineRules = NO_RULES) -> tuple[str, dict[str, int]]:
    """(scrubbed text, {kind: removals}) for one raw review cell; line breaks are kept (callers flatten after).

    Every kind of `PII_KINDS` is a key of the counts. Idempotent without source rules.
    """
    counts = dict.fromkeys(PII_KINDS, 0)
    if not text:
        return "", counts
    text = neutralise(text.replace("\r\n", "\n").replace("\r", "\n"), counts)
    lines, names = _body_lines(text.split("\n"), rules, counts)
    body = "\n".join(lines).strip()
    for removal in rules.remove_patterns:  # the source's own first: it may remove "...MORE" outright
        body = removal.sub(" ", body).strip()
    body = _sub_counted(_MORE_MARKER_RE, " ...", body, counts, "boilerplate")
    low = body.lower()
    if any(hint in low for hint in _INLINE_HINTS):
        body = _sub_counted(_INLINE_CHROME_RE, "", body, counts, "boilerplate")
    body = _names(_contacts(body, counts), names, counts)
    return _BLANK_RUN_RE.sub("\n\n", body).strip(), counts


def scrub_pii(text: str | None) -> tuple[str, dict[str, int]]:
    """`scrub_review` without a source's rules: what curation runs again on the seeds' (already scrubbed) text."""
    return scrub_review(text)
