"""A server that is down, or a connection that is not configured: one clear error, and nothing local changes."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revdial.argilla.client import ArgillaConnectionError
from revdial.argilla.pull import SOURCE, SUMMARY, pull_from_argilla
from revdial.argilla.push import push_to_argilla
from revdial.cli import app

pytest.importorskip("argilla", reason="the argilla SDK is an extra: pip install -e '.[argilla]'")


def _tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def nothing_listening(monkeypatch) -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("ARGILLA_API_URL", url)
    monkeypatch.setenv("ARGILLA_API_KEY", "some-key-for-a-server-that-is-down")
    return url


@pytest.fixture
def earlier_pull(tmp_path) -> Path:
    out = tmp_path / "labelled"
    (out / "default" / "train").mkdir(parents=True)
    (out / "default" / "train" / "data-00000-of-00001.arrow").write_bytes(b"earlier labels")
    (out / SUMMARY).parent.mkdir(parents=True)
    (out / SUMMARY).write_text(json.dumps({"source": SOURCE, "records": 1}))
    return out


def test_push_to_a_server_that_is_down_says_so_and_changes_nothing(nothing_listening, synthesis_dir):
    before = _tree_hashes(synthesis_dir)
    with pytest.raises(ArgillaConnectionError, match=f"cannot reach Argilla at {nothing_listening}"):
        push_to_argilla(synthesis_dir, "reviews")
    assert _tree_hashes(synthesis_dir) == before


def test_pull_from_a_server_that_is_down_keeps_the_earlier_output(nothing_listening, earlier_pull):
    before = _tree_hashes(earlier_pull)
    with pytest.raises(ArgillaConnectionError, match="is the server running"):
        pull_from_argilla("reviews", earlier_pull)
    assert _tree_hashes(earlier_pull) == before
    assert sorted(p.name for p in earlier_pull.parent.iterdir()) == [earlier_pull.name]  # no temp folder left


def test_the_cli_prints_the_reason_and_exits_non_zero(nothing_listening, synthesis_dir, tmp_path):
    result = CliRunner().invoke(app, ["argilla", "push", str(synthesis_dir), "--dataset", "reviews"])
    assert result.exit_code == 1
    assert "revdial argilla push: cannot reach Argilla" in result.output
    result = CliRunner().invoke(
        app, ["argilla", "pull", "--dataset", "reviews", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1 and "revdial argilla pull: cannot reach Argilla" in result.output
    assert not (tmp_path / "o").exists()


def test_an_unset_url_or_key_names_the_variable(monkeypatch, synthesis_dir):
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    with pytest.raises(ArgillaConnectionError, match="ARGILLA_API_URL is not set"):
        push_to_argilla(synthesis_dir, "reviews")
    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:6900")
    with pytest.raises(ArgillaConnectionError, match="ARGILLA_API_KEY is not set"):
        push_to_argilla(synthesis_dir, "reviews")


def test_pull_refuses_to_overwrite_a_folder_it_did_not_write(tmp_path, monkeypatch):
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    precious = tmp_path / "my-data"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(ArgillaConnectionError, match="is not the output of an earlier"):
        pull_from_argilla("reviews", precious)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_push_names_the_missing_columns_of_a_directory_that_is_not_a_synthesis_output(
    tmp_path, save_distiset, rows
):
    from revdial.argilla.schema import RowError

    out = save_distiset(
        [{k: v for k, v in row.items() if k != "seed_text"} for row in rows], tmp_path / "bad"
    )
    with pytest.raises(RowError, match=r"default: column\(s\) seed_text not found; columns are: messages"):
        push_to_argilla(out, "reviews")
    with pytest.raises(RowError, match="no 'default' config folder"):
        push_to_argilla(tmp_path, "reviews")


def test_pull_checks_its_source_before_asking_the_server(tmp_path, monkeypatch):
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    with pytest.raises(ArgillaConnectionError, match="--source .*: not a synthesis output"):
        pull_from_argilla("reviews", tmp_path / "out", source=tmp_path)
    assert not (tmp_path / "out").exists()
