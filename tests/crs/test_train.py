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
        "messages": [system, user, assistant],
        "prompt": [system, user],
        "completion": [assistant],
        "target_item_id": "102",
        "target_title": "The Matrix (1999)",
        "recommended_item_ids": ["102", "104"],
        "recommended_titles": ["The Matrix (1999)", "Alien (1979)"],
        "hallucinated_titles": [],
        "style": "mood",
        "seed_id": f"s{i}",
        "selection_strategy": "random",
        "selection_rank": rank,
        "generator_model": "fake",
        "request": user["content"],
        "seed_text": "Heat (1995)",
    }


@pytest.fixture()
def distiset_dir(tmp_path) -> Path:
    """A folder shaped like `Distiset.save_to_disk`: default/train holds the SFT rows."""
    out = tmp_path / "synth"
    DatasetDict({"train": Dataset.from_list([_row(i, i) for i in range(6)])}).save_to_disk(
        str(out / "default")
    )
    return out


def _args(tiny_lm: Path, dataset: Path, out: Path, *extra: str):
    return parse_recipe(
        ROOT / "recipes/smollm2-135m-instruct/sft/config_lora.yaml",
        [
            "--model_name_or_path",
            str(tiny_lm),
            "--dataset_name",
            str(dataset),
            "--output_dir",
            str(out),
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "2",
            "--logging_steps",
            "1",
            *extra,
        ],
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


def test_push_to_hub_uploads_revdials_card_with_its_model_index(tiny_lm, distiset_dir, tmp_path, monkeypatch):
    import huggingface_hub
    import transformers
    import trl

    uploaded: dict[str, bytes] = {}

    def trl_push(
        self, *args, **kwargs
    ):  # what TRL does: rewrite README.md with its own card, upload the folder
        (Path(self.args.output_dir) / "README.md").write_text(
            "---\nlibrary_name: transformers\n---\nTRL card\n"
        )

    def upload_file(*, path_or_fileobj, path_in_repo, repo_id, **kwargs):
        uploaded[path_in_repo] = Path(path_or_fileobj).read_bytes()

    monkeypatch.setattr(transformers.Trainer, "init_hf_repo", lambda self, *a, **k: None)
    monkeypatch.setattr(trl.SFTTrainer, "push_to_hub", trl_push)
    monkeypatch.setattr(huggingface_hub, "upload_file", upload_file)
    report = {"benchmark": "redial", "n_turns": 4, "metrics": {"all_items": {"recall@10": {"mean": 0.25}}}}
    monkeypatch.setattr("revdial.crs.evaluate.eval_command", lambda **kwargs: report)
    main(
        *_args(
            tiny_lm,
            distiset_dir,
            tmp_path / "run",
            "--push_to_hub",
            "true",
            "--hub_model_id",
            "me/crs",
            "--eval_benchmark",
            "redial",
            "--eval_limit",
            "4",
        )
    )
    card = uploaded["README.md"].decode()
    assert "TRL card" not in card and "model-index" in card
    assert "test[:4]" in card and "first 4 turns" in card  # evaluated on a subset, and the card says so


def test_the_default_students_card_names_its_hub_base_model(distiset_dir, tmp_path):
    from types import SimpleNamespace

    from revdial.crs.train import STUDENT_HUB_ID, _write_model_card

    model_args = SimpleNamespace(model_name_or_path="revdial://smollm2-135m-instruct", use_peft=False)
    training_args = SimpleNamespace(hub_model_id=None, to_dict=lambda: {"learning_rate": 1e-4})
    script_args = CRSScriptArguments(dataset_name=str(distiset_dir))
    (tmp_path / "m").mkdir()
    card = _write_model_card(tmp_path / "m", script_args, training_args, model_args, {"rows": 6}, None)
    assert card.data.base_model == STUDENT_HUB_ID


@pytest.mark.parametrize(("native", "bf16", "dtype"), [(True, True, "bfloat16"), (False, False, "float32")])
def test_auto_precision_trains_in_bfloat16_only_where_the_hardware_computes_it(
    monkeypatch, native, bf16, dtype
):
    from revdial.crs.train import resolve_precision
    from revdial.selection import features

    monkeypatch.setattr(features, "resolve_dtype", lambda dtype, device="cpu": "bf16" if native else "fp32")
    settings = {"bf16": "auto", "dtype": "auto", "use_cpu": True, "lora_dropout": 0}
    assert resolve_precision(settings) == {"bf16": bf16, "dtype": dtype, "use_cpu": True, "lora_dropout": 0}
    as_set = {"bf16": True, "dtype": "bfloat16"}
    assert resolve_precision(as_set) == as_set
