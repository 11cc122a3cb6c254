"""Evaluation decoding that gives a model's answer K distinct titles, whatever the backend's sampler.

Small models loop: greedy decoding of SmolLM2-135M repeats one title until the token cap. Four decodings, each built
on one backend call, `complete(answer_so_far, max_tokens, banned_token_ids, stop, sample_seed)` -> (text, token ids):

- `greedy`: one call, the list as the model writes it (repeats and all).
- `penalty`: one greedy call with a sequence-repetition penalty (the backend's DRY sampler, list punctuation as
  sequence breakers), so a title already written is penalised while the list format is not.
- `penalty_openings`: `penalty` where a line's opening is a sequence too, so a line that would open with a word
  already opening an earlier line pays the penalty: a small student's greedy mode opens every line with "The".
- `distinct`: the greedy list up to its first repeated (or empty) entry, then one line per call: a line whose title is
  already listed is asked again with the first token of that line banned (logit bias), up to `max_retries` times.
  The answer keeps the model's own ranking and text up to the first repeat, then continues it, line by line.
- `sample`: the greedy list and `n_samples - 1` sampled lists, merged round-robin by rank (greedy first) until K
  distinct titles.

The chat prompt is the same for every decoding and backend; only the continuation differs. A title's identity is
`title_key` (case, punctuation and a trailing year ignored), so "Heat (1995)" and "heat" are one title.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# one of revdial.config.DECODINGS, chosen on validation data (ReDial train-split turns, INSPIRED dev):
# benchmarks/eval_decoding.py
DEFAULT_DECODING = "distinct"

# (answer so far, max new tokens, banned token ids, stop strings, sampling seed or None for greedy) -> (text, tokens)
Complete = Callable[[str, int, frozenset[int], Sequence[str], int | None], tuple[str, list[int]]]

_NUMBERED_RE = re.compile(r"^\s*\d{1,2}\s*[.)](?P<body>.*)$", re.DOTALL)
# entries on their own lines, or inline ("1. A (1999) 2. B (2001)"), as small models also write them
_ENTRY_SPLIT_RE = re.compile(r"\n|\s(?=\d{1,2}[.)]\s)")
_YEAR_TAIL_RE = re.compile(r"\s*[(\[]\s*(?:18|19|20)\d{2}\s*[)\]].*$")
LINE_TOKENS = 24  # one "Title (Year)" line is ~10 tokens; a line that runs on is cut here


def title_key(body: str) -> str:
    """A list entry's identity: its title without a trailing "(Year)…", case and punctuation ignored."""
    return " ".join(re.sub(r"[^\w]+", " ", _YEAR_TAIL_RE.sub("", body).casefold()).split())


def numbered_bodies(text: str) -> list[str]:
    """The raw text after "N." of each leading numbered entry of `text` ("1. A\\n2. B\\nprose" -> [" A", " B"]);
    inline entries ("1. A 2. B") count as lines."""
    bodies = []
    for line in _ENTRY_SPLIT_RE.split(text):
        match = _NUMBERED_RE.match(line)
        if not match:
            break
        bodies.append(match.group("body"))
    return bodies


def render_answer(bodies: Sequence[str], next_number: bool = True) -> str:
    """ "1. A\\n2. B\\n3." — the accepted lines renumbered, ready for the next line."""
    text = "".join(f"{i}.{body}\n" for i, body in enumerate(bodies, start=1))
    return text + f"{len(bodies) + 1}." if next_number else text.rstrip("\n")


@dataclass
class DecodeStats:
    """What decoding one answer cost: backend calls and rejected (repeated or empty) lines."""

    calls: int = 0
    rejected_lines: int = 0


def cost_summary(calls: int, rejected_lines: int, turns: int) -> dict:
    """A decoding's cost as a report gives it (`generation.decode_cost`)."""
    return {
        "backend_calls": calls,
        "calls_per_turn": calls / turns if turns else 0.0,
        "rejected_lines": rejected_lines,
    }


def summarise_stats(stats: Sequence[DecodeStats]) -> dict:
    return cost_summary(sum(s.calls for s in stats), sum(s.rejected_lines for s in stats), len(stats))


