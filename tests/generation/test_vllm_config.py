"""The GPU path without a GPU: experiment-gpu.yaml's synthesis config has a vLLM (OpenAI-compatible) teacher, its LLM
is built from the YAML without loading anything, and the same config runs against a loopback OpenAI-compatible fake
standing in for the vLLM server."""

import json

import yaml
from helpers import ROOT, fixed_upstream, small_seeds_dir

from fakes.server import FakeOpenAIServer
from revdial.config import load_pipeline_config
from revdial.crs.experiment import load_experiment_config
from revdial.generation.llms import build_llm
from revdial.generation.run import make_plan, run_plan

TEACHER = "Qwen/Qwen2.5-72B-Instruct"


def _synthesis_config():
    return load_experiment_config(ROOT / "pipelines" / "experiment-gpu.yaml").synthesis_config


def test_experiment_gpu_points_at_a_vllm_server_teacher():
    path = _synthesis_config()
    assert path.name.endswith("-vllm.yaml") and path.exists(), path
    parsed = load_pipeline_config(path)[0]
    assert parsed.generation.llm.backend == "openai" and parsed.generation.llm.model == TEACHER
    assert parsed.generation.llm.api_key_env == "VLLM_API_KEY"


def test_the_teachers_llm_is_built_without_a_gpu_or_a_server(monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "sk-test")
    llm = build_llm(yaml.safe_load(_synthesis_config().read_text())["generation"]["llm"])
    assert type(llm).__name__ == "OpenAILLM" and llm.model == TEACHER
    assert llm.base_url == "http://127.0.0.1:8000/v1"
    assert llm.generation_kwargs["max_new_tokens"] == 256


def test_the_vllm_config_runs_against_an_openai_compatible_server(tmp_path, monkeypatch):
    seeds_dir = small_seeds_dir(tmp_path / "seeds", 4)
    raw = yaml.safe_load(_synthesis_config().read_text())
    monkeypatch.setenv("VLLM_API_KEY", "sk-test")
    monkeypatch.setenv("DISTILABEL_CACHE_DIR", str(tmp_path / "cache"))
    with FakeOpenAIServer(models=(TEACHER,), api_key="sk-test") as server:
        raw["generation"]["llm"]["base_url"] = server.base_url  # the fake stands in for `vllm serve`
        raw["generation"]["structured"] = False
        raw["selection"]["budget"] = 4
        plan, echo, out = make_plan(
            raw, out=tmp_path / "out", seeds_dir=seeds_dir
        )  # pre-flight: key and model
        run_plan(plan, echo, out, quiet=True, upstream=fixed_upstream(seeds_dir))
        assert server.requests >= 2 * 4
    summary = json.loads((out / "distiset_configs" / "summary.json").read_text())
    assert summary["accounting"]["ok"] and summary["accounting"]["seeds_selected"] == 4
    assert summary["accounting"]["seeds_kept"] > 0
