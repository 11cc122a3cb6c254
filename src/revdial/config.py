"""The pipeline YAML as pydantic models: one model per section, every default written here once.

    name, domain       the run's name and domain
    source             what the seeds are made from (validated by revdial.seeds.sources)
    selection          SelectionConfig: strategy, budget B, features, mode, seed, params
    generation         GenerationConfig: the `llm` backend (a typed block per backend), styles, turns, batching
    curation           CurationConfig: grounding, hallucination policy, dedup, filters
    output             OutputConfig: where the Distiset goes
    card               dataset-card extras (revdial.hub.cards)
    experiment         ExperimentSection: a budget x strategy experiment (revdial.crs.experiment)

Every model forbids keys it does not know, so a typo (`stratgy:`, a section `selction:`, `base_ur:` inside `llm`)
fails before anything runs, with one line naming the file and the key (`ConfigError`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# The evaluation decodings (`revdial eval --decoding`; revdial.crs.decoding says what each does).
DECODINGS = ("greedy", "penalty", "penalty_openings", "distinct", "sample")
# the non-LM rankers of revdial.crs.rankers (ranker:<kind>:<pipeline.yaml>)
RANKER_KINDS = ("popularity", "cf", "content", "blend", "series")


class UserError(ValueError):
    """An error in what the user gave (a config, a path, an option, an endpoint): the CLI prints its one-line
    message and exits 2, without a traceback."""


class ConfigError(UserError):
    """A config that cannot be used; the message names the file and the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- selection --------------------------------------------------------------------------------------------------
class SelectionConfig(_Section):
    strategy: str = Field(default="js", description="random | js | fisher | kcenter | hybrid")
    budget: int = Field(default=8, ge=1, description="B: seeds sent to the LLM")
    features: str = Field(
        default="minilm",
        description="minilm[:dtype=auto|bf16|fp32,backend=auto|torch|openvino|onnx] | st:PATH | lm:PATH | tfidf[:...]",
    )
    mode: Literal["fast", "exact"] = "fast"
    seed: int = 0
    params: dict[str, Any] = Field(
        default_factory=dict, description="strategy parameters (n_clusters, tau, ...)"
    )

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        from revdial.selection.strategies import STRATEGIES

        if value not in STRATEGIES:
            raise ValueError(f"unknown strategy {value!r}; choose one of: {', '.join(STRATEGIES)}")
        return value

    @model_validator(mode="after")
    def _known_params(self) -> SelectionConfig:
        from revdial.selection.strategies import strategy_params

        strategy_params(self.strategy, self.params)  # a parameter no strategy takes is a typo
        return self


# --- generation: one typed block per LLM backend ------------------------------------------------------------------
class _LLMBase(_Section):
    generation_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="max_new_tokens, temperature, ..."
    )


class EmbeddedLLMConfig(_LLMBase):
    """SmolLM2-135M-Instruct (or another GGUF) run in-process by llama.cpp on CPU."""

    backend: Literal["embedded"] = "embedded"
    model_path: str | None = None
    n_ctx: int = Field(default=2048, ge=256)
    n_threads: int = Field(default=2, ge=1)
    seed: int = 0
    n_parallel: int = Field(default=8, ge=1)


class OpenAILLMConfig(_LLMBase):
    """Any OpenAI-compatible server: OpenAI, vLLM or llama.cpp servers, Ollama."""

    backend: Literal["openai"]
    model: str = Field(min_length=1)
    base_url: str | None = None
    api_key_env: str = Field(default="OPENAI_API_KEY", description="NAME of the variable holding the key")
    # Sized so that a hanging endpoint ends a run within minutes: (1 + max_retries) x timeout per call.
    timeout: float = Field(default=30.0, gt=0, description="seconds per request")
    max_retries: int = Field(default=1, ge=0, description="client retries per request")
    preflight: bool = Field(
        default=True, description="check the endpoint, key and model before the pipeline runs"
    )


class VLLMConfig(_LLMBase):
    """vLLM in-process (GPU)."""

    backend: Literal["vllm"]
    model: str = Field(min_length=1)
    dtype: str = "auto"
    trust_remote_code: bool = False
    quantization: str | None = None
    revision: str | None = None
    tokenizer: str | None = None
    chat_template: str | None = None
    seed: int = 0
    extra_kwargs: dict[str, Any] = Field(default_factory=dict)


