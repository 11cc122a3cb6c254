"""From annotators' responses to one row's labels, and from labels to keep-or-drop. Pure Python.

Only submitted responses count. Several annotators on one record: quality is their mean, relevant their majority
(a tie reads "no": a row goes to training only when people agree it is relevant), flags their union, and the
correction the first non-empty one in user-id order (deterministic; Argilla has no "final answer" of its own).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from revdial.argilla.schema import CORRECTED, FLAGS, QUALITY, RELEVANT

# Why a labelled row is not in the `default` (training) config.
DROP_REASONS = {
    "not_submitted": "no annotator submitted a response (pending or draft)",
    "discarded": "the annotators discarded the record",
    "low_quality": "mean quality below --min-quality",
    "not_relevant": "the annotators judged the recommendation not relevant",
    "flagged": "an annotator flagged hallucination, leak or another problem",
}


@dataclass(frozen=True)
class Labels:
    status: str  # submitted | discarded | draft | pending
    quality: float | None = None
    relevant: str | None = None
    flags: list[str] = field(default_factory=list)
    corrected: str | None = None
    annotators: int = 0


def _answers_by_user(responses: Iterable[tuple[str | None, Any, str, str]]) -> dict[str, dict[str, Any]]:
    """{user_id: {question: value, "_status": status}}, from the flat response tuples."""
    by_user: dict[str, dict[str, Any]] = {}
    for question, value, user_id, status in responses:
        entry = by_user.setdefault(str(user_id), {"_status": str(status)})
        if question is not None:
            entry[question] = value
    return by_user


def _unsubmitted_status(by_user: dict[str, dict[str, Any]]) -> str:
    """With no submitted response: discarded if anyone discarded, else draft if anyone drafted, else pending."""
    statuses = {entry["_status"] for entry in by_user.values()}
    return next((s for s in ("discarded", "draft") if s in statuses), "pending")


def _mean_quality(submitted: list[dict[str, Any]]) -> float | None:
    ratings = [float(e[QUALITY]) for e in submitted if e.get(QUALITY) is not None]
    return sum(ratings) / len(ratings) if ratings else None


def _majority_relevant(submitted: list[dict[str, Any]]) -> str | None:
    """ "yes" only when more annotators said yes than anything else (a tie reads "no"); None when nobody answered."""
    votes = Counter(e[RELEVANT] for e in submitted if e.get(RELEVANT) is not None)
    if not votes:
        return None
    return "yes" if votes["yes"] > sum(n for label, n in votes.items() if label != "yes") else "no"


def _first_correction(submitted: list[dict[str, Any]]) -> str | None:
    """The first non-empty correction (stripped), in the order given (user-id order)."""
    for entry in submitted:
        text = entry.get(CORRECTED)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


def aggregate(responses: Iterable[tuple[str | None, Any, str, str]]) -> Labels:
    """Labels from `(question, value, user_id, status)` tuples, one per answered question per user (question None:
    a response without answers, e.g. a plain discard)."""
    by_user = _answers_by_user(responses)
    submitted = [by_user[user] for user in sorted(by_user) if by_user[user]["_status"] == "submitted"]
    if not submitted:
        return Labels(status=_unsubmitted_status(by_user))
    return Labels(
        status="submitted",
        quality=_mean_quality(submitted),
        relevant=_majority_relevant(submitted),
        flags=sorted({flag for e in submitted for flag in (e.get(FLAGS) or [])}),
        corrected=_first_correction(submitted),
        annotators=len(submitted),
    )


def drop_reason(labels: Labels, min_quality: float | None = None) -> str | None:
    """None when the row goes to training; otherwise a key of DROP_REASONS (the first that applies)."""
    if labels.status == "discarded":
        return "discarded"
    if labels.status != "submitted":
        return "not_submitted"
    if min_quality is not None and (labels.quality is None or labels.quality < min_quality):
        return "low_quality"
    if labels.relevant != "yes":
        return "not_relevant"
    if labels.flags:
        return "flagged"
    return None


def apply_correction(row: dict[str, Any], corrected: str | None) -> dict[str, Any]:
    """The row with the assistant turn replaced by the annotator's text (in messages and completion alike)."""
    if not corrected:
        return row
    answer = {"role": "assistant", "content": corrected}
    messages = [*row["messages"][:-1], answer]
    return {**row, "messages": messages, "prompt": messages[:-1], "completion": [answer]}
