"""Active seed selection strategies: pure numpy functions `fn(X, budget, *, labelled, seed, mode, **params)`.

Each returns a `Selection(order, scores)`; `order[:b]` is the selection at budget b, so one run serves a budget sweep.
"""

from __future__ import annotations

from collections.abc import Callable

from revdial.selection.strategies.base import Selection, SelectionInputError
from revdial.selection.strategies.fisher import fisher
from revdial.selection.strategies.hybrid import hybrid
from revdial.selection.strategies.js import js
from revdial.selection.strategies.kcenter import kcenter
from revdial.selection.strategies.random import random

STRATEGIES: dict[str, Callable[..., Selection]] = {
    "random": random,
    "js": js,
    "fisher": fisher,
    "kcenter": kcenter,
    "hybrid": hybrid,
}

__all__ = ["STRATEGIES", "Selection", "SelectionInputError", "fisher", "hybrid", "js", "kcenter", "random"]


def get_strategy(name: str) -> Callable[..., Selection]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise SelectionInputError(
            f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}"
        ) from None
