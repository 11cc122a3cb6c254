"""`revdial seeds --config pipelines/movies-sample.yaml --out DIR` writes what datasets.load_from_disk reads."""

import json

import datasets
from typer.testing import CliRunner

from revdial.cli import app
from revdial.paths import REPO_DIR


def test_seeds_command_writes_a_loadable_dataset_with_catalogue_and_summary(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # pkg:// paths make the default config work from any directory
    out = tmp_path / "seeds"
    result = CliRunner().invoke(
        app, ["seeds", "--config", str(REPO_DIR / "pipelines" / "movies-sample.yaml"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    seeds = datasets.load_from_disk(str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert len(seeds) == summary["seeds"]["total"] > 0
    assert f"{len(seeds)} seeds" in result.output and "join coverage" in result.output
    assert datasets.Dataset.from_parquet(str(out / "catalogue.parquet")).num_rows == summary["seeds"]["items"]


def test_seeds_command_reports_a_bad_source_without_a_traceback(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        "domain: d\nsource:\n  tables:\n    items: {path: missing.csv, columns: {item_id: a, title: b}}\n"
    )
    result = CliRunner().invoke(app, ["seeds", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2  # a user error, like every command's
    assert "missing.csv: the items table's file does not exist" in result.output
    assert "Traceback" not in result.output
