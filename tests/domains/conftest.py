"""Domain tests use the generation fakes and helpers (tests/fakes, tests/generation/helpers.py)."""

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
for path in (TESTS_DIR, TESTS_DIR / "generation", TESTS_DIR / "domains"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
