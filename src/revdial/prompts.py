"""The one prompt module: every prompt revdial sends or trains on is a template of a domain pack (revdial.domains),
rendered here. Generation (requests, turns, answers), curation (the SFT system message and answer) and crs (the
evaluation system prompt) import it; it imports none of them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import jinja2

from revdial.domains import SHARED_TEMPLATES, DomainPack, load_pack


def with_article(noun: str) -> str:
    """ "a movie", "an item", "an office product"."""
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


@lru_cache(maxsize=32)
def _environment(domain: str | None) -> jinja2.Environment:
    pack = load_pack(domain)
    env = jinja2.Environment(
        # the pack's own templates first, then the shared ones
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(str(pack.templates)), jinja2.FileSystemLoader(str(SHARED_TEMPLATES))]
        ),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug in the caller, not an empty string
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters["a"] = with_article
    env.filters["short"] = pack.title.display
    env.filters["quoted"] = lambda text: f'"{text}"'
    return env


def render(name: str, domain: str | None = None, **variables: Any) -> str:
    """Render the domain's `<name>.jinja` (the pack's, else the shared one), stripped. `item_noun` and
    `item_plural` default to the pack's."""
    pack = load_pack(domain)
    variables.setdefault("item_noun", pack.item_noun)
    variables.setdefault("item_plural", plural(variables["item_noun"], pack))
    return _environment(domain).get_template(f"{name}.jinja").render(**variables).strip()


def plural(noun: str, pack: DomainPack) -> str:
    """The plural of a noun the pack uses ("pet supply" -> "pet supplies")."""
    if noun == pack.item_noun:
        return pack.item_plural
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def template_source(name: str, domain: str | None = None) -> str:
    """The raw text of the template `render(name, domain)` uses (for dataset cards)."""
    source, _, _ = _environment(domain).loader.get_source(_environment(domain), f"{name}.jinja")
    return source


def styles(domain: str | None = None) -> tuple[str, ...]:
    """The request styles the domain offers."""
    return tuple(load_pack(domain).styles)


def exemplars(style: str, domain: str | None = None) -> list[str]:
    """The pack's few-shot requests for a style."""
    return list(load_pack(domain).styles[style])


def sample_styles(seed_id: str, k: int, chosen_styles: Sequence[str], rng_seed: int = 0) -> list[str]:
    """The styles of a seed's k requests: distinct while k <= len(styles), reproducible from (seed_id, rng_seed).

    The RNG is keyed by the seed id rather than by row order, so a seed gets the same styles whatever else was
    selected with it, which keeps distilabel's cache valid when the budget changes.
    """
    if not chosen_styles:
        raise ValueError("generation.styles is empty: name at least one style of the domain")
    digest = hashlib.sha256(f"{rng_seed}:{seed_id}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    chosen: list[str] = []
    while len(chosen) < k:
        pool = list(chosen_styles)
        rng.shuffle(pool)
        chosen.extend(pool)
    return chosen[:k]


# --- the CRS prompts: SFT rows and evaluation ------------------------------------------------------------------
def sft_system_prompt(domain: str | None = None, item_noun: str | None = None) -> str:
    """The system message of every SFT row."""
    return render("crs_system", domain, **({"item_noun": item_noun} if item_noun else {}))


def system_prompt(k: int, item_noun: str | None = None, domain: str | None = None) -> str:
    """The evaluation system prompt: recommend k items, one per line."""
    return render("eval_system", domain, k=k, **({"item_noun": item_noun} if item_noun else {}))


def build_messages(
    turn: Any, k: int, item_noun: str | None = None, domain: str | None = None
) -> list[dict[str, str]]:
    """System instruction + the dialogue (`turn.context`, chat turns ending on the user's turn)."""
    return [{"role": "system", "content": system_prompt(k, item_noun, domain)}, *turn.context]
