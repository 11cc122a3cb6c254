"""Dataset and model cards from the Jinja templates in `cards/`, rendered through huggingface_hub's card classes.

The dataset card's numbers come from the saved data itself (rows per config, reject reasons, hallucination rate,
styles, generator and selection columns), so the card cannot disagree with what is pushed; `summary.json` adds what
only the run knows (tokens, wall time, the config echo with the sources, selection and generation settings).

    card = render_dataset_card(load_synthesis(OUT), repo_id="me/movies-crs")
    card.save("README.md")

    card = render_model_card(model_name="movies-crs-smollm2", base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
                             dataset="me/movies-crs", recipe=recipe_dict, lora=lora_dict,
                             metrics={"redial": {"recall@10": 0.12, "ndcg@10": 0.07}})
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import DatasetCard, DatasetCardData, EvalResult, ModelCard, ModelCardData

from revdial.contract import COLUMN_DOCS
from revdial.paths import PACKAGE_DIR, REPO_DIR
from revdial.redact import redact

__all__ = [
    "PAPER_BIBTEX",
    "SourceInfo",
    "SynthesisRun",
    "card_configs",
    "eval_results_from_metrics",
    "eval_results_from_report",
    "load_synthesis",
    "most_restrictive_license",
    "redact",
    "render_dataset_card",
    "render_model_card",
    "resolve_sources",
    "size_category",
    "templates_dir",
    "without_null_types",
]

PAPER_BIBTEX = """@misc{surana2025reviews,
  title         = {From Reviews to Dialogues: Active Synthesis for Zero-Shot LLM-based Conversational Recommender System},
  author        = {Surana, Rohan and Wu, Junda and Xie, Zhouhang and Xia, Yu and Steck, Harald and Liang, Dawen and
                   Kallus, Nathan and McAuley, Julian},
  year          = {2025},
  eprint        = {2504.15476},
  archivePrefix = {arXiv},
  primaryClass  = {cs.IR},
  url           = {https://arxiv.org/abs/2504.15476}
}"""

SPLIT_FILE = "{config}/{split}-00000-of-00001.parquet"
"""Where a config's split lands in the pushed repo; the card's `configs` point `data_files` at it."""


@dataclass(frozen=True)
class SourceInfo:
    """A seed source as the card names it: what it is, where it is, and its licence (a Hub licence id)."""

    name: str
    license: str
    url: str | None = None
    hub_id: str | None = None
    license_name: str | None = None  # with license "other": a short slug naming the terms
    license_link: str | None = None  # with license "other": where the terms are
    id: str | None = None  # short id for the card's source_datasets when there is no hub_id
    citation: str | None = None  # what the source asks publications to cite

    @property
    def source_id(self) -> str:
        return self.hub_id or self.id or re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


SOURCES_FILE = Path(__file__).resolve().parent / "sources.yaml"


@lru_cache(maxsize=1)
def _registry() -> dict[str, Any]:
    """sources.yaml: the licence order, the known seed sources (with the strings that recognise them), the
    benchmarks' display names."""
    return yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))


def _license_order() -> list[str]:
    return list(_registry()["license_order"])


def known_sources() -> dict[str, tuple[SourceInfo, list[str]]]:
    """key -> (the source, the strings of a `source` section that name it)."""
    out = {}
    for key, entry in _registry()["sources"].items():
        fields = {k: v for k, v in entry.items() if k != "match"}
        out[key] = (SourceInfo(**fields), list(entry["match"]))
    return out


class CardError(RuntimeError):
    """A card cannot be rendered: a missing template, an unreadable Distiset directory."""


def templates_dir() -> Path:
    """`cards/` of the checkout (editable install); a wheel carries a copy in `revdial/hub/cards/` if built so."""
    for candidate in (REPO_DIR / "cards", PACKAGE_DIR / "hub" / "cards"):
        if (candidate / "dataset_card.md.j2").exists():
            return candidate
    raise CardError(
        f"card templates not found in {REPO_DIR / 'cards'} or {PACKAGE_DIR / 'hub' / 'cards'}; "
        "pass template_path= to the render function"
    )


