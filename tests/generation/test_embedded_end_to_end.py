"""The real thing, slowly: the bundled sample, MiniLM features, JS selection and the embedded SmolLM2 (llama.cpp)."""

import json

import datasets
import pytest
from helpers import SAMPLE_CONFIG

from revdial.generation.run import synthesize


@pytest.mark.slow
def test_embedded_default_synthesizes_a_loadable_dataset_from_the_sample(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILABEL_CACHE_DIR", str(tmp_path / "cache"))
    out = synthesize(SAMPLE_CONFIG, budget=3, out=tmp_path / "out", quiet=True)
    summary = json.loads((out / "distiset_configs" / "summary.json").read_text())
    assert summary["accounting"]["ok"] and summary["accounting"]["seeds_selected"] == 3
    assert summary["generator_model"].startswith("SmolLM2-135M-Instruct")
    assert summary["tokens"]["input"] > 0 and summary["tokens"]["output"] > 0
    kept = datasets.load_from_disk(str(out / "default"))["train"]
    for row in kept:
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert row["target_item_id"] in row["recommended_item_ids"]
    assert len(set(kept["seed_id"])) + summary["accounting"]["seeds_rejected"] == 3
