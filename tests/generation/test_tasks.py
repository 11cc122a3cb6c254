"""tasks.py and revdial.prompts: what each task sends to the LLM and what it makes of the answer."""

import pytest

from fakes.llm import FakeLLM
from revdial.generation.calls import ENDPOINT_DOWN_REASON, TOKEN_BUDGET_REASON, LLMCallCache, TokenLedger
from revdial.generation.tasks import (
    ContinueDialogue,
    GenerateRequest,
    PlanRequests,
    RecommendItems,
    mask_title,
)
from revdial.prompts import render, sample_styles, styles

SEED = {
    "seed_id": "s1",
    "item_id": "42",
    "title": "Heat",
    "year": 1995,
    "seed_text": "Item: Heat (1995)\nAbout: genre: crime; director: Michael Mann\nUser review (rating 5/5): Heat is "
    "the best heist film, that bank shootout!",
    "history_liked": ["Ronin", "Collateral"],
    "history_disliked": ["Cats"],
    "neighbor_titles": ["Ronin", "The Town", "Thief", "Collateral"],
}


def _task(cls, **kwargs):
    task = cls(name=cls.__name__.lower(), llm=FakeLLM(), **kwargs)
    task.load()
    return task


def _run(task, rows):
    return [row for batch in task.process(rows) for row in batch]


STYLES = styles("movies")


@pytest.mark.parametrize("style", STYLES)
def test_request_prompt_uses_the_style_template_and_never_shows_the_target_title(style):
    chat = _task(GenerateRequest).format_input({**SEED, "style": style})
    assert [m["role"] for m in chat] == ["system", "user"]
    prompt = chat[1]["content"]
    assert (
        render(
            f"style_{style}",
            item_noun="movie",
            history_liked=SEED["history_liked"],
            history_disliked=SEED["history_disliked"],
        )
        in prompt
    )
    assert "Heat" not in prompt and "this movie" in prompt
    assert "Michael Mann" in prompt  # the material is there, only the title is masked


def test_similar_to_style_names_a_liked_title():
    prompt = _task(GenerateRequest).format_input({**SEED, "style": "similar_to"})[1]["content"]
    assert '"Ronin"' in prompt


def test_mask_title_replaces_title_with_and_without_year_as_whole_words():
    assert (
        mask_title("Heat (1995) beats Heatwave; heat is great", "Heat", "X") == "X beats Heatwave; X is great"
    )


def test_sample_styles_is_reproducible_distinct_and_keyed_by_seed():
    first = sample_styles("seed-a", 3, STYLES, rng_seed=7)
    assert first == sample_styles("seed-a", 3, STYLES, rng_seed=7)
    assert len(set(first)) == 3
    assert len(set(sample_styles("seed-a", 7, STYLES))) == len(STYLES)  # cycles through all before repeating
    assert {tuple(sample_styles(f"seed-{i}", 2, STYLES)) for i in range(20)} != {tuple(first[:2])}


def test_sample_styles_rejects_an_empty_style_list():
    with pytest.raises(ValueError, match="generation.styles is empty"):
        sample_styles("s", 1, [])


def test_plan_requests_fans_each_seed_out_into_k_styled_rows():
    step = PlanRequests(name="plan", k=3, styles=["mood", "occasion"])
    step.load()
    rows = [row for batch in step.process([{"seed_id": "a"}, {"seed_id": "b"}]) for row in batch]
    assert [(r["seed_id"], r["request_index"]) for r in rows] == [
        ("a", 0),
        ("a", 1),
        ("a", 2),
        ("b", 0),
        ("b", 1),
        ("b", 2),
    ]
    assert {r["style"] for r in rows} <= {"mood", "occasion"}


def test_request_output_becomes_the_first_user_turn_and_counts_tokens():
    [row] = _run(_task(GenerateRequest), [{**SEED, "style": "mood"}])
    assert row["request"] and row["conversation"] == [{"role": "user", "content": row["request"]}]
    assert row["tokens_in"] > 0 and row["tokens_out"] > 0 and row["skip_reason"] is None


def test_unusable_request_output_is_none_not_an_error():
    task = _task(GenerateRequest)
    assert task.format_output("   ", {**SEED, "style": "mood"}) == {"request": None, "conversation": None}


def test_recommendation_prompt_offers_target_and_neighbours_and_asks_for_the_format():
    row = {**SEED, "conversation": [{"role": "user", "content": "a tense crime film please"}]}
    listed = _task(RecommendItems, structured=False).format_input(row)[1]["content"]
    as_json = _task(RecommendItems, structured=True).format_input(row)[1]["content"]
    assert '"Heat (1995)"' in listed and "Ronin; The Town" in listed and "a tense crime film please" in listed
    assert "numbered list" in listed and "JSON" in as_json


def test_recommendation_output_is_parsed_into_titles_and_reasons():
    task = _task(RecommendItems)
    out = task.format_output('{"recommendations": [{"title": "Heat (1995)", "reason": "heists"}]}', SEED)
    assert out["parsed_titles"] == ["Heat (1995)"] and out["parsed_reasons"] == ["heists"]


