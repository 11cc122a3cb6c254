"""distilabel steps around the pure curation functions (pii.py, grounding.py, filters.py).

They shape the synthesis pipeline's columns: ScrubPII -> (generation) -> GroundRecommendations -> CurateRows, then
three leaves that see the whole run: FormatSFT (config `default`), CollectRejects (config `rejects`) and
KeepCandidates (config `candidates`, every generated row with its verdict, for audits and the run summary). No step
drops a row before CurateRows has given it a verdict, so every selected seed ends up kept or rejected.
"""

# No `from __future__ import annotations`: distilabel finds a step's input by its `StepInput` annotation object.
import json
from typing import TYPE_CHECKING, Any, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps import Step, StepInput
from pydantic import Field, PrivateAttr

from revdial.config import CurationConfig, GenerationConfig
from revdial.contract import DEFAULT_COLUMNS, REJECTS_COLUMNS
from revdial.curation.filters import (
    NearDuplicates,
    check_length,
    copied_exemplar,
    leaks_title,
    missing_target,
    named_titles,
    partial_leak,
    request_problem,
)
from revdial.curation.grounding import Catalogue, display_title
from revdial.curation.pii import scrub_pii
from revdial.domains import DEFAULT_DOMAIN, load_pack
from revdial.prompts import render, sft_system_prompt, system_prompt
from revdial.seeds.render import render_seed

if TYPE_CHECKING:
    from distilabel.typing import StepOutput

# Large or internal columns the `candidates` audit config does not need.
_CANDIDATE_DROP = ("features", "text", "metadata_json")

# Step defaults are the config's (revdial.config): a step built without the YAML behaves like the YAML's default.
_CURATION = CurationConfig()
_GENERATION = GenerationConfig()


class ScrubPII(Step):
    """Remove e-mails, URLs, phones, handles and reviewer names from the review before any prompt sees it, and
    render the prompt's `seed_text` from the scrubbed (and length-capped) review."""

    max_review_chars: RuntimeParameter[int] = Field(
        default=_CURATION.max_review_chars,
        description="Reviews are cut to this many characters (prompt size on small models).",
    )
    seed_parts: RuntimeParameter[list[str]] = Field(
        default=list(_GENERATION.seed_parts),
        description="What of the seed `seed_text` shows besides the item: metadata, review, history, neighbours.",
    )

    @property
    def inputs(self) -> list[str]:
        return ["review_text"]

    @property
    def outputs(self) -> list[str]:
        return ["review_text", "seed_text", "pii_removed"]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = []
        for row in inputs:
            review, counts = scrub_pii(row.get("review_text") or "")
            if len(review) > self.max_review_chars:
                review = review[: self.max_review_chars].rsplit(" ", 1)[0] + " ..."
            row = {
                key: value for key, value in row.items() if key != "features"
            }  # 384 floats per row, unused
            row["review_text"] = review
            row["seed_text"] = render_seed(row, parts=self.seed_parts)
            row["pii_removed"] = int(sum(counts.values()))
            rows.append(row)
        yield rows


class GroundRecommendations(Step):
    """Match every recommended title to a catalogue item; unmatched titles are hallucinations."""

    catalogue_path: Optional[RuntimeParameter[str]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default=None, description="catalogue.parquet of the seeds."
    )
    threshold: RuntimeParameter[float] = Field(
        default=_CURATION.grounding_threshold, description="rapidfuzz score (0-100) to accept a match."
    )

    _catalogue: Catalogue | None = PrivateAttr(default=None)

    @property
    def inputs(self) -> list[str]:
        return ["parsed_titles", "parsed_reasons", "request"]

    @property
    def outputs(self) -> list[str]:
        return [
            "recommended_item_ids",
            "recommended_titles",
            "recommended_display_titles",
            "recommended_reasons",
            "hallucinated_titles",
            "request_unknown_titles",
        ]

    def load(self) -> None:
        super().load()
        if not self.catalogue_path:
            raise ValueError(f"{self.name}: runtime parameter `catalogue_path` is required")
        self._catalogue = Catalogue.from_parquet(self.catalogue_path, threshold=self.threshold)

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        assert self._catalogue is not None
        rows = []
        for row in inputs:
            titles = list(row.get("parsed_titles") or [])
            reasons = list(row.get("parsed_reasons") or [])
            ids, names, shown, why, unmatched = [], [], [], [], []
            for title, match, reason in zip(
                titles, self._catalogue.match_many(titles), reasons + [""] * len(titles)
            ):
                if match is None:
                    unmatched.append(title)
                elif match.item_id not in ids:  # two spellings of one item keep the first rank
                    ids.append(match.item_id)
                    names.append(match.title)
                    shown.append(display_title(match.title, match.year))
                    why.append(reason)
            rows.append(
                {
                    **row,
                    "recommended_item_ids": ids,
                    "recommended_titles": names,
                    "recommended_display_titles": shown,
                    "recommended_reasons": why,
                    "hallucinated_titles": unmatched,
                    "request_unknown_titles": [
                        title
                        for title in named_titles(row.get("request") or "")
                        if self._catalogue.match(title) is None
                    ],
                }
            )
        yield rows


