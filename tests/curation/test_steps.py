"""curation/steps.py: the distilabel steps that scrub, ground, judge and format the generated rows."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from revdial.contract import DEFAULT_COLUMNS
from revdial.curation.steps import (
    CollectRejects,
    CurateRows,
    FormatSFT,
    GroundRecommendations,
    KeepCandidates,
    ScrubPII,
    kept_seeds,
    sft_answer,
)

CATALOGUE = [
    {"item_id": "1", "title": "Heat", "year": 1995, "metadata_text": ""},
    {"item_id": "2", "title": "Heat", "year": 1986, "metadata_text": ""},  # a remake's namesake
    {"item_id": "3", "title": "Amélie", "year": 2001, "metadata_text": ""},
    {"item_id": "4", "title": "The Matrix", "year": 1999, "metadata_text": ""},
    {"item_id": "5", "title": "Ronin", "year": 1998, "metadata_text": ""},
]


def _run(step, rows):
    step.load()
    return [row for batch in step.process(rows) for row in batch]


@pytest.fixture
def catalogue_path(tmp_path):
    path = tmp_path / "catalogue.parquet"
    pq.write_table(pa.Table.from_pylist(CATALOGUE), path)
    return str(path)


def _row(**overrides):
    row = {
        "seed_id": "s1",
        "item_id": "1",
        "title": "Heat",
        "year": 1995,
        "selection_rank": 0,
        "selection_strategy": "js",
        "style": "mood",
        "seed_text": "Item: Heat (1995)",
        "skip_reason": None,
        "request": "I want a tense crime film with a great shootout tonight",
        "conversation": [
            {"role": "user", "content": "I want a tense crime film with a great shootout tonight"}
        ],
        "parsed_titles": ["Heat (1995)", "Ronin"],
        "parsed_reasons": ["heists", "cars"],
        "recommended_item_ids": ["1", "5"],
        "recommended_titles": ["Heat", "Ronin"],
        "recommended_display_titles": ["Heat (1995)", "Ronin (1998)"],
        "recommended_reasons": ["heists", "cars"],
        "hallucinated_titles": [],
        "model_name": "fake",
        "distilabel_metadata": {"raw_output_recommend_items": "1. Heat (1995) - heists"},
    }
    return {**row, **overrides}


def test_scrub_pii_cleans_the_review_before_rendering_the_prompt_text():
    row = {
        "title": "Heat",
        "year": 1995,
        "review_text": "Loved it! mail me at joe@example.com or see http://x.io/r",
        "features": [0.1] * 4,
    }
    [out] = _run(ScrubPII(name="scrub"), [row])
    assert "joe@example.com" not in out["seed_text"] and "http://x.io" not in out["seed_text"]
    assert "Loved it!" in out["seed_text"] and out["pii_removed"] >= 2
    assert "features" not in out


def test_scrub_pii_caps_long_reviews_at_a_word_boundary():
    [out] = _run(
        ScrubPII(name="scrub", max_review_chars=20), [{"title": "Heat", "review_text": "word " * 50}]
    )
    assert out["review_text"].endswith(" ...") and len(out["review_text"]) <= 24


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Heat (1986)", "2"),  # the year picks the remake namesake
        ("Heat (1995)", "1"),
        ("Amelie", "3"),  # accents
        ("Matrix, The", "4"),  # "The" moved to the end
        ("the matrix (1999)", "4"),
    ],
)
def test_grounding_matches_titles_to_catalogue_ids(catalogue_path, written, expected):
    [out] = _run(
        GroundRecommendations(name="g", catalogue_path=catalogue_path),
        [{"parsed_titles": [written], "parsed_reasons": ["r"]}],
    )
    assert out["recommended_item_ids"] == [expected] and out["hallucinated_titles"] == []


def test_unmatched_titles_are_counted_as_hallucinations_and_left_out(catalogue_path):
    [out] = _run(
        GroundRecommendations(name="g", catalogue_path=catalogue_path),
        [{"parsed_titles": ["Ronin", "Totally Invented Film (2033)"], "parsed_reasons": ["a", "b"]}],
    )
    assert out["recommended_item_ids"] == ["5"] and out["recommended_reasons"] == ["a"]
    assert out["hallucinated_titles"] == ["Totally Invented Film (2033)"]


def test_titles_a_request_names_that_the_catalogue_lacks_are_listed_and_reject_the_row(catalogue_path):
    requests = [
        'I\'ve heard of a film called "Skylark Tonight". Anything like it?',  # invented by the teacher
        'I loved "The Matrix", what else would I like?',  # a catalogue title
    ]
    grounded = _run(
        GroundRecommendations(name="g", catalogue_path=catalogue_path),
        [_row(request=r, seed_id=f"s{i}") for i, r in enumerate(requests)],
    )
    assert [r["request_unknown_titles"] for r in grounded] == [["Skylark Tonight"], []]
    judged = _run(CurateRows(name="c"), grounded)
    assert [(r["reject_stage"], r["reject_reason"]) for r in judged] == [
        ("filters", "unknown_title"),
        (None, None),
    ]
    assert "Skylark Tonight" in judged[0]["reject_detail"]
    [off] = _run(CurateRows(name="c", reject_unknown_titles=False), grounded[:1])
    assert off["reject_reason"] is None


def test_two_spellings_of_one_item_keep_the_first_rank(catalogue_path):
    [out] = _run(
        GroundRecommendations(name="g", catalogue_path=catalogue_path),
        [{"parsed_titles": ["The Matrix", "Matrix, The (1999)", "Ronin"], "parsed_reasons": []}],
    )
    assert out["recommended_item_ids"] == ["4", "5"]


@pytest.mark.parametrize(
    ("overrides", "stage", "reason"),
    [
        ({"skip_reason": "token_budget_exhausted"}, "generation", "token_budget_exhausted"),
        ({"skip_reason": "llm_error: APITimeoutError"}, "generation", "llm_error"),
        ({"request": None, "conversation": None}, "request_generation", "empty"),
        ({"request": "movie?"}, "filters", "too_short"),
        ({"request": "x " * 600}, "filters", "too_long"),
        ({"request": "Anything like Heat for my evening tonight please?"}, "filters", "leak"),
        ({"parsed_titles": []}, "recommendation_generation", "unparseable"),
        ({"parsed_titles": None}, "recommendation_generation", "step_failed"),  # its batch crashed
        ({"conversation": None, "parsed_titles": None}, "generation", "empty"),
        (
            {"parsed_titles": [], "distilabel_metadata": {"raw_output_recommend_items": ""}},
            "recommendation_generation",
            "empty",
        ),
        ({"recommended_item_ids": [], "hallucinated_titles": ["Nope"]}, "grounding", "no_grounded_titles"),
        ({"recommended_item_ids": ["5"]}, "filters", "missing_target"),
    ],
)
def test_each_failure_gets_its_stage_and_reason(overrides, stage, reason):
    [out] = _run(CurateRows(name="c"), [_row(**overrides)])
    assert (out["reject_stage"], out["reject_reason"]) == (stage, reason)
    assert kept_seeds([out]) == set()


def test_a_request_pasting_its_styles_exemplar_onto_the_seed_is_rejected_and_its_opening_alone_is_not():
    pasted = (
        "Looking for something like Rising Sun, a fun heist with a great cast?"  # the similar_to exemplar
    )
    opening = "Looking for something like Rising Sun, with a slow burn and a twist I won't see coming?"
    rows = [_row(style="similar_to", request=pasted), _row(seed_id="s2", style="similar_to", request=opening)]
    out = _run(CurateRows(name="c"), rows)
    assert [(r["reject_stage"], r["reject_reason"]) for r in out] == [
        ("filters", "copies_exemplar"),
        (None, None),
    ]
    assert "Ocean's Eleven" in out[0]["reject_detail"]
    [off] = _run(CurateRows(name="c", max_exemplar_overlap=0), rows[:1])
    assert off["reject_reason"] is None


def test_hallucinations_are_dropped_or_reject_the_row_by_policy():
    row = _row(hallucinated_titles=["Invented (2031)"])
    [dropped] = _run(CurateRows(name="c", on_hallucination="drop"), [row])
    [rejected] = _run(CurateRows(name="c", on_hallucination="reject"), [row])
    assert dropped["reject_reason"] is None
    assert (rejected["reject_stage"], rejected["reject_reason"]) == ("grounding", "hallucination")


def test_near_duplicate_requests_keep_the_first_and_a_seed_with_one_good_row_is_kept():
    rows = [_row(), _row(seed_id="s2", request=_row()["request"] + "!"), _row(seed_id="s2", request=None)]
    out = _run(CurateRows(name="c"), rows)
    assert [r["reject_reason"] for r in out] == [None, "duplicate", "empty"]
    assert [r["seed_kept"] for r in _run(KeepCandidates(name="candidates"), out)] == [True, False, False]


def test_curation_streams_dedup_spans_batches_and_a_seed_split_across_batches_is_judged_whole():
    """CurateRows sees the run batch by batch; a request that copies one from an earlier batch is still a duplicate,
    and a seed whose rows straddle two batches is kept when either of its rows is."""
    step = CurateRows(name="c")
    step.load()
    first = next(step.process([_row(seed_id="s1"), _row(seed_id="s2", request=None)]))
    second = next(
        step.process(
            [
                _row(seed_id="s2", request="Any slow-burning nineties thriller with a heist at its heart?"),
                _row(seed_id="s3", request=_row()["request"] + "!"),
            ]
        )
    )
    rows = first + second
    assert [r["reject_reason"] for r in rows] == [None, "empty", None, "duplicate"]
    assert rows[3]["reject_detail"] == "near-duplicate of seed s1"
    assert [r["seed_kept"] for r in _run(KeepCandidates(name="candidates"), rows)] == [
        True,
        True,
        True,
        False,
    ]
    assert [r["seed_id"] for r in _run(CollectRejects(name="rejects"), rows)] == ["s3"]


def test_format_sft_writes_trl_conversations_for_kept_rows_only():
    rows = [{**_row(), "reject_reason": None}, {**_row(seed_id="s2"), "reject_reason": "leak"}]
    [out] = _run(FormatSFT(name="default", answer_format="reasons"), rows)
    assert set(out) == set(DEFAULT_COLUMNS)
    assert [m["role"] for m in out["messages"]] == ["system", "user", "assistant"]
    assert out["prompt"] + out["completion"] == out["messages"]
    assert out["completion"][0]["content"] == "1. Heat - heists\n2. Ronin - cars"
    assert out["target_item_id"] == "1" and out["selection_rank"] == 0


def test_format_sft_list_rows_are_the_evaluation_prompt_and_its_answer_format():
    """A student trained on these rows sees at training time exactly what `revdial eval` shows it."""
    from revdial.crs.evaluate import parse_titles
    from revdial.crs.he2023 import extract_names
    from revdial.prompts import system_prompt

    [out] = _run(FormatSFT(name="default", k=20), [{**_row(), "reject_reason": None}])
    assert out["prompt"][0] == {"role": "system", "content": system_prompt(20, domain="movies")}
    answer = out["completion"][0]["content"]
    assert answer == "1. Heat (1995)\n2. Ronin (1998)"
    assert parse_titles(answer, 20) == ["Heat (1995)", "Ronin (1998)"]  # revdial eval reads it back whole
    assert extract_names(answer) == ["Heat", "Ronin"]  # and so does He et al.'s extraction


def test_format_sft_keeps_every_turn_of_a_multi_turn_dialogue():
    turns = [
        {"role": "user", "content": "a crime film?"},
        {"role": "assistant", "content": "old or new?"},
        {"role": "user", "content": "nineties please"},
    ]
    [out] = _run(FormatSFT(name="default"), [{**_row(conversation=turns), "reject_reason": None}])
    assert [m["role"] for m in out["messages"]] == ["system", "user", "assistant", "user", "assistant"]


def test_sft_answer_lists_catalogue_titles_with_reasons_in_one_format():
    assert sft_answer({"recommended_titles": ["Heat", "Ronin"], "recommended_reasons": ["heists"]}) == (
        "1. Heat - heists\n2. Ronin"
    )


def test_collect_rejects_lists_each_seed_without_a_kept_row_once():
    rows = [
        {
            **_row(seed_id="a"),
            "reject_stage": "filters",
            "reject_reason": "leak",
            "reject_detail": "d1",
        },
        {
            **_row(seed_id="a"),
            "reject_stage": "dedup",
            "reject_reason": "duplicate",
            "reject_detail": "d2",
        },
        {
            **_row(seed_id="b"),
            "reject_stage": "filters",
            "reject_reason": "leak",
            "reject_detail": "d3",
        },
        {**_row(seed_id="b"), "reject_stage": None, "reject_reason": None, "reject_detail": None},
    ]
    out = _run(CollectRejects(name="rejects"), rows)
    assert out == [
        {"seed_id": "a", "selection_rank": 0, "stage": "filters", "reason": "leak", "detail": "d1"}
    ]