# --- pure helpers -----------------------------------------------------------------------------------------------------
def most_restrictive_license(licenses: Iterable[str]) -> str:
    """The most restrictive of Hub licence ids ("cc-by-4.0", "mit", "other", ...); "unknown" when given none."""

    def rank(license: str) -> int:
        order = _license_order()
        return order.index(license if license in order else "other")

    licenses = list(licenses)
    if not licenses:
        return "unknown"
    worst = max(licenses, key=rank)
    return worst if worst in _license_order() else "other"


def size_category(n: int) -> str:
    """The Hub's size_categories bucket for n rows."""
    if n < 1_000:
        return "n<1K"
    bounds = ["1K", "10K", "100K", "1M", "10M", "100M", "1B", "10B", "100B", "1T"]
    exponent = min(int(math.log10(n)), 12)
    if exponent >= 12:
        return "n>1T"
    return f"{bounds[exponent - 3]}<n<{bounds[exponent - 2]}"


def card_configs(configs: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """The card's `configs` metadata for {config: [splits]}, pointing at the pushed parquet layout (SPLIT_FILE)."""
    out = []
    for name, splits in configs.items():
        entry: dict[str, Any] = {
            "config_name": name,
            "data_files": [{"split": s, "path": SPLIT_FILE.format(config=name, split=s)} for s in splits],
        }
        if name == "default":
            entry["default"] = True
        out.append(entry)
    return out


def _pipeline_yaml_for(name: str | None) -> dict[str, Any]:
    """The checkout's pipelines/<name>.yaml, for a config echo that left out the `source`/`card` sections."""
    path = REPO_DIR / "pipelines" / f"{name}.yaml"
    if not name or not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text()) or {}
    return loaded if isinstance(loaded, dict) else {}


def resolve_sources(config: Mapping[str, Any] | None) -> list[SourceInfo]:
    """Seed sources of a run: the YAML's `card.sources` list if given, else recognised from its `source` section.

    When the config has neither (a summary's echo may keep only the stages' own sections), the checkout's
    `pipelines/<name>.yaml` of the same name is read for them.
    """
    config = dict(config or {})
    if "source" not in config and "card" not in config:
        on_disk = _pipeline_yaml_for(config.get("name"))
        config.update({k: on_disk[k] for k in ("source", "card") if k in on_disk})
    listed = (config.get("card") or {}).get("sources")
    if listed:
        return [
            SourceInfo(**{k: v for k, v in s.items() if k in SourceInfo.__dataclass_fields__}) for s in listed
        ]
    source = config.get("source") or {}
    text = json.dumps(source, default=str).lower()
    found: list[SourceInfo] = []
    for info, needles in known_sources().values():
        if info not in found and any(needle in text for needle in needles):
            found.append(info)
    return found


def eval_results_from_metrics(
    metrics: Mapping[str, Mapping[str, float]],
    *,
    splits: Mapping[str, str] | None = None,
) -> list[EvalResult]:
    """{benchmark: {"recall@10": 0.12, "ndcg@10": 0.07}} -> EvalResults the Hub shows as a `model-index`.

    Benchmarks named in sources.yaml (redial, inspired, he2023-redial, ...) get their display names and default
    splits.
    """
    known = _registry()["benchmarks"]
    results = []
    for benchmark, values in metrics.items():
        entry = known.get(benchmark.lower(), {"name": benchmark, "split": "test"})
        pretty, split = entry["name"], entry["split"]
        split = (splits or {}).get(benchmark, split)
        for metric, value in values.items():
            kind, _, k = metric.lower().partition("@")
            name = {"recall": "Recall", "ndcg": "NDCG", "mrr": "MRR", "hit": "HitRate"}.get(kind, kind)
            results.append(
                EvalResult(
                    task_type="text-generation",
                    task_name="Conversational recommendation",
                    dataset_type=benchmark.lower(),
                    dataset_name=pretty,
                    dataset_split=split,
                    metric_type=metric.lower(),
                    metric_name=f"{name}@{k}" if k else name,
                    metric_value=float(value),
                    metric_args={"k": int(k)} if k.isdigit() else None,
                )
            )
    return results


