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
}


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
