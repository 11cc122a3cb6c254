"""The repository stays `ruff format`ted (CI runs the tests; this is its format check)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (pip install -e .[dev])")
def test_ruff_format_check_passes():
    paths = [p for p in ("src", "tests", "benchmarks", "pipelines") if (ROOT / p).exists()]
    result = subprocess.run(["ruff", "format", "--check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