def eval_results_from_report(
    report: Mapping[str, Any], *, setting: str = "all_items", limit: int | None = None
) -> list[EvalResult]:
    """EvalResults from a `revdial eval` report.json: the mean of every metric@K of one scoring setting
    ("all_items" or "exclude_mentioned"); the setting is kept as the metric config. `limit`: the evaluation ran on
    the first N turns only, which the split and the dataset name say (`test[:500]`, "ReDial (first 500 turns)")."""
    scores = (report.get("metrics") or {}).get(setting) or {}
    means = {
        name: value["mean"]
        for name, value in scores.items()
        if isinstance(value, Mapping) and "mean" in value
    }
    benchmark = str(report.get("benchmark", "benchmark"))
    results = eval_results_from_metrics({benchmark: means})
    for result in results:
        result.metric_config = setting
        if limit:
            turns = report.get("n_turns", limit)
            result.dataset_split = f"{result.dataset_split}[:{turns}]"
            result.dataset_name = f"{result.dataset_name} (first {turns} turns)"
    return results


def _model_license(given: str | None, dataset: str | list[str] | None) -> str:
    """A model derives from its training data: their licence unless one is given, never a default."""
    if given:
        return given
    return training_data_license(dataset if isinstance(dataset, str) else None)


def training_data_license(dataset: str | None) -> str:
    """The Hub licence id of a training dataset: a local synthesis output's strictest seed-source licence, or a Hub
    dataset's card licence; "other" when it cannot be told (a model card must not claim a licence it does not know)."""
    if not dataset:
        return "other"
    path = Path(dataset).expanduser()
    if path.is_dir():
        summary = _find(path, "summary.json")
        config = json.loads(summary.read_text()).get("config") if summary else None
        sources = resolve_sources(config) if config else []
        found = most_restrictive_license(s.license for s in sources) if sources else "other"
        return "other" if found == "unknown" else found
    try:
        license = DatasetCard.load(dataset).data.license
    except Exception:  # noqa: BLE001 - offline, missing, private: the licence is not known
        return "other"
    return license if isinstance(license, str) and license else "other"


# --- dataset card -----------------------------------------------------------------------------------------------------
@dataclass
class SynthesisRun:
    """A saved synthesis output as the card and the push read it."""

    directory: Path
    datasets: dict[str, Any]  # config -> DatasetDict
    summary: dict[str, Any] = field(default_factory=dict)
    pipeline_yaml: Path | None = None
    funnel_png: Path | None = None

    @property
    def configs(self) -> dict[str, list[str]]:
        return {name: list(dd.keys()) for name, dd in self.datasets.items()}


def _find(directory: Path, name: str) -> Path | None:
    # distilabel keeps its files in distiset_configs/; revdial's summary and plot may sit next to the configs.
    for candidate in (directory / name, directory / "distiset_configs" / name):
        if candidate.is_file():
            return candidate
    return None


def without_null_types(feature: Any) -> Any:
    """The same features with Arrow `null` leaves typed as strings: a list column that happened to be empty in every
    row (e.g. `hallucinated_titles` of a clean run) is `list<null>`, which the Hub viewer and later concatenations
    with non-empty data handle badly."""
    from datasets import LargeList, List, Value

    if isinstance(feature, Value):
        return Value("string") if feature.dtype == "null" else feature
    if isinstance(feature, List):
        return List(without_null_types(feature.feature), length=feature.length)
    if isinstance(feature, LargeList):
        return LargeList(without_null_types(feature.feature))
    if isinstance(feature, dict):
        return type(feature)({k: without_null_types(v) for k, v in feature.items()})
    if isinstance(feature, list):
        return [without_null_types(v) for v in feature]
    return feature


