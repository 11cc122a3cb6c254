"""What the `revdial` commands print when the user got something wrong: one line, exit 2, never a secret, never a
local variable, and a missing local path named as such (not tried as a Hub id)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SENTINEL = "sk-SENTINEL-7f3a9c2e51"
RECIPE = ROOT / "recipes/smollm2-135m-instruct/sft/config_lora.yaml"


def _typo_pipeline(tmp: Path) -> Path:
    raw = yaml.safe_load((ROOT / "pipelines/movies-sample.yaml").read_text())
    # the case: a typo inside an OpenAI-compatible llm block whose key sits in the environment
    raw["generation"]["llm"] = {
        "backend": "openai",
        "model": "m",
        "base_ur": "http://127.0.0.1:9/v1",
        "api_key_env": "REVDIAL_TEST_API_KEY",
    }
    path = tmp / "typo.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _commands(tmp: Path) -> dict[str, list[str]]:
    typo = _typo_pipeline(tmp)
    seeds_typo = tmp / "seeds-typo.yaml"
    seeds_typo.write_text("name: x\nsource: {tabels: {}}\n")
    return {
        "synthesize": ["synthesize", "--config", str(typo), "--out", str(tmp / "out")],
        "synthesize --strategy": [
            "synthesize",
            "--config",
            str(ROOT / "pipelines/movies-sample.yaml"),
            "--strategy",
            "nosuch",
            "--out",
            str(tmp / "out2"),
        ],
        "select": [
            "select",
            "--seeds",
            str(tmp / "no-seeds"),
            "--strategy",
            "stratgy",
            "--out",
            str(tmp / "sel"),
        ],
        "train": [
            "train",
            "--config",
            str(RECIPE),
            "--dataset_name",
            "outputs/nosuch",
            "--output_dir",
            str(tmp / "model"),
        ],
        "train recipe": ["train", "--config", str(tmp / "no-recipe.yaml")],
        "train option": ["train", "--config", str(RECIPE), "--learnin_rate", "1"],
        "eval": [
            "eval",
            "--model",
            str(tmp / "runs/student"),
            "--benchmark",
            "redial",
            "--out",
            str(tmp / "r.json"),
        ],
        "seeds": ["seeds", "--config", str(seeds_typo), "--out", str(tmp / "seeds")],
        "push": ["push", str(tmp / "nosuch-dataset"), "--repo-id", "me/x"],
        "experiment": ["experiment", "--config", str(typo)],
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "outputs").mkdir()
    env = {
        **os.environ,
        "REVDIAL_TEST_API_KEY": SENTINEL,
        "OPENAI_API_KEY": SENTINEL,
        "HF_TOKEN": SENTINEL,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    results = {}
    for name, args in _commands(tmp).items():
        done = subprocess.run(
            [sys.executable, "-m", "revdial.cli", *args],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
            timeout=300,
        )
        results[name] = done
    return tmp, results


def test_a_sentinel_key_reaches_no_output_and_no_file_of_any_command(runs):
    tmp, results = runs
    for name, done in results.items():
        assert SENTINEL not in done.stdout + done.stderr, name
    for path in tmp.rglob("*"):
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path


def test_user_errors_are_one_line_with_exit_2_and_no_traceback(runs):
    _, results = runs
    for name, done in results.items():
        assert done.returncode == 2, (name, done.returncode, done.stderr[-2000:])
        assert "Traceback" not in done.stderr and "locals" not in done.stderr, name
        lines = [line for line in done.stderr.splitlines() if line.strip() and "Warning" not in line]
        assert len(lines) <= 6, (name, lines)  # click's usage errors take a few lines; ours take one


def test_the_message_names_the_key_the_option_or_the_missing_path(runs):
    _, results = runs
    assert "generation.llm.base_ur: unknown key" in results["synthesize"].stderr
    assert "--strategy: unknown strategy 'nosuch'" in results["synthesize --strategy"].stderr
    assert "outputs/nosuch: no such file or directory" in results["train"].stderr
    assert "no-recipe.yaml: recipe not found" in results["train recipe"].stderr
    assert "--learnin_rate" in results["train option"].stderr


def test_debug_shows_a_traceback_without_locals(tmp_path):
    env = {
        **os.environ,
        "REVDIAL_TEST_API_KEY": SENTINEL,
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "revdial.cli",
            "--debug",
            "synthesize",
            "--config",
            str(_typo_pipeline(tmp_path)),
            "--out",
            str(tmp_path / "o"),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback (most recent call last)" in done.stderr
    assert (
        SENTINEL not in done.stderr and "│" not in done.stderr
    )  # rich's locals panels are drawn with box lines


def test_importing_distilabel_through_revdial_leaves_the_plain_traceback_hook():
    code = "import sys, revdial.generation.tasks; print(sys.excepthook is sys.__excepthook__)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.stdout.strip().endswith("True"), done.stderr[-2000:]
