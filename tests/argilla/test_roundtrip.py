"""push -> annotate -> pull against a real argilla-server 2.8.0 on 127.0.0.1 (see tests/argilla/server/)."""

from __future__ import annotations

import json
import uuid

import datasets
import pytest
from typer.testing import CliRunner

from revdial.argilla.client import ArgillaConnectionError, connect
from revdial.argilla.pull import pull_from_argilla
from revdial.argilla.push import push_to_argilla
from revdial.cli import app
from revdial.contract import DEFAULT_COLUMNS

pytestmark = pytest.mark.argilla
rg = pytest.importorskip("argilla", reason="the argilla SDK is an extra: pip install -e '.[argilla]'")
UserResponseModel = (
    rg._models.UserResponseModel
)  # the body of POST /records/{id}/responses, as the UI sends it

CORRECTION = "- Up (2009): a balloon-lifted house, grief turning into joy, made for a family night."
# What the annotator answers, by request, and why each row then stays out of training (None = kept).
ANSWERS = {
    "a slick crime thriller with a great shootout?": ({"quality": 5, "relevant": "yes"}, None),
    "cop vs robber drama, 90s": ({"quality": 4, "relevant": "yes", "flags": ["hallucination"]}, "flagged"),
    "something scary set on a spaceship": ({}, "discarded"),  # discarded without answering
    "I loved Alien, more like Alien please": (None, "not_submitted"),
    "a moving animated film for a family night": ({"quality": 2, "relevant": "no"}, "low_quality"),
    "animated, sad then happy": (
        {"quality": 4, "relevant": "yes", "corrected_recommendation": CORRECTION},
        None,
    ),
}


@pytest.fixture
def argilla_env(argilla_server, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server["api_url"])
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server["api_key"])
    return argilla_server


@pytest.fixture
def dataset_name() -> str:
    return f"revdial-test-{uuid.uuid4().hex[:8]}"


def _pending_for(annotator: rg.Argilla, dataset_id) -> int:
    """The annotator's queue as the Argilla UI asks for it (the search endpoint, i.e. the search engine)."""
    query = {
        "query": {},
        "filters": {
            "and": [
                {
                    "type": "terms",
                    "scope": {"entity": "response", "property": "status"},
                    "values": ["pending"],
                }
            ]
        },
    }
    response = annotator.http_client.post(f"/api/v1/me/datasets/{dataset_id}/records/search", json=query)
    response.raise_for_status()
    return response.json()["total"]


def annotate(server: dict, dataset_name: str) -> dict[str, int]:
    """Submit ANSWERS as the annotator user (the owner lists the records: annotators may only search their queue)."""
    owner = rg.Argilla(api_url=server["api_url"], api_key=server["api_key"])
    annotator = rg.Argilla(api_url=server["api_url"], api_key=server["annotator_api_key"])
    remote = owner.datasets(name=dataset_name, workspace=server["workspace"])
    queue = {"before": _pending_for(annotator, remote.id)}
    for record in remote.records(with_responses=False, with_suggestions=False):
        values, reason = ANSWERS[record.metadata["request"]]
        if values is None:
            continue
        annotator.api.records.create_record_response(
            record._server_id,
            UserResponseModel(
                values={q: {"value": v} for q, v in values.items()},
                status="discarded" if reason == "discarded" else "submitted",
                user_id=annotator.me.id,
            ),
        )
    queue["after"] = _pending_for(annotator, remote.id)
    return queue


def _count(server: dict, dataset_name: str) -> int:
    owner = rg.Argilla(api_url=server["api_url"], api_key=server["api_key"])
    return sum(1 for _ in owner.datasets(name=dataset_name, workspace=server["workspace"]).records)


