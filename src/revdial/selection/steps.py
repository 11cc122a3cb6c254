"""distilabel wrappers: featurise seeds, rank them with a strategy, keep the top B. The math is in strategies/.

    LoadSeeds >> ComputeFeatures >> SelectSeeds >> KeepTopB >> (generation)

`SelectSeeds` passes on the B ranked seeds with their rank, so one pipeline run at the largest budget serves a budget
sweep and `KeepTopB` (or a filter on `selection_rank < b`) cuts it.
"""

# No `from __future__ import annotations`: distilabel finds the `StepInput` parameter by its evaluated type hint.
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps import GlobalStep, Step, StepInput
from pydantic import Field

if TYPE_CHECKING:
    from distilabel.typing import StepOutput


class ComputeFeatures(Step):
    """Add a `features` vector (list[float], L2-normalised) for each seed's rendered `text`; cached on disk.

    Torch runs inside this step's forked worker: `load` limits it to one thread, the usual way around a hang when the
    parent already initialised torch's thread pool. Features computed before the pipeline (same model, same texts)
    come from the cache and load no model at all.
    """

    model: RuntimeParameter[str] = Field(
        default="minilm",
        description="minilm[:dtype=auto|bf16|fp32,backend=auto|torch|openvino|onnx] | st:PATH (sentence-transformers) | lm:PATH (student LM hidden states)",
    )
    cache_dir: Optional[RuntimeParameter[str]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default=None, description="Feature cache folder (default: revdial's cache_dir()/features)."
    )
    encode_batch_size: RuntimeParameter[int] = Field(default=128, description="Texts per forward pass.")

    def load(self) -> None:
        super().load()
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:  # pragma: no cover - torch is a dependency
            pass

    @property
    def inputs(self) -> list[str]:
        return ["text"]

    @property
    def outputs(self) -> list[str]:
        return ["features"]

    def process(self, inputs: StepInput) -> "StepOutput":
        from revdial.selection.features import compute_features

        X = compute_features(
            [row["text"] for row in inputs],
            self.model,
            self.cache_dir,
            batch_size=self.encode_batch_size,
            progress=False,
        )
        for row, x in zip(inputs, X):
            row["features"] = x.tolist()
        yield inputs


def rank_rows(
    rows: list[dict[str, Any]],
    strategy: str,
    budget: int,
    *,
    mode: str = "fast",
    seed: int = 0,
    params: dict[str, Any] | None = None,
    labelled_seed_ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Add selection_rank / selection_score / selection_strategy to every row (in place) and return the rows.

    Rows whose `seed_id` is in `labelled_seed_ids` were used in an earlier round: they are not ranked (rank -1) and
    the strategy selects around their features.
    """
    from revdial.selection.strategies import SelectionInputError, get_strategy, strategy_params

    fn = get_strategy(strategy)
    params = strategy_params(strategy, params)
    labelled_ids = set(labelled_seed_ids or [])
    is_labelled = np.array([row.get("seed_id") in labelled_ids for row in rows], bool)
    pool_rows = np.flatnonzero(~is_labelled)
    try:
        X = np.asarray([rows[i]["features"] for i in pool_rows], np.float32)
        L = np.asarray([rows[i]["features"] for i in np.flatnonzero(is_labelled)], np.float32)
    except ValueError as e:
        raise SelectionInputError(f"features: rows have vectors of different lengths ({e})") from None
    try:
        sel = fn(X, budget, labelled=L if len(L) else None, seed=seed, mode=mode, **params)
    except SelectionInputError as e:
        # name the seed, not just the row of the pool
        import re

        m = re.search(r"first at row (\d+)", str(e))
        if m and "seed_id" in rows[0]:
            bad = rows[pool_rows[int(m.group(1))]].get("seed_id")
            raise SelectionInputError(f"{e} (seed_id {bad!r})") from None
        raise
    rank = np.full(len(rows), -1, np.int64)
    score = np.full(len(rows), np.nan, np.float32)
    rank[pool_rows[sel.order]] = np.arange(len(sel.order))
    score[pool_rows[sel.order]] = sel.scores
    for row, r, s in zip(rows, rank, score):
        row["selection_rank"] = int(r)
        row["selection_score"] = None if r < 0 else float(s)
        row["selection_strategy"] = strategy
    return rows


class SelectSeeds(GlobalStep):
    """Rank every seed by an active-selection strategy and pass on the B ranked ones, ranks added, features dropped.

    `selection_rank` is 0-based (the order of picks), `selection_score` is the strategy's gain at that pick,
    `selection_strategy` the strategy's name. Seeds beyond the budget and labelled seeds (rank -1) stop here.
    """

    strategy: RuntimeParameter[str] = Field(
        default="js", description="random | js | fisher | kcenter | hybrid"
    )
    budget: RuntimeParameter[int] = Field(
        default=100,
        description="Seeds to rank (B). Rank at the largest budget of a sweep; KeepTopB cuts smaller ones.",
    )
    mode: RuntimeParameter[str] = Field(
        default="fast", description="fast (stochastic/batched greedy) | exact"
    )
    seed: RuntimeParameter[int] = Field(
        default=0, description="Random seed (k-means, sampling, random strategy)."
    )
    params: Optional[RuntimeParameter[dict[str, Any]]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default_factory=dict,
        description="Strategy parameters, e.g. {n_clusters: 100, tau: 0.05, lam: 1.0, weight: 0.5}; each strategy "
        "takes the ones it knows, a key no strategy knows is an error.",
    )
    labelled_seed_ids: Optional[RuntimeParameter[list[str]]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default=None, description="seed_ids used in an earlier round: left unranked, selected around."
    )

    @property
    def inputs(self) -> list[str]:
        return ["features"]

    @property
    def outputs(self) -> list[str]:
        return ["selection_rank", "selection_score", "selection_strategy"]

    def process(self, inputs: StepInput) -> "StepOutput":
        ranked = rank_rows(
            inputs,
            self.strategy,
            self.budget,
            mode=self.mode,
            seed=self.seed,
            params=self.params,
            labelled_seed_ids=self.labelled_seed_ids,
        )
        yield selected_rows(ranked)


def selected_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ranked rows without their feature vectors: what the rest of the pipeline reads. Passing the whole pool
    on, features and all, made an 81k-seed run write an 877 MB batch and spend minutes moving it between steps."""
    return [{k: v for k, v in row.items() if k != "features"} for row in rows if row["selection_rank"] >= 0]


class KeepTopB(Step):
    """Keep the rows with 0 <= selection_rank < budget (the selection at budget B); the rest are dropped here."""

    budget: RuntimeParameter[int] = Field(default=100, description="Keep the top B ranked seeds.")

    @property
    def inputs(self) -> list[str]:
        return ["selection_rank"]

    def process(self, inputs: StepInput) -> "StepOutput":
        yield [row for row in inputs if 0 <= row["selection_rank"] < self.budget]
