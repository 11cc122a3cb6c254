"""Generation tests import the fakes (tests/fakes) as `fakes.*` and their helpers by module name."""

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
for path in (TESTS_DIR, TESTS_DIR / "generation"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