def test_push_annotate_pull_round_trip(argilla_env, synthesis_dir, rows, dataset_name, tmp_path):
    pushed = push_to_argilla(synthesis_dir, dataset_name, argilla_env["workspace"])
    assert (pushed.rows, pushed.created, pushed.updated, pushed.dataset_created) == (6, 6, 0, True)

    queue = annotate(argilla_env, dataset_name)
    answered = sum(values is not None for values, _ in ANSWERS.values())
    assert queue == {"before": len(rows), "after": len(rows) - answered}

    # pushing again after annotation updates the records and keeps the responses
    again = push_to_argilla(synthesis_dir, dataset_name, argilla_env["workspace"])
    assert (again.created, again.updated) == (0, 6)
    assert _count(argilla_env, dataset_name) == 6

    out = tmp_path / "labelled"
    pulled = pull_from_argilla(
        dataset_name, out, argilla_env["workspace"], min_quality=3, source=synthesis_dir
    )
    expected_dropped = {}
    for _, reason in ANSWERS.values():
        if reason:
            expected_dropped[reason] = expected_dropped.get(reason, 0) + 1
    kept_requests = {request for request, (_, reason) in ANSWERS.items() if reason is None}
    assert (pulled.records, pulled.kept, pulled.dropped, pulled.corrected) == (6, 2, expected_dropped, 1)
    assert pulled.statuses == {"submitted": answered - 1, "discarded": 1, "pending": len(rows) - answered}

    labelled = datasets.load_from_disk(str(out / "labelled"))["train"]
    default = datasets.load_from_disk(str(out / "default"))["train"]
    assert labelled.num_rows == 6 and default.num_rows == len(kept_requests)
    assert tuple(default.column_names) == DEFAULT_COLUMNS
    assert set(default["request"]) == kept_requests

    originals = {row["request"]: row for row in rows}
    by_request = {row["request"]: row for row in labelled}
    for request, (values, reason) in ANSWERS.items():
        got = by_request[request]
        assert got["drop_reason"] == (reason or "") and got["kept"] == (reason is None)
        if values:
            assert got["label_quality"] == values["quality"] and got["label_relevant"] == values["relevant"]
            assert got["label_flags"] == values.get("flags", [])
    corrected = by_request["animated, sad then happy"]
    assert corrected["messages"][-1] == {"role": "assistant", "content": CORRECTION}
    assert corrected["completion"] == [corrected["messages"][-1]]
    assert (
        corrected["label_original_recommendation"]
        == originals["animated, sad then happy"]["completion"][0]["content"]
    )
    untouched = next(r for r in default if r["request"] == "a slick crime thriller with a great shootout?")
    original = originals[untouched["request"]]
    assert {c: untouched[c] for c in DEFAULT_COLUMNS} == {c: original[c] for c in DEFAULT_COLUMNS}

    from distilabel.distiset import Distiset

    distiset = Distiset.load_from_disk(str(out))
    assert sorted(distiset) == ["default", "labelled"]
    assert distiset["default"]["train"].num_rows == 2

    summary = json.loads((out / "distiset_configs" / "summary.json").read_text())
    assert summary["argilla"]["configs"] == {"labelled": 6, "default": 2}
    assert summary["config"] == {"name": "movies-test"}  # the synthesis provenance, carried by --source
    assert (out / "distiset_configs" / "pipeline.yaml").read_text().startswith("pipeline:")
    assert argilla_env["api_key"] not in (out / "distiset_configs" / "summary.json").read_text()

    # ready for `revdial push`: the Hub folder it would upload holds both configs
    from revdial.hub.push import build_push_folder

    landed = build_push_folder(out, tmp_path / "hub", repo_id="someone/labelled")
    assert {"default/train-00000-of-00001.parquet", "labelled/train-00000-of-00001.parquet"} <= set(landed)


