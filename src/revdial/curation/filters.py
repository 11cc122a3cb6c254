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
    "NearDuplicates",
    "check_length",
    "copied_exemplar",
    "duplicate_of",
    "leaks_title",
    "missing_target",
    "named_titles",
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
    "instructions": "the request talks about writing (the prompt, the message, the user in the third person) or "
    "answers as the assistant, instead of asking",
    "not_a_request": "asks for nothing: no question and no asking phrase (recommend, looking for, any ideas, ...)",
    "unparseable": "markup, a numbered or bulleted list, chat-control tokens or noise instead of a request",
    "copies_exemplar": "the request copies a few-shot exemplar of its style (the teacher pasted the prompt)",
    "step_failed": "a pipeline step failed on this row's batch and returned nothing: the run log names the step and "
    "its error",
    "unknown_title": "the request names a title (in quotes, or after 'called') that is not in the catalogue: "
    "a small teacher invents them",
}

# Chat-control tokens of the common template families, markup, and runs of symbols: not something a user types.
_NOISE_RE = re.compile(
    r"<\|[^|>]{1,40}\|>|</?s>|\[/?INST\]|<<SYS>>|</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?>|```|^\s*#{1,6}\s"
    r"|^\s*(?:[-*\u2022]\s|\(?\d+[.)]\s)|[{}\[\]|\\]{2,}|[^\w\s]{6,}"
    # a list run into one line by parsing: "1) ... 2) ...", "1. ... 2. ...", "(a) ... (b) ..."
    r"|(?:^|\s)\(?1[.)]\s.*\s\(?2[.)]\s|(?:^|\s)\(a\)\s.*\s\(b\)\s"
    # a link: a small teacher invents shop URLs; a person asking a recommender does not paste one
    r"|\bhttps?://|\bwww\.\w",
    re.MULTILINE | re.DOTALL,
)
# Openings (and echoes of the prompt) that address the assistant or describe a writing task rather than ask for items.
_INSTRUCTION_RE = re.compile(
    r"^\W*(?:sure|okay|ok|certainly|of course|here(?:'s| is| are)|below is|write|compose|create|draft|generate"
    r"|title|item|user review|review|request|message|note|as an ai|i am an ai|i'm an ai)\b|^\W*(?:hey|hi|hello|dear) (?!there\b)\w+,"
    r"|\b(?:as an ai|language model|your (?:message|request|review) (?:is|has been)|successfully crafted"
    r"|i(?:'m| am) going to write|help you (?:craft|write)|in one paragraph|the user's preferences)\b"
    # talk about the writing task: the prompt's words, the message or review being written, the user or "this
    # person" in the third person
    r"|\b(?:two|three|2|3|both|these|those|the other) (?:messages|paragraphs|requests|examples|sentences)\b"
    r"|\bin (?:this|that|the same|a similar) (?:style|format|tone)\b|\bparagraphs?\b|\bexemplars?\b"
    r"|\b(?:message|request|note) (?:to|for) (?:the|an?|your) (?:\w+ )?assistant\b"
    r"|\b(?:write|writes|wrote|writing|written|craft|crafted|crafting|compose|composed)\b[^.!?]{0,40}"
    r"\b(?:message|request|review|paragraph|letter|prompt|response)s?\b"
    r"|\byour (?:own )?(?:review|message|request|prompt|writing|response)\b|\b(?:the|this) user(?:'s|s)?\b"
    r"|\b(?:this|the|a) person(?:'s)? (?:\w+ )?(?:would|wants?|asked|asks|is|likes?|loves?|enjoys?|might|may|has"
    r"|wrote|writes|said|says|sent|sends|mentions|mentioned)\b"
    r"|^\W*(?:you are (?:offered|given|asked|shown|provided|an?)|aim to|make sure|be sure to|remember to"
    r"|this is (?:about|a (?:message|review|story|request))|the following)\b"
    r"|\b(?:the|this|that|their|his|her) (?:message|request)s?\b"
    # the assistant's voice instead of the seeker's ("I'm so glad you enjoyed ...", "I'd be happy to help")
    r"|\b(?:glad|happy|pleased) (?:to hear|you(?:'re| are)? (?:enjoy|lik|lov|lik))|\bsorry for (?:the|any) confusion"
    r"|\b(?:i'?d|i would) be (?:happy|glad) to\b|\b(?:ready|happy|here) to help\b|\bhow can i help\b"
    r"|\bhelp you (?:find|choose|pick|discover)\b|\b(?:if|what) you(?:'re| are) looking for\b"
    r"|\byou(?:'re| are) (?:talking|referring) (?:about|to)\b"
    r"|\byou(?:'re| are) asking me\b|\bin the first person\b|\badd the (?:adjective|word|phrase)\b"
    r"|\byour (?:list|love for|favou?rite \w+s)\b|\bthe reviewer\b|\bwrite it\b|\b(?:never|not|don't) name(?:d)?(?: it)?\b"
    # the seed's fields copied from the prompt ("Item: this movie About: genre: ...")
    r"|\b(?:item|about|genre|director|star|writer|plot|user review|user rating|user also liked|often liked"
    r" together with) ?:",
    re.IGNORECASE | re.MULTILINE,
)
# The seeker in the third person ("they'd love", "(s)he would like"): meta talk about the user, unless the text
# speaks of someone of the writer's own ("my wife would like it", "our kids' favourite").
_THIRD_PERSON_RE = re.compile(
    r"\b(?:they|he|she|\(s\)he|s/he)(?:'d| would| will| might)? (?:\w+ )?(?:love|like|enjoy|want|prefer|likes|loves"
    r"|enjoys|wants|prefers)\b",
    re.IGNORECASE,
)
_OWN_PEOPLE_RE = re.compile(r"\b(?:my|our|we|us)\b", re.IGNORECASE)
# What makes a text a request: a question, or a phrase that asks ("any ideas", "looking for", "I want", "help me
# find"), or a stated taste ("I love horror films", not "I love this film", which is a review).
_ASK_RE = re.compile(
    r"\?|\b(?:(?:recommend|suggest)(?: me)? (?:a|an|some|something|anything|one|me)|(?:recommendation|suggestion)s?"
    r" (?:for|please|pls|plz)|any (?:recommendation|suggestion)s?|(?:recommend|suggest)\w* (?:to )?me\b"
    r"|you (?:could|can|would|might) (?:recommend|suggest)|looking for|look(?:ing)? (?:out )?for"
    r"|search(?:ing)? for|seeking|in search of"
    r"|(?<!you )(?<!they )(?<!he )(?<!she )(?:want(?:s|ed)?|wanna|need(?:s|ed)?)|in the mood|mood for|craving|fancy"
    r"|feel like|after (?:something|some|an?)\b"
    r"|any(?:thing| \w+)? (?:ideas?|suggestions?|recs?|thoughts|tips|advice|options|picks)|advice"
    r"|what (?:should|could|would|can|do|else|other)|which (?:one|\w+ (?:should|would|could))"
    r"|(?:could|can|would|will) (?:you|u)|please|pls|plz|i'?d (?:love|like|enjoy)|i would (?:love|like|enjoy)"
    r"|(?:help|show|give|find|tell|point) me|hoping (?:for|to)|trying to find|interested in|open to"
    r"|(?:know|got|have) (?:of )?any|anything (?:like|similar|with|that|for|but|else|good|new|fun)"
    r"|something (?:like|similar|with|that|for|to|but|new|fun|good|light)"
    r"|how about|what about|let'?s (?:watch|see|find|get|try)|(?:would|will) (?:like|love|enjoy)|on the hunt"
    r"|i(?:'m| am| was)? (?:into|a (?:big |huge )?fan of|thinking (?:of|about)|planning)|(?:big|huge) \w+ fan\b"
    r"|i (?:\w+ )?(?:\w+ )?(?:like|love|enjoy|prefer|dig)s? (?!(?:this|that|it|the|its?|how|when)\b)\w+)",
    re.IGNORECASE,
)
_SENTENCE_END = ".!?\"'”’)…"


