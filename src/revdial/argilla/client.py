"""The connection to Argilla: `ARGILLA_API_URL` / `ARGILLA_API_KEY`, checked before anything else happens.

`connect()` talks to the server once (who am I?) so that a server that is down, a wrong URL or a bad key fails
with one clear sentence, before push reads rows or pull writes files.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argilla as rg

URL_ENV = "ARGILLA_API_URL"
KEY_ENV = "ARGILLA_API_KEY"


class ArgillaConnectionError(RuntimeError):
    """Argilla cannot be used: the SDK is missing, the connection is not configured, the server does not answer,
    or it refuses the key. The message says which and what to do; it never contains the key."""


def require_argilla() -> None:
    try:
        import argilla  # noqa: F401
    except ImportError as exc:
        raise ArgillaConnectionError(
            "the argilla SDK is not installed: pip install 'revdial[argilla]'"
        ) from exc


def connect(api_url: str | None = None, api_key: str | None = None, *, retries: int = 3) -> rg.Argilla:
    """An authenticated `rg.Argilla` client, or `ArgillaConnectionError`."""
    require_argilla()
    import httpx
    from argilla._exceptions import ArgillaCredentialsError

    import argilla as rg

    api_url = (api_url or os.environ.get(URL_ENV) or "").strip().rstrip("/")
    api_key = (api_key or os.environ.get(KEY_ENV) or "").strip()
    if not api_url:
        raise ArgillaConnectionError(
            f"{URL_ENV} is not set: point it at your Argilla server, e.g. export {URL_ENV}=http://localhost:6900"
        )
    if not api_key:
        raise ArgillaConnectionError(
            f"{KEY_ENV} is not set: copy the API key from your Argilla user settings, export {KEY_ENV}=..."
        )
    try:
        client = rg.Argilla(api_url=api_url, api_key=api_key, retries=retries)
        client.me  # noqa: B018  (the SDK checks credentials lazily on some paths; make it ask now)
    except ArgillaCredentialsError as exc:
        raise ArgillaConnectionError(
            f"Argilla at {api_url} refused the API key in {KEY_ENV} (or {URL_ENV} is not an Argilla server)"
        ) from exc
    except (httpx.TransportError, OSError) as exc:
        raise ArgillaConnectionError(
            f"cannot reach Argilla at {api_url} ({type(exc).__name__}: {exc}); is the server running and is "
            f"{URL_ENV} right?"
        ) from exc
    return client


def resolve_workspace(client: rg.Argilla, workspace: str | None) -> str:
    """The named workspace, or the user's only one; a clear error when it does not exist or is ambiguous."""
    names = [w.name for w in client.workspaces]
    if workspace is not None:
        if workspace not in names:
            raise ArgillaConnectionError(
                f"workspace {workspace!r} not found for this user; available: {', '.join(names) or '(none)'}"
            )
        return workspace
    if len(names) == 1:
        return names[0]
    raise ArgillaConnectionError(
        f"this user has {len(names)} workspaces ({', '.join(names) or 'none'}): choose one with --workspace"
    )