# More rows than a run makes: a step with this input batch size gets every row of the run in one batch.
ONE_BATCH = 1_000_000_000


class WholeRunStep(Step):
    """A step that sees every row of the run at once, as a distilabel GlobalStep does, but loads with the
    pipeline's first stage: distilabel gives each GlobalStep a load stage of its own, started only when the stage
    before it has finished, and passes its data through files. The three leaves are WholeRunSteps: one batch per
    leaf keeps each leaf's output in one parquet file (distilabel cannot read back a leaf whose column is all-null in
    one file and typed in another), and CollectRejects sees every row of a seed together. CurateRows streams instead:
    in one quiet run of benchmarks/generation.py (C = 64, 2,048 dialogues) the time after the last response went from
    6.40 s (curation a WholeRunStep, its whole-run batch copied to three leaves) to 2.52 s."""

    input_batch_size: RuntimeParameter[int] = Field(
        default=ONE_BATCH, description="Rows per batch: all of them, so the step sees the whole run at once."
    )


class CurateRows(Step):
    """Give every generated row a verdict: kept, or rejected with stage, reason and detail. It streams, batch by
    batch as the answers arrive, so its work is done before the last response; dedup compares each request with
    every earlier one of the run (the index lives in the step). Whether a seed kept anything is the whole-run leaves'
    business (`kept_seeds`): a seed's rows can span batches."""

    on_hallucination: RuntimeParameter[str] = Field(
        default=_CURATION.on_hallucination,
        description="drop: remove unmatched titles from the list | reject: reject the row",
    )
    min_request_chars: RuntimeParameter[int] = Field(default=_CURATION.filters.min_request_chars)
    max_request_chars: RuntimeParameter[int] = Field(default=_CURATION.filters.max_request_chars)
    min_request_words: RuntimeParameter[int] = Field(default=_CURATION.filters.min_request_words)
    reject_leaks: RuntimeParameter[bool] = Field(
        default=_CURATION.filters.reject_leaks, description="Reject requests naming the target."
    )
    require_target: RuntimeParameter[bool] = Field(
        default=_CURATION.filters.require_target, description="Reject lists without the target."
    )
    max_exemplar_overlap: RuntimeParameter[float] = Field(
        default=_CURATION.filters.max_exemplar_overlap,
        description="Reject requests that copy a few-shot exemplar of their style (share of its word 3-grams).",
    )
    reject_unknown_titles: RuntimeParameter[bool] = Field(
        default=_CURATION.filters.reject_unknown_titles,
        description="Reject requests naming a title (quoted, or after 'called') that is not in the catalogue.",
    )
    dedup: RuntimeParameter[bool] = Field(
        default=_CURATION.dedup.enabled, description="Reject near-duplicate requests."
    )
    dedup_threshold: RuntimeParameter[float] = Field(
        default=_CURATION.dedup.threshold, description="MinHash Jaccard threshold."
    )
    domain: RuntimeParameter[str] = Field(
        default=DEFAULT_DOMAIN,
        description="The domain pack whose title rules say which brackets are aliases.",
    )

    _duplicates: Optional[NearDuplicates] = PrivateAttr(default=None)  # noqa: UP045
    _indexed_seeds: list = PrivateAttr(default_factory=list)

    @property
    def inputs(self) -> list[str]:
        return ["seed_id", "item_id", "title", "request", "recommended_item_ids", "hallucinated_titles"]

    @property
    def outputs(self) -> list[str]:
        return ["reject_stage", "reject_reason", "reject_detail"]

    def load(self) -> None:
        super().load()
        self._duplicates = NearDuplicates(threshold=self.dedup_threshold)
        self._indexed_seeds = []

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        if self.on_hallucination not in ("drop", "reject"):
            raise ValueError(
                f"curation.on_hallucination must be 'drop' or 'reject', not {self.on_hallucination!r}"
            )
        verdicts = [self._verdict(row) for row in inputs]
        if self.dedup:
            self._mark_duplicates(inputs, verdicts)
        rows = []
        for row, verdict in zip(inputs, verdicts):
            stage, reason, detail = verdict or (None, None, None)
            rows.append({**row, "reject_stage": stage, "reject_reason": reason, "reject_detail": detail})
        yield rows

    def _mark_duplicates(self, inputs: list[dict[str, Any]], verdicts: list) -> None:
        """Reject each alive request that near-duplicates an earlier alive one of the run (this batch or before)."""
        assert self._duplicates is not None, "load() first"
        alive = [i for i, verdict in enumerate(verdicts) if verdict is None]
        earlier = self._duplicates.check([inputs[i]["request"] for i in alive])
        for position, first in zip(alive, earlier):
            self._indexed_seeds.append(inputs[position]["seed_id"])
            if first is not None:
                verdicts[position] = (
                    "dedup",
                    "duplicate",
                    f"near-duplicate of seed {self._indexed_seeds[first]}",
                )

    def _exemplars(self, style: str | None) -> list[str]:
        return list(load_pack(self.domain).styles.get(style, ())) if style else []

    def _verdict(self, row: dict[str, Any]) -> tuple[str, str, str] | None:
        """(stage, reason, detail) of the first check the row fails, or None: kept."""
        skip = row.get("skip_reason")
        if skip:
            reason, _, detail = skip.partition(": ")
            return ("generation", reason, detail or skip)
        request = row.get("request")
        if not request:
            return ("request_generation", "empty", _raw(row, "generate_request"))
        return self._request_verdict(row, request) or self._answer_verdict(row)

    def _request_verdict(self, row: dict[str, Any], request: str) -> tuple[str, str, str] | None:
        length = check_length(
            request,
            min_chars=self.min_request_chars,
            max_chars=self.max_request_chars,
            min_words=self.min_request_words,
        )
        problem = length or request_problem(request)
        if problem:
            return ("filters", problem, f"request: {request[:200]}")
        copied = copied_exemplar(request, self._exemplars(row.get("style")), self.max_exemplar_overlap)
        if copied:
            return ("filters", "copies_exemplar", f"request: {request[:150]} | exemplar: {copied[:100]}")
        if self.reject_leaks and leaks_title(request, row["title"], load_pack(self.domain).title):
            return ("filters", "leak", f"request names {row['title']!r}: {request[:200]}")
        partial = self.reject_leaks and partial_leak(request, row["title"])
        if partial:
            return ("filters", "leak", f"request names {row['title']!r} as {partial!r}: {request[:200]}")
        unknown = self.reject_unknown_titles and row.get("request_unknown_titles")
        if unknown:
            return (
                "filters",
                "unknown_title",
                f"not in the catalogue: {unknown!r}; request: {request[:200]}",
            )
        return None

    def _answer_verdict(self, row: dict[str, Any]) -> tuple[str, str, str] | None:
        if not row.get("conversation"):
            return ("generation", "empty", "no conversation to answer (a turn failed)")
        if row.get("parsed_titles") is None:  # distilabel fills a failed batch's outputs with None
            return (
                "recommendation_generation",
                "step_failed",
                "the answer step returned nothing (see the run log)",
            )
        if not row.get("parsed_titles"):
            raw = _raw(row, "recommend_items")
            return ("recommendation_generation", "empty" if not raw else "unparseable", raw)
        hallucinated = list(row.get("hallucinated_titles") or [])
        if hallucinated and self.on_hallucination == "reject":
            return ("grounding", "hallucination", "; ".join(hallucinated)[:300])
        if not row.get("recommended_item_ids"):
            return ("grounding", "no_grounded_titles", "; ".join(hallucinated)[:300])
        if self.require_target and missing_target(row["recommended_item_ids"], row["item_id"]):
            return (
                "filters",
                "missing_target",
                f"target {row['title']!r} not in {row.get('recommended_titles')}",
            )
        return None


