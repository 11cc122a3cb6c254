"""`generation.answer: hybrid` end to end (fake LLM): the list is the grounded one, the teacher writes only the
reasons, and a title the teacher adds never reaches a row."""

import datasets
import pytest
from fakes.replies import INVENTED_TITLE
from helpers import config, fake_llm, small_seeds_dir, synthesize_fixed

from revdial.generation.grounded import merge_reasons

N_SEEDS, N_RECS = 6, 4


@pytest.fixture(scope="module")
def hybrid_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hybrid")
    seeds_dir = small_seeds_dir(tmp / "seeds", N_SEEDS)
    calls = tmp / "calls.txt"
    llm = fake_llm(calls)
    mp = pytest.MonkeyPatch()
    mp.setenv("DISTILABEL_CACHE_DIR", str(tmp / "cache"))
    outs = {}
    for answer in ("grounded", "hybrid"):
        raw = config(llm, budget=N_SEEDS, answer=answer, n_recommendations=N_RECS)
        raw["curation"] = {**raw.get("curation", {}), "sft_answer": "reasons"}
        out = synthesize_fixed(raw, tmp / answer, seeds_dir)
        outs[answer] = datasets.load_from_disk(str(out / "default"))["train"]
    mp.undo()
    return {**outs, "calls": calls.read_text().splitlines()}


def test_hybrid_keeps_the_grounded_list_and_drops_the_title_the_teacher_added(hybrid_run):
    grounded = {r["seed_id"]: r for r in hybrid_run["grounded"]}
    hybrid = list(hybrid_run["hybrid"])
    assert len(hybrid) >= N_SEEDS - 1
    for row in hybrid:
        assert row["recommended_item_ids"] == grounded[row["seed_id"]]["recommended_item_ids"]
        assert row["hallucinated_titles"] == [] and INVENTED_TITLE not in row["completion"][0]["content"]


def test_hybrid_reasons_are_the_teachers(hybrid_run):
    for row in hybrid_run["hybrid"]:
        assert "the teacher's reason 1" in row["completion"][0]["content"]
    # one reasons call per seed, with the answer's system prompt (the requests come from the shared call cache)
    explain = [c for c in hybrid_run["calls"] if c.startswith("You are a helpful")]
    assert len(explain) == N_SEEDS


def test_merge_reasons_matches_titles_ignoring_year_and_case_and_falls_back_to_the_metadata_reason():
    titles = ["Heat (1995)", "Ronin (1998)", "Collateral (2004)"]
    written = [("ronin", "car chases"), ("Made Up (2031)", "invented"), ("Heat", "the shootout")]
    assert merge_reasons(titles, written, ["m1", "m2", "m3"]) == ["the shootout", "car chases", "m3"]
