"""`generation.llm` backends built from the YAML: distilabel's TransformersLLM runs here on a tiny model; vLLM needs a
GPU, so only its construction from the config is checked."""

from __future__ import annotations

import pytest

from revdial.generation.llms import EmbeddedLlamaCpp, LLMConfigError, build_llm


def test_transformers_backend_generates_from_a_local_model(tiny_lm):
    llm = build_llm(
        {
            "backend": "transformers",
            "model": str(tiny_lm),
            "device": "cpu",
            "generation_kwargs": {"max_new_tokens": 5, "do_sample": False},
        }
    )
    assert type(llm).__name__ == "TransformersLLM"
    llm.load()
    outputs = llm.generate(
        inputs=[[{"role": "user", "content": "Recommend movies"}]], max_new_tokens=5, do_sample=False
    )
    assert len(outputs) == 1 and isinstance(outputs[0]["generations"][0], str)
    assert outputs[0]["statistics"]["output_tokens"][0] <= 5


def test_vllm_backend_is_built_from_the_config_without_loading():
    llm = build_llm(
        {
            "backend": "vllm",
            "model": "Qwen/Qwen2.5-7B-Instruct",
            "generation_kwargs": {"max_new_tokens": 256, "temperature": 0.7},
        }
    )
    assert type(llm).__name__ == "vLLM" and llm.model == "Qwen/Qwen2.5-7B-Instruct"
    assert llm.generation_kwargs == {"max_new_tokens": 256, "temperature": 0.7}


@pytest.mark.parametrize("backend", ["vllm", "transformers", "openai"])
def test_a_backend_without_a_model_is_refused_by_name(backend, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    with pytest.raises(LLMConfigError, match="generation: llm.model: Field required"):
        build_llm({"backend": backend})


def test_no_llm_section_means_the_embedded_default():
    assert isinstance(build_llm(None), EmbeddedLlamaCpp)
