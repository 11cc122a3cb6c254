"""What reaches a terminal when something fails: never a local variable, never a secret.

distilabel installs a rich traceback hook with `show_locals=True` when it is imported, so any uncaught error would
print every frame's locals, an API key among them. `keep_tracebacks_plain()` (run when revdial is imported) puts
the previous hook back as soon as distilabel has installed its own, wherever revdial or a user imports it.
`scrub_secrets` removes the values of secret-looking environment variables from a message.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
from typing import Any

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


def secret_values() -> list[str]:
    """Values of environment variables whose names look secret (`*_API_KEY`, `HF_TOKEN`, ...), longest first."""
    values = {value for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= 6}
    return sorted(values, key=len, reverse=True)


def scrub_secrets(text: str) -> str:
    for value in secret_values():
        text = text.replace(value, "<redacted>")
    return text


class _PlainTracebacks(importlib.abc.MetaPathFinder):
    """After `distilabel` is imported, restore the excepthook it replaced (rich, with show_locals=True)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "distilabel":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            hook = sys.excepthook
            try:
                original_exec(module)
            finally:
                sys.excepthook = hook
                sys.meta_path[:] = [
                    finder for finder in sys.meta_path if not isinstance(finder, _PlainTracebacks)
                ]

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def keep_tracebacks_plain() -> None:
    """Undo distilabel's show_locals traceback hook now (if it is imported) or as soon as it is imported."""
    if "distilabel" in sys.modules:
        sys.excepthook = sys.__excepthook__
    elif not any(isinstance(finder, _PlainTracebacks) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PlainTracebacks())
