"""distilabel Tasks that write the dialogues: a user request per (seed, style), optional extra turns, and the
recommendation answer. Prompts are the domain pack's templates (revdial.prompts); parsing is parsing.py.

Rows that cannot be generated (an earlier stage failed, or the token budget is spent) pass through without an
LLM call, carrying `skip_reason`, so that the curation steps can account for every selected seed.
"""

# No `from __future__ import annotations`: distilabel finds a step's input by its `StepInput` annotation object.
import re
from typing import TYPE_CHECKING, Any, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps import Step, StepInput
from distilabel.steps.tasks import Task
from pydantic import Field

from revdial.config import GenerationConfig
from revdial.domains import DEFAULT_DOMAIN, item_metadata, load_pack
from revdial.generation.calls import CallFailed, call_llm
from revdial.generation.parsing import message_head, parse_recommendations, parse_request
from revdial.prompts import exemplars, render, sample_styles

if TYPE_CHECKING:
    from distilabel.typing import ChatType, StepOutput


def recommendation_schema(target: str, n_recommendations: int, max_title_chars: int = 80) -> dict[str, Any]:
    """The JSON schema of an answer, for backends that enforce one per prompt (llama.cpp grammars): the target
    item is pinned first (it is the ground truth the generator is told to recommend), the other titles are free,
    so that what the model invents is still measured as hallucination."""
    item = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": max_title_chars},
            "reason": {"type": "string", "maxLength": 120},
        },
        "required": ["title", "reason"],
    }
    first = {**item, "properties": {**item["properties"], "title": {"const": target}}}
    return {
        "type": "object",
        # One prefix item per position: llama.cpp's llguidance ignores `prefixItems` once `items` is present.
        "properties": {
            "recommendations": {
                "type": "array",
                "prefixItems": [first] + [item] * (n_recommendations - 1),
                "minItems": n_recommendations,
                "maxItems": n_recommendations,
            }
        },
        "required": ["recommendations"],
    }


# Backends (class names) that continue a prefilled assistant turn and return it with the continuation: llama.cpp's
# chat endpoint does; OpenAI's API answers a new turn, and vLLM/transformers close the turn in their chat template.
PREFILL_BACKENDS = frozenset({"EmbeddedLlamaCpp"})
# What every answer step writes (the teacher's list, the grounded list, the grounded list with the teacher's
# reasons): grounding and curation read these, whichever step wrote them.
ANSWER_COLUMNS = ("recommended_raw", "parsed_titles", "parsed_reasons", "model_name")

# Task defaults are the config's (revdial.config).
_GENERATION = GenerationConfig()


class PlanRequests(Step):
    """Fan each seed out into k rows, one per request, each with a style sampled by a seeded RNG."""

    k: RuntimeParameter[int] = Field(default=_GENERATION.k, description="Requests generated per seed.")
    styles: RuntimeParameter[list[str]] = Field(
        default=list(load_pack(DEFAULT_DOMAIN).styles),
        description="Request styles to sample from (the domain's).",
    )
    rng_seed: RuntimeParameter[int] = Field(
        default=_GENERATION.rng_seed, description="Seed of the style sampler."
    )

    @property
    def inputs(self) -> list[str]:
        return ["seed_id"]

    @property
    def outputs(self) -> list[str]:
        return ["style", "request_index"]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = []
        for row in inputs:
            for index, style in enumerate(sample_styles(row["seed_id"], self.k, self.styles, self.rng_seed)):
                rows.append({**row, "style": style, "request_index": index})
        yield rows


