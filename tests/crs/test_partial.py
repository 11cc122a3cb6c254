"""Resumable evaluation: finished turns are kept beside the report, a stopped run generates only what is missing."""

from __future__ import annotations

import json

import pytest

from revdial.crs import evaluate as ev
from revdial.crs import partial


class Backend:
    """A fake generate(): answers each conversation with its last message, counts what it was asked, and can stop
    (raise) after a number of calls, as a killed process would."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.asked: list[str] = []
        self.calls = 0
        self.stop_after = stop_after

    def __call__(self, model, conversations, options, progress=True):
        if self.stop_after is not None and self.calls == self.stop_after:
            raise KeyboardInterrupt("stopped")
        self.calls += 1
        self.asked += [c[-1]["content"] for c in conversations]
        options.decode_stats = {"backend_calls": 2 * len(conversations), "rejected_lines": 1}
        return [f"1. {c[-1]['content']}" for c in conversations]


def _conversations(n: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"turn {i}"}] for i in range(n)]


@pytest.fixture()
def small_chunks(monkeypatch):
    monkeypatch.setattr(partial, "CHUNK_TURNS", 4)


def test_a_stopped_run_resumes_with_only_the_missing_turns(tmp_path, small_chunks):
    path, conversations = tmp_path / "r.partial.jsonl", _conversations(10)
    with pytest.raises(KeyboardInterrupt):
        partial.generate_resumable(Backend(stop_after=2), "m", conversations, ev.GenerationOptions(), path)
    again = Backend()
    options = ev.GenerationOptions()
    texts = partial.generate_resumable(again, "m", conversations, options, path, progress=False)
    assert again.asked == ["turn 8", "turn 9"]  # the first two chunks (8 turns) were kept
    assert texts == [f"1. turn {i}" for i in range(10)]
    # the decoding cost covers every turn, the kept chunks' and the new one's
    assert options.decode_stats["backend_calls"] == 20 and options.decode_stats["calls_per_turn"] == 2.0


def test_a_changed_decoding_k_sampling_or_backend_is_generated_again(tmp_path, small_chunks):
    path, conversations = tmp_path / "r.partial.jsonl", _conversations(3)
    partial.generate_resumable(Backend(), "m", conversations, ev.GenerationOptions(decoding="penalty"), path)
    changed = (
        ev.GenerationOptions(decoding="greedy"),
        ev.GenerationOptions(decoding="penalty", k=5),
        ev.GenerationOptions(decoding="penalty", temperature=0.5),
        ev.GenerationOptions(decoding="penalty", backend="transformers"),
    )
    for options in changed:
        backend = Backend()
        partial.generate_resumable(backend, "m", conversations, options, path, progress=False)
        assert len(backend.asked) == 3
    other_model = Backend()
    partial.generate_resumable(
        other_model, "n", conversations, ev.GenerationOptions(decoding="penalty"), path
    )
    assert len(other_model.asked) == 3


def test_a_line_cut_mid_write_is_generated_again_and_a_corrupt_middle_line_is_named(tmp_path, small_chunks):
    path, conversations = tmp_path / "r.partial.jsonl", _conversations(4)
    partial.generate_resumable(Backend(), "m", conversations, ev.GenerationOptions(), path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][:10])  # turn 3's line torn, the cost line gone
    backend = Backend()
    partial.generate_resumable(backend, "m", conversations, ev.GenerationOptions(), path, progress=False)
    assert backend.asked == ["turn 3"]
    path.write_text("not json\n" + "\n".join(lines))
    with pytest.raises(ValueError, match=r"r\.partial\.jsonl: line 1 is not JSON"):
        partial.read_partial(path)


def test_eval_command_resumes_and_removes_the_partial_file_once_the_report_is_written(
    redial_dir, tmp_path, monkeypatch, small_chunks
):
    out = tmp_path / "report.json"
    data = redial_dir / "original" / "test_data.jsonl.gz"
    args = {
        "model": "some/model",
        "benchmark": "redial",
        "data": data,
        "limit": None,
        "out": out,
        "k": 5,
        "backend": "transformers",
    }
    monkeypatch.setattr(ev, "generate_transformers", Backend(stop_after=0))
    with pytest.raises(KeyboardInterrupt):
        ev.eval_command(**args)
    assert not out.exists() and not partial.partial_path(out).exists()  # nothing finished, nothing kept
    # a run that stops after its first chunk keeps it; the next run generates the rest and cleans up
    turns = ev.load_benchmark("redial", data).turns
    if len(turns) <= partial.CHUNK_TURNS:
        monkeypatch.setattr(partial, "CHUNK_TURNS", 1)
    monkeypatch.setattr(ev, "generate_transformers", Backend(stop_after=1))
    with pytest.raises(KeyboardInterrupt):
        ev.eval_command(**args)
    kept, _ = partial.read_partial(partial.partial_path(out))
    assert 0 < len(kept) < len(turns)
    rest = Backend()
    monkeypatch.setattr(ev, "generate_transformers", rest)
    report = ev.eval_command(**args)
    assert len(rest.asked) == len(turns) - len(kept)
    assert report["n_turns"] == len(turns) and not partial.partial_path(out).exists()
    rows = [json.loads(line) for line in out.with_suffix(".predictions.jsonl").read_text().splitlines()]
    assert len(rows) == len(turns) and all(row["text"].startswith("1.") for row in rows)
