"""Secret-looking values out of anything revdial echoes (config echoes, cards, run summaries)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# "hf_token", "access_token", "api_key" but not "max_new_tokens".
_SECRET_KEY_RE = re.compile(
    r"(api[_-]?key|secret|password|passwd|authorization|credential|(^|_)token$|(^|_)key$)", re.IGNORECASE
)


def redact(value: Any, keep: frozenset[str] = frozenset()) -> Any:
    """A copy of a config with the values of secret-looking keys (api_key, token, ...) replaced by "<redacted>";
    keys named in `keep` (lower case) are left as they are."""
    if isinstance(value, Mapping):
        return {
            k: "<redacted>"
            if str(k).lower() not in keep and _SECRET_KEY_RE.search(str(k))
            else redact(v, keep)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v, keep) for v in value]
    return value
