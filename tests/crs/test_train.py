"""`revdial train`: recipes parse into TRL's dataclasses; SFT runs on contract-shaped data; bad data fails clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict

from revdial.crs.student import StudentModelError
from revdial.crs.train import (
    CRSScriptArguments,
    TrainingDataError,
    build_trainer,
    load_training_dataset,
    main,
    parse_recipe,
)

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*/sft/config_*.yaml"))


def _row(i: int, rank: int) -> dict:
    system = {"role": "system", "content": "You are a movie recommender."}
    user = {"role": "user", "content": f"I want something like Heat, number {i}"}
    assistant = {"role": "assistant", "content": "1. The Matrix (1999) - fast\n2. Alien (1979) - tense"}
    return {
        "messages": [system, user, assistant], "prompt": [system, user], "completion": [assistant],
        "target_item_id": "102", "target_title": "The Matrix (1999)", "recommended_item_ids": ["102", "104"],
        "recommended_titles": ["The Matrix (1999)", "Alien (1979)"], "hallucinated_titles": [], "style": "mood",
        "seed_id": f"s{i}", "selection_strategy": "random", "selection_rank": rank, "generator_model": "fake",
        "request": user["content"], "seed_text": "Heat (1995)",
    }


@pytest.fixture()
def distiset_dir(tmp_path) -> Path:
    """A folder shaped like `Distiset.save_to_disk`: default/train holds the SFT rows."""
    out = tmp_path / "synth"
    DatasetDict({"train": Dataset.from_list([_row(i, i) for i in range(6)])}).save_to_disk(str(out / "default"))
    return out


def _args(tiny_lm: Path, dataset: Path, out: Path, *extra: str):
    return parse_recipe(
        ROOT / "recipes/smollm2-135m-instruct/sft/config_lora.yaml",
        ["--model_name_or_path", str(tiny_lm), "--dataset_name", str(dataset), "--output_dir", str(out),
         "--max_steps", "2", "--per_device_train_batch_size", "2", "--logging_steps", "1", *extra],
    )


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_every_recipe_parses_into_trl_dataclasses(recipe):
    text = recipe.read_text()
    # GPU recipes ask for bf16, which transformers refuses to even parse on a CPU-only machine.
    overrides = [] if "smollm2" in recipe.parts[-3] else ["--bf16", "false"]
    script_args, training_args, model_args = parse_recipe(recipe, overrides)
    assert isinstance(script_args, CRSScriptArguments)
    assert training_args.completion_only_loss is True
    assert model_args.use_peft == recipe.name.endswith("lora.yaml")
    assert script_args.dataset_config == "default"
    if "smollm2" in recipe.parts[-3]:
        assert model_args.model_name_or_path == "revdial://smollm2-135m-instruct"
        assert training_args.bf16 is False
    else:
        assert "bf16: true" in text and "/" in model_args.model_name_or_path


def test_overrides_after_the_recipe_win():
    script_args, training_args, _ = parse_recipe(
        RECIPES[0], ["--learning_rate", "0.5", "--max_selection_rank", "8", "--bf16", "false"]
    )
    assert training_args.learning_rate == 0.5 and script_args.max_selection_rank == 8


def test_lora_training_runs_two_steps_and_loss_falls_on_the_completion_only(tiny_lm, distiset_dir, tmp_path):
    trainer, dataset = build_trainer(*_args(tiny_lm, distiset_dir, tmp_path / "probe"))
    assert dataset.column_names == ["prompt", "completion"]
    first = trainer.train_dataset[0]
    # TRL folds the completion mask into the labels: prompt tokens are -100 (no loss), the answer is trained on.
    trained = [label != -100 for label in first["labels"]]
    assert not trained[0] and trained[-1] and 0 < sum(trained) < len(trained)
    answer = trainer.processing_class.decode([t for t, keep in zip(first["input_ids"], trained) if keep])
    assert "The Matrix" in answer and "Heat" not in answer

    out = main(*_args(tiny_lm, distiset_dir, tmp_path / "run"))
    assert (out / "adapter_config.json").exists() and (out / "tokenizer_config.json").exists()
    summary = json.loads((out / "revdial_train_summary.json").read_text())
    assert summary["rows"] == 6 and summary["peft"] is True and summary["train_loss"] > 0
    card = (out / "README.md").read_text()
    assert "lora" in card.lower() and str(distiset_dir) in card


def test_budget_slice_keeps_rows_whose_seed_rank_is_below_b(distiset_dir):
    args = CRSScriptArguments(dataset_name=str(distiset_dir), max_selection_rank=3)
    assert len(load_training_dataset(args)) == 3


def test_messages_only_dataset_is_split_at_the_last_assistant_turn(tmp_path):
    rows = [{"messages": _row(0, 0)["messages"]}]
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "msgs"))
    dataset = load_training_dataset(CRSScriptArguments(dataset_name=str(tmp_path / "msgs")))
    assert [m["role"] for m in dataset[0]["prompt"]] == ["system", "user"]
    assert dataset[0]["completion"][0]["content"].startswith("1. The Matrix")


def test_dataset_without_messages_names_its_columns(tmp_path):
    Dataset.from_list([{"text": "hello", "label": 1}]).save_to_disk(str(tmp_path / "plain"))
    with pytest.raises(TrainingDataError, match="needs 'prompt' and 'completion'.*columns are: text, label"):
        load_training_dataset(CRSScriptArguments(dataset_name=str(tmp_path / "plain")))


def test_empty_dataset_is_an_error(tmp_path):
    Dataset.from_list([_row(0, 0)]).filter(lambda row: False).save_to_disk(str(tmp_path / "empty"))
    with pytest.raises(TrainingDataError, match="0 rows"):
        load_training_dataset(CRSScriptArguments(dataset_name=str(tmp_path / "empty")))


def test_a_folder_that_is_not_a_model_is_named(tmp_path, distiset_dir):
    (tmp_path / "notamodel").mkdir()
    (tmp_path / "notamodel" / "notes.txt").write_text("hi")
    with pytest.raises(StudentModelError, match="notamodel: not a model folder.*notes.txt"):
        build_trainer(*_args(tmp_path / "notamodel", distiset_dir, tmp_path / "x"))
