"""`revdial select`: featurise a seeds directory, rank it with a strategy, save the ranked seeds, plot coverage.

    revdial select --seeds runs/seeds --strategy js --budget 100 --out runs/selected --plot runs/selected.png

OUT is a seeds directory with three more columns (every row kept, `datasets.load_from_disk(OUT)`):
`selection_rank` (0-based pick order, -1 when not picked), `selection_score`, `selection_strategy`; plus
`OUT/selected/` (the top-B rows in rank order, also load_from_disk-able), the seeds' `catalogue.parquet`, and
`OUT/selection.json` (parameters, timings, cluster coverage). `--sample N` ranks a seeded random sample of N seeds
(the others get rank -1): featurising 100k seeds with MiniLM on 2 CPU cores takes about two hours, while
`--features tfidf` (TF-IDF + SVD fitted on the pool) takes minutes and ranks the whole pool.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from revdial.selection.coverage import cluster_labels, clusters_covered, expected_random_coverage
from revdial.selection.strategies import STRATEGIES, SelectionInputError, get_strategy, strategy_params


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """["n_clusters=50", "tau=0.2"] -> {"n_clusters": 50, "tau": 0.2} (values read as YAML scalars)."""
    import yaml

    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SelectionInputError(f"--param {item!r}: expected KEY=VALUE, e.g. n_clusters=50")
        params[key.strip()] = yaml.safe_load(value)
    return params


def load_pool(seeds_dir: Path):
    import datasets

    if not (Path(seeds_dir) / "dataset_info.json").exists():
        raise SelectionInputError(
            f"{seeds_dir}: not a seeds directory (no dataset_info.json); run `revdial seeds`"
        )
    ds = datasets.load_from_disk(str(seeds_dir))
    missing = [c for c in ("seed_id", "text") if c not in ds.column_names]
    if missing:
        raise SelectionInputError(
            f"{seeds_dir}: column(s) {', '.join(missing)} not found; columns are: {', '.join(ds.column_names)}"
        )
    return ds


def run_strategy(
    name: str, X: np.ndarray, budget: int, *, mode: str, seed: int, params: dict, progress: bool
):
    from tqdm.auto import tqdm

    fn = get_strategy(name)
    own = strategy_params(name, params)
    with tqdm(
        total=min(budget, X.shape[0]), desc=f"select ({name}, {mode})", unit="seed", disable=not progress
    ) as bar:
        started = time.perf_counter()
        sel = fn(X, budget, seed=seed, mode=mode, progress=bar.update, **own)
    return sel, time.perf_counter() - started


def coverage_table(
    X: np.ndarray,
    budget: int,
    labels: np.ndarray,
    *,
    strategies: list[str],
    mode: str,
    seed: int,
    params: dict,
    done: dict[str, Any],
) -> list[dict[str, Any]]:
    rows = []
    for name in strategies:
        if name in done:
            sel, seconds = done[name]
        else:
            sel, seconds = run_strategy(name, X, budget, mode=mode, seed=seed, params=params, progress=True)
            done[name] = (sel, seconds)
        rows.append(
            {
                "strategy": name,
                "covered": clusters_covered(labels, sel.order[:budget]),
                "seconds": round(seconds, 2),
            }
        )
    return rows


def plot_selection(
    path: Path,
    X: np.ndarray,
    order: np.ndarray,
    strategy: str,
    table: list[dict],
    k: int,
    expected: float,
    title: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    shown = np.sort(rng.choice(X.shape[0], size=min(X.shape[0], 20_000), replace=False))
    pca = PCA(n_components=2, random_state=0).fit(X[shown])
    P, S = pca.transform(X[shown]), pca.transform(X[order])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1.3, 1]})
    ax.scatter(
        P[:, 0],
        P[:, 1],
        s=3,
        c="0.8",
        lw=0,
        label=f"pool ({X.shape[0]:,} seeds"
        + (f", {shown.size:,} shown)" if shown.size < X.shape[0] else ")"),
    )
    sc = ax.scatter(
        S[:, 0],
        S[:, 1],
        s=14,
        c=np.arange(len(order)),
        cmap="viridis",
        edgecolors="k",
        linewidths=0.3,
        label=f"{strategy}: top {len(order):,}",
    )
    fig.colorbar(sc, ax=ax, label="selection rank")
    ax.set(
        title=f"PCA of the pool ({pca.explained_variance_ratio_.sum():.0%} variance)",
        xlabel="PC 1",
        ylabel="PC 2",
    )
    ax.legend(loc="best", fontsize=8, markerscale=2)
    names = [r["strategy"] for r in table]
    bars = bx.bar(
        names, [r["covered"] for r in table], color=["C3" if n == strategy else "C0" for n in names]
    )
    bx.bar_label(bars, fmt="%d")
    bx.axhline(expected, color="k", ls="--", lw=1, label=f"random, expected ({expected:.1f})")
    bx.axhline(k, color="0.5", ls=":", lw=1, label=f"all {k} clusters")
    bx.set(
        title=f"k-means clusters covered at B = {len(order):,}",
        ylabel="clusters with a selected seed",
        ylim=(0, k * 1.12),
    )
    bx.legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def prepare_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / "selection.json").exists():
            raise SelectionInputError(
                f"{out}: exists, is not empty and holds no earlier selection; choose another --out"
            )
        shutil.rmtree(out)  # our own earlier output: replace it


def select_command(
    seeds_dir: Path,
    strategy: str,
    budget: int,
    features: str,
    out: Path,
    plot: Path | None = None,
    mode: str = "fast",
    seed: int = 0,
    sample: int | None = None,
    coverage_k: int | None = None,
    compare: bool = False,
    params: list[str] | None = None,
) -> dict[str, Any]:
    """Featurise, rank, save and (with --plot or --compare) compare every strategy's cluster coverage."""
    import datasets
    from rich.console import Console
    from rich.table import Table

    from revdial.selection.features import compute_features

    console = Console()
    get_strategy(strategy)
    extra = parse_params(params)
    strategy_params(strategy, extra)  # a typo fails before the features are computed
    started = time.perf_counter()
    ds = load_pool(seeds_dir)
    n_all = len(ds)
    if n_all == 0:
        raise SelectionInputError(f"{seeds_dir}: the seeds dataset is empty")
    pool = np.arange(n_all)
    if sample is not None and sample < n_all:
        pool = np.sort(np.random.default_rng(seed).permutation(n_all)[:sample])
    texts = ds.select(pool)["text"] if pool.size < n_all else ds["text"]
    t0 = time.perf_counter()
    X = compute_features(texts, features)
    feat_seconds = time.perf_counter() - t0
    sel, sel_seconds = run_strategy(strategy, X, budget, mode=mode, seed=seed, params=extra, progress=True)

    rank = np.full(n_all, -1, np.int64)
    score: list[float | None] = [None] * n_all
    rank[pool[sel.order]] = np.arange(sel.order.size)
    for i, s in zip(pool[sel.order], sel.scores):
        score[int(i)] = float(s)
    out = Path(out)
    prepare_out(out)
    ranked = ds.add_column("selection_rank", rank.tolist())
    ranked = ranked.add_column("selection_score", score, feature=datasets.Value("float32"))
    ranked = ranked.add_column("selection_strategy", [strategy] * n_all)
    ranked.save_to_disk(str(out))
    ranked.select(pool[sel.order]).save_to_disk(str(out / "selected"))
    if (Path(seeds_dir) / "catalogue.parquet").exists():
        shutil.copy2(Path(seeds_dir) / "catalogue.parquet", out / "catalogue.parquet")

    k = int(coverage_k or min(sel.order.size, 100))
    labels = cluster_labels(X, k, seed)
    k = int(labels.max()) + 1
    strategies = list(STRATEGIES) if (plot is not None or compare) else [strategy]
    done = {strategy: (sel, sel_seconds)}
    table = coverage_table(
        X, sel.order.size, labels, strategies=strategies, mode=mode, seed=seed, params=extra, done=done
    )
    expected = expected_random_coverage(labels, sel.order.size)
    view = Table(
        title=f"cluster coverage at B = {sel.order.size:,} ({k} k-means clusters of {X.shape[0]:,} seeds)"
    )
    for col in ("strategy", "clusters covered", "fraction", "seconds"):
        view.add_column(col, justify="left" if col == "strategy" else "right")
    for row in table:
        view.add_row(
            row["strategy"], f"{row['covered']}/{k}", f"{row['covered'] / k:.1%}", f"{row['seconds']:.2f}"
        )
    view.add_row("(random, expected)", f"{expected:.1f}/{k}", f"{expected / k:.1%}", "")
    console.print(view)
    if plot is not None:
        plot_selection(
            Path(plot),
            X,
            sel.order,
            strategy,
            table,
            k,
            expected,
            f"{Path(seeds_dir).name}: {strategy} ({mode}), features {features}",
        )
        console.print(f"plot -> {plot}")

    summary = {
        "seeds_dir": str(seeds_dir),
        "strategy": strategy,
        "budget": int(budget),
        "ranked": int(sel.order.size),
        "mode": mode,
        "seed": seed,
        "params": extra,
        "features": features,
        "feature_dim": int(X.shape[1]),
        "seeds": n_all,
        "pool": int(pool.size),
        "sample": sample,
        "coverage_k": k,
        "coverage": table,
        "coverage_random_expected": round(expected, 2),
        "seconds": {
            "features": round(feat_seconds, 2),
            "selection": round(sel_seconds, 2),
            "total": round(time.perf_counter() - started, 2),
        },
    }
    (out / "selection.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    console.print(
        f"[bold green]{sel.order.size:,} of {n_all:,} seeds ranked[/] by {strategy} -> {out} "
        f"(top B in {out / 'selected'})"
    )
    return summary