def test_continue_dialogue_appends_a_question_then_a_reply():
    conversation = [{"role": "user", "content": "a tense crime film please"}]
    [asked] = _run(_task(ContinueDialogue, speaker="assistant"), [{**SEED, "conversation": conversation}])
    [replied] = _run(_task(ContinueDialogue, speaker="user"), [{**SEED, **asked}])
    assert [t["role"] for t in replied["conversation"]] == ["user", "assistant", "user"]
    assert replied["conversation"][0] == conversation[0]


def test_rows_lost_earlier_skip_the_llm_and_keep_their_reason(tmp_path):
    calls = tmp_path / "calls.txt"
    task = RecommendItems(name="recommend_items", llm=FakeLLM(calls_path=str(calls)))
    task.load()
    rows = _run(task, [{**SEED, "conversation": None, "skip_reason": "llm_error: Timeout"}])
    assert rows[0]["skip_reason"] == "llm_error: Timeout" and rows[0]["parsed_titles"] is None
    assert not calls.exists()


def test_token_cap_stops_llm_calls_and_marks_the_rest(tmp_path):
    ledger = tmp_path / "tokens.json"
    TokenLedger(ledger).record([1000])
    calls = tmp_path / "calls.txt"
    task = GenerateRequest(
        name="generate_request",
        llm=FakeLLM(calls_path=str(calls)),
        max_total_tokens=1000,
        ledger_path=str(ledger),
    )
    task.load()
    [row] = _run(task, [{**SEED, "style": "mood"}])
    assert row["skip_reason"] == TOKEN_BUDGET_REASON and row["request"] is None
    assert not calls.exists()


def test_a_failing_batch_is_retried_row_by_row_and_only_the_bad_row_is_marked():
    task = _task(GenerateRequest)
    task.llm = FakeLLM(fail_on="POISON")
    task.llm.load()
    good = {**SEED, "style": "mood"}
    bad = {**SEED, "style": "mood", "seed_id": "s2", "seed_text": SEED["seed_text"] + " POISON"}
    rows = _run(task, [good, bad])
    assert rows[0]["request"] and rows[0]["skip_reason"] is None
    assert rows[1]["skip_reason"] == "llm_error: RuntimeError"


def test_ledger_accumulates_across_instances(tmp_path):
    path = tmp_path / "t.json"
    TokenLedger(path).record([5])
    assert TokenLedger(path).record([7])["tokens"] == 12 and TokenLedger(path).spent() == 12


def test_ledger_records_a_batch_of_outcomes_in_finishing_order(tmp_path):
    ledger = TokenLedger(tmp_path / "t.json")
    ledger.record([None])
    state = ledger.record([None, 5, None, None, 7, None])
    assert state == {"tokens": 12, "calls": 2, "failed_calls": 5, "consecutive_failures": 1}
    assert ledger.record([None, None])["consecutive_failures"] == 3


def test_finished_calls_are_served_from_the_call_cache_not_the_llm(tmp_path):
    calls = tmp_path / "calls.txt"
    rows = [{**SEED, "style": "mood"}, {**SEED, "style": "negative"}]
    first = _run(_task(GenerateRequest, llm_cache_path=str(tmp_path / "c.sqlite")), rows)
    task = GenerateRequest(
        name="again",
        llm=FakeLLM(calls_path=str(calls)),
        llm_cache_path=str(tmp_path / "c.sqlite"),
        ledger_path=str(tmp_path / "t.json"),
        max_total_tokens=10**9,
    )
    task.load()
    again = _run(task, rows + [{**SEED, "style": "occasion"}])
    assert [r["request"] for r in again[:2]] == [r["request"] for r in first]
    assert len(calls.read_text().splitlines()) == 1  # only the new prompt reached the LLM
    assert TokenLedger(tmp_path / "t.json").spent() == again[2]["tokens_in"] + again[2]["tokens_out"]


def _put_in_child(path: str, queue) -> None:
    cache = LLMCallCache(path)
    queue.put(cache.get_many(["parent"]))
    cache.put_many({"child": {"generations": ["from the child"]}})


def test_call_cache_is_shared_between_a_forked_worker_and_its_parent(tmp_path):
    import multiprocessing

    path = str(tmp_path / "c.sqlite")
    cache = LLMCallCache(path)
    cache.put_many({"parent": {"generations": ["from the parent"]}})  # the parent's connection is open now
    context = multiprocessing.get_context("fork")  # as distilabel starts its workers
    queue = context.Queue()
    child = context.Process(target=_put_in_child, args=(path, queue))
    child.start()
    seen_by_child = queue.get(timeout=30)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert seen_by_child == {"parent": {"generations": ["from the parent"]}}
    assert cache.get_many(["child"]) == {"child": {"generations": ["from the child"]}}
    assert len(cache) == 2