class TransformersLLMConfig(_LLMBase):
    """transformers in-process."""

    backend: Literal["transformers"]
    model: str = Field(min_length=1)
    revision: str = "main"
    torch_dtype: str = "auto"
    trust_remote_code: bool = False
    model_kwargs: dict[str, Any] | None = None
    tokenizer: str | None = None
    chat_template: str | None = None
    device: str | int | None = None
    device_map: str | dict[str, Any] | None = None


class ClassLLMConfig(_LLMBase):
    """Any distilabel LLM by import path (e.g. a test fake)."""

    backend: Literal["class"]
    path: str = Field(pattern=r"^[\w.]+:\w+$", description="package.module:ClassName")
    kwargs: dict[str, Any] = Field(default_factory=dict)


LLMConfig = Annotated[
    EmbeddedLLMConfig | OpenAILLMConfig | VLLMConfig | TransformersLLMConfig | ClassLLMConfig,
    Field(discriminator="backend"),
]
BACKENDS = ("embedded", "openai", "vllm", "transformers", "class")


TASKS = ("request", "turn", "answer")


class GroundedAnswerConfig(_Section):
    """How a `grounded` answer blends the seed item's neighbours (weighted reciprocal rank; 0 turns one off)."""

    collaborative_weight: float = Field(default=1.0, ge=0, description="co-liked by the same users (ratings)")
    content_weight: float = Field(
        default=1.0, ge=0, description="shared metadata (TF-IDF over the catalogue)"
    )
    mentioned_weight: float = Field(
        default=0.0,
        ge=0,
        description="the content neighbours of the titles the request names ('I loved Heat and Ronin'): the list "
        "then answers the request as well as the seed",
    )
    series_weight: float = Field(
        default=0.0,
        ge=0,
        description="items whose titles share the rare words of a title the request names (a series, a "
        "franchise: 'I loved Toy Story' -> 'Toy Story 2')",
    )
    series_first: bool = Field(
        default=False,
        description="list those series mates before the seed's item: the first line is then one a student can "
        "read off the request (greedy decoding otherwise opens most lines with the likeliest first word, 'The')",
    )


