"""He et al. (CIKM'23, "Large Language Models as Zero-Shot Conversational Recommenders") evaluation protocol.

A re-implementation of their evaluator (`src/tools/evaluate.py`, the `extract.py` of each model folder and
`src/utils.py` of AaronHeee/LLMs-as-Zero-Shot-Conversational-RecSys), so that revdial numbers can be put next to
theirs pair for pair:

1. Names of the catalogue: every entity of `entity2id.json` (people and genres too, not only the items), named by
   the last path segment of its DBpedia URI with "_", "-" and ">" turned into spaces and every "(...)" removed
   ("<http://dbpedia.org/resource/Water_(1985_film)>" -> "Water"). Ground truths and mentioned items are compared
   by these names, so two films of one title are the same name.
2. A reply's names: the text after its first "1." split into lines (no "1." anywhere: commas count as line
   breaks), each line with "(...)" removed, white space collapsed and leading numbering ("3.", "3)", "3 -") cut.
   Empty lines stay in the list and take a rank, as in theirs.
3. Each name is replaced by the catalogue name at the smallest case-insensitive Levenshtein distance. Their code
   breaks ties by the iteration order of a Python `set` of names, which changes with the process's hash seed: a
   tie is resolved by the recorded choice when the prediction carries He's own extraction (`he_rec_list`, checked
   to be one of the tied names at the same distance), else by the first tied name in `entity2id` order, and the
   number of ties that could change a hit is reported.
4. Variants: r1 no filtering, r2 mentioned names removed from the list ("exclude seen"), r3 names at distance > 2
   dropped ("filtered"), r4 both. Conditions: `recommendation` (the ground-truth name is not among the context's
   mentioned names), `discussion` (it is), `all`.
5. One row per (turn, ground truth): recall@K = hit in the top K, ndcg@K = 1/log2(rank+1), mrr@K = 1/rank, K in
   1, 5, 10, 20; the report holds their means per variant and condition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

KS: tuple[int, ...] = (1, 5, 10, 20)
THRESHOLD = 2
VARIANTS: dict[str, tuple[bool, bool]] = {  # name -> (filtered, exclude_seen)
    "r1": (False, False),
    "r2": (False, True),
    "r3": (True, False),
    "r4": (True, True),
}
CONDITIONS = ("all", "recommendation", "discussion")

_PARENTHESES_RE = re.compile(r"\([^()]*\)")
_SPACE_RE = re.compile(r"\s+")
_NUMBERING_RE = re.compile(r"^(?:\d+[\.\)、]?\s*[\-\—\–]?\s*)?")


class He2023Error(ValueError):
    """Input the He et al. protocol cannot score (a recorded extraction that disagrees with the reply)."""


def _del_parentheses(text: str) -> str:
    return _PARENTHESES_RE.sub("", text)


def _del_space(text: str) -> str:
    return _SPACE_RE.sub(" ", text).strip()


def _del_numbering(text: str) -> str:
    return _NUMBERING_RE.sub("", text, count=1)


def entity_name(uri: str) -> str:
    """He's name of a DBpedia entity: "<http://dbpedia.org/resource/Water_(1985_film)>" -> "Water"."""
    text = uri.split("/")[-1].replace("_", " ").replace("-", " ").replace(">", " ")
    return _del_space(_del_parentheses(text))


def entity_names(entity2id: dict[str, int]) -> dict[str, str]:
    """{entity id: He's name}; of two URIs with one id the later wins, as in their dict comprehension."""
    return {str(eid): entity_name(uri) for uri, eid in entity2id.items()}


def clean_line(line: str) -> str:
    """One list line as He's extraction leaves it: no "(...)", single spaces, no leading numbering."""
    return _del_numbering(_del_space(_del_parentheses(line.strip())))


def extract_names(text: str) -> list[str]:
    """The names in a reply, He's way: after the first "1.", one per line (commas when there is no "1.")."""
    if "1." in text:
        text = text.split("1.", maxsplit=1)[1]
    else:
        text = text.replace(",", "\n")
    return [clean_line(line) for line in text.split("\n")]


@dataclass(frozen=True)
class Extracted:
    movie_name: str
    min_edit_distance: int
    nearest_movie: str
    tied: tuple[str, ...]  # every catalogue name at min_edit_distance, nearest_movie first


