"""An OpenAI-compatible server that times out, rate-limits, errors and answers garbage: the run still finishes,
retries what is retryable, loses no seed, and the API key never reaches a file it writes."""

import json

import datasets
import pytest
from helpers import config, small_seeds_dir, synthesize_fixed

from fakes.server import FakeOpenAIServer
from revdial.generation.llms import LLMConfigError, build_llm
from revdial.generation.run import work_dir_of

SENTINEL = "sk-SENTINEL-do-not-leak-4242"
N_SEEDS = 16


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    seeds_dir = small_seeds_dir(tmp / "seeds", N_SEEDS)
    server = FakeOpenAIServer(
        latency_s=0.01,
        faults={"timeout": 0.08, "429": 0.12, "500": 0.12, "empty": 0.08, "malformed": 0.08, "badjson": 0.04},
        persistent=(
            "500",
        ),  # a 500 that never recovers: retries run out, the row becomes an llm_error reject
        timeout_sleep_s=2.5,
    ).start()
    mp = pytest.MonkeyPatch()
    mp.setenv("REVDIAL_TEST_API_KEY", SENTINEL)
    mp.setenv("DISTILABEL_CACHE_DIR", str(tmp / "cache"))
    llm = {
        "backend": "openai",
        "model": "fake-model",
        "base_url": server.base_url,
        "api_key_env": "REVDIAL_TEST_API_KEY",
        "max_retries": 2,
        "timeout": 1,
    }
    out = synthesize_fixed(config(llm, budget=N_SEEDS, structured=False), tmp / "out", seeds_dir)
    mp.undo()
    server.stop()
    return {"out": out, "server": server, "cache": tmp / "cache"}


def test_run_with_faults_finishes_and_loses_no_seed(faulty_run):
    summary = json.loads((faulty_run["out"] / "distiset_configs" / "summary.json").read_text())
    assert summary["accounting"]["ok"] and summary["accounting"]["seeds_selected"] == N_SEEDS
    kept = set(datasets.load_from_disk(str(faulty_run["out"] / "default"))["train"]["seed_id"])
    rejected = set(datasets.load_from_disk(str(faulty_run["out"] / "rejects"))["train"]["seed_id"])
    assert len(kept | rejected) == N_SEEDS and kept and not kept & rejected


def test_retryable_faults_were_retried_and_permanent_ones_rejected(faulty_run):
    server = faulty_run["server"]
    assert {"429", "timeout"} <= set(server.fault_counts)
    assert server.requests > 2 * N_SEEDS  # every fault cost at least one retry
    reasons = json.loads((faulty_run["out"] / "distiset_configs" / "summary.json").read_text())[
        "reject_reasons"
    ]
    assert "llm_error" in reasons  # the persistent 500s
    assert set(reasons) <= {
        "llm_error",
        "empty",
        "unparseable",
        "no_grounded_titles",
        "too_short",
        "leak",
        "missing_target",
        "duplicate",
    }


def test_api_key_reaches_the_server_but_no_file(faulty_run):
    assert f"Bearer {SENTINEL}" in faulty_run["server"].auth_headers
    for root in (faulty_run["out"], faulty_run["cache"], work_dir_of(faulty_run["out"])):
        for path in root.rglob("*"):
            if path.is_file():
                assert SENTINEL.encode() not in path.read_bytes(), path


def test_a_key_written_into_the_yaml_is_refused():
    with pytest.raises(LLMConfigError, match="api_key_env"):
        build_llm({"backend": "openai", "model": "m", "api_key": "sk-123"})


def test_a_missing_key_variable_is_named(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(LLMConfigError, match="NO_SUCH_KEY_VAR"):
        build_llm({"backend": "openai", "model": "m", "api_key_env": "NO_SUCH_KEY_VAR"})
