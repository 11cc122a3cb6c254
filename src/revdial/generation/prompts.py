"""Prompt templates (templates/*.jinja) and the per-seed choice of request style.

Every prompt is a Jinja file so a reviewer can diff prompts without reading Python and a dataset card can quote
the template it was made with.
"""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache
from pathlib import Path

import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Kinds of user request; each has a templates/style_<name>.jinja instruction.
STYLES: tuple[str, ...] = ("mood", "similar_to", "attributes", "negative", "occasion")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug in the caller, not an empty string
        keep_trailing_newline=False,
        autoescape=False,
    )


def render(name: str, **variables: object) -> str:
    """Render templates/<name>.jinja, stripped."""
    return _environment().get_template(f"{name}.jinja").render(**variables).strip()


def template_source(name: str) -> str:
    """The raw text of templates/<name>.jinja (for dataset cards)."""
    return (TEMPLATES_DIR / f"{name}.jinja").read_text()


def sample_styles(seed_id: str, k: int, styles: list[str] | tuple[str, ...] = STYLES, rng_seed: int = 0) -> list[str]:
    """The styles of a seed's k requests: distinct while k <= len(styles), reproducible from (seed_id, rng_seed).

    The RNG is keyed by the seed id rather than by row order, so a seed gets the same styles whatever else was
    selected with it, which keeps distilabel's cache valid when the budget changes.
    """
    unknown = [s for s in styles if s not in STYLES]
    if unknown:
        raise ValueError(f"unknown request style(s) {unknown}; known styles are: {', '.join(STYLES)}")
    if not styles:
        raise ValueError("generation.styles is empty: name at least one of " + ", ".join(STYLES))
    digest = hashlib.sha256(f"{rng_seed}:{seed_id}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    chosen: list[str] = []
    while len(chosen) < k:
        pool = list(styles)
        rng.shuffle(pool)
        chosen.extend(pool)
    return chosen[:k]
