"""The run summary (summary.json), the funnel plot, and the table printed at the end of `revdial synthesize`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from revdial.contract import FEATURES


def complete_distiset(distiset: Any) -> Any:
    """Every run has `default`, `rejects` and `candidates` configs, even when a leaf produced no row (distilabel
    then leaves the config out), so that readers never special-case an empty outcome."""
    import datasets

    for name, features in FEATURES.items():
        if name not in distiset:
            empty = datasets.Dataset.from_dict({k: [] for k in features}, features=features)
            distiset[name] = datasets.DatasetDict({"train": empty})
        elif name != "candidates" and distiset[name]["train"].features != features:
            # a column that happened to be all-empty is typed null by pyarrow; readers get the declared types
            distiset[name]["train"] = distiset[name]["train"].cast(features)
    return distiset


def _column(dataset: Any, name: str) -> list[Any]:
    return list(dataset[name]) if name in dataset.column_names else [None] * len(dataset)


def selection_size(plan: Any, pool: int) -> int:
    """How many seeds the selection must pass on: the budget, or fewer when the pool (minus labelled seeds) is smaller."""
    return min(plan.budget, pool - len(plan.labelled_seed_ids or []))


def build_summary(distiset: Any, plan: Any, echo: dict[str, Any], wall_time_s: float) -> dict[str, Any]:
    import datasets

    kept, rejects, candidates = (distiset[name]["train"] for name in ("default", "rejects", "candidates"))
    pool = len(datasets.load_from_disk(plan.seeds_dir))
    seed_ids = _column(candidates, "seed_id")
    selected = set(seed_ids)
    kept_seeds = set(_column(kept, "seed_id"))
    rejected_seeds = set(_column(rejects, "seed_id"))
    requests = _column(candidates, "request")
    parsed = _column(candidates, "parsed_titles")
    grounded = _column(candidates, "recommended_item_ids")
    hallucinated = _column(candidates, "hallucinated_titles")
    titles_total = sum(len(p or []) for p in parsed)
    titles_hallucinated = sum(len(h or []) for h in hallucinated)
    tokens_in = sum(int(t or 0) for t in _column(candidates, "tokens_in"))
    tokens_out = sum(int(t or 0) for t in _column(candidates, "tokens_out"))
    models = sorted({m for m in _column(candidates, "model_name") if m})
    funnel = {
        "seeds in pool": pool,
        "seeds selected": len(selected),
        "requests planned": len(candidates),
        "requests generated": sum(1 for r in requests if r),
        "answers parsed": sum(1 for p in parsed if p),
        "answers grounded": sum(1 for g in grounded if g),
        "rows kept": len(kept),
    }
    return {
        "name": plan.name,
        "generator_model": models[0] if len(models) == 1 else models,
        "selection": {"strategy": plan.strategy, "budget": plan.budget, "features": plan.features},
        "funnel": funnel,
        "rows_per_step": {
            "load_seeds": {"in": pool, "out": pool},
            "keep_top_b": {"in": pool, "out": len(selected)},
            "plan_requests": {"in": len(selected), "out": len(candidates)},
            "generate_request": {"in": len(candidates), "out": funnel["requests generated"]},
            "recommend_items": {"in": funnel["requests generated"], "out": funnel["answers parsed"]},
            "ground_recommendations": {"in": funnel["answers parsed"], "out": funnel["answers grounded"]},
            "curate_rows": {"in": len(candidates), "out": len(kept)},
        },
        "reject_reasons": dict(Counter(r for r in _column(candidates, "reject_reason") if r).most_common()),
        "rejected_seed_reasons": dict(Counter(_column(rejects, "reason")).most_common()),
        "accounting": {
            "seeds_selected": len(selected),
            "seeds_kept": len(kept_seeds),
            "seeds_rejected": len(rejected_seeds),
            "ok": len(selected) == len(kept_seeds) + len(rejected_seeds)
            and not (kept_seeds & rejected_seeds)
            and len(selected) == selection_size(plan, pool),
        },
        "hallucination": {
            "titles_recommended": titles_total,
            "titles_hallucinated": titles_hallucinated,
            "rate": round(titles_hallucinated / titles_total, 4) if titles_total else None,
            "policy": plan.curation.on_hallucination,
        },
        "tokens": {
            "input": tokens_in,
            "output": tokens_out,
            "total": tokens_in + tokens_out,
            "cap": plan.generation.max_total_tokens or None,
        },
        "wall_time_s": round(wall_time_s, 2),
        "config": echo,
    }


def plot_funnel(summary: dict[str, Any], path: Path) -> Path:
    """Horizontal bars: seeds and rows surviving each stage, with the reject reasons alongside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    funnel = summary["funnel"]
    reasons = summary["reject_reasons"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    labels = list(funnel)[::-1]
    values = [funnel[label] for label in labels]
    bars = left.barh(labels, values, color="#4c72b0")
    left.bar_label(bars, padding=3)
    left.set_xlabel("count")
    positive = [v for v in values if v > 0]
    if positive and max(positive) > 50 * min(positive):
        left.set_xscale("log")  # a pool of thousands next to a budget of 8 would hide every later stage
        left.set_xlabel("count (log scale)")
    if reasons:
        names = list(reasons)[::-1]
        right_bars = right.barh(names, [reasons[n] for n in names], color="#dd8452")
        right.bar_label(right_bars, padding=3)
    else:
        right.text(0.5, 0.5, "no rejects", ha="center", va="center")
        right.set_axis_off()
    rate = summary["hallucination"]["rate"]
    right.set_title("rejected rows by reason")
    left.set_title(
        f"{summary['name']}: synthesis funnel\n(hallucination rate {rate if rate is not None else 'n/a'})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_summary(summary: dict[str, Any], out_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"synthesis: {summary['name']} ({summary['generator_model']})")
    table.add_column("stage")
    table.add_column("count", justify="right")
    for label, value in summary["funnel"].items():
        table.add_row(label, str(value))
    for reason, count in summary["reject_reasons"].items():
        table.add_row(f"[dim]rejected: {reason}[/]", str(count))
    console.print(table)
    tokens, hall = summary["tokens"], summary["hallucination"]
    console.print(
        f"hallucination rate {hall['rate']} ({hall['titles_hallucinated']}/{hall['titles_recommended']} titles), "
        f"tokens in/out {tokens['input']}/{tokens['output']}, wall time {summary['wall_time_s']} s"
    )
    console.print(f"[bold]dataset:[/] {out_dir}  (configs default, rejects, candidates)")
    console.print(f"summary, funnel plot, pipeline.yaml: {out_dir / 'distiset_configs'}")
    console.print(
        f"open it: python -c \"import datasets; print(datasets.load_from_disk('{out_dir}/default'))\""
    )