class FormatSFT(WholeRunStep):
    """Kept rows as TRL conversational rows: `messages`, and the same dialogue as `prompt` + `completion`."""

    domain: RuntimeParameter[str] = Field(
        default=DEFAULT_DOMAIN, description="The domain pack of the system message."
    )
    item_noun: Optional[RuntimeParameter[str]] = Field(  # noqa: UP045 (distilabel reads Optional)
        default=None, description="What is recommended (None: the pack's noun)."
    )
    answer_format: RuntimeParameter[str] = Field(
        default=_CURATION.sft_answer,
        description="list: the evaluation prompt and a numbered 'Title (Year)' list | reasons: titles with reasons",
    )
    k: RuntimeParameter[int] = Field(
        default=_GENERATION.n_recommendations, description="K in the evaluation system prompt (list format)."
    )

    @property
    def inputs(self) -> list[str]:
        return [
            "reject_reason",
            "conversation",
            "recommended_titles",
            "recommended_display_titles",
            "recommended_item_ids",
        ]

    @property
    def outputs(self) -> list[str]:
        return list(DEFAULT_COLUMNS)

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        as_list = self.answer_format == "list"
        system = {
            "role": "system",
            "content": system_prompt(self.k, self.item_noun, self.domain)
            if as_list
            else sft_system_prompt(self.domain, self.item_noun),
        }
        rows = []
        for row in inputs:
            if row.get("reject_reason"):
                continue
            answer = {"role": "assistant", "content": sft_list(row) if as_list else sft_answer(row)}
            prompt = [system, *[{"role": t["role"], "content": t["content"]} for t in row["conversation"]]]
            rows.append(
                {
                    "messages": [*prompt, answer],
                    "prompt": prompt,
                    "completion": [answer],
                    "target_item_id": str(row["item_id"]),
                    "target_title": row["title"],
                    "recommended_item_ids": list(row["recommended_item_ids"]),
                    "recommended_titles": list(row["recommended_titles"]),
                    "hallucinated_titles": list(row.get("hallucinated_titles") or []),
                    "style": row["style"],
                    "seed_id": row["seed_id"],
                    "selection_strategy": row.get("selection_strategy") or "",
                    "selection_rank": int(row.get("selection_rank", -1)),
                    "generator_model": row.get("model_name") or "",
                    "request": row["request"],
                    "seed_text": row["seed_text"],
                }
            )
        yield rows