class NameIndex:
    """The catalogue names, in entity2id order without repeats, for nearest-name look-ups."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(dict.fromkeys(names))
        self._lowered = [name.lower() for name in self.names]

    def nearest(self, name: str) -> Extracted:
        distances = process.cdist([name.lower()], self._lowered, scorer=Levenshtein.distance, workers=1)[0]
        best = int(distances.min())
        tied = tuple(self.names[i] for i in np.flatnonzero(distances == best))
        return Extracted(name, best, tied[0], tied)


def resolve(
    names: Sequence[str], index: NameIndex, recorded: Sequence[dict] | None = None
) -> list[Extracted]:
    """Nearest catalogue name of each extracted name; ties take He's recorded choice when one is given."""
    out = [index.nearest(name) for name in names]
    if recorded is None:
        return out
    if len(recorded) != len(out):
        raise He2023Error(f"he_rec_list has {len(recorded)} names but the reply gives {len(out)}")
    resolved = []
    for mine, theirs in zip(out, recorded):
        chosen = theirs.get("nearest_movie")
        if (
            theirs.get("movie_name") != mine.movie_name
            or theirs.get("min_edit_distance") != mine.min_edit_distance
        ):
            raise He2023Error(
                f"he_rec_list entry {theirs!r} disagrees with the reply's name {mine.movie_name!r} at distance "
                f"{mine.min_edit_distance}"
            )
        if chosen not in mine.tied:
            raise He2023Error(
                f"he_rec_list picks {chosen!r} for {mine.movie_name!r}, not a nearest catalogue name"
            )
        tied = (chosen, *(name for name in mine.tied if name != chosen))
        resolved.append(Extracted(mine.movie_name, mine.min_edit_distance, chosen, tied))
    return resolved


def variant_list(
    extracted: Sequence[Extracted], seen: Sequence[str], filtered: bool, exclude_seen: bool
) -> list[str]:
    names = [e.nearest_movie for e in extracted if not filtered or e.min_edit_distance <= THRESHOLD]
    if exclude_seen:
        names = [n for n in names if n not in seen]
    return names


def pair_metrics(ranked: Sequence[str], target: str, ks: Sequence[int] = KS) -> dict[str, float]:
    """recall/ndcg/mrr@K of one (turn, ground truth) pair: the first occurrence of the name counts."""
    out: dict[str, float] = {}
    for k in ks:
        top = list(ranked[:k])
        rank = top.index(target) + 1 if target in top else 0
        out[f"recall@{k}"] = float(rank > 0)
        out[f"ndcg@{k}"] = 1.0 / np.log2(rank + 1) if rank else 0.0
        out[f"mrr@{k}"] = 1.0 / rank if rank else 0.0
    return out


@dataclass
class HeTurn:
    dialog_id: str
    turn_id: str
    target_ids: list[str]
    target_names: list[str]
    seen_names: list[str]


def pair_rows(
    turns: Sequence[HeTurn], extractions: Sequence[Sequence[Extracted]], ks: Sequence[int] = KS
) -> dict:
    """{variant: [row per (turn, ground truth)]}, each row with ids, `condition` ("rec"/"dis") and the metrics."""
    rows: dict[str, list[dict]] = {}
    for variant, (filtered, exclude_seen) in VARIANTS.items():
        rows[variant] = []
        for turn, extracted in zip(turns, extractions):
            ranked = variant_list(extracted, turn.seen_names, filtered, exclude_seen)
            for target_id, target in zip(turn.target_ids, turn.target_names):
                rows[variant].append(
                    {
                        "dialog_id": turn.dialog_id,
                        "turn_id": turn.turn_id,
                        "gt_id": target_id,
                        "condition": "dis" if target in turn.seen_names else "rec",
                        **pair_metrics(ranked, target, ks),
                    }
                )
    return rows


def summarise(rows: dict[str, list[dict]], ks: Sequence[int] = KS) -> dict:
    """variant -> condition -> {"n_pairs", metric: mean (None without pairs)}."""
    keep = {"all": ("rec", "dis"), "recommendation": ("rec",), "discussion": ("dis",)}
    names = [f"{m}@{k}" for k in ks for m in ("recall", "ndcg", "mrr")]
    out: dict = {}
    for variant, variant_rows in rows.items():
        out[variant] = {}
        for condition, allowed in keep.items():
            chosen = [r for r in variant_rows if r["condition"] in allowed]
            summary: dict[str, object] = {"n_pairs": len(chosen)}
            for name in names:
                summary[name] = float(np.mean([r[name] for r in chosen])) if chosen else None
            out[variant][condition] = summary
    return out


def ambiguous_ties(turns: Sequence[HeTurn], extractions: Sequence[Sequence[Extracted]]) -> int:
    """Names whose nearest catalogue name was a tie that can change a score: one tied name is a ground truth of
    the turn (a hit or not) or a mentioned name (kept or removed by r2/r4, moving the ranks after it)."""
    count = 0
    for turn, extracted in zip(turns, extractions):
        relevant = set(turn.target_names) | set(turn.seen_names)
        count += sum(1 for e in extracted if len(e.tied) > 1 and relevant & set(e.tied))
    return count