def test_multi_turn_mode_chains_question_and_reply_steps_before_the_answer():
    from distilabel.steps import LoadDataFromDicts

    from revdial.generation.pipeline import SynthesisPlan, build_pipeline

    def upstream(plan):
        load = LoadDataFromDicts(name="load_seeds", data=[{"seed_id": "s"}])
        return load, load

    from revdial.config import GenerationConfig

    plan = SynthesisPlan(
        name="multi-turn",
        seeds_dir="unused",
        catalogue_path="unused",
        llm=FakeLLM(),
        generation=GenerationConfig(n_turns=3),
    )
    dag = build_pipeline(plan, upstream).dag
    chain, step = [], "generate_request"
    while step != "recommend_items":
        [step] = dag.get_step_successors(step)
        chain.append(step)
    assert chain == [
        "recommender_turn_1",
        "seeker_turn_1",
        "recommender_turn_2",
        "seeker_turn_2",
        "recommend_items",
    ]


@pytest.mark.slow
def test_embedded_model_answers_with_the_target_first_under_the_json_grammar():
    from revdial.generation.llms import build_llm

    llm = build_llm({"backend": "embedded", "generation_kwargs": {"max_new_tokens": 96}})
    task = RecommendItems(name="recommend_items", llm=llm, structured=True, n_recommendations=2)
    task.load()
    [row] = _run(task, [{**SEED, "conversation": [{"role": "user", "content": "a tense crime film please"}]}])
    assert row["parsed_titles"][0] == "Heat (1995)"


def test_after_n_failed_calls_in_a_row_no_more_calls_are_made(tmp_path):
    calls = tmp_path / "calls.txt"
    task = GenerateRequest(
        name="generate_request",
        llm=FakeLLM(fail_on="POISON", calls_path=str(calls)),
        ledger_path=str(tmp_path / "t.json"),
        max_consecutive_failures=3,
    )
    task.load()
    bad = [
        {**SEED, "style": "mood", "seed_id": f"s{i}", "seed_text": f"{SEED['seed_text']} POISON {i}"}
        for i in range(5)
    ]
    first = _run(task, bad)
    assert [r["skip_reason"] for r in first] == ["llm_error: RuntimeError"] * 5
    assert TokenLedger(tmp_path / "t.json").consecutive_failures() >= 3
    [later] = _run(task, [{**SEED, "style": "mood"}])  # a good prompt: the endpoint is considered down
    assert later["skip_reason"] == ENDPOINT_DOWN_REASON and not calls.exists()


def test_a_success_resets_the_run_of_failures(tmp_path):
    ledger = TokenLedger(tmp_path / "t.json")
    ledger.record([None, None])
    ledger.record([3])
    assert ledger.consecutive_failures() == 0 and ledger.spent() == 3


def test_progress_line_shows_stage_calls_failures_tokens_and_eta():
    from revdial.generation.progress import describe

    assert describe(0, 32, 0, 0, 0.0, False).startswith("selecting seeds")
    assert (
        describe(8, 32, 1, 4210, 20.0, True)
        == "generating | LLM calls 8/32 (1 failed) | 4,210 tokens | ETA 1:00"
    )
    assert describe(32, 32, 0, 9000, 80.0, True).startswith("curating and saving")


def _embedded_task():
    from revdial.generation.llms import EmbeddedLlamaCpp

    # format_input/format_output need no loaded model
    return GenerateRequest(name="generate_request", llm=EmbeddedLlamaCpp())


MOVIE_SEED = {**SEED, "metadata_json": '{"genre": ["Crime", "Drama"], "director": ["Michael Mann"]}'}


@pytest.mark.parametrize(
    ("style", "opening"),
    [
        ("mood", "I'm in the mood for a crime movie"),
        ("similar_to", "Looking for something like Ronin,"),
        ("attributes", "Can you recommend a crime movie"),
        ("negative", "I want a crime movie, but"),
        ("occasion", "What's a good crime movie for"),
        ("liked_history", "I loved Ronin and Collateral,"),
    ],
)
def test_embedded_model_gets_the_request_started_with_the_styles_opening_from_the_seed(style, opening):
    chat = _embedded_task().format_input({**MOVIE_SEED, "style": style})
    assert [m["role"] for m in chat] == ["system", "user", "assistant"]
    assert chat[-1]["content"] == opening


def test_a_prefilled_request_keeps_its_opening_and_only_its_first_line():
    task, row = _embedded_task(), {**MOVIE_SEED, "style": "mood"}
    echoed = "I'm in the mood for a crime movie with a big heist, any ideas?\nItem: this movie\nAbout: genre: crime"
    assert (
        task.format_output(echoed, row)["request"]
        == "I'm in the mood for a crime movie with a big heist, any ideas?"
    )
    # a backend that returns only the continuation
    assert task.format_output(" with a twist, any ideas?", row)["request"] == (
        "I'm in the mood for a crime movie with a twist, any ideas?"
    )


def test_backends_that_cannot_continue_a_turn_get_no_prefill():
    chat = _task(GenerateRequest).format_input({**MOVIE_SEED, "style": "mood"})
    assert chat[-1]["role"] == "user"
    assert _task(GenerateRequest).format_output("Any crime movie?", {**MOVIE_SEED, "style": "mood"})[
        "request"
    ] == ("Any crime movie?")