class _DialogueTask(Task):
    """Shared behaviour: domain wording, and rows that an earlier stage already lost pass through without a call.
    The call itself (cache, token cap, failures) is `calls.call_llm`."""

    domain: RuntimeParameter[str] = Field(
        default=DEFAULT_DOMAIN,
        description="The domain pack (revdial.domains) whose templates and words are used.",
    )
    item_noun: Optional[RuntimeParameter[str]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default=None,
        description="What is recommended, in prompts (None: the pack's, or the item's own kind).",
    )
    max_total_tokens: RuntimeParameter[int] = Field(
        default=0, description="Stop calling the LLM once the run has used this many tokens (0: no cap)."
    )
    max_consecutive_failures: RuntimeParameter[int] = Field(
        default=0, description="Stop calling the LLM after this many failed calls in a row (0: never)."
    )
    ledger_path: Optional[RuntimeParameter[str]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default=None, description="File shared by all tasks of the run that counts tokens and failed calls."
    )
    llm_cache_path: Optional[RuntimeParameter[str]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default=None,
        description="SQLite file of finished LLM calls, shared by the run's tasks (see LLMCallCache).",
    )
    max_new_tokens: Optional[RuntimeParameter[int]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default=None,
        description="Token limit of this task's answers (None: the backend's generation_kwargs).",
    )

    def _can_generate(self, row: dict[str, Any]) -> bool:
        return not row.get("skip_reason")

    def _words(self, row: dict[str, Any]) -> dict[str, Any]:
        """The template variables every prompt of this row shares: the domain and the item's noun."""
        noun = self.item_noun or load_pack(self.domain).noun_for(row)
        return {"domain": self.domain, "item_noun": noun}

    def _task_generation_kwargs(self) -> dict[str, Any]:
        """Generation settings this task adds to the backend's (e.g. JSON mode for the answers only)."""
        return {"max_new_tokens": self.max_new_tokens} if self.max_new_tokens else {}

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        live = [row for row in inputs if self._can_generate(row)]
        outputs = call_llm(
            self.llm,
            self._format_inputs(live) if live else [],
            generation_kwargs={**(self.llm.get_generation_kwargs() or {}), **self._task_generation_kwargs()},
            cache_path=self.llm_cache_path,
            ledger_path=self.ledger_path,
            max_total_tokens=self.max_total_tokens,
            max_consecutive_failures=self.max_consecutive_failures,
            warn=self._logger.warning,
        )
        by_position = iter(zip(live, outputs))
        rows = []
        for row in inputs:
            if not self._can_generate(row):
                out = self._row(row, None)
            else:
                _, output = next(by_position)
                out = self._row(row, output)
            # Running totals per row, in plain columns: distilabel drops its metadata column from the Distiset.
            tokens_in, tokens_out = _row_tokens(out, self.name)
            out["tokens_in"] = int(row.get("tokens_in") or 0) + tokens_in
            out["tokens_out"] = int(row.get("tokens_out") or 0) + tokens_out
            rows.append(out)
        yield rows

    def _row(self, row: dict[str, Any], output: Any) -> dict[str, Any]:
        """The output row: the parsed answer, or the row with its outputs empty and the reason it has none."""
        formatted = (
            [] if output is None or isinstance(output, CallFailed) else self._format_outputs(output, row)
        )
        if formatted:
            return {**row, **formatted[0], "model_name": self.llm.model_name, "skip_reason": None}
        reason = output.reason if isinstance(output, CallFailed) else None
        if output is not None and reason is None:
            reason = "llm_error: NoGeneration"  # a 200 response with no choices
        out = {**row, **{name: None for name in self.outputs if name != "model_name"}}
        out["model_name"] = self.llm.model_name
        out["skip_reason"] = reason or row.get("skip_reason")
        return out


class GenerateRequest(_DialogueTask):
    """Write the user's opening request for a seed in a given style, without naming the seed item."""

    @property
    def inputs(self) -> list[str]:
        return ["seed_text", "title", "style", "history_liked", "history_disliked"]

    @property
    def outputs(self) -> list[str]:
        return ["request", "conversation", "model_name"]

    def _can_generate(self, row: dict[str, Any]) -> bool:
        return super()._can_generate(row) and bool(row.get("seed_text"))

    def format_input(self, input: dict[str, Any]) -> "ChatType":
        words = self._words(input)
        variables = {
            **words,
            # Small models copy what they see: the request prompt never shows the target's title.
            "seed_text": mask_title(
                load_pack(self.domain).seed_text(input), input["title"], f"this {words['item_noun']}"
            ),
            "title": input["title"],
            "history_liked": list(input.get("history_liked") or []),
            "history_disliked": list(input.get("history_disliked") or []),
        }
        instruction = render(f"style_{input['style']}", **variables)
        # an exemplar that happens to name the target would show it: it is left out
        examples = [
            e for e in exemplars(input["style"], self.domain) if mask_title(e, input["title"], "") == e
        ]
        chat = [
            {"role": "system", "content": render("request_system", **words)},
            {
                "role": "user",
                "content": render("request", style_instruction=instruction, exemplars=examples, **variables),
            },
        ]
        opening = self._opening(input)
        # A small model asked for a message often writes about the message; its first words written for it, it
        # writes the message. Backends without a prefilled assistant turn get the prompt alone.
        return [*chat, {"role": "assistant", "content": opening}] if opening else chat

    def _opening(self, input: dict[str, Any]) -> str:
        """The first words of the request, prefilled as the assistant's turn where the backend continues one ('' for
        the others, and where the pack's `request_opening` template writes none for the style)."""
        if type(self.llm).__name__ not in PREFILL_BACKENDS:
            return ""
        return render(
            "request_opening",
            style=input["style"],
            metadata=item_metadata(input),
            history_liked=list(input.get("history_liked") or []),
            **self._words(input),
        )

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        opening = self._opening(input) if input and output else ""
        if opening:
            if not output.lstrip().startswith(opening):  # a backend that returns the continuation only
                output = f"{opening} {output.lstrip()}"
            # what a small model adds after its message is the prompt echoed or its own answer
            output = message_head(output)
        request = parse_request(output)
        return {
            "request": request or None,
            "conversation": [{"role": "user", "content": request}] if request else None,
        }


