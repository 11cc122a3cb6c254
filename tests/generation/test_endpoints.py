"""A dead, refusing, hanging or wrong endpoint fails before the pipeline starts, in seconds, with the reason; a run
whose every call fails exits with the counts instead of an empty dataset and rc 0."""

import socket
import time

import pytest
from helpers import config, fixed_upstream, small_seeds_dir

from fakes.server import FakeOpenAIServer
from revdial.config import OpenAILLMConfig
from revdial.generation.llms import EndpointError, check_endpoint
from revdial.generation.run import LLMFailure, make_plan, run_plan


def _llm(base_url: str, **extra) -> dict:
    return {
        "backend": "openai",
        "model": "fake-model",
        "base_url": base_url,
        "api_key_env": "REVDIAL_TEST_KEY",
        **extra,
    }


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("REVDIAL_TEST_KEY", "sk-test")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_endpoint_fails_before_anything_is_built(tmp_path):
    started = time.monotonic()
    with pytest.raises(EndpointError, match="unreachable"):
        make_plan(config(_llm(f"http://127.0.0.1:{_closed_port()}/v1")), out=tmp_path / "o")
    assert time.monotonic() - started < 30
    assert not (tmp_path / ".o.work").exists()  # no seeds were built


def test_a_refused_key_is_named_by_its_variable():
    with (
        FakeOpenAIServer(api_key="sk-right") as server,
        pytest.raises(EndpointError, match=r"key in \$REVDIAL_TEST_KEY was refused \(HTTP 401\)"),
    ):
        check_endpoint(OpenAILLMConfig(**_llm(server.base_url)))


def test_an_unknown_model_is_named_with_what_the_server_serves():
    with (
        FakeOpenAIServer(models=("qwen", "llama")) as server,
        pytest.raises(EndpointError, match="model 'fake-model' is not served; it serves: qwen, llama"),
    ):
        check_endpoint(OpenAILLMConfig(**_llm(server.base_url)))


def test_a_hanging_endpoint_times_out():
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        started = time.monotonic()
        with pytest.raises(EndpointError, match="unreachable"):
            check_endpoint(
                OpenAILLMConfig(**_llm(f"http://127.0.0.1:{listener.getsockname()[1]}/v1")), timeout=1
            )
        assert time.monotonic() - started < 5


def test_a_run_whose_calls_all_fail_exits_with_the_counts(tmp_path, monkeypatch):
    seeds_dir = small_seeds_dir(tmp_path / "seeds", 4)
    monkeypatch.setenv("DISTILABEL_CACHE_DIR", str(tmp_path / "cache"))
    with FakeOpenAIServer(faults={"500": 1.0}, persistent=("500",)) as server:
        plan, echo, out = make_plan(
            config(_llm(server.base_url, max_retries=0), budget=4, structured=False),
            out=tmp_path / "out",
            seeds_dir=seeds_dir,
        )
        with pytest.raises(
            LLMFailure, match=r"0 of 4 selected seeds kept: 4 of 4 requests failed at the LLM"
        ):
            run_plan(plan, echo, out, quiet=True, upstream=fixed_upstream(seeds_dir))


def test_a_hanging_endpoint_ends_the_run_after_n_failed_calls_in_a_row(tmp_path, monkeypatch):
    seeds_dir = small_seeds_dir(tmp_path / "seeds", 12)
    monkeypatch.setenv("DISTILABEL_CACHE_DIR", str(tmp_path / "cache"))
    # /models answers (the pre-flight passes), every completion hangs past the client's timeout
    with FakeOpenAIServer(faults={"timeout": 1.0}, persistent=("timeout",), timeout_sleep_s=30) as server:
        llm = _llm(server.base_url, max_retries=0, timeout=1)
        plan, echo, out = make_plan(
            config(llm, budget=12, structured=False, max_consecutive_failures=4),
            out=tmp_path / "out",
            seeds_dir=seeds_dir,
        )
        started = time.monotonic()
        with pytest.raises(LLMFailure, match="0 of 12 selected seeds kept"):
            run_plan(plan, echo, out, quiet=True, upstream=fixed_upstream(seeds_dir))
        assert time.monotonic() - started < 120
        assert server.requests == 4  # batch_size 4: one batch of calls, then no more
