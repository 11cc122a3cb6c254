"""A deterministic distilabel LLM for tests: answers from replies.fake_reply, counts its calls in a file."""

from __future__ import annotations

import time
from pathlib import Path

from distilabel.models.llms.base import LLM
from distilabel.models.llms.utils import prepare_output
from distilabel.typing import FormattedInput, GenerateOutput
from pydantic import Field, validate_call

from fakes.replies import count_tokens, fake_reply


class FakeLLM(LLM):
    """Scripted answers; `calls_path` gets one line per generated input (to count calls across processes);
    `fail_on` makes any prompt containing it raise; `delay_s` sleeps per input (to interrupt a run midway).

    `generate` takes no **kwargs: distilabel would turn them into a required runtime parameter.
    """

    script: dict[str, str] = Field(default_factory=dict)
    hallucinate: bool = True
    calls_path: str | None = None
    fail_on: str | None = None
    delay_s: float = 0.0
    model: str = "fake-llm"

    def load(self) -> None:
        super().load()

    @property
    def model_name(self) -> str:
        return self.model

    @validate_call
    def generate(  # type: ignore[override]
        self,
        inputs: list[FormattedInput],
        num_generations: int = 1,
        max_new_tokens: int = 128,
        temperature: float = 0.7,
    ) -> list[GenerateOutput]:
        outputs = []
        for chat in inputs:
            text = chat[-1]["content"]
            if self.fail_on and self.fail_on in text:
                raise RuntimeError(f"fake LLM failure on {self.fail_on!r}")
            if self.delay_s:
                time.sleep(self.delay_s)
            reply = fake_reply(list(chat), self.script, self.hallucinate)
            if self.calls_path:
                with open(Path(self.calls_path), "a") as log:
                    log.write(chat[0]["content"][:30].replace("\n", " ") + "\n")
            prompt_tokens = sum(count_tokens(m["content"]) for m in chat)
            outputs.append(
                prepare_output(
                    [reply] * num_generations,
                    input_tokens=[prompt_tokens] * num_generations,
                    output_tokens=[count_tokens(reply)] * num_generations,
                )
            )
        return outputs
