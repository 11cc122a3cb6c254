"""The one synthesis Pipeline: seeds -> features -> selection -> top-B -> PII scrub -> request generation ->
(extra turns) -> recommendation generation -> grounding -> curation -> SFT rows | rejects | candidates.

`build_pipeline(plan)` only wires steps; every setting comes from the plan (made from the YAML by run.py) and is
stored on the steps, so distilabel's saved pipeline.yaml re-runs the same pipeline with
`distilabel pipeline run --config OUT/pipeline.yaml`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilabel.models.llms.base import LLM
from distilabel.pipeline import Pipeline

from revdial.config import CurationConfig, GenerationConfig, SelectionConfig

# Leaf step names are the Distiset config names (the synthesis output contract).
from revdial.contract import CANDIDATES_CONFIG, DEFAULT_CONFIG, REJECTS_CONFIG
from revdial.curation.steps import (
    CollectRejects,
    CurateRows,
    FormatSFT,
    GroundRecommendations,
    KeepCandidates,
    ScrubPII,
)
from revdial.domains import DEFAULT_DOMAIN, load_pack
from revdial.generation.tasks import ContinueDialogue, GenerateRequest, PlanRequests, RecommendItems


@dataclass
class SynthesisPlan:
    """Everything a run needs, resolved: the validated config sections (revdial.config, where every default is
    written), paths absolute, command-line overrides applied, the LLM built."""

    name: str
    seeds_dir: str
    catalogue_path: str
    llm: LLM
    domain: str = DEFAULT_DOMAIN  # the domain pack (revdial.domains): templates, nouns, styles, title rules
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    curation: CurationConfig = field(default_factory=CurationConfig)
    labelled_seed_ids: list[str] | None = None
    ledger_path: str | None = None
    llm_cache_path: str | None = None
    cache_dir: str | None = None

    @property
    def budget(self) -> int:
        return self.selection.budget

    @property
    def strategy(self) -> str:
        return self.selection.strategy

    @property
    def features(self) -> str:
        return self.selection.features


def selection_steps(plan: SynthesisPlan) -> tuple[Any, Any]:
    """seeds -> features -> selection -> top-B, from the seeds and selection stages; (first step, last step)."""
    from revdial.seeds.steps import LoadSeeds
    from revdial.selection.steps import ComputeFeatures, KeepTopB, SelectSeeds

    seeds = LoadSeeds(name="load_seeds", seeds_dir=plan.seeds_dir, batch_size=1024)
    # one batch: the encoder is loaded once per process call, not once per 256 seeds
    features = ComputeFeatures(name="compute_features", model=plan.features, input_batch_size=100_000)
    select_kwargs: dict[str, Any] = {}
    if plan.labelled_seed_ids:
        select_kwargs["labelled_seed_ids"] = list(plan.labelled_seed_ids)
    selection = plan.selection
    select = SelectSeeds(
        name="select_seeds",
        strategy=selection.strategy,
        budget=selection.budget,
        mode=selection.mode,
        seed=selection.seed,
        params=dict(selection.params),
        **select_kwargs,
    )
    # one batch: the B ranked seeds arrive from the global selection step at once; re-cut into batches of 50 they
    # took one trip through distilabel's queues each (41 for the whole pool, when it still came this way: 18 s)
    top_b = KeepTopB(name="keep_top_b", budget=plan.budget, input_batch_size=100_000)
    seeds >> features >> select >> top_b
    return seeds, top_b


class SynthesisPipeline(Pipeline):
    """distilabel's local Pipeline, saving its execution cache at most every `cache_interval_s` seconds.

    distilabel 1.5.3 re-saves pipeline.yaml and every step's buffered rows after each batch, on the thread that
    routes batches: measured at 0.34 s per save, 71 saves held a 512-dialogue run at C = 64 to 0.62 of a bare
    client's throughput (benchmarks/generation.py). Throttled, nothing is lost: an interrupted run never resumes
    from that cache (run_plan clears it; finished LLM calls come back from the LLM call cache), and the save that
    ends a run, which a finished re-run is served from, always happens. The first save waits `cache_interval_s`
    too (distilabel's came before the first LLM request, on the critical path of start-up).

    Start-up: every global step (selection, curation and the three leaves) is a load stage of its own, and
    distilabel checks whether a stage's steps have loaded only every 2.5 s, which cost the quickstart's seven stages
    up to 17 s while the steps loaded in about 0.1 s each (benchmarks/generation.py prints the breakdown).
    `_run_steps` here waits for the stage's load reports itself, checking every `load_poll_s`, so that
    distilabel's check finds the stage loaded the first time and never sleeps.

    distilabel also recomputes the pipeline's signatures (a dump of every step) at each of its cache-path lookups:
    8 before the first step starts (1.4 s of start-up at load 6.8) and 4 per cache save. During a run that changes
    no step (no runtime parameters, no dataset), `signature` and `aggregated_steps_signature` are computed once.

    `fast_start = False` turns the three start-up changes off (distilabel's own stage checks, signatures and
    first cache save), for benchmarks/generation.py --stock-start-up to measure against in the same run.
    """

    cache_interval_s: float = 10.0
    load_poll_s: float = 0.01
    fast_start: bool = True
    # After the first Ctrl-C, the steps get this long to hand back their batches before the process ends.
    stop_grace_s: float = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_cache_at = float("-inf")
        self._finalizing = False
        self._interrupted = False
        self._returned = threading.Event()
        self.run_state_path: str | None = None
        self.resume_hint = "re-run the same command to resume"
        # a revdial.generation.progress.Timeline: step load times are recorded in it
        self.timeline: Any = None
        self._signatures: dict[str, str] | None = None  # during a run: the signatures, computed once

    def run(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self._last_cache_at = time.monotonic() if self.fast_start else float("-inf")
        # A run that sets no runtime parameters and adds no dataset step (revdial's) cannot change what the
        # signatures hash: they are computed once, not at every one of distilabel's cache-path lookups.
        unchanged = not args and not kwargs.get("parameters") and kwargs.get("dataset") is None
        unchanged = unchanged and self.fast_start
        self._signatures = {} if unchanged else None
        try:
            return super().run(*args, **kwargs)
        finally:
            self._signatures = None
            self._returned.set()

    def _once(self, name: str, compute: Callable[[], str]) -> str:
        if self._signatures is None:
            return compute()
        if name not in self._signatures:
            self._signatures[name] = compute()
        return self._signatures[name]

    @property
    def signature(self) -> str:
        return self._once("pipeline", lambda: super(SynthesisPipeline, self).signature)

    @property
    def aggregated_steps_signature(self) -> str:
        return self._once("steps", lambda: super(SynthesisPipeline, self).aggregated_steps_signature)

    def _run_steps(self, steps: Any) -> None:
        if self.timeline is not None and "worker pool up" not in self.timeline.marks:
            self.timeline.mark("worker pool up")  # run set-up done, step processes and queues made
        super()._run_steps(steps)
        if self.fast_start:
            self._wait_loaded(list(steps))

    def _wait_loaded(self, steps: list[str]) -> None:
        """Until every step of `steps` has loaded all its replicas (or failed to load, or already finished: the
        same test as distilabel's), or the run is stopped; records each step's load time in the timeline."""
        from distilabel.pipeline.base import _STEP_LOAD_FAILED_CODE, _STEP_UNLOADED_CODE

        waiting = {name: self.dag.get_step_replica_count(name) for name in steps}
        while waiting and not self._stop_called:
            with self._steps_load_status_lock:
                status = {name: self._steps_load_status[name] for name in waiting}
            for name, replicas in status.items():
                if replicas in (waiting[name], _STEP_UNLOADED_CODE, _STEP_LOAD_FAILED_CODE):
                    del waiting[name]
                    if self.timeline is not None:
                        self.timeline.step_event(name, "loaded", time.time())
            if waiting:
                time.sleep(self.load_poll_s)

    def _handle_keyboard_interrupt(self) -> Any:
        """Ctrl-C. distilabel's own handler waits for every in-flight batch (a hanging LLM call holds it for
        minutes) and its third press blocks on a lock its second press never released. Here the first Ctrl-C asks
        the steps to stop and, if the run has not returned `stop_grace_s` later, ends the process (a second Ctrl-C
        ends it at once): every finished LLM call is already in the call cache, so nothing paid is lost."""

        def handler(signum: int, frame: Any) -> None:
            if self._interrupted:
                self._end_stopped()
            self._interrupted = True
            threading.Thread(target=self._stop_within_grace, daemon=True).start()

        return signal.signal(signal.SIGINT, handler)

    def _stop_within_grace(self) -> None:
        self._stop()
        if not self._returned.wait(self.stop_grace_s):
            self._end_stopped()

    def _end_stopped(self) -> None:
        if self.run_state_path:
            Path(self.run_state_path).write_text(json.dumps({"status": "stopped"}))
        sys.__stderr__.write(f"\nstopped (Ctrl-C): {self.resume_hint}\n")
        sys.__stderr__.flush()
        for child in multiprocessing.active_children():
            child.kill()
        os._exit(130)

    def _cache(self) -> None:
        now = time.monotonic()
        if self._finalizing or now - self._last_cache_at >= self.cache_interval_s:
            super()._cache()
            self._last_cache_at = time.monotonic()

    def _finalize_pipeline_execution(self) -> None:
        self._finalizing = True
        super()._finalize_pipeline_execution()


def answer_steps(plan: SynthesisPlan, common: dict[str, Any]) -> list[Any]:
    """The steps that write the recommendation list, in order: the teacher LLM (`llm`), the seed's neighbours
    (`grounded`), or the neighbours and then the teacher's reasons for them (`hybrid`)."""
    generation = plan.generation
    if generation.answer == "llm":
        return [
            RecommendItems(
                name="recommend_items",
                n_recommendations=generation.n_recommendations,
                structured=generation.structured,
                max_new_tokens=generation.max_new_tokens.get("answer"),
                **common,
            )
        ]
    from revdial.generation.grounded import ExplainRecommendations, GroundedAnswer

    grounded = GroundedAnswer(
        name="recommend_items",
        catalogue_path=plan.catalogue_path,
        n_recommendations=generation.n_recommendations,
        collaborative_weight=generation.grounded.collaborative_weight,
        content_weight=generation.grounded.content_weight,
        mentioned_weight=generation.grounded.mentioned_weight,
        series_weight=generation.grounded.series_weight,
        series_first=generation.grounded.series_first,
        domain=plan.domain,
        item_noun=generation.item_noun,
    )
    if generation.answer == "grounded":
        return [grounded]
    explain = ExplainRecommendations(
        name="explain_items", max_new_tokens=generation.max_new_tokens.get("answer"), **common
    )
    return [grounded, explain]


def build_pipeline(
    plan: SynthesisPlan, upstream: Callable[[SynthesisPlan], tuple[Any, Any]] = selection_steps
) -> Pipeline:
    """The synthesis Pipeline; `upstream` makes the seeds-to-top-B part (a parameter so that tests of the
    generation half can start from a handful of fixed rows)."""
    with SynthesisPipeline(
        name=plan.name, description="revdial dialogue synthesis", cache_dir=plan.cache_dir
    ) as pipeline:
        _, top_b = upstream(plan)
        generation, curation = plan.generation, plan.curation
        scrub = ScrubPII(
            name="scrub_pii",
            max_review_chars=curation.max_review_chars,
            seed_parts=list(generation.seed_parts),
        )
        styles = generation.styles or list(load_pack(plan.domain).styles)
        fan_out = PlanRequests(
            name="plan_requests", k=generation.k, styles=list(styles), rng_seed=generation.rng_seed
        )
        common = {
            "llm": plan.llm,
            "domain": plan.domain,
            "item_noun": generation.item_noun,
            "max_total_tokens": generation.max_total_tokens,
            "max_consecutive_failures": generation.max_consecutive_failures,
            "ledger_path": plan.ledger_path,
            "llm_cache_path": plan.llm_cache_path,
            "input_batch_size": generation.batch_size,
            # prompts are reproducible from the templates; the raw outputs stay (reject details quote them)
            "add_raw_input": False,
            "resources": {"replicas": generation.replicas},
        }
        limits = generation.max_new_tokens
        requests = GenerateRequest(name="generate_request", max_new_tokens=limits.get("request"), **common)
        chain = top_b >> scrub >> fan_out >> requests
        # Multi-turn: before the final answer, the recommender asks and the seeker replies, n_turns - 1 times.
        for turn in range(1, generation.n_turns):
            ask = ContinueDialogue(
                name=f"recommender_turn_{turn}",
                speaker="assistant",
                max_new_tokens=limits.get("turn"),
                **common,
            )
            reply = ContinueDialogue(
                name=f"seeker_turn_{turn}", speaker="user", max_new_tokens=limits.get("turn"), **common
            )
            chain = chain >> ask >> reply
        for step in answer_steps(plan, common):
            chain = chain >> step
        ground = GroundRecommendations(
            name="ground_recommendations",
            catalogue_path=plan.catalogue_path,
            threshold=curation.grounding_threshold,
        )
        curate = CurateRows(
            name="curate_rows",
            domain=plan.domain,
            on_hallucination=curation.on_hallucination,
            dedup=curation.dedup.enabled,
            dedup_threshold=curation.dedup.threshold,
            **curation.filters.model_dump(),
        )
        chain >> ground >> curate
        curate >> [
            FormatSFT(
                name=DEFAULT_CONFIG,
                domain=plan.domain,
                item_noun=generation.item_noun,
                answer_format=curation.sft_answer,
                k=generation.n_recommendations,
            ),
            CollectRejects(name=REJECTS_CONFIG),
            KeepCandidates(name=CANDIDATES_CONFIG),
        ]
    return pipeline
