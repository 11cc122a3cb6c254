"""Fixtures for the Argilla round-trip: a contract-shaped synthesis Distiset, and a real local Argilla server.

The server is argilla-server 2.8.0 in its own virtualenv (tests/argilla/server/setup.sh), started once per test
session by tests/argilla/server/launch.py and stopped at the end. Without that virtualenv the `argilla`-marked tests
skip and say how to set it up.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = Path(__file__).resolve().parent / "server"
SERVER_VENV = Path(os.environ.get("ARGILLA_SERVER_VENV", ROOT / ".cache" / "argilla-server-venv"))
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
SYSTEM = {
    "role": "system",
    "content": "You are a movie recommender. Recommend catalogue titles with reasons.",
}


def contract_row(seed_id, style, request, target, recommended, hallucinated=(), rank=0) -> dict:
    """One row of the synthesis output contract (BRIEF.md): `target` and `recommended` are (item_id, title)."""
    titles = [title for _, title in recommended]
    answer = {"role": "assistant", "content": "\n".join(f"- {t}: fits what you asked for." for t in titles)}
    prompt = [SYSTEM, {"role": "user", "content": request}]
    return {
        "messages": [*prompt, answer],
        "prompt": prompt,
        "completion": [answer],
        "target_item_id": target[0],
        "target_title": target[1],
        "recommended_item_ids": [item_id for item_id, _ in recommended],
        "recommended_titles": titles,
        "hallucinated_titles": list(hallucinated),
        "style": style,
        "seed_id": seed_id,
        "selection_strategy": "js",
        "selection_rank": rank,
        "generator_model": "scripted-test-llm",
        "request": request,
        "seed_text": f"Review of {target[1]}: tense, stylish, great score.",
    }


HEAT, RONIN, ALIEN, UP = (
    ("949", "Heat (1995)"),
    ("1693", "Ronin (1998)"),
    ("1214", "Alien (1979)"),
    ("68954", "Up (2009)"),
)


def contract_rows() -> list[dict]:
    return [
        contract_row(
            "s-heat", "casual", "a slick crime thriller with a great shootout?", HEAT, [HEAT, RONIN], rank=0
        ),
        contract_row(
            "s-heat", "terse", "cop vs robber drama, 90s", HEAT, [RONIN, HEAT], ["Heat Wave Redux"], rank=0
        ),
        contract_row("s-alien", "casual", "something scary set on a spaceship", ALIEN, [ALIEN], rank=1),
        contract_row(
            "s-alien", "verbose", "I loved Alien, more like Alien please", ALIEN, [ALIEN, RONIN], rank=1
        ),
        contract_row("s-up", "casual", "a moving animated film for a family night", UP, [RONIN], rank=2),
        contract_row("s-up", "terse", "animated, sad then happy", UP, [UP], ["Balloon House"], rank=2),
    ]


def save_contract_distiset(rows: list[dict], out: Path) -> Path:
    import datasets
    from distilabel.distiset import Distiset

    rejects = datasets.Dataset.from_list(
        [
            {
                "seed_id": "s-x",
                "selection_rank": 3,
                "stage": "filters",
                "reason": "leak",
                "detail": "names the title",
            }
        ]
    )
    Distiset(
        {
            "default": datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}),
            "rejects": datasets.DatasetDict({"train": rejects}),
        }
    ).save_to_disk(out, save_card=False, save_pipeline_config=False, save_pipeline_log=False)
    (out / "summary.json").write_text(json.dumps({"name": "movies-test", "config": {"name": "movies-test"}}))
    (out / "distiset_configs" / "pipeline.yaml").parent.mkdir(exist_ok=True)
    (out / "distiset_configs" / "pipeline.yaml").write_text("pipeline:\n  name: movies-test\n")
    return out


@pytest.fixture
def rows() -> list[dict]:
    """Six contract rows from 3 seeds: 2 with hallucinated titles, 1 leaking its target, 1 without its target."""
    return contract_rows()


@pytest.fixture
def make_row():
    """`make_row(seed_id, style, request, target, recommended, hallucinated=(), rank=0)` -> a contract row."""
    return contract_row


@pytest.fixture
def items() -> dict[str, tuple[str, str]]:
    return {"heat": HEAT, "ronin": RONIN, "alien": ALIEN, "up": UP}


@pytest.fixture
def offline_argilla(monkeypatch):
    """An SDK client that never talks to a server: the argilla SDK wants a default client even to build settings."""
    from argilla._api._client import APIClient

    import argilla as rg

    monkeypatch.setattr(APIClient, "_validate_connection", lambda self: None)
    previous = rg.Argilla._default_client
    client = rg.Argilla(api_url="http://127.0.0.1:9", api_key="offline-unit-tests", retries=0)
    yield client
    rg.Argilla._default_client = previous


@pytest.fixture
def save_distiset():
    """`save_distiset(rows, out)`: save rows as a synthesis-shaped Distiset at `out`; returns `out`."""
    return save_contract_distiset


@pytest.fixture
def synthesis_dir(tmp_path) -> Path:
    """A small Distiset shaped like `revdial synthesize`'s output: 6 rows from 3 seeds, 2 with hallucinations."""
    return save_contract_distiset(contract_rows(), tmp_path / "synth")


def _die_with_parent() -> None:
    # Linux: the launcher gets SIGTERM (and stops the server and redis) even if pytest itself is killed. libc is
    # loaded before the fork, so the child only makes the one system call.
    _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@pytest.fixture(scope="session")
def argilla_server(tmp_path_factory):
    """Connection info of a real argilla-server on 127.0.0.1: api_url, api_key (owner), annotator_api_key,
    workspace. Started once per session; stopped (with its redis) at the end."""
    python = SERVER_VENV / "bin" / "python"
    if not python.exists():
        if (
            os.environ.get("REVDIAL_REQUIRE_ARGILLA_SERVER") == "1"
        ):  # CI: a missing server is a failure, not a skip
            pytest.fail(
                f"REVDIAL_REQUIRE_ARGILLA_SERVER=1 but {SERVER_VENV} is missing: run tests/argilla/server/setup.sh"
            )
        pytest.skip(
            f"the local Argilla test server is not set up ({SERVER_VENV} missing): run "
            "`bash tests/argilla/server/setup.sh` (its own virtualenv + redis-server), then rerun the tests"
        )
    workdir = tmp_path_factory.mktemp("argilla-server")
    info_path, log_path = workdir / "info.json", workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGILLA_", "VIRTUAL_ENV"))}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                str(python),
                str(SERVER_DIR / "launch.py"),
                "--info",
                str(info_path),
                "--home",
                str(workdir / "home"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
    try:
        deadline = time.monotonic() + 120
        while not info_path.exists():
            if proc.poll() is not None:
                pytest.fail(
                    f"the Argilla test server exited ({proc.returncode}):\n{log_path.read_text()[-4000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the Argilla test server did not start in 120 s:\n{log_path.read_text()[-4000:]}"
                )
            time.sleep(0.25)
        yield json.loads(info_path.read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
