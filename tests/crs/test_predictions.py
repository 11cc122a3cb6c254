"""`revdial eval --predictions`: recorded replies are joined to the benchmark's turns and scored without a model; a
`--model` run writes its predictions in the same format, so it can be re-scored later."""

from __future__ import annotations

import gzip
import json

import pytest

from revdial.crs import evaluate as ev
from revdial.crs.benchmarks import BenchmarkFormatError, load_benchmark


def _write(path, rows):
    with gzip.open(path, "wt") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


@pytest.fixture()
def redial_path(redial_dir):
    return redial_dir / "original" / "test_data.jsonl.gz"


def _keys(path):
    return [(t.dialog_id, t.turn_id) for t in load_benchmark("redial", path).turns]


def test_recorded_text_and_title_lists_are_scored_like_a_model_run(redial_path, tmp_path):
    keys = _keys(redial_path)
    rows = [
        {"dialog_id": keys[0][0], "turn_id": keys[0][1], "text": "1. The Matrix (1999)\n2. Jaws (1975)"},
        {"dialog_id": keys[1][0], "turn_id": keys[1][1], "titles": ["Jaws (1975)", "Alien (1979)"]},
        {"dialog_id": keys[2][0], "turn_id": keys[2][1], "text": "no idea"},
    ]
    report = ev.eval_command(
        None,
        "redial",
        redial_path,
        None,
        tmp_path / "r.json",
        k=5,
        predictions=_write(tmp_path / "p.jsonl.gz", rows),
    )
    assert report["model"].startswith("predictions:") and report["generation"] is None
    pairs = report["metrics"]["all_items"]
    assert pairs["n_pairs"] == 4  # turn 2 recommends Alien and Heat
    assert pairs["recall@1"]["mean"] == pytest.approx(1 / 4)
    assert pairs["recall@5"]["mean"] == pytest.approx(2 / 4)
    assert not (tmp_path / "r.predictions.jsonl").exists()  # nothing new was predicted


def test_a_turn_without_a_prediction_and_a_prediction_without_a_turn_are_named(redial_path, tmp_path):
    keys = _keys(redial_path)
    rows = [{"dialog_id": d, "turn_id": t, "text": "1. Jaws"} for d, t in keys[:-1]]
    with pytest.raises(BenchmarkFormatError, match=rf"no prediction for 1 turn\(s\) .*{keys[-1][0]}"):
        ev.eval_command(
            None,
            "redial",
            redial_path,
            None,
            tmp_path / "r.json",
            predictions=_write(tmp_path / "a.jsonl.gz", rows),
        )
    extra = [
        *rows,
        {"dialog_id": keys[-1][0], "turn_id": keys[-1][1], "text": ""},
        {"dialog_id": "nope", "turn_id": "9", "text": ""},
    ]
    with pytest.raises(BenchmarkFormatError, match=r"b.jsonl.gz: line 4: turn \('nope', '9'\) is not a turn"):
        ev.eval_command(
            None,
            "redial",
            redial_path,
            None,
            tmp_path / "r.json",
            predictions=_write(tmp_path / "b.jsonl.gz", extra),
        )
    bad = [{"dialog_id": keys[0][0], "turn_id": keys[0][1], "titles": "Jaws"}]
    with pytest.raises(BenchmarkFormatError, match=r"c.jsonl.gz: line 1: a prediction needs `text`"):
        ev.eval_command(
            None,
            "redial",
            redial_path,
            None,
            tmp_path / "r.json",
            predictions=_write(tmp_path / "c.jsonl.gz", bad),
        )


def test_model_and_predictions_are_exclusive(redial_path, tmp_path):
    with pytest.raises(ev.EvaluationError, match="exactly one of --model"):
        ev.eval_command("popularity", "redial", redial_path, None, tmp_path / "r.json", predictions=tmp_path)


def test_a_model_run_writes_predictions_that_rescore_to_the_same_report(redial_path, tmp_path, monkeypatch):
    scripted = ["1. Matrix, The (1999)\n2. Heat (1995)", "1. Jaws (1975)\n2. Alien (1979)", "1. Toy Story"]
    monkeypatch.setattr(ev, "generate_transformers", lambda model, conversations, options, progress: scripted)
    monkeypatch.setattr(ev, "choose_backend", lambda model, backend: "transformers")
    first = ev.eval_command("some/model", "redial", redial_path, None, tmp_path / "run.json", k=5)
    saved = tmp_path / "run.predictions.jsonl"
    again = ev.eval_command(
        None, "redial", redial_path, None, tmp_path / "again.json", k=5, predictions=saved
    )
    assert again["metrics"] == first["metrics"]
    popularity = ev.eval_command("popularity", "redial", redial_path, None, tmp_path / "pop.json", k=3)
    rescored = ev.eval_command(
        None,
        "redial",
        redial_path,
        None,
        tmp_path / "pop2.json",
        k=3,
        predictions=tmp_path / "pop.predictions.jsonl",
    )
    assert rescored["metrics"] == popularity["metrics"]