class GenerationConfig(_Section):
    llm: LLMConfig = Field(default_factory=EmbeddedLLMConfig)
    answer: Literal["llm", "grounded", "hybrid"] = Field(
        default="llm",
        description="llm: the teacher writes the list (the paper) | grounded: the seed item + its neighbours, no "
        "LLM | hybrid: the grounded list, the teacher writes only the reasons",
    )
    grounded: GroundedAnswerConfig = Field(default_factory=GroundedAnswerConfig)
    seed_parts: list[Literal["metadata", "review", "history", "neighbours"]] = Field(
        default_factory=lambda: ["metadata", "review", "history", "neighbours"],
        description="what of a seed the prompts show besides the item (revdial.seeds.render.SEED_PARTS); "
        "leave one out to measure what it is worth",
    )
    styles: list[str] | None = Field(default=None, description="request styles; None: all of the domain's")
    k: int = Field(default=1, ge=1, description="requests per seed")
    n_turns: int = Field(
        default=1, ge=1, description="1 = request -> list (the paper); n > 1 adds n-1 exchanges"
    )
    n_recommendations: int = Field(default=3, ge=1)
    structured: bool = True
    max_total_tokens: int = Field(default=0, ge=0, description="0 = no cap")
    max_new_tokens: dict[str, int] = Field(
        default_factory=dict, description="per task: request, turn, answer"
    )
    rng_seed: int = 0
    item_noun: str | None = Field(
        default=None,
        description="what is recommended, in prompts; None: the domain pack's (or the item's own kind)",
    )
    batch_size: int = Field(default=8, ge=1)
    replicas: int = Field(default=1, ge=1)
    max_consecutive_failures: int = Field(
        default=10, ge=1, description="stop the run after this many LLM calls in a row failed"
    )

    @field_validator("llm", mode="before")
    @classmethod
    def _embedded_by_default(cls, value: Any) -> Any:
        if value is None:
            return {"backend": "embedded"}
        if isinstance(value, dict) and "backend" not in value:
            return {"backend": "embedded", **value}
        return value

    @field_validator("max_new_tokens")
    @classmethod
    def _known_tasks(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - set(TASKS)
        if unknown:
            raise ValueError(f"unknown task(s) {sorted(unknown)}; use {', '.join(TASKS)}")
        return value


# --- curation ---------------------------------------------------------------------------------------------------
class DedupConfig(_Section):
    enabled: bool = True
    threshold: float = Field(default=0.8, gt=0, le=1)


class FiltersConfig(_Section):
    min_request_chars: int = 15
    max_request_chars: int = 1000
    min_request_words: int = 4
    reject_leaks: bool = True
    require_target: bool = True
    # A request sharing more than this share of a few-shot exemplar's word 3-grams copies it (0: no check).
    max_exemplar_overlap: float = 0.4
    # Reject a request that names a title (quoted, or after "called") the catalogue does not have.
    reject_unknown_titles: bool = True


class CurationConfig(_Section):
    grounding_threshold: float = Field(default=88.0, ge=0, le=100)
    on_hallucination: Literal["drop", "reject"] = "drop"
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    filters: FiltersConfig = Field(default_factory=FiltersConfig)
    max_review_chars: int = Field(default=700, ge=1)
    sft_answer: Literal["list", "reasons"] = Field(
        default="list",
        description="list: each SFT row is a `revdial eval` turn (its system prompt with K = "
        "generation.n_recommendations, a numbered 'Title (Year)' list) | reasons: a chat system prompt, "
        "each title with its reason",
    )


class OutputConfig(_Section):
    dir: str | None = Field(default=None, description="relative to the working directory; --out overrides")


# --- experiment -------------------------------------------------------------------------------------------------
class BenchmarkSpec(_Section):
    name: str
    data: str | None = None
    limit: int | None = Field(default=None, ge=1)

    @property
    def key(self) -> str:
        """Names the cached report: a changed limit is another evaluation, never a stale reuse."""
        return self.name + (f"-{self.limit}" if self.limit else "")


class ReferenceSpec(_Section):
    """A student trained on a benchmark's own training split: an in-domain reference row."""

    benchmark: str
    label: str | None = None
    limit: int | None = Field(default=None, ge=1)
    data: str | None = None
    train_overrides: dict[str, Any] = Field(default_factory=dict)
    plus: str | None = Field(
        default=None,
        pattern=r"^[a-z]+-B\d+$",
        description="a strategy row, e.g. js-B1000: its synthetic rows are added (real + synthetic together)",
    )


class AblationSpec(_Section):
    """One synthesis config change, trained and evaluated like a strategy row: `set` maps dotted keys of the
    synthesis config (`generation.answer`, `generation.grounded.content_weight`, `source.tables.items.metadata`)
    to their value in this row."""

    label: str
    set: dict[str, Any] = Field(min_length=1)
    strategy: str | None = Field(default=None, description="None: the experiment's first strategy")
    budget: int | None = Field(default=None, ge=1, description="None: the experiment's largest budget")


class ExperimentTrain(_Section):
    recipe: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    student: str | None = None


class ExperimentEval(_Section):
    k: int = Field(default=20, ge=1)
    batch_size: int = Field(default=16, ge=1)
    n_resamples: int = Field(default=1000, ge=1)
    max_new_tokens: int | None = None
    backend: Literal["auto", "llamacpp", "transformers"] = "auto"
    decoding: Literal[DECODINGS] | None = Field(
        default=None,
        description="one decoding for every LM row (None: revdial eval's default); names the cached reports",
    )
    benchmarks: list[BenchmarkSpec] = Field(default_factory=lambda: [BenchmarkSpec(name="redial")])

    @field_validator("benchmarks", mode="before")
    @classmethod
    def _names_are_specs(cls, value: Any) -> Any:
        return [{"name": item} if isinstance(item, str) else item for item in value or []]


class ExperimentSection(_Section):
    synthesis_config: str
    strategies: list[str] = Field(min_length=1)
    budgets: list[int] = Field(min_length=1)
    rounds: int = Field(default=1, ge=1)
    features: str = "minilm"
    baselines: list[Literal["zero_shot", "popularity"]] = Field(
        default_factory=lambda: ["zero_shot", "popularity"]
    )
    rankers: list[Literal[RANKER_KINDS]] = Field(
        default_factory=list,
        description="non-LM rankers over the synthesis config's own tables (revdial.crs.rankers), one row each",
    )
    reference: list[ReferenceSpec] = Field(default_factory=list)
    ablations: list[AblationSpec] = Field(default_factory=list)
    train: ExperimentTrain = Field(default_factory=ExperimentTrain)
    eval: ExperimentEval = Field(default_factory=ExperimentEval)

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, value: list[str]) -> list[str]:
        for strategy in value:
            SelectionConfig._known_strategy(strategy)
        return value

    @field_validator("budgets")
    @classmethod
    def _positive_budgets(cls, value: list[int]) -> list[int]:
        if min(value) < 1:
            raise ValueError(f"budgets must be positive integers, got {value}")
        return sorted(value)


