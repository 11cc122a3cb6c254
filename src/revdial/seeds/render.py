"""The one text rendering of a seed: selection features embed it and generation prompts quote it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def _fmt_rating(rating: float, rating_max: float | None) -> str:
    value = f"{rating:g}"
    return f"{value}/{rating_max:g}" if rating_max else value


def _shown_rating(rating: Any, rating_max: float | None) -> bool:
    """A rating is shown when it is a finite number in [0, rating_max]: "rating 1e+09/5" never reaches a prompt."""
    if rating is None or isinstance(rating, bool):
        return False
    try:
        value = float(rating)
    except (TypeError, ValueError):
        return False
    return math.isfinite(value) and value >= 0 and (not rating_max or value <= rating_max)


# The parts of a seed a prompt can show (generation.seed_parts); the item's title is always shown.
SEED_PARTS = ("metadata", "review", "history", "neighbours")


def render_seed(
    row: Mapping[str, Any],
    rating_max: float | None = 5.0,
    max_list: int = 5,
    parts: Sequence[str] = SEED_PARTS,
) -> str:
    """Item, metadata, the user's review and rating, their history and the item's neighbours; empty parts omitted,
    and so are the `SEED_PARTS` not in `parts` (an ablation: what the teacher does without reviews, say).

    `row` needs the seed columns title, year, metadata_text, review_text, rating, history_liked, history_disliked,
    neighbor_titles (missing keys count as empty); a rating outside [0, rating_max] is left out. Lists are cut to
    `max_list` names to keep the text short.
    """
    title = row.get("title") or ""
    year = row.get("year")
    lines = [f"Item: {title} ({year})" if year else f"Item: {title}"]
    if row.get("metadata_text") and "metadata" in parts:
        lines.append(f"About: {row['metadata_text']}")
    rating = row.get("rating")
    has_rating = _shown_rating(rating, rating_max)  # without the review, the rating still shows
    review = (row.get("review_text") or "").strip() if "review" in parts else ""
    if review and has_rating:
        lines.append(f"User review (rating {_fmt_rating(float(rating), rating_max)}): {review}")
    elif review:
        lines.append(f"User review: {review}")
    elif has_rating:
        lines.append(f"User rating: {_fmt_rating(float(rating), rating_max)}")
    for key, label, part in (
        ("history_liked", "User also liked", "history"),
        ("history_disliked", "User disliked", "history"),
        ("neighbor_titles", "Often liked together with", "neighbours"),
    ):
        names = list(row.get(key) or [])[:max_list] if part in parts else []
        if names:
            lines.append(f"{label}: " + "; ".join(names))
    return "\n".join(lines)
