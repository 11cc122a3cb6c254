"""Fixtures for the publishing tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .synthesis import write_synthesis


@pytest.fixture
def synthesis_dir(tmp_path: Path) -> Path:
    return write_synthesis(tmp_path / "synth")
