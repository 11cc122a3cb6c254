"""Aggregating annotators' responses into labels, and which labelled rows go to training."""

from __future__ import annotations

from revdial.argilla.labels import Labels, aggregate, apply_correction, drop_reason


def _answers(user, status="submitted", **values):
    return [(question, value, user, status) for question, value in values.items()]


def test_one_annotator_gives_the_labels_as_answered():
    labels = aggregate(
        _answers("u1", quality=4, relevant="yes", flags=["leak"], corrected_recommendation=" Heat ")
    )
    assert labels == Labels("submitted", 4.0, "yes", ["leak"], "Heat", 1)


def test_several_annotators_mean_quality_majority_relevance_union_of_flags():
    labels = aggregate(
        _answers("u2", quality=2, relevant="no", flags=["other"])
        + _answers("u1", quality=5, relevant="yes", corrected_recommendation="B")
        + _answers("u3", quality=5, relevant="yes", flags=["hallucination"], corrected_recommendation="C")
    )
    assert labels.quality == 4.0 and labels.relevant == "yes" and labels.annotators == 3
    assert labels.flags == ["hallucination", "other"]
    assert labels.corrected == "B"  # first non-empty correction in user-id order


def test_a_relevance_tie_reads_not_relevant():
    labels = aggregate(_answers("u1", quality=3, relevant="yes") + _answers("u2", quality=3, relevant="no"))
    assert labels.relevant == "no"


def test_only_submitted_responses_count():
    labels = aggregate(
        _answers("u1", status="draft", quality=1, relevant="no") + _answers("u2", quality=5, relevant="yes")
    )
    assert (labels.quality, labels.relevant, labels.annotators) == (5.0, "yes", 1)
    assert aggregate(_answers("u1", status="draft", quality=1)).status == "draft"
    assert aggregate(_answers("u1", status="discarded", quality=None)).status == "discarded"
    assert aggregate([(None, None, "u1", "discarded")]).status == "discarded"  # a discard without answers
    assert aggregate([]).status == "pending"


def test_drop_reason_keeps_only_submitted_relevant_unflagged_rows_above_the_quality_bar():
    good = Labels("submitted", 4.0, "yes", [], None, 1)
    assert drop_reason(good) is None and drop_reason(good, min_quality=4) is None
    assert drop_reason(good, min_quality=4.5) == "low_quality"
    assert drop_reason(Labels("submitted", 5.0, "no", [], None, 1)) == "not_relevant"
    assert drop_reason(Labels("submitted", 5.0, "yes", ["leak"], None, 1)) == "flagged"
    assert drop_reason(Labels("pending")) == "not_submitted"
    assert drop_reason(Labels("draft")) == "not_submitted"
    assert drop_reason(Labels("discarded")) == "discarded"


def test_a_correction_replaces_the_assistant_turn_in_messages_and_completion(rows):
    row = rows[0]
    corrected = apply_correction(row, "- Ronin (1998): same director's cut of tension.")
    assert corrected["messages"][:-1] == row["messages"][:-1] == corrected["prompt"]
    assert corrected["messages"][-1] == {
        "role": "assistant",
        "content": "- Ronin (1998): same director's cut of tension.",
    }
    assert corrected["completion"] == [corrected["messages"][-1]]
    assert apply_correction(row, None) is row


def test_a_submitted_response_without_answers_leaves_the_labels_empty():
    labels = aggregate([(None, None, "u1", "submitted")] + _answers("u2", corrected_recommendation="   "))
    assert labels == Labels("submitted", None, None, [], None, 2)


def test_a_discard_outranks_a_draft_when_nobody_submitted():
    responses = _answers("u1", status="draft", quality=2) + [(None, None, "u2", "discarded")]
    assert aggregate(responses).status == "discarded"
