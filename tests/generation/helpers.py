"""Shared set-up of generation tests: a small seeds directory cut from the bundled sample, and configs that run
the real pipeline (real seeds/selection steps, MiniLM features) with a fake LLM."""

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = ROOT / "pipelines" / "movies-sample.yaml"


def small_seeds_dir(directory: Path, n: int = 12) -> Path:
    """n seeds of the bundled sample, one per movie (with the full catalogue), saved as a seeds directory."""
    from revdial.seeds.build import build_seeds, save_seeds

    build = build_seeds(SAMPLE_CONFIG)
    first_of_item: dict[str, int] = {}
    for position, item_id in enumerate(build.seeds["item_id"]):
        first_of_item.setdefault(item_id, position)
    build.seeds = build.seeds.select(sorted(first_of_item.values())[:n])
    return save_seeds(build, directory)


def config(
    llm: dict[str, Any] | None = None, *, budget: int = 12, strategy: str = "random", **generation: Any
) -> dict[str, Any]:
    raw = yaml.safe_load(SAMPLE_CONFIG.read_text())
    raw["selection"] = {**(raw.get("selection") or {}), "strategy": strategy, "budget": budget}
    raw["generation"] = {
        **(raw.get("generation") or {}),
        "llm": llm or {"backend": "class", "path": "fakes.llm:FakeLLM"},
        "batch_size": 4,
        # the teacher writes the list, so the tests can script what it says (the sample's own answer is grounded)
        "answer": "llm",
        "n_recommendations": 3,
        # one request per seed, which the tests count (the sample asks for 2 for the small teacher's sake)
        "k": 1,
        **generation,
    }
    return raw


def fixed_upstream(seeds_dir: Path):
    """The seeds-to-top-B half without features: every seed of `seeds_dir`, ranked in order (no MiniLM start-up),
    for tests about the generation half."""

    def upstream(plan: Any) -> tuple[Any, Any]:
        import datasets
        from distilabel.steps import LoadDataFromDicts

        rows = [
            {**row, "selection_rank": rank, "selection_score": 1.0, "selection_strategy": "in_order"}
            for rank, row in enumerate(datasets.load_from_disk(str(seeds_dir)).to_list())
        ][: plan.budget]
        load = LoadDataFromDicts(name="load_seeds", data=rows, batch_size=max(len(rows), 1))
        return load, load

    return upstream


def fake_llm(calls_path: Path) -> dict[str, Any]:
    """The `generation.llm` section of the fake teacher (tests/fakes/llm.py), counting its calls in `calls_path`."""
    return {"backend": "class", "path": "fakes.llm:FakeLLM", "kwargs": {"calls_path": str(calls_path)}}


def synthesize_fixed(raw: Any, out: Path, seeds_dir: Path, **run_kwargs: Any) -> Path:
    """Run the synthesis of config `raw` into `out` on every seed of `seeds_dir` in order (`fixed_upstream`);
    `run_kwargs` go to `run_plan` (e.g. `ray=True`). Returns the output folder."""
    from revdial.generation.run import make_plan, run_plan

    plan, echo, out_dir = make_plan(raw, out=out, seeds_dir=seeds_dir)
    run_plan(plan, echo, out_dir, quiet=True, upstream=fixed_upstream(seeds_dir), **run_kwargs)
    return out_dir
