"""Card specification: Hub metadata that validates locally, configs that match the saved data, numbers from the rows."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from huggingface_hub import DatasetCard, DatasetCardData, ModelCard, metadata_load
from huggingface_hub.repocard_data import model_index_to_eval_results

from revdial.hub.cards import (
    card_configs,
    eval_results_from_metrics,
    load_synthesis,
    most_restrictive_license,
    render_dataset_card,
    render_model_card,
    resolve_sources,
    size_category,
)

from .synthesis import SUMMARY, write_synthesis

REQUIRED_DATASET_KEYS = {
    "license",
    "language",
    "task_categories",
    "tags",
    "size_categories",
    "source_datasets",
    "annotations_creators",
    "configs",
    "pretty_name",
}


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


@pytest.mark.parametrize(
    ("licenses", "expected"),
    [
        (["mit", "cc-by-4.0"], "cc-by-4.0"),
        (["cc-by-4.0", "cc-by-nc-4.0", "apache-2.0"], "cc-by-nc-4.0"),
        (["mit", "other"], "other"),
        (["mit", "some-custom-terms"], "other"),
        (["cc0-1.0"], "cc0-1.0"),
        ([], "unknown"),
    ],
)
def test_the_most_restrictive_licence_wins(licenses: list[str], expected: str) -> None:
    assert most_restrictive_license(licenses) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "n<1K"),
        (999, "n<1K"),
        (1_000, "1K<n<10K"),
        (9_999, "1K<n<10K"),
        (10_000, "10K<n<100K"),
        (2_500_000, "1M<n<10M"),
    ],
)
def test_size_category_follows_the_hub_buckets(n: int, expected: str) -> None:
    assert size_category(n) == expected


def test_sources_are_recognised_from_the_bundled_sample_paths() -> None:
    sources = resolve_sources(SUMMARY["config"])
    assert {s.source_id for s in sources} == {"redial", "ievalm-crs", "movielens-ml-latest-small"}
    listed = resolve_sources({"card": {"sources": [{"name": "My shop reviews", "license": "cc-by-sa-4.0"}]}})
    assert [(s.source_id, s.license) for s in listed] == [("my-shop-reviews", "cc-by-sa-4.0")]


def test_dataset_card_metadata_has_every_required_key_and_round_trips(
    synthesis_dir: Path, tmp_path: Path
) -> None:
    card = render_dataset_card(synthesis_dir, repo_id="me/movies-crs")
    meta = front_matter(str(card))
    assert REQUIRED_DATASET_KEYS <= set(meta)
    assert meta["task_categories"] == ["text-generation"]
    assert meta["annotations_creators"] == ["machine-generated"]
    assert {"synthetic", "distilabel", "conversational-recommendation", "movies"} <= set(meta["tags"])
    assert meta["size_categories"] == "n<1K"
    # MovieLens terms are the strictest of the sample's sources: "other" needs a name and a link on the Hub.
    assert meta["license"] == "other" and meta["license_name"] and meta["license_link"].startswith("https://")
    card.save(tmp_path / "README.md")
    loaded = DatasetCard.load(tmp_path / "README.md")
    assert DatasetCardData(**loaded.data.to_dict()).to_dict() == loaded.data.to_dict() == card.data.to_dict()
    assert metadata_load(tmp_path / "README.md") == meta


def test_card_configs_match_the_saved_configs_and_pushed_layout(synthesis_dir: Path) -> None:
    run = load_synthesis(synthesis_dir)
    meta = front_matter(str(render_dataset_card(run, repo_id="me/x")))
    assert (
        [c["config_name"] for c in meta["configs"]]
        == list(run.configs)
        == ["default", "candidates", "rejects"]
    )
    assert meta["configs"] == card_configs(run.configs)
    default = next(c for c in meta["configs"] if c["config_name"] == "default")
    assert default["default"] is True
    assert default["data_files"] == [{"split": "train", "path": "default/train-00000-of-00001.parquet"}]


def test_card_states_the_run_numbers_computed_from_the_rows(tmp_path: Path) -> None:
    card = str(render_dataset_card(write_synthesis(tmp_path / "s", kept=4), repo_id="me/x"))
    assert "| Seeds selected | 7 |" in card  # 4 kept + 3 rejected seeds, counted from the configs
    assert "| seeds in pool | 50 |" in card and "| `curate_rows` | 9 | 6 |" in card  # from summary.json
    assert "| Rows kept (`default`) | 4 |" in card
    assert "| `missing_target` | 2 |" in card and "| `leak` | 1 |" in card
    # policy "drop": the hallucinated titles were removed from the answers, and the card must not imply otherwise
    assert (
        "| Hallucinated titles dropped from kept answers (listed in `hallucinated_titles`, not in `messages`) "
        "| 4 of 12 (0.333) |" in card
    )  # one hallucinated of three titles per row
    assert "Strategy `js` with budget B = 9" in card  # what the run did (summary) over what the YAML asked
    assert "| Input tokens | 12345 |" in card
    assert "arxiv.org/abs/2504.15476" in card and "eprint        = {2504.15476}" in card
    assert "| `messages` | `list[{role: string, content: string}]` |" in card


def test_card_without_a_summary_still_renders_from_the_data(tmp_path: Path) -> None:
    card = render_dataset_card(
        write_synthesis(tmp_path / "s", summary={}), repo_id="me/x", license="cc-by-4.0"
    )
    meta = front_matter(str(card))
    assert meta["license"] == "cc-by-4.0" and "license_name" not in meta
    assert meta["source_datasets"] == ["original"]
    assert "SmolLM2-135M-Instruct-Q4_1.gguf" in str(card)


def test_configured_licence_overrides_the_sources(synthesis_dir: Path) -> None:
    config = {**SUMMARY["config"], "card": {"license": "cc-by-nc-4.0", "pretty_name": "Movie CRS"}}
    meta = front_matter(str(render_dataset_card(synthesis_dir, repo_id="me/x", config=config)))
    assert meta["license"] == "cc-by-nc-4.0" and meta["pretty_name"] == "Movie CRS"


def test_model_card_eval_results_parse_back_as_model_index(tmp_path: Path) -> None:
    card = render_model_card(
        model_name="movies-crs-smollm2",
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
        dataset="me/movies-crs",
        recipe={"learning_rate": 2e-4, "num_train_epochs": 1},
        recipe_path="recipes/smollm2/sft/config_lora.yaml",
        lora={"r": 16, "lora_alpha": 32, "target_modules": "all-linear"},
        metrics={"redial": {"recall@10": 0.125, "ndcg@10": 0.0625}, "inspired": {"recall@10": 0.1}},
    )
    card.save(tmp_path / "README.md")
    meta = metadata_load(tmp_path / "README.md")
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and meta["datasets"] == [
        "me/movies-crs"
    ]
    assert meta["library_name"] == "peft" and "lora" in meta["tags"]
    name, results = model_index_to_eval_results(meta["model-index"])
    assert name == "movies-crs-smollm2"
    assert {(r.dataset_name, r.dataset_split, r.metric_name, r.metric_value) for r in results} == {
        ("ReDial", "test", "Recall@10", 0.125),
        ("ReDial", "test", "NDCG@10", 0.0625),
        ("INSPIRED", "dev", "Recall@10", 0.1),
    }
    loaded = ModelCard.load(tmp_path / "README.md")
    assert len(loaded.data.eval_results) == 3
    text = loaded.text
    assert "| ReDial | 0.0625 | 0.1250 |" in text
    assert "| `r` | `16` |" in text and "revdial train --config recipes/smollm2/sft/config_lora.yaml" in text


def test_model_card_without_results_or_lora_is_a_full_finetune_card() -> None:
    card = render_model_card(model_name="m", base_model="org/base")
    assert card.data.library_name == "transformers" and card.data.eval_results is None
    assert "Not evaluated yet." in card.text and "full fine-tuning" in card.text


def test_metric_names_carry_k() -> None:
    [result] = eval_results_from_metrics({"redial": {"ndcg@50": 0.3}})
    assert (result.metric_name, result.metric_args, result.dataset_type) == ("NDCG@50", {"k": 50}, "redial")


def test_secret_looking_config_keys_are_redacted_in_the_card(synthesis_dir: Path) -> None:
    config = {**SUMMARY["config"], "generation": {"llm": {"backend": "openai", "api_key": "sk-abcdef123456"}}}
    card = str(render_dataset_card(synthesis_dir, repo_id="me/x", config=config))
    assert "sk-abcdef123456" not in card and "api_key: <redacted>" in card


def test_redaction_keeps_token_counts_and_hides_keys() -> None:
    from revdial.redact import redact

    config = {"llm": {"api_key": "k", "hf_token": "t", "max_new_tokens": 96}, "max_total_tokens": 0}
    assert redact(config) == {
        "llm": {"api_key": "<redacted>", "hf_token": "<redacted>", "max_new_tokens": 96},
        "max_total_tokens": 0,
    }


def test_an_echo_without_sources_reads_them_from_the_pipeline_yaml_of_the_same_name(tmp_path: Path) -> None:
    echo = {k: v for k, v in SUMMARY["config"].items() if k != "source"}  # what generation's summary keeps
    assert echo["name"] == "movies-sample"
    card = render_dataset_card(
        write_synthesis(tmp_path / "s", summary={**SUMMARY, "config": echo}), repo_id="me/x"
    )
    meta = front_matter(str(card))
    assert meta["license"] == "other"
    assert meta["source_datasets"] == ["redial", "ievalm-crs", "movielens-ml-latest-small"]
    assert "Harper and Joseph A. Konstan" in card.text  # MovieLens asks to be cited


@pytest.mark.parametrize(
    ("pipeline", "license", "source_ids"),
    [
        ("movies-sample", "other", {"redial", "ievalm-crs", "movielens-ml-latest-small"}),
        ("movielens-latest-small", "other", {"movielens-ml-latest-small"}),
        ("movie-reviews-ml100k", "unknown", {"movielens-100k", "scraped-movie-reviews"}),
        ("redial-catalogue", "cc-by-4.0", {"redial", "ievalm-crs"}),
    ],
)
def test_the_shipped_pipelines_get_their_sources_and_strictest_licence(pipeline, license, source_ids) -> None:
    sources = resolve_sources({"name": pipeline})
    assert {s.source_id for s in sources} == source_ids
    assert most_restrictive_license(s.license for s in sources) == license


def test_model_card_from_a_training_run_redacts_tokens_and_names_the_model_by_default() -> None:
    recipe = {"learning_rate": 2e-4, "hub_token": "hf_secretvalue123", "lr_scheduler_type": ("cosine",)}
    card = render_model_card(
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
        dataset="me/movies-crs",
        recipe=recipe,
        training={"rows": 120, "train_seconds": 33.5},
        metrics={"redial": {"recall@10": 0.1}},
    )
    assert card.data.model_name == "SmolLM2-135M-Instruct-revdial-crs"
    assert "hf_secretvalue123" not in str(card) and "hub_token: <redacted>" in str(card)
    assert "| rows | 120 |" in card.text and "| train_seconds | 33.5 |" in card.text


def test_local_paths_stay_out_of_the_model_card_metadata(tmp_path: Path) -> None:
    local = tmp_path / "runs" / "movies"
    local.mkdir(parents=True)
    card = render_model_card(base_model=str(tmp_path / "base"), dataset=str(local))
    assert card.data.base_model is None and card.data.datasets is None
    assert f"`{local}` (local)" in card.text


def test_eval_results_come_from_a_revdial_eval_report() -> None:
    from revdial.hub.cards import eval_results_from_report

    report = {
        "benchmark": "inspired",
        "metrics": {
            "all_items": {"n_turns": 40, "recall@10": {"mean": 0.2, "ci_low": 0.1, "ci_high": 0.3}},
            "exclude_mentioned": {"n_turns": 40, "recall@10": {"mean": 0.25, "ci_low": 0.1, "ci_high": 0.4}},
        },
    }
    [result] = eval_results_from_report(report, setting="exclude_mentioned")
    assert (result.dataset_name, result.metric_name, result.metric_value) == ("INSPIRED", "Recall@10", 0.25)
    card = render_model_card(base_model="org/base", eval_results=eval_results_from_report(report))
    _, [parsed] = model_index_to_eval_results(card.data.to_dict()["model-index"])
    assert parsed.metric_value == 0.2 and parsed.metric_config == "all_items"


def test_a_pulled_argilla_review_is_reported_on_the_card(tmp_path: Path) -> None:
    argilla = {
        "dataset": "movies-review",
        "workspace": "team",
        "api_url": "http://10.0.0.5:6900",
        "min_quality": 3,
        "records": 6,
        "label_status": {"submitted": 5, "pending": 1},
        "kept": 4,
        "dropped": {"low_quality": {"rows": 1, "why": "quality below --min-quality"}},
        "corrected": 2,
    }
    card = render_dataset_card(
        write_synthesis(tmp_path / "s", summary={**SUMMARY, "argilla": argilla}), repo_id="me/x"
    )
    text = card.text
    assert "## Human review (Argilla)" in text and "| Records reviewed | 6 |" in text
    assert "| Label status `submitted` | 5 |" in text and "| Answers corrected by annotators | 2 |" in text
    assert "| Dropped: `low_quality` (quality below --min-quality) | 1 |" in text
    assert "10.0.0.5" not in str(card)  # the server address is not the public's business


def test_a_model_cards_licence_follows_its_training_data(tmp_path):
    from revdial.hub.cards import render_model_card, training_data_license

    from .synthesis import SUMMARY, write_synthesis

    summary = {
        **SUMMARY,
        "config": {
            **SUMMARY["config"],
            "card": {
                "sources": [
                    {"name": "Reviews", "license": "cc-by-nc-4.0"},
                    {"name": "Catalogue", "license": "mit"},
                ]
            },
        },
    }
    run = write_synthesis(tmp_path / "run", summary=summary)
    assert training_data_license(str(run)) == "cc-by-nc-4.0"
    card = render_model_card(base_model="HuggingFaceTB/SmolLM2-135M-Instruct", dataset=str(run))
    assert card.data.license == "cc-by-nc-4.0"
    assert training_data_license(str(tmp_path / "nothing-known")) == "other"  # never a made-up apache-2.0


def test_he2023_benchmarks_have_display_names_and_splits() -> None:
    from revdial.hub.cards import eval_results_from_metrics

    results = eval_results_from_metrics(
        {"he2023-redial": {"recall@10": 0.1}, "he2023-inspired": {"ndcg@5": 0.2}}
    )
    assert [(r.dataset_name, r.dataset_split) for r in results] == [
        ("ReDial (He et al. 2023 split)", "test"),
        ("INSPIRED (He et al. 2023 split)", "test"),
    ]


def test_the_source_registry_is_data_and_recognises_the_amazon_sample() -> None:
    from revdial.hub.cards import SOURCES_FILE, resolve_sources

    assert SOURCES_FILE.suffix == ".yaml"
    config = {
        "source": {"tables": {"reviews": {"path": "../../shared/data/amazon2023_sample/reviews.parquet"}}}
    }
    assert [s.hub_id for s in resolve_sources(config)] == ["McAuley-Lab/Amazon-Reviews-2023"]


def test_the_card_lists_the_prompt_templates_of_the_runs_domain(synthesis_dir: Path) -> None:
    card = str(render_dataset_card(synthesis_dir, repo_id="me/x", config={"name": "x", "domain": "products"}))
    assert "products/templates/style_gift.jinja" in card and "shared/request.jinja" in card
    assert "style_mood.jinja" not in card and "**products** domain" in card
