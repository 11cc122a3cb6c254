"""Test helpers: the seeds-to-top-B half of the pipeline made from fixed rows, and a plan with the fake LLM.

The generation half is what these tests exercise; the real seeds/selection steps have their own tests (and the
slow end-to-end test runs them).
"""


from pathlib import Path
from typing import Any

from distilabel.steps import LoadDataFromDicts, Step, StepInput
from distilabel.mixins.runtime_parameters import RuntimeParameter
from pydantic import Field

from revdial.generation.run import make_plan

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = ROOT / "pipelines" / "movies-sample.yaml"


class RankInOrder(Step):
    """Stand-in for SelectSeeds + KeepTopB: the first `budget` rows, ranked in order."""

    budget: RuntimeParameter[int] = Field(default=4)

    @property
    def inputs(self) -> list[str]:
        return ["seed_id"]

    @property
    def outputs(self) -> list[str]:
        return ["selection_rank", "selection_score", "selection_strategy"]

    def process(self, inputs: StepInput):  # type: ignore[override]
        yield [
            {**row, "selection_rank": i, "selection_score": 1.0, "selection_strategy": "in_order"}
            for i, row in enumerate(inputs) if i < self.budget
        ]


def fixed_upstream(rows: list[dict[str, Any]]):
    def upstream(plan: Any) -> tuple[Any, Any]:
        load = LoadDataFromDicts(name="load_seeds", data=rows, batch_size=len(rows))
        top_b = RankInOrder(name="keep_top_b", budget=plan.budget, input_batch_size=len(rows))
        load >> top_b
        return load, top_b

    return upstream


def fake_config(tmp_path: Path, *, llm: dict[str, Any] | None = None, **generation: Any) -> dict[str, Any]:
    import yaml

    raw = yaml.safe_load(SAMPLE_CONFIG.read_text())
    raw["generation"] = {**(raw.get("generation") or {}),
                         "llm": llm or {"backend": "class", "path": "fakes.llm:FakeLLM"}, **generation}
    return raw