def request_problem(request: str) -> str | None:
    """None when `request` reads as a user's request, else the reason code: "unparseable" (markup, a list, control
    tokens, symbol noise), "instructions" (talks about the writing task, the prompt or the user in the third
    person), "cut_off" (stops mid-sentence) or "not_a_request" (asks for nothing)."""
    text = request.strip()
    if _NOISE_RE.search(text):
        return "unparseable"
    if _INSTRUCTION_RE.search(text) or (_THIRD_PERSON_RE.search(text) and not _OWN_PEOPLE_RE.search(text)):
        return "instructions"
    if text and text[-1] not in _SENTENCE_END and _dangling(text):
        return "cut_off"
    if not _ASK_RE.search(text):
        return "not_a_request"
    return None


# A request that ends on one of these (or on a comma or dash) stopped mid-sentence; one ending on a content word
# without punctuation ("a tense crime film for tonight") is how people type.
_FUNCTION_WORDS = frozenset(
    "a an the and or but nor for to of in on at with without my your his her their our its that which who whom whose"
    " as by from into onto than so if when while like about some any this these those is are was were be been being"
    " i you we they he she very really just also such not no because since until".split()
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


# A title the request names: in straight or curly double quotes, starting with a capital or a digit ("a movie
# like "Heat"", not "something "dark""), or as capitalised words after "called" / "titled" ("a film called Skylark
# Tonight"; not "named": "my dog named Rex").
_QUOTED_RE = re.compile(r'"([A-Z0-9][^"\n]{0,80}?)"|“([A-Z0-9][^”\n]{0,80}?)”')
_CALLED_RE = re.compile(
    r"\b(?:called|titled)\s+((?:[A-Z0-9][\w'’:&-]*)(?:\s+(?:(?:of|the|a|an|and|in|on|to|for|with)\s+)*"
    r"[A-Z0-9][\w'’:&-]*)*)"
)


def named_titles(request: str) -> list[str]:
    """The titles `request` names as titles: quoted ones, and capitalised words after "called" or "titled" when
    nothing is quoted. A small teacher writes "I've heard of a film called "Skylark Tonight"", a film
    that does not exist; grounding these against the catalogue catches it."""
    quoted = [a or b for a, b in _QUOTED_RE.findall(request)]
    found = quoted or _CALLED_RE.findall(request)
    stripped = (text.strip(" .,!?;:") for text in found)
    return [title for title in stripped if title]


def copied_exemplar(request: str, examples: Sequence[str], max_overlap: float = 0.4) -> str | None:
    """The few-shot exemplar `request` copies, or None: more than `max_overlap` of the exemplar's word 3-grams are
    in the request ("Looking for something like Rising Sun, a fun heist with a great cast?" copies "Looking for
    something like Ocean's Eleven, a fun heist with a great cast."). A small teacher pastes the prompt's exemplar
    onto the seed's title; the row teaches the exemplar's words, not the seed's. 0 turns the check off."""
    if max_overlap <= 0:
        return None
    said = _shingles(request, 3)
    for example in examples:
        grams = _shingles(example, 3)
        if grams and len(grams & said) / len(grams) > max_overlap:
            return example
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


class NearDuplicates:
    """The texts seen so far, as a MinHash LSH index over word shingles. `check(texts)` gives, for each new text, the
    position (counted over every text checked so far) of an earlier text it near-duplicates (estimated Jaccard at
    least `threshold`), or None; a text that duplicates nothing is indexed. Checking texts in several calls gives
    the answers of one call over all of them, so a streaming step dedups across its batches."""

    def __init__(self, *, threshold: float = 0.8, shingle_size: int = 3, num_perm: int = 128, seed: int = 1):
        from datasketch import MinHashLSH

        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._shingle_size, self._num_perm, self._seed = shingle_size, num_perm, seed
        self.seen = 0

    def check(self, texts: Sequence[str]) -> list[int | None]:
        from datasketch import MinHash

        result: list[int | None] = []
        # MinHash.bulk draws the permutations once for all texts (per text, they were half of the dedup's time)
        shingles = ([s.encode() for s in _shingles(text, self._shingle_size)] for text in texts)
        for signature in MinHash.bulk(shingles, num_perm=self._num_perm, seed=self._seed):
            earlier = [int(key) for key in self._lsh.query(signature)]
            result.append(min(earlier) if earlier else None)
            if not earlier:
                self._lsh.insert(str(self.seen), signature)
            self.seen += 1
        return result


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
    index = NearDuplicates(threshold=threshold, shingle_size=shingle_size, num_perm=num_perm, seed=seed)
    return index.check(texts)
