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

__all__ = [
    "STRATEGIES",
    "Selection",
    "SelectionInputError",
    "fisher",
    "get_strategy",
    "hybrid",
    "js",
    "kcenter",
    "random",
    "strategy_params",
]


COMMON = {"X", "budget", "labelled", "seed", "mode", "progress"}


def strategy_params(name: str, params: dict | None) -> dict:
    """The entries of `params` that strategy `name` takes; a key no strategy takes is an error (a typo).

    One `params` mapping (a pipeline YAML's `selection.params`) can then serve every strategy of a comparison.
    """
    import inspect

    known = {s: set(inspect.signature(fn).parameters) - COMMON for s, fn in STRATEGIES.items()}
    params = dict(params or {})
    unknown = sorted(set(params) - set().union(*known.values()))
    if unknown:
        raise SelectionInputError(
            f"unknown selection parameter(s) {', '.join(unknown)}; "
            + "; ".join(f"{s} takes {', '.join(sorted(k))}" for s, k in known.items() if k)
        )
    get_strategy(name)
    return {k: v for k, v in params.items() if k in known[name]}


def get_strategy(name: str) -> Callable[..., Selection]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise SelectionInputError(
            f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}"
        ) from None