def load_synthesis(directory: str | Path) -> SynthesisRun:
    """Read a `revdial synthesize` output: every config folder (a saved DatasetDict or Dataset), summary, plot, yaml."""
    from datasets import DatasetDict, load_from_disk

    directory = Path(directory)
    if not directory.is_dir():
        raise CardError(f"{directory}: not a directory (expected the output of `revdial synthesize`)")
    datasets: dict[str, Any] = {}
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        if not ((folder / "dataset_dict.json").exists() or (folder / "state.json").exists()):
            continue
        loaded = load_from_disk(str(folder))
        loaded = loaded if isinstance(loaded, DatasetDict) else DatasetDict(train=loaded)
        for split, dataset in loaded.items():
            features = without_null_types(dataset.features)
            if features != dataset.features:
                loaded[split] = dataset.cast(features)
        datasets[folder.name] = loaded
    if "default" not in datasets:
        raise CardError(
            f"{directory}: no 'default' config folder (saved DatasetDict) found; folders: "
            f"{', '.join(p.name for p in directory.iterdir())}"
        )
    datasets = {"default": datasets.pop("default"), **datasets}  # the default config first, on the card too
    summary_path = _find(directory, "summary.json")
    summary = json.loads(summary_path.read_text()) if summary_path else {}
    return SynthesisRun(
        directory=directory,
        datasets=datasets,
        summary=summary,
        pipeline_yaml=_find(directory, "pipeline.yaml"),
        funnel_png=_find(directory, "funnel.png"),
    )


def _type_name(feature: Any) -> str:
    from datasets import List, Value
    from datasets import Sequence as HfSequence

    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, (List, HfSequence)):
        return f"list[{_type_name(feature.feature)}]"
    if isinstance(feature, list):
        return f"list[{_type_name(feature[0])}]" if feature else "list"
    if isinstance(feature, dict):
        return "{" + ", ".join(f"{k}: {_type_name(v)}" for k, v in feature.items()) + "}"
    return type(feature).__name__


def _run_numbers(run: SynthesisRun) -> dict[str, Any]:
    """Counts the card states, computed from the rows themselves."""
    default = run.datasets["default"]
    train = default["train"] if "train" in default else default[next(iter(default))]
    kept = len(train)
    columns = set(train.column_names)
    numbers: dict[str, Any] = {"kept_rows": kept}
    kept_seeds = set(train["seed_id"]) if "seed_id" in columns else set()
    numbers["kept_seeds"] = len(kept_seeds)
    rejects = run.datasets.get("rejects")
    reasons: Counter[str] = Counter()
    rejected_seeds: set[str] = set()
    if rejects is not None:
        for split in rejects.values():
            if "reason" in split.column_names:
                reasons.update(split["reason"])
            if "seed_id" in split.column_names:
                rejected_seeds.update(split["seed_id"])
    numbers["reject_reasons"] = dict(reasons.most_common())
    numbers["rejected_seeds"] = len(rejected_seeds - kept_seeds)
    numbers["selected_seeds"] = len(kept_seeds | rejected_seeds)
    if {"hallucinated_titles", "recommended_item_ids"} <= columns:
        hallucinated = sum(len(x) for x in train["hallucinated_titles"])
        grounded = sum(len(x) for x in train["recommended_item_ids"])
        numbers["hallucinated_titles"] = hallucinated
        numbers["grounded_titles"] = grounded
        numbers["hallucination_rate_kept"] = (
            hallucinated / (hallucinated + grounded) if hallucinated + grounded else 0.0
        )
    for column, key in (
        ("style", "styles"),
        ("selection_strategy", "strategies"),
        ("generator_model", "generators"),
    ):
        if column in columns:
            numbers[key] = dict(Counter(train[column]).most_common())
    return numbers


