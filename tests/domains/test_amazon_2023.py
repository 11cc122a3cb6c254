"""pipelines/amazon-2023.yaml on the shared Amazon Reviews 2023 sample: seeds -> synthesis (fake LLM) -> rows, with
no movie words in any prompt, request or system message, and long titles kept whole."""

import json
import re
from pathlib import Path

import datasets
import pytest
import yaml
from helpers import fixed_upstream

from revdial.generation.run import make_plan, run_plan

ROOT = Path(__file__).resolve().parents[2]
MOVIE_WORDS = re.compile(r"\b(movies?|films?|director|actors?)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def run(shared_data, tmp_path_factory):
    from revdial.seeds.build import build_seeds, save_seeds

    tmp = tmp_path_factory.mktemp("amazon")
    raw = yaml.safe_load((ROOT / "pipelines" / "amazon-2023.yaml").read_text())
    sample = shared_data / "amazon2023_sample"
    raw["source"]["tables"]["reviews"]["path"] = str(sample / "reviews.parquet")
    raw["source"]["tables"]["items"]["path"] = str(sample / "meta.parquet")
    prompts = tmp / "prompts.jsonl"
    raw["generation"]["llm"] = {
        "backend": "class",
        "path": "recording_llm:RecordingLLM",
        "kwargs": {"prompts_path": str(prompts), "hallucinate": False},
    }
    raw["selection"]["budget"] = 16
    (tmp / "amazon.yaml").write_text(yaml.safe_dump(raw))
    build = build_seeds(tmp / "amazon.yaml")
    # the longest titles first: those the old 120-character parser limit could never ground
    order = sorted(range(len(build.seeds)), key=lambda i: -len(build.seeds[i]["title"]))
    build.seeds = build.seeds.select(order[:16])
    seeds_dir = save_seeds(build, tmp / "seeds")
    mp = pytest.MonkeyPatch()
    mp.setenv("DISTILABEL_CACHE_DIR", str(tmp / "cache"))
    plan, echo, out = make_plan(tmp / "amazon.yaml", out=tmp / "out", seeds_dir=seeds_dir)
    run_plan(plan, echo, out, quiet=True, upstream=fixed_upstream(seeds_dir))
    mp.undo()
    chats = [json.loads(line) for line in prompts.read_text().splitlines()]
    return {"out": out, "chats": chats, "seeds": datasets.load_from_disk(str(seeds_dir)), "plan": plan}


def test_the_config_picks_the_products_pack(run):
    assert run["plan"].domain == "products"
    assert set(run["plan"].generation.styles) == {
        "use_case",
        "problem",
        "budget",
        "compared_to",
        "gift",
        "negative",
    }


def test_no_prompt_or_system_message_says_movie(run):
    assert run["chats"]
    # the seed text (the paragraph after "(never name it):") quotes what reviewers wrote; every other part of a
    # prompt is the pack's
    said = [
        MOVIE_WORDS.findall(re.sub(r"\(never name it\):\n.*?(?:\n\n|$)", "", message["content"], flags=re.S))
        for chat in run["chats"]
        for message in chat
    ]
    assert not [words for words in said if words]


def test_kept_rows_have_no_movie_words_and_long_titles_ground_whole(run):
    kept = datasets.load_from_disk(str(run["out"] / "default"))["train"]
    assert len(kept) >= 12  # of 16 seeds whose titles are the sample's longest
    assert max(len(t) for t in kept["target_title"]) > 120
    for row in kept:
        assert not MOVIE_WORDS.search(row["messages"][0]["content"])
        assert row["target_title"] in row["recommended_titles"]
        assert row["target_item_id"] in row["recommended_item_ids"]


def test_items_are_called_by_their_own_kind(run):
    systems = {chat[0]["content"] for chat in run["chats"] if "realistic message" in chat[0]["content"]}
    nouns = {re.search(r"sends to an? (.+?) recommendation assistant", s).group(1) for s in systems}
    assert len(nouns) > 1 and "movie" not in nouns
