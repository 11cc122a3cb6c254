"""Test-wide setup: no network, caches inside the work tree, and the ../shared/data fixture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Caches stay in the work tree; the Hub is unreachable here and in CI, so run offline.
os.environ.setdefault("HF_HOME", str(ROOT / ".cache" / "hf"))
os.environ.setdefault("DISTILABEL_CACHE_DIR", str(ROOT / ".cache" / "distilabel"))
os.environ.setdefault("REVDIAL_CACHE", str(ROOT / ".cache" / "revdial"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(os.environ.get("REVDIAL_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real ReDial, INSPIRED dev, MovieLens, reviews); skips the test on a fresh clone without it."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"real data not present at {SHARED_DATA} (a fresh clone has no ../shared; set REVDIAL_SHARED_DATA)")
    return SHARED_DATA