def _steps_table(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows in/out per step, from the summary's `rows_per_step` ({step: {in, out}}, as build_summary writes it)."""
    steps = summary.get("rows_per_step") or {}
    return [{"name": name, "rows_in": io.get("in"), "rows_out": io.get("out")} for name, io in steps.items()]


@dataclass
class CardLicense:
    """The dataset's licence: given, configured (`card.license`), or the most restrictive of its sources'."""

    license: str
    name: str | None = None
    link: str | None = None


def card_license(
    sources: Sequence[SourceInfo], card_section: Mapping[str, Any], given: str | None
) -> CardLicense:
    chosen = given or card_section.get("license") or most_restrictive_license([s.license for s in sources])
    if chosen != "other":
        return CardLicense(chosen)
    name, link = card_section.get("license_name"), card_section.get("license_link")
    other = [s for s in sources if s.license not in _license_order()[:-2]]
    if other and not name:
        name, link = other[0].license_name, other[0].license_link
    return CardLicense(chosen, name, link)


@dataclass
class CardSetup:
    """What the run was asked to do: the domain, the stages' settings and the prompt templates."""

    domain: str
    selection: dict[str, Any]
    generation: dict[str, Any]
    curation: dict[str, Any]
    config_yaml: str
    templates: list[str]


@dataclass
class CardFacts:
    """What the run did: counts from the saved rows (`numbers`) and from summary.json, and which files it left."""

    numbers: dict[str, Any]
    schemas: dict[str, list[dict[str, str]]]
    rows: dict[str, dict[str, int]]
    steps: list[dict[str, Any]]
    tokens_in: int | None
    tokens_out: int | None
    wall_time_s: float | None
    hallucination_rate: float | None
    hallucination_policy: str | None
    funnel: dict[str, int] | None
    row_reject_reasons: dict[str, int]
    argilla: dict[str, Any] | None
    has_funnel: bool
    has_pipeline: bool


def card_setup(run: SynthesisRun, config: Mapping[str, Any]) -> CardSetup:
    # What the run did (CLI overrides included) beats what the YAML asked for.
    selection = {**(config.get("selection") or {}), **(run.summary.get("selection") or {})}
    stages = {k: config[k] for k in ("selection", "generation", "curation") if k in config}
    domain = config.get("domain") or run.summary.get("domain")
    return CardSetup(
        domain=_domain_label(domain),
        selection=selection,
        generation=dict(config.get("generation") or {}),
        curation=dict(config.get("curation") or {}),
        config_yaml=yaml.safe_dump(stages, sort_keys=False).strip() if stages else "",
        templates=_prompt_templates(domain),
    )


def card_facts(run: SynthesisRun, config: Mapping[str, Any]) -> CardFacts:
    summary = run.summary
    tokens = summary.get("tokens") or {}
    hallucination = summary.get("hallucination") or {}
    return CardFacts(
        numbers=_run_numbers(run),
        schemas={
            name: [
                {"name": col, "type": _type_name(feat), "doc": COLUMN_DOCS.get(col, "")}
                for col, feat in dd[next(iter(dd))].features.items()
            ]
            for name, dd in run.datasets.items()
        },
        rows={name: {split: len(ds) for split, ds in dd.items()} for name, dd in run.datasets.items()},
        steps=_steps_table(summary),
        tokens_in=tokens.get("input"),
        tokens_out=tokens.get("output"),
        wall_time_s=summary.get("wall_time_s"),
        hallucination_rate=hallucination.get("rate"),
        hallucination_policy=hallucination.get("policy")
        or (config.get("curation") or {}).get("on_hallucination"),
        funnel=summary.get("funnel"),
        row_reject_reasons=summary.get("reject_reasons") or {},
        argilla=summary.get("argilla"),
        has_funnel=run.funnel_png is not None,
        has_pipeline=run.pipeline_yaml is not None,
    )


def _merge_distilabel(
    card_data: DatasetCardData, tags: list[str], distilabel_card: DatasetCard | None
) -> str:
    """distilabel's card metadata fills what revdial's does not set; its body (demoted) is returned to append."""
    if distilabel_card is None:
        return ""
    for key, value in distilabel_card.data.to_dict().items():
        if key == "tags":
            # distilabel tags every dataset "rlaif"; no AI feedback is used here.
            card_data.tags = tags + [t for t in value or [] if t not in tags and t != "rlaif"]
        elif card_data.get(key) is None:
            card_data[key] = value
    return _demote_headings(_strip_title(distilabel_card.text))


def render_dataset_card(
    run: SynthesisRun | str | Path,
    *,
    repo_id: str,
    config: Mapping[str, Any] | None = None,
    license: str | None = None,
    pretty_name: str | None = None,
    language: str | list[str] = "en",
    distilabel_card: DatasetCard | None = None,
    template_path: str | Path | None = None,
) -> DatasetCard:
    """The dataset card of a synthesis run.

    `config` is the pipeline YAML as a dict (default: the config echo in summary.json). Its `card` section may set
    `license`, `license_name`, `license_link`, `pretty_name`, `language` and `sources` (list of {name, license, url,
    hub_id}); otherwise sources are recognised from the `source` section (hub/sources.yaml) and the licence is the
    most restrictive of theirs. `license` here overrides all of that. `distilabel_card` (distilabel's own card of the
    Distiset) is merged under revdial's: its metadata fills what revdial's does not set, its body is appended.
    The template sees `repo_id`, `sources`, `setup` (CardSetup), `facts` (CardFacts) and the card data's fields.
    """
    if not isinstance(run, SynthesisRun):
        run = load_synthesis(run)
    # The card quotes the config; a key a user put in it must not reach the Hub (push also scans every file).
    config = redact(dict(config if config is not None else (run.summary.get("config") or {})))
    card_section = dict(config.get("card") or _pipeline_yaml_for(config.get("name")).get("card") or {})
    sources = resolve_sources(config)
    terms = card_license(sources, card_section, license)
    setup = card_setup(run, config)
    tags = ["synthetic", "distilabel", "conversational-recommendation", "revdial", setup.domain]
    # The size of the dataset people load: the default config (rejects and candidates are bookkeeping).
    default_rows = sum(len(split) for split in run.datasets["default"].values())
    card_data = DatasetCardData(
        pretty_name=pretty_name or card_section.get("pretty_name") or repo_id.split("/")[-1],
        language=card_section.get("language", language),
        license=terms.license,
        license_name=terms.name,
        license_link=terms.link,
        task_categories=["text-generation"],
        task_ids=["dialogue-modeling"],
        tags=tags,
        size_categories=size_category(max(default_rows, 1)),
        source_datasets=[s.source_id for s in sources] or ["original"],
        annotations_creators=["machine-generated"],
        language_creators=["machine-generated"],
        multilinguality="monolingual",
        configs=card_configs(run.configs),
    )
    distilabel_body = _merge_distilabel(card_data, tags, distilabel_card)
    template = Path(template_path) if template_path else templates_dir() / "dataset_card.md.j2"
    return DatasetCard.from_template(
        card_data,
        template_path=str(template),
        repo_id=repo_id,
        sources=sources,
        setup=setup,
        facts=card_facts(run, config),
        distilabel_body=distilabel_body,
        bibtex=PAPER_BIBTEX,
    )


_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _is_hub_id(name: str | None) -> bool:
    """ "OWNER/NAME" that is not a local path (runs/x would look like one, so the file system decides)."""
    return bool(name) and bool(_HUB_ID_RE.match(str(name))) and not Path(str(name)).exists()


def _plain(value: Any) -> Any:
    """JSON-compatible copy (enums, paths, tuples become strings/lists) so YAML and Jinja render it."""
    return json.loads(json.dumps(value, default=str))


def _yaml_block(mapping: Mapping[str, Any]) -> str:
    return yaml.safe_dump(_plain(redact(dict(mapping))), sort_keys=False).strip()


def _domain_label(domain: str | None) -> str:
    """A pack's name for the card ("products"; a pack folder by its pack name); "items" when the run named none."""
    from revdial.domains import DomainError, load_pack

    if not domain:
        return "items"
    try:
        return load_pack(domain).name
    except DomainError:
        return str(domain)


def _prompt_templates(domain: str | None) -> list[str]:
    """The prompt templates a run of `domain` used: the pack's own, then the shared ones it does not override."""
    from revdial.domains import SHARED_TEMPLATES, DomainError, load_pack

    try:
        pack = load_pack(domain)
    except DomainError:
        return []
    own = sorted(p.name for p in pack.templates.glob("*.jinja"))
    shared = sorted(p.name for p in SHARED_TEMPLATES.glob("*.jinja") if p.name not in own)
    return [f"{pack.name}/templates/{name}" for name in own] + [f"shared/{name}" for name in shared]


def _strip_title(text: str) -> str:
    """distilabel's card body without its title and badge (revdial's card has both), blank runs collapsed."""
    text = re.sub(r"^# Dataset Card for .*$", "", text, count=1, flags=re.MULTILINE)
    text = re.sub(
        r'<p align="left">\s*<a href="https://github.com/argilla-io/distilabel">.*?</p>',
        "",
        text,
        flags=re.DOTALL,
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _demote_headings(text: str) -> str:
    return re.sub(r"^(#{1,5}) ", r"#\1 ", text, flags=re.MULTILINE)


# --- model card -------------------------------------------------------------------------------------------------------
def _results_table(results: Sequence[EvalResult]) -> dict[str, dict[str, float]]:
    """{dataset name: {metric name: value}} for the card's results table."""
    table: dict[str, dict[str, float]] = {}
    for result in results:
        table.setdefault(result.dataset_name, {})[result.metric_name or result.metric_type] = (
            result.metric_value
        )
    return table


def render_model_card(
    *,
    base_model: str,
    model_name: str | None = None,
    dataset: str | list[str] | None = None,
    recipe: Mapping[str, Any] | None = None,
    lora: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Mapping[str, float]] | None = None,
    eval_results: list[EvalResult] | None = None,
    license: str | None = None,
    language: str | list[str] = "en",
    tags: Sequence[str] = (),
    recipe_path: str | None = None,
    notes: str | None = None,
    template_path: str | Path | None = None,
) -> ModelCard:
    """The model card of a CRS trained with `revdial train`.

    - `base_model`: the Hub id (or path) it was fine-tuned from; `model_name`: the name the Hub shows with the
      evaluation results (default: "<base model name>-revdial-crs"); `dataset`: the training dataset repo id(s).
    - `recipe`: the training recipe as a dict (the YAML, or `SFTConfig.to_dict()`); secret-looking keys are redacted.
      `recipe_path`: where the recipe lives in the repo, for the card.
    - `lora`: LoRA settings (r, lora_alpha, lora_dropout, target_modules, ...) or None for full fine-tuning.
    - `training`: facts of the run shown as a table (rows, epochs, train_seconds, final loss, ...).
    - `metrics`: {benchmark: {"recall@10": 0.12, "ndcg@10": 0.07}} (benchmarks "redial", "inspired"), or ready-made
      `eval_results` (e.g. `eval_results_from_report(json.load(open("report.json")))`); both become the card's
      `model-index`.
    """
    model_name = model_name or f"{str(base_model).rstrip('/').split('/')[-1]}-revdial-crs"
    results = list(eval_results or []) + eval_results_from_metrics(metrics or {})
    datasets_list = [dataset] if isinstance(dataset, str) else list(dataset or [])
    card_data = ModelCardData(
        model_name=model_name,
        # Hub metadata takes Hub ids only; a local path stays in the card's text.
        base_model=base_model if _is_hub_id(base_model) else None,
        datasets=[d for d in datasets_list if _is_hub_id(d)] or None,
        eval_results=results or None,
        language=language,
        license=_model_license(license, dataset),
        library_name="peft" if lora else "transformers",
        pipeline_tag="text-generation",
        tags=["revdial", "conversational-recommendation", "trl", "sft", *(["lora"] if lora else []), *tags],
    )
    template = Path(template_path) if template_path else templates_dir() / "model_card.md.j2"
    table = _results_table(results)
    return ModelCard.from_template(
        card_data,
        template_path=str(template),
        model_name=model_name,
        base_model=base_model,
        base_model_on_hub=_is_hub_id(base_model),
        training_datasets=[{"name": d, "hub": _is_hub_id(d)} for d in datasets_list],
        recipe_yaml=_yaml_block(recipe) if recipe else "",
        training=_plain(redact(dict(training))) if training else None,
        recipe_path=recipe_path,
        lora=dict(lora) if lora else None,
        results_table=table,
        metric_names=sorted({m for values in table.values() for m in values}),
        notes=notes,
        bibtex=PAPER_BIBTEX,
    )