class ContinueDialogue(_DialogueTask):
    """Multi-turn mode: add one turn, either the recommender's clarifying question or the seeker's reply."""

    speaker: RuntimeParameter[str] = Field(
        default="assistant", description="assistant (question) | user (reply)"
    )

    @property
    def inputs(self) -> list[str]:
        return ["conversation", "seed_text", "title"]

    @property
    def outputs(self) -> list[str]:
        return ["conversation", "model_name"]

    def _can_generate(self, row: dict[str, Any]) -> bool:
        return super()._can_generate(row) and bool(row.get("conversation"))

    def format_input(self, input: dict[str, Any]) -> "ChatType":
        conversation = list(input["conversation"])
        template = "recommender_question" if self.speaker == "assistant" else "seeker_turn"
        words = self._words(input)
        prompt = render(
            template,
            conversation=conversation,
            seed_text=mask_title(
                load_pack(self.domain).seed_text(input), input["title"], f"this {words['item_noun']}"
            ),
            **words,
        )
        return [{"role": "user", "content": prompt}]

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        turn = parse_request(output)
        if not turn or input is None:
            return {"conversation": None}
        return {"conversation": [*input["conversation"], {"role": self.speaker, "content": turn}]}


class RecommendItems(_DialogueTask):
    """Answer the conversation with a ranked list; the seed item is the answer to include, neighbours are offered."""

    n_recommendations: RuntimeParameter[int] = Field(
        default=_GENERATION.n_recommendations, description="Titles asked for per answer."
    )
    structured: RuntimeParameter[bool] = Field(
        default=False,
        description="Ask for JSON (enforced by the backend where it can) instead of a numbered list.",
    )

    @property
    def inputs(self) -> list[str]:
        return ["conversation", "title", "year", "neighbor_titles"]

    @property
    def outputs(self) -> list[str]:
        return list(ANSWER_COLUMNS)

    def _can_generate(self, row: dict[str, Any]) -> bool:
        return super()._can_generate(row) and bool(row.get("conversation"))

    def format_input(self, input: dict[str, Any]) -> Any:
        # The target is shown whole (the answer must ground to it); the other candidates only for display.
        target = f"{input['title']} ({input['year']})" if input.get("year") else input["title"]
        words, rules = self._words(input), load_pack(self.domain).title
        candidates = list(input.get("neighbor_titles") or [])[: max(self.n_recommendations * 2, 4)]
        prompt = render(
            "recommend",
            conversation=list(input["conversation"]),
            target=target,
            candidates=[rules.display(title) for title in candidates],
            n_recommendations=self.n_recommendations,
            structured=self.structured,
            **words,
        )
        chat = [
            {"role": "system", "content": render("recommend_system", **words)},
            {"role": "user", "content": prompt},
        ]
        if self.structured and getattr(self.llm, "supports_input_schema", False):
            # distilabel's structured input: (chat, structured output) for backends that take a schema per prompt
            return (
                chat,
                {
                    "format": "json",
                    "schema": recommendation_schema(
                        target, self.n_recommendations, max(len(target), rules.display_chars)
                    ),
                },
            )
        return chat

    def _shown_titles(self, row: dict[str, Any], rules: Any) -> dict[str, str]:
        """The titles this row's prompt shows, as shown -> whole (the target whole, candidates shortened)."""
        target = f"{row['title']} ({row['year']})" if row.get("year") else row.get("title")
        candidates = list(row.get("neighbor_titles") or [])[: max(self.n_recommendations * 2, 4)]
        shown = {rules.display(title): title for title in candidates}
        return {**shown, target: target} if target else shown

    def _task_generation_kwargs(self) -> dict[str, Any]:
        kwargs = super()._task_generation_kwargs()
        if self.structured and type(self.llm).__name__ == "OpenAILLM":
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs

    def format_output(self, output: str | None, input: dict[str, Any] | None = None) -> dict[str, Any]:
        rules = load_pack(self.domain).title
        items = parse_recommendations(
            output,
            max_items=max(self.n_recommendations * 2, 5),
            max_title_chars=rules.max_chars,
            known_titles=self._shown_titles(input or {}, rules),
        )
        return {
            "recommended_raw": output,
            "parsed_titles": [item.display for item in items],
            "parsed_reasons": [item.reason for item in items],
        }


def mask_title(text: str, title: str, replacement: str) -> str:
    """`text` with every occurrence of `title` (case-insensitive, with a following "(Year)") replaced."""
    if not title or len(title) < 2:
        return text
    pattern = re.compile(rf"(?<!\w){re.escape(title)}(?:\s*\(\d{{4}}\))?(?!\w)", re.IGNORECASE)
    return pattern.sub(replacement, text)


def _row_tokens(row: dict[str, Any], step_name: str) -> tuple[int, int]:
    """(input, output) tokens of this step's LLM call for a row, from distilabel's statistics (0, 0 if none)."""
    stats = (row.get("distilabel_metadata") or {}).get(f"statistics_{step_name}") or {}
    counts = []
    for key in ("input_tokens", "output_tokens"):
        value = stats.get(key) or 0
        counts.append(int(sum(value)) if isinstance(value, list) else int(value))
    return counts[0], counts[1]