def sft_list(row: dict[str, Any]) -> str:
    """The assistant turn as `revdial eval` asks for it: "1. Heat (1995)" lines, catalogue titles, no reasons."""
    titles = row.get("recommended_display_titles") or row["recommended_titles"]
    return render("answer", items=[{"title": title, "year": None, "reason": None} for title in titles])


def sft_answer(row: dict[str, Any]) -> str:
    """The assistant turn: the grounded list with catalogue titles and the model's reasons, in one clean format
    (weak generators write lists in many shapes; the trained CRS should learn one)."""
    reasons = list(row.get("recommended_reasons") or []) + [""] * len(row["recommended_titles"])
    items = []
    for title, reason in zip(row["recommended_titles"], reasons):
        items.append({"title": title, "year": None, "reason": reason})
    return render("answer", items=items)


def kept_seeds(rows: list[dict[str, Any]]) -> set[Any]:
    """The seeds with at least one kept row (a row without a reject reason)."""
    return {row["seed_id"] for row in rows if not row.get("reject_reason")}


class CollectRejects(WholeRunStep):
    """One row per selected seed that kept nothing: the reason of its first rejected request (all rows of a seed
    are seen together)."""

    @property
    def inputs(self) -> list[str]:
        return ["seed_id", "reject_stage", "reject_reason", "reject_detail"]

    @property
    def outputs(self) -> list[str]:
        return list(REJECTS_COLUMNS)

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        # a seed with a kept row has no reject row; a seed without one gets a single row, its first reject's
        done = kept_seeds(inputs)
        rows = []
        for row in inputs:
            if row["seed_id"] in done:
                continue
            done.add(row["seed_id"])
            rows.append(
                {
                    "seed_id": row["seed_id"],
                    "selection_rank": int(row.get("selection_rank", -1)),
                    "stage": row["reject_stage"],
                    "reason": row["reject_reason"],
                    "detail": (row.get("reject_detail") or "")[:500],
                }
            )
        yield rows


class KeepCandidates(WholeRunStep):
    """Every generated row with its verdict and whether its seed kept anything (`seed_kept`): the audit trail
    behind summary.json, minus bulky columns."""

    @property
    def inputs(self) -> list[str]:
        return ["seed_id", "reject_reason"]

    @property
    def outputs(self) -> list[str]:
        return ["seed_kept"]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        kept = kept_seeds(inputs)
        yield [
            {
                **{k: v for k, v in row.items() if k not in _CANDIDATE_DROP},
                "seed_kept": row["seed_id"] in kept,
            }
            for row in inputs
        ]


def _raw(row: dict[str, Any], step_name: str) -> str:
    """The raw LLM output a step kept in distilabel_metadata, trimmed, for a reject's `detail`."""
    raw = (row.get("distilabel_metadata") or {}).get(f"raw_output_{step_name}")
    if raw is None:
        return "no output (the LLM call failed)"
    return json.dumps(raw)[:300] if raw.strip() else ""