# --- the file ---------------------------------------------------------------------------------------------------
class PipelineConfig(_Section):
    name: str = "synthesis"
    domain: str | None = None
    source: dict[str, Any] | None = None
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    curation: CurationConfig = Field(default_factory=CurationConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    card: dict[str, Any] | None = None
    experiment: ExperimentSection | None = None

    @field_validator("selection", "generation", "curation", "output", mode="before")
    @classmethod
    def _empty_section_is_defaults(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("domain")
    @classmethod
    def _known_domain(cls, value: str | None) -> str:
        from revdial.domains import resolve

        return resolve(value)

    @model_validator(mode="after")
    def _styles_of_the_domain(self) -> PipelineConfig:
        """generation.styles defaults to the domain's styles; a style the domain lacks is an error."""
        from revdial.domains import load_pack

        offered = list(load_pack(self.domain).styles)
        if self.generation.styles is None:
            self.generation.styles = offered
        unknown = [style for style in self.generation.styles if style not in offered]
        if unknown or not self.generation.styles:
            raise ValueError(
                f"generation.styles: unknown style(s) {unknown} for domain {self.domain!r}; choose from {', '.join(offered)}"
            )
        return self


def describe(error: ValidationError, label: str, option: bool = False) -> str:
    """One line: `FILE: key.path: message; key.path: message` (`--key` for command-line options)."""
    parts = []
    for item in error.errors():
        # drop the discriminator's tag from the path (generation.llm.openai.base_ur -> generation.llm.base_ur)
        loc = [str(p) for p in item["loc"] if p not in BACKENDS and not str(p).startswith("function-")]
        key = ".".join(loc) or "(top level)"
        key = f"--{key}" if option else key
        message = (
            "unknown key" if item["type"] == "extra_forbidden" else item["msg"].removeprefix("Value error, ")
        )
        if item["type"] == "union_tag_invalid":
            message = (
                f"unknown backend {item['input'].get('backend')!r}; choose one of: {', '.join(BACKENDS)}"
                if isinstance(item.get("input"), dict)
                else message
            )
        parts.append(f"{key}: {message}")
    return f"{label}: " + "; ".join(parts)


def parse(model: type[BaseModel], raw: Any, label: str) -> Any:
    """`model` validated from `raw`; a ConfigError naming `label` and the key on failure (never the input value,
    which may be a secret)."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(describe(error, label)) from None
    except ValueError as error:  # a validator's own error (e.g. selection parameters)
        raise ConfigError(f"{label}: {error}") from None


def read_yaml(path: Path | str) -> dict[str, Any]:
    """The top-level mapping of a YAML file; ConfigError when it is missing or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return raw


def load_pipeline_config(config: Path | str | dict) -> tuple[PipelineConfig, dict[str, Any], Path, str]:
    """(validated config, raw mapping, folder relative paths resolve against, label for messages)."""
    if isinstance(config, dict):
        raw, base, label = dict(config), Path.cwd(), "<config dict>"
    else:
        raw, base, label = read_yaml(config), Path(config).resolve().parent, str(config)
    if isinstance(raw.get("domain"), str):  # a pack folder is relative to the YAML's folder
        from revdial.domains import DomainError, resolve

        try:
            raw["domain"] = resolve(raw["domain"], base)
        except DomainError as error:
            raise ConfigError(f"{label}: domain: {error}") from None
    return parse(PipelineConfig, raw, label), raw, base, label


def missing_local_path(value: str, what: str) -> None:
    """Raise a UserError when `value` names a local path (`./x`, `/x`, `~/x`, `a/b/c`, or `a/b` whose folder `a`
    exists here) that does not exist, instead of trying it as a Hub id and failing on the network."""
    path = Path(value).expanduser()
    if path.exists():
        return
    parts = Path(value).parts
    local = (
        value.startswith((".", "/", "~")) or len(parts) > 2 or (len(parts) == 2 and Path(parts[0]).is_dir())
    )
    if local:
        raise UserError(f"{what} {value}: no such file or directory (Hub ids are OWNER/NAME)")
