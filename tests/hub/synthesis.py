"""A contract-shaped synthesis output (what `revdial synthesize` saves), built without running the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset, DatasetDict

SYSTEM = "You are a movie recommender. Recommend titles from the catalogue with a short reason each."


def kept_row(i: int) -> dict:
    request = f"I want a tense thriller for a rainy evening, number {i}."
    answer = (
        f"1. Heat (1995) - a slow-burn heist.\n2. Ronin (1998) - car chases.\n3. Made Up Movie {i} (2001)"
    )
    system = {"role": "system", "content": SYSTEM}
    user = {"role": "user", "content": request}
    assistant = {"role": "assistant", "content": answer}
    return {
        "messages": [system, user, assistant],
        "prompt": [system, user],
        "completion": [assistant],
        "target_item_id": "heat-1995",
        "target_title": "Heat",
        "recommended_item_ids": ["heat-1995", "ronin-1998"],
        "recommended_titles": ["Heat (1995)", "Ronin (1998)", f"Made Up Movie {i} (2001)"],
        "hallucinated_titles": [f"Made Up Movie {i} (2001)"],
        "style": ["mood", "similar_to", "occasion"][i % 3],
        "seed_id": f"seed-{i}",
        "selection_strategy": "js",
        "selection_rank": i,
        "generator_model": "SmolLM2-135M-Instruct-Q4_1.gguf",
        "request": request,
        "seed_text": f"Heat (1995). Review: great heist film {i}.",
    }


def reject_row(i: int, reason: str) -> dict:
    return {
        "seed_id": f"seed-r{i}",
        "selection_rank": 100 + i,
        "stage": "filters",
        "reason": reason,
        "detail": "x",
    }


# The shape of revdial.generation.summary.build_summary's output.
SUMMARY = {
    "name": "movies-sample",
    "generator_model": "SmolLM2-135M-Instruct-Q4_1.gguf",
    "selection": {"strategy": "js", "budget": 9, "features": "minilm"},
    "funnel": {"seeds in pool": 50, "seeds selected": 9, "requests planned": 9, "rows kept": 6},
    "rows_per_step": {
        "keep_top_b": {"in": 50, "out": 9},
        "generate_request": {"in": 9, "out": 9},
        "curate_rows": {"in": 9, "out": 6},
    },
    "reject_reasons": {"missing_target": 2, "leak": 1},
    "rejected_seed_reasons": {"missing_target": 2, "leak": 1},
    "hallucination": {"titles_recommended": 27, "titles_hallucinated": 9, "rate": 0.3333, "policy": "drop"},
    "tokens": {"input": 12345, "output": 2345, "total": 14690, "cap": None},
    "wall_time_s": 61.5,
    "config": {
        "name": "movies-sample",
        "domain": "movies",
        "source": {"tables": {"items": {"path": "pkg://movies_sample/items.jsonl.gz"}}},
        "selection": {"strategy": "random", "budget": 100, "features": "minilm"},
        "generation": {"llm": {"backend": "embedded", "model": "smollm2-135m"}, "k": 1},
        "curation": {"grounding": {"threshold": 88}, "on_hallucination": "drop"},
    },
}


def write_synthesis(
    out: Path, *, kept: int = 6, summary: dict | None = None, rejects: list | None = None
) -> Path:
    """Save a Distiset the way `revdial synthesize` does (configs, distiset_configs/, summary.json, funnel.png)."""
    from distilabel.distiset import Distiset

    from revdial.contract import REJECTS_FEATURES

    if rejects is None:
        rejects = [reject_row(0, "leak"), reject_row(1, "missing_target"), reject_row(2, "missing_target")]
    distiset = Distiset(
        {
            "default": DatasetDict(train=Dataset.from_list([kept_row(i) for i in range(kept)])),
            "rejects": DatasetDict(
                train=Dataset.from_dict(
                    {name: [row[name] for row in rejects] for name in REJECTS_FEATURES},
                    features=REJECTS_FEATURES,
                )
            ),
            "candidates": DatasetDict(
                train=Dataset.from_list([{"seed_id": f"seed-{i}", "reject_reason": ""} for i in range(kept)])
            ),
        }
    )
    distiset.save_to_disk(out, num_shards={"train": 1}, save_card=False)  # as run_plan does
    (out / "distiset_configs" / "pipeline.yaml").write_text(
        "distilabel:\n  version: 1.5.3\npipeline:\n  name: x\n"
    )
    (out / "summary.json").write_text(json.dumps(summary if summary is not None else SUMMARY))
    (out / "funnel.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    return out
