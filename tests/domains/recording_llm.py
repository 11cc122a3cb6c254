"""The fake LLM, also writing every chat it is sent (one JSON line each) to `prompts_path`."""

import json

from fakes.llm import FakeLLM


class RecordingLLM(FakeLLM):
    prompts_path: str = ""

    def generate(self, inputs, num_generations=1, max_new_tokens=128, temperature=0.7):  # type: ignore[override]
        with open(self.prompts_path, "a") as log:
            log.writelines(json.dumps(chat) + "\n" for chat in inputs)
        return super().generate(inputs, num_generations, max_new_tokens, temperature)
