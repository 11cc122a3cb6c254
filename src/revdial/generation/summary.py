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


def _funnel(pool: int, n_selected: int, candidates: Any, n_kept: int) -> dict[str, int]:
    """Seeds and rows surviving each stage, pool first, rows kept last."""
    return {
        "seeds in pool": pool,
        "seeds selected": n_selected,
        "requests planned": len(candidates),
        "requests generated": sum(1 for r in _column(candidates, "request") if r),
        "answers parsed": sum(1 for p in _column(candidates, "parsed_titles") if p),
        "answers grounded": sum(1 for g in _column(candidates, "recommended_item_ids") if g),
        "rows kept": n_kept,
    }


def _rows_per_step(funnel: dict[str, int]) -> dict[str, dict[str, int]]:
    """Rows in/out of each pipeline step, read off the funnel."""
    pool, selected, planned = funnel["seeds in pool"], funnel["seeds selected"], funnel["requests planned"]
    generated, parsed, grounded = (
        funnel["requests generated"],
        funnel["answers parsed"],
        funnel["answers grounded"],
    )
    return {
        "load_seeds": {"in": pool, "out": pool},
        "keep_top_b": {"in": pool, "out": selected},
        "plan_requests": {"in": selected, "out": planned},
        "generate_request": {"in": planned, "out": generated},
        "recommend_items": {"in": generated, "out": parsed},
        "ground_recommendations": {"in": parsed, "out": grounded},
        "curate_rows": {"in": planned, "out": funnel["rows kept"]},
    }


def _accounting(selected: set[Any], kept: Any, rejects: Any, expected: int) -> dict[str, Any]:
    """Every selected seed is kept or rejected, never both, and the selection passed on as many as it should."""
    kept_seeds = set(_column(kept, "seed_id"))
    rejected_seeds = set(_column(rejects, "seed_id"))
    return {
        "seeds_selected": len(selected),
        "seeds_kept": len(kept_seeds),
        "seeds_rejected": len(rejected_seeds),
        "ok": len(selected) == len(kept_seeds) + len(rejected_seeds)
        and not (kept_seeds & rejected_seeds)
        and len(selected) == expected,
    }


def _hallucination(candidates: Any, policy: str) -> dict[str, Any]:
    """Recommended titles that named no catalogue item, over all parsed titles (None when there were none)."""
    total = sum(len(p or []) for p in _column(candidates, "parsed_titles"))
    hallucinated = sum(len(h or []) for h in _column(candidates, "hallucinated_titles"))
    return {
        "titles_recommended": total,
        "titles_hallucinated": hallucinated,
        "rate": round(hallucinated / total, 4) if total else None,
        "policy": policy,
    }


def _tokens(candidates: Any, cap: int | None) -> dict[str, Any]:
    tokens_in = sum(int(t or 0) for t in _column(candidates, "tokens_in"))
    tokens_out = sum(int(t or 0) for t in _column(candidates, "tokens_out"))
    return {"input": tokens_in, "output": tokens_out, "total": tokens_in + tokens_out, "cap": cap or None}


def _generator_model(candidates: Any) -> str | list[str]:
    """The one model that wrote the candidates, or the sorted list when there were several (or none)."""
    models = sorted({m for m in _column(candidates, "model_name") if m})
    return models[0] if len(models) == 1 else models


def _count_by(values: list[Any]) -> dict[Any, int]:
    """Occurrences of each value, most common first."""
    return dict(Counter(values).most_common())


def build_summary(distiset: Any, plan: Any, echo: dict[str, Any], wall_time_s: float) -> dict[str, Any]:
    import datasets

    kept, rejects, candidates = (distiset[name]["train"] for name in ("default", "rejects", "candidates"))
    pool = len(datasets.load_from_disk(plan.seeds_dir))
    selected = set(_column(candidates, "seed_id"))
    funnel = _funnel(pool, len(selected), candidates, len(kept))
    return {
        "name": plan.name,
        "generator_model": _generator_model(candidates),
        "selection": {"strategy": plan.strategy, "budget": plan.budget, "features": plan.features},
        "funnel": funnel,
        "rows_per_step": _rows_per_step(funnel),
        "reject_reasons": _count_by([r for r in _column(candidates, "reject_reason") if r]),
        "rejected_seed_reasons": _count_by(_column(rejects, "reason")),
        "accounting": _accounting(selected, kept, rejects, selection_size(plan, pool)),
        "hallucination": _hallucination(candidates, plan.curation.on_hallucination),
        "tokens": _tokens(candidates, plan.generation.max_total_tokens),
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