_SEQUEL_RE = re.compile(r"\s+(?:\d{1,3}|[ivx]{1,4})$")
MAX_PER_FAMILY = 2  # "Toy Story" and "Toy Story 2" pass; "X 3", "X 4", … after them is a loop, not a list


def _accept(bodies: list[str], keys: set[str], body: str, k: int) -> bool:
    """Add `body` when it names a new title: not empty, not digits only (beyond a year-like title such as "1917"),
    not a repeat, and not a third member of one numbered family."""
    key = title_key(body)
    if not key or len(bodies) >= k or key in keys or (not re.search(r"[^\W\d_]", key) and len(key) > 4):
        return False
    family = _SEQUEL_RE.sub("", key)
    if sum(1 for known in keys if _SEQUEL_RE.sub("", known) == family) >= MAX_PER_FAMILY:
        return False
    bodies.append(body)
    keys.add(key)
    return True


def decode_greedy(complete: Complete, k: int, max_new_tokens: int, stats: DecodeStats) -> str:
    stats.calls += 1
    text, _ = complete("1.", max_new_tokens, frozenset(), [f"\n{k + 1}."], None)
    return "1." + text


def decode_distinct(
    complete: Complete, k: int, max_new_tokens: int, stats: DecodeStats, max_retries: int = 4
) -> str:
    """The greedy list up to its first repeated or empty entry, then line by line with repeated titles banned."""
    greedy = decode_greedy(complete, k, max_new_tokens, stats)
    bodies: list[str] = []
    keys: set[str] = set()
    for body in numbered_bodies(greedy):
        if not _accept(bodies, keys, body, k):
            break
    while len(bodies) < k and _next_line(complete, bodies, keys, k, stats, max_retries):
        pass
    return render_answer(bodies, next_number=False)


def _next_line(
    complete: Complete, bodies: list[str], keys: set[str], k: int, stats: DecodeStats, max_retries: int
) -> bool:
    """Append one new title, banning the first token of each repeated (or empty) attempt; False when none came."""
    banned: set[int] = set()
    for _ in range(max_retries + 1):
        stats.calls += 1
        answer = render_answer(bodies)
        stop = ["\n", f" {len(bodies) + 2}. "]
        text, tokens = complete(answer, LINE_TOKENS, frozenset(banned), stop, None)
        if _accept(bodies, keys, _ENTRY_SPLIT_RE.split(text, maxsplit=1)[0], k):
            return True
        stats.rejected_lines += 1
        if not tokens or tokens[0] in banned:
            return False
        banned.add(tokens[0])
    return False


def decode_sample(
    complete: Complete, k: int, max_new_tokens: int, stats: DecodeStats, n_samples: int = 4, seed: int = 0
) -> str:
    """Greedy plus `n_samples - 1` sampled lists, merged round-robin by rank until K distinct titles."""
    lists = [numbered_bodies(decode_greedy(complete, k, max_new_tokens, stats))]
    for index in range(1, n_samples):
        stats.calls += 1
        text, _ = complete("1.", max_new_tokens, frozenset(), [f"\n{k + 1}."], seed + index)
        lists.append(numbered_bodies("1." + text))
    return render_answer(merge_ranked(lists, k), next_number=False)


def merge_ranked(lists: Sequence[Sequence[str]], k: int) -> list[str]:
    """Round-robin by rank over `lists` (first list first at each rank), first spelling of each title, K at most."""
    bodies: list[str] = []
    keys: set[str] = set()
    for rank in range(max((len(entries) for entries in lists), default=0)):
        for entries in lists:
            if rank < len(entries):
                _accept(bodies, keys, entries[rank], k)
    return bodies


def decode(
    decoding: str, complete: Complete, k: int, max_new_tokens: int, n_samples: int = 4
) -> tuple[str, DecodeStats]:
    """(answer text "1. …\\n2. …", its cost) for one prompt. `penalty*` are greedy here: the penalty is in `complete`."""
    stats = DecodeStats()
    if decoding == "distinct":
        text = decode_distinct(complete, k, max_new_tokens, stats)
    elif decoding == "sample":
        text = decode_sample(complete, k, max_new_tokens, stats, n_samples=n_samples)
    else:
        text = decode_greedy(complete, k, max_new_tokens, stats)
    return text, stats