def test_pushing_again_updates_records_instead_of_duplicating(
    argilla_env, rows, save_distiset, dataset_name, tmp_path
):
    first = push_to_argilla(save_distiset(rows, tmp_path / "v1"), dataset_name)  # the user's only workspace
    assert (first.created, first.updated) == (6, 0)

    edited = [dict(row) for row in rows]
    edited[0]["seed_text"] = "Review of Heat (1995), edited: the bank shootout is the best ever filmed."
    edited[2]["seed_text"] = ""  # an optional field that goes away
    second = push_to_argilla(save_distiset(edited, tmp_path / "v2"), dataset_name)
    assert (second.created, second.updated) == (0, 6)
    assert _count(argilla_env, dataset_name) == 6

    owner = connect()
    remote = owner.datasets(name=dataset_name, workspace=argilla_env["workspace"])
    seed_texts = {r.metadata["request"]: r.fields.get("seed_text") for r in remote.records}
    assert seed_texts[rows[0]["request"]] == edited[0]["seed_text"]
    assert seed_texts[rows[1]["request"]] == rows[1]["seed_text"]
    assert not seed_texts[rows[2]["request"]]


def test_the_cli_pushes_and_pulls(argilla_env, synthesis_dir, dataset_name, tmp_path):
    runner = CliRunner()
    pushed = runner.invoke(app, ["argilla", "push", str(synthesis_dir), "--dataset", dataset_name])
    assert pushed.exit_code == 0, pushed.output
    assert "argilla push" in pushed.output
    out = tmp_path / "pulled"
    pulled = runner.invoke(
        app,
        [
            "argilla",
            "pull",
            "--dataset",
            dataset_name,
            "--out",
            str(out),
            "--min-quality",
            "3",
            "--source",
            str(synthesis_dir),
        ],
    )
    assert pulled.exit_code == 0, pulled.output
    assert datasets.load_from_disk(str(out / "labelled"))["train"].num_rows == 6
    assert datasets.load_from_disk(str(out / "default"))["train"].num_rows == 0  # nothing annotated yet
    assert (out / "distiset_configs" / "pipeline.yaml").exists()
    again = runner.invoke(app, ["argilla", "pull", "--dataset", dataset_name, "--out", str(out)])
    assert again.exit_code == 0, again.output  # an earlier pull's folder is refreshed in place


def test_a_bad_key_is_a_clear_error_that_does_not_show_the_key(
    argilla_server, monkeypatch, synthesis_dir, tmp_path
):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server["api_url"])
    monkeypatch.setenv("ARGILLA_API_KEY", "not-the-right-key-0123456789")
    with pytest.raises(ArgillaConnectionError, match="refused the API key in ARGILLA_API_KEY") as caught:
        push_to_argilla(synthesis_dir, "never-created")
    assert "not-the-right-key" not in str(caught.value)
    with pytest.raises(ArgillaConnectionError, match="refused the API key"):
        pull_from_argilla("never-created", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_pulling_an_unknown_dataset_names_the_ones_there(argilla_env, tmp_path):
    with pytest.raises(ArgillaConnectionError, match="no dataset 'does-not-exist' in workspace 'revdial'"):
        pull_from_argilla("does-not-exist", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_reviewers_can_filter_by_the_metadata_revdial_sets(argilla_env, synthesis_dir, rows, dataset_name):
    push_to_argilla(synthesis_dir, dataset_name)
    remote = connect().datasets(name=dataset_name, workspace=argilla_env["workspace"])

    def requests(query: rg.Query) -> set[str]:
        return {r.metadata["request"] for r in remote.records(query=query)}

    casual = requests(rg.Query(filter=rg.Filter(("metadata.style", "==", "casual"))))
    assert casual == {r["request"] for r in rows if r["style"] == "casual"}
    with_hallucinations = requests(rg.Query(filter=rg.Filter(("metadata.hallucinations", ">=", 1))))
    assert with_hallucinations == {r["request"] for r in rows if r["hallucinated_titles"]}
    suggested_leak = requests(rg.Query(filter=rg.Filter(("flags.suggestion", "in", ["leak"]))))
    assert suggested_leak == {"I loved Alien, more like Alien please"}
    assert requests(rg.Query(query="spaceship")) == {"something scary set on a spaceship"}
