"""Pure checks on generated rows: a request that names its target, text too short or too long, a recommendation list
without the target, and near-duplicate requests. Each returns a verdict; the curation steps turn verdicts into counted
rejects with these reason codes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from revdial.curation.grounding import normalize_title, split_year, strip_accents, title_aliases
from revdial.domains import TitleRules

__all__ = [
    "REASONS",
    "check_length",
    "duplicate_of",
    "leaks_title",
    "missing_target",
    "partial_leak",
    "request_problem",
]

_WORD_RE = re.compile(r"[\w'’-]+")

# Reason codes written to the `rejects` config.
REASONS = {
    "empty": "the text is empty",
    "too_short": "fewer characters or words than the minimum",
    "too_long": "more characters than the maximum",
    "leak": "the request names the target title",
    "missing_target": "the recommendation list does not contain the target item",
    "duplicate": "a near-duplicate of an earlier request",
    "cut_off": "the request stops mid-sentence (the token cap cut it)",
    "instructions": "the request talks to the assistant about writing, or echoes the prompt, instead of asking",
    "unparseable": "markup, chat-control tokens or noise instead of a request",
}

# Chat-control tokens of the common template families, markup, and runs of symbols: not something a user types.
_NOISE_RE = re.compile(
    r"<\|[^|>]{1,40}\|>|</?s>|\[/?INST\]|<<SYS>>|</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?>|```|^\s*#{1,6}\s"
    r"|^\s*(?:[-*]\s|\d+\.\s)|[{}\[\]|\\]{2,}|[^\w\s]{6,}",
    re.MULTILINE,
)
# Openings (and echoes of the prompt) that address the assistant or describe a writing task rather than ask for items.
_INSTRUCTION_RE = re.compile(
    r"^\W*(?:sure|okay|ok|certainly|of course|here(?:'s| is| are)|below is|write|compose|create|draft|generate"
    r"|title|item|user review|review|request|message|note|as an ai|i am an ai|i'm an ai)\b|^\W*(?:hey|hi|hello|dear) (?!there\b)\w+,"
    r"|\b(?:as an ai|language model|your (?:message|request|review) (?:is|has been)|successfully crafted"
    r"|i(?:'m| am) going to write|help you (?:craft|write)|in one paragraph|the user's preferences)\b",
    re.IGNORECASE,
)
_SENTENCE_END = ".!?\"'”’)…"


def request_problem(request: str) -> str | None:
    """None when `request` reads as a user's request, else the reason code: "unparseable" (markup, control tokens,
    symbol noise), "instructions" (addresses the assistant or echoes the prompt) or "cut_off" (stops mid-sentence)."""
    text = request.strip()
    if _NOISE_RE.search(text):
        return "unparseable"
    if _INSTRUCTION_RE.search(text):
        return "instructions"
    if text and text[-1] not in _SENTENCE_END and _dangling(text):
        return "cut_off"
    return None


# A request that ends on one of these (or on a comma or dash) stopped mid-sentence; one ending on a content word
# without punctuation ("a tense crime film for tonight") is how people type.
_FUNCTION_WORDS = frozenset(
    "a an the and or but nor for to of in on at with without my your his her their our its that which who whom whose"
    " as by from into onto than so if when while like about some any this these those is are was were be been being"
    " i you we they he she it me us them very really just also such more most not no because since until".split()
)


def _dangling(text: str) -> bool:
    if text[-1] in ",;:-–—(":
        return True
    words = _WORD_RE.findall(text.lower())
    return bool(words) and words[-1] in _FUNCTION_WORDS


def partial_leak(request: str, title: str) -> str | None:
    """The word of `request` that names a distinctive word of `title` in another form ("the Focker family" for
    Meet the Fockers), or None. A distinctive word has 5+ letters; the request's word must be written as a name
    (capitalised) and share its stem (the title word without a plural or possessive ending)."""
    base, _ = split_year(title)

    def stem(word: str) -> str:
        word = normalize_title(word)
        for ending in ("'s", "s"):
            if word.endswith(ending) and len(word) - len(ending) >= 5:
                return word[: -len(ending)]
        return word

    stems = {stem(word) for word in _WORD_RE.findall(strip_accents(base)) if len(word) >= 5}
    for word in _WORD_RE.findall(strip_accents(request)):
        if word[:1].isupper() and len(word) >= 5 and stem(word) in stems:
            return word
    return None


def leaks_title(request: str, title: str, rules: TitleRules | None = None) -> bool:
    """True when `request` names `title` (or one of its alternative titles) as whole words, after normalisation.

    "any film like the matrix?" leaks "Matrix, The (1999)". A one-word title ("Up", "Heat", "Alien") leaks only when
    written capitalised, as a name, or with its article ("the matrix"), so that "heat up my evening" leaks neither
    "Heat" nor "Up".

    With a domain's title `rules`, bracketed parts that are not aliases ("(Nintendo Switch)", "[Pack of 6]") are
    taken out of the title first, so a request that names the platform or size does not leak.
    """
    if rules is not None:
        title = rules.alias_brackets(title) or title
    normalised_request = f" {normalize_title(request, keep_article=True)} "
    base, _ = split_year(title)
    with_article = normalize_title(base, keep_article=True)
    if with_article != normalize_title(base) and f" {with_article} " in normalised_request:
        return True
    capitalised: set[str] | None = None
    for key, _priority in title_aliases(title):
        if " " in key:
            if f" {key} " in normalised_request:
                return True
            continue
        if capitalised is None:
            words = _WORD_RE.findall(strip_accents(request))
            capitalised = {normalize_title(word) for word in words if word[:1].isupper()}
        if key in capitalised:
            return True
    return False


def check_length(
    text: str | None,
    *,
    min_chars: int = 1,
    max_chars: int | None = None,
    min_words: int = 0,
) -> str | None:
    """None when the text is acceptable, else the reason code: "empty", "too_short" or "too_long"."""
    stripped = (text or "").strip()
    if not stripped:
        return "empty"
    if len(stripped) < min_chars or len(stripped.split()) < min_words:
        return "too_short"
    if max_chars is not None and len(stripped) > max_chars:
        return "too_long"
    return None


def missing_target(recommended_item_ids: Sequence[str], target_item_id: str) -> bool:
    """True when the grounded recommendation list does not contain the target item."""
    return str(target_item_id) not in {str(item) for item in recommended_item_ids}


def _shingles(text: str, size: int) -> set[str]:
    words = normalize_title(text).split()
    if len(words) <= size:
        return {" ".join(words)}
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def duplicate_of(
    texts: Sequence[str],
    *,
    threshold: float = 0.8,
    shingle_size: int = 3,
    num_perm: int = 128,
    seed: int = 1,
) -> list[int | None]:
    """For each text, the index of an earlier text it near-duplicates (estimated Jaccard of word shingles at least
    `threshold`, MinHash LSH), or None. The first of a group is kept, later ones point at it.
    """
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    result: list[int | None] = []
    for position, text in enumerate(texts):
        signature = MinHash(num_perm=num_perm, seed=seed)
        signature.update_batch([s.encode() for s in _shingles(text, shingle_size)])
        earlier = [int(key) for key in lsh.query(signature)]
        result.append(min(earlier) if earlier else None)
        if not earlier:
            lsh.insert(str(position), signature)
    return result
