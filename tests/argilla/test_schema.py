"""The Argilla dataset design and the row <-> record mapping, without a server."""

from __future__ import annotations

import pytest

from revdial.argilla.schema import (
    CATALOGUE_MATCHES,
    FLAG_LABELS,
    FLAGS,
    METADATA,
    RELEVANT,
    RowError,
    build_settings,
    record_payload,
    row_from_record_values,
    row_id,
    settings_mismatch,
    to_record,
)
from revdial.contract import DEFAULT_COLUMNS

rg = pytest.importorskip("argilla", reason="the argilla SDK is an extra: pip install -e '.[argilla]'")


def _suggested(payload, question):
    return next((s["value"] for s in payload["suggestions"] if s["question_name"] == question), None)


def test_row_id_is_stable_and_tells_apart_the_requests_of_one_seed(rows):
    assert [row_id(r) for r in rows] == [row_id(dict(r)) for r in rows]
    assert len({row_id(r) for r in rows}) == len(rows)
    assert all(row_id(r).startswith(r["seed_id"] + "-") for r in rows)
    edited = {**rows[0], "seed_text": "another review", "messages": rows[1]["messages"]}
    assert row_id(edited) == row_id(
        rows[0]
    )  # content may change; the identity (seed, style, request) does not


def test_a_record_keeps_every_contract_column_so_pull_can_rebuild_the_row(rows):
    rows = [*rows, {**rows[0], "seed_text": "", "hallucinated_titles": [], "recommended_item_ids": []}]
    for index, row in enumerate(rows):
        payload = record_payload(row, index)
        assert row_from_record_values(payload["fields"], payload["metadata"]) == {
            c: row[c] for c in DEFAULT_COLUMNS
        }


def test_suggestions_come_from_the_automatic_checks(rows):
    by_request = {r["request"]: record_payload(r) for r in rows}
    clean = by_request["a slick crime thriller with a great shootout?"]
    assert _suggested(clean, RELEVANT) == "yes" and _suggested(clean, FLAGS) is None
    hallucinated = by_request["cop vs robber drama, 90s"]
    assert (
        _suggested(hallucinated, FLAGS) == ["hallucination"] and _suggested(hallucinated, RELEVANT) == "yes"
    )
    leaking = by_request["I loved Alien, more like Alien please"]
    assert _suggested(leaking, FLAGS) == ["leak"]
    missing_target = by_request["a moving animated film for a family night"]
    assert _suggested(missing_target, RELEVANT) == "no"
    assert all(set(_suggested(p, FLAGS) or []) <= set(FLAG_LABELS) for p in by_request.values())


def test_catalogue_matches_show_ids_the_target_and_hallucinations(make_row, items):
    row = make_row(
        "s", "casual", "cop drama", items["heat"], [items["ronin"], items["heat"]], ["Heat Wave Redux"]
    )
    text = record_payload(row)["fields"][CATALOGUE_MATCHES]
    assert "1. Ronin (1998) (item `1693`)" in text
    assert "2. Heat (1995) (item `949`) — **the target**" in text
    assert "Heat Wave Redux" in text.split("hallucinated")[1]


def test_metadata_for_filtering_is_visible_and_internals_are_hidden(rows):
    payload = record_payload(rows[1])
    assert payload["metadata"]["style"] == "terse"
    assert payload["metadata"]["selection_rank"] == 0
    assert payload["metadata"]["hallucinations"] == 1
    visible = {name for name, _, shown in METADATA if shown}
    assert {"style", "selection_strategy", "selection_rank", "target_item_id"} <= visible
    assert "request" not in visible and "generator_model" not in visible


def test_a_row_without_a_contract_column_is_refused_by_row_and_column(rows):
    row = dict(rows[0])
    del row["target_title"]
    with pytest.raises(RowError, match=r"row 7: missing column\(s\) target_title"):
        record_payload(row, 7)
    row = {**rows[0], "messages": rows[0]["prompt"]}
    with pytest.raises(RowError, match="row 3, column 'messages'"):
        record_payload(row, 3)


def test_settings_declare_the_review_questions_fields_and_metadata(offline_argilla):
    settings = build_settings()
    questions = {q.name: q for q in settings.questions}
    assert isinstance(questions["quality"], rg.RatingQuestion)
    assert [v for v in questions["quality"].values] == [1, 2, 3, 4, 5]
    assert isinstance(questions[RELEVANT], rg.LabelQuestion) and questions[RELEVANT].labels == ["yes", "no"]
    assert isinstance(questions[FLAGS], rg.MultiLabelQuestion) and questions[FLAGS].labels == list(
        FLAG_LABELS
    )
    assert isinstance(questions["corrected_recommendation"], rg.TextQuestion)
    assert not questions[FLAGS].required and not questions["corrected_recommendation"].required
    fields = {f.name: f for f in settings.fields}
    assert isinstance(fields["messages"], rg.ChatField) and isinstance(fields["seed_text"], rg.TextField)
    kinds = {m.name: type(m) for m in settings.metadata}
    assert (
        kinds["style"] is rg.TermsMetadataProperty and kinds["selection_rank"] is rg.IntegerMetadataProperty
    )
    assert settings_mismatch(settings, build_settings()) == []


def test_settings_mismatch_names_what_an_existing_dataset_lacks(offline_argilla):
    other = rg.Settings(
        fields=[rg.TextField(name="text")], questions=[rg.LabelQuestion(name="label", labels=["a", "b"])]
    )
    problems = settings_mismatch(other, build_settings())
    assert any(p.startswith("fields missing: catalogue_matches, messages, seed_text") for p in problems)
    assert any("questions missing" in p for p in problems)


def test_to_record_carries_the_id_fields_metadata_and_suggestions(rows):
    payload = record_payload(rows[1])
    record = to_record(payload)
    assert record.id == payload["id"]
    assert record.fields["messages"][-1]["role"] == "assistant"
    assert record.metadata["style"] == "terse"
    assert record.suggestions[FLAGS].value == ["hallucination"]
