"""`generation.answer: grounded` end to end (fake LLM for the requests): lists come from the seeds' neighbours and
the catalogue, never from the teacher, so nothing is hallucinated and the teacher is called for requests only."""

import datasets
import pandas as pd
import pytest
from helpers import config, fake_llm, small_seeds_dir, synthesize_fixed

from revdial.generation.grounded import GROUNDED_MODEL_NAME

N_SEEDS, N_RECS = 8, 5


@pytest.fixture(scope="module")
def grounded_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grounded")
    seeds_dir = small_seeds_dir(tmp / "seeds", N_SEEDS)
    calls = tmp / "calls.txt"
    raw = config(fake_llm(calls), budget=N_SEEDS, answer="grounded", n_recommendations=N_RECS)
    mp = pytest.MonkeyPatch()
    mp.setenv("DISTILABEL_CACHE_DIR", str(tmp / "cache"))
    out = synthesize_fixed(raw, tmp / "out", seeds_dir)
    mp.undo()
    return {"out": out, "calls": calls, "catalogue": pd.read_parquet(seeds_dir / "catalogue.parquet")}


def _load(out, name):
    return datasets.load_from_disk(str(out / name))["train"]


def test_grounded_answers_name_only_catalogue_items_with_the_target_first(grounded_run):
    kept = _load(grounded_run["out"], "default")
    catalogue_ids = set(grounded_run["catalogue"]["item_id"].astype(str))
    assert len(kept) >= N_SEEDS - 1
    for row in kept:
        assert row["hallucinated_titles"] == []
        assert set(row["recommended_item_ids"]) <= catalogue_ids
        assert row["recommended_item_ids"][0] == row["target_item_id"]
        assert 1 < len(row["recommended_item_ids"]) <= N_RECS
        assert len(set(row["recommended_item_ids"])) == len(row["recommended_item_ids"])
        assert row["generator_model"] == GROUNDED_MODEL_NAME


def test_the_teacher_is_called_for_requests_only(grounded_run):
    calls = grounded_run["calls"].read_text().splitlines()
    assert len(calls) == N_SEEDS  # one request per seed (k = 1), no answer calls
