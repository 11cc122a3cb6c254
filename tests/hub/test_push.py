"""Push specification: exactly which files and card land, no secret in any of them, and what lands loads and trains.

Only HfApi's public methods (create_repo, list_repo_files, create_commit) are stubbed: everything before them — the
parquet export, the card, the secret scan, the commit operations — is the real code path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from typer.testing import CliRunner

from revdial.hub import push as push_module
from revdial.hub.push import HubPushError, SecretLeakError, build_push_folder, push_dataset

from .synthesis import SUMMARY, write_synthesis

TOKEN = "hf_SENTINELtokenVALUE0123456789"
OPENAI_KEY = "sk-SENTINELopenaiKEY0123456789"
EXPECTED_FILES = [
    "README.md",
    "candidates/train-00000-of-00001.parquet",
    "default/train-00000-of-00001.parquet",
    "funnel.png",
    "pipeline.yaml",
    "rejects/train-00000-of-00001.parquet",
    "summary.json",
]


class HubRecorder:
    """Stands in for the Hub behind HfApi's public methods; keeps what each call received."""

    def __init__(self, existing: list[str] | None = None) -> None:
        self.existing = existing or [".gitattributes"]
        self.calls: list[str] = []
        self.created: dict = {}
        self.uploaded: dict[str, bytes] = {}
        self.deleted: list[str] = []
        self.tokens: set = set()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> HubRecorder:
        recorder = self

        def create_repo(self, repo_id, *, token=None, private=None, repo_type=None, exist_ok=False, **kwargs):
            recorder.calls.append("create_repo")
            recorder.tokens.add(token)
            recorder.created = {
                "repo_id": repo_id,
                "private": private,
                "repo_type": repo_type,
                "exist_ok": exist_ok,
            }
            return f"https://huggingface.co/datasets/{repo_id}"

        def list_repo_files(self, repo_id, *, repo_type=None, token=None, **kwargs):
            recorder.calls.append("list_repo_files")
            return list(recorder.existing)

        def create_commit(self, repo_id, operations, *, commit_message, repo_type=None, token=None, **kwargs):
            recorder.calls.append("create_commit")
            recorder.tokens.add(token)
            assert repo_type == "dataset"
            for op in operations:
                if isinstance(op, CommitOperationAdd):
                    with op.as_file() as f:
                        recorder.uploaded[op.path_in_repo] = f.read()
                elif isinstance(op, CommitOperationDelete):
                    recorder.deleted.append(op.path_in_repo)
            return type(
                "CommitInfo", (), {"commit_url": f"https://huggingface.co/datasets/{repo_id}/commit/abc"}
            )()

        monkeypatch.setattr(HfApi, "create_repo", create_repo)
        monkeypatch.setattr(HfApi, "list_repo_files", list_repo_files)
        monkeypatch.setattr(HfApi, "create_commit", create_commit)
        return self


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> HubRecorder:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    return HubRecorder().install(monkeypatch)


def searchable(path: str, data: bytes, tmp_path: Path) -> str:
    if path.endswith(".parquet"):
        local = tmp_path / "probe.parquet"
        local.write_bytes(data)
        return json.dumps(pq.read_table(local).to_pylist(), default=str)
    return data.decode("utf-8", errors="replace")


def test_push_lands_every_config_the_run_files_and_the_card(hub: HubRecorder, synthesis_dir: Path) -> None:
    result = push_dataset(synthesis_dir, "me/movies-crs", private=True)
    assert hub.calls == ["create_repo", "list_repo_files", "create_commit"]
    assert hub.created == {
        "repo_id": "me/movies-crs",
        "private": True,
        "repo_type": "dataset",
        "exist_ok": True,
    }
    assert sorted(hub.uploaded) == EXPECTED_FILES == result["files"]
    assert hub.tokens == {TOKEN}
    card = hub.uploaded["README.md"].decode()
    meta = yaml.safe_load(card.split("---\n", 2)[1])
    # every data file the card declares is in the commit
    declared = [f["path"] for c in meta["configs"] for f in c["data_files"]]
    assert sorted(declared) == [p for p in EXPECTED_FILES if p.endswith(".parquet")]
    # revdial's card over distilabel's: revdial's sections and metadata, distilabel's reproduce/examples sections
    assert "## How it was made" in card and "## distilabel" in card
    assert (
        'distilabel pipeline run --config "https://huggingface.co/datasets/me/movies-crs/raw/main/pipeline.yaml"'
        in card
    )
    assert "Configuration: rejects" in card
    assert card.count("distilabel-badge-light.png") == 1
    assert "rlaif" not in meta["tags"] and "synthetic" in meta["tags"]
    assert (
        hub.uploaded["pipeline.yaml"] == (synthesis_dir / "distiset_configs" / "pipeline.yaml").read_bytes()
    )
    assert json.loads(hub.uploaded["summary.json"]) == SUMMARY
    assert hub.uploaded["funnel.png"] == (synthesis_dir / "funnel.png").read_bytes()


def test_no_secret_reaches_any_pushed_file(hub: HubRecorder, synthesis_dir: Path, tmp_path: Path) -> None:
    push_dataset(synthesis_dir, "me/movies-crs")
    assert hub.uploaded
    for path, data in hub.uploaded.items():
        text = searchable(path, data, tmp_path)
        assert TOKEN not in text and OPENAI_KEY not in text, path


def test_a_secret_in_the_run_files_stops_the_push_before_any_request(
    hub: HubRecorder, tmp_path: Path
) -> None:
    leaky = {**SUMMARY, "config": {**SUMMARY["config"], "generation": {"api_key": OPENAI_KEY}}}
    directory = write_synthesis(tmp_path / "leaky", summary=leaky)
    with pytest.raises(SecretLeakError, match=r"summary.json \(OPENAI_API_KEY\)") as error:
        push_dataset(directory, "me/movies-crs")
    assert OPENAI_KEY not in str(error.value)
    assert hub.calls == []


def test_a_secret_inside_a_parquet_row_is_found_too(hub: HubRecorder, tmp_path: Path) -> None:
    from datasets import Dataset, load_from_disk

    directory = write_synthesis(tmp_path / "s")
    rows = load_from_disk(str(directory / "default"))["train"].to_list()
    rows[0]["request"] = f"my key is {TOKEN}"
    from datasets import DatasetDict

    DatasetDict(train=Dataset.from_list(rows)).save_to_disk(str(tmp_path / "default2"))
    import shutil

    shutil.rmtree(directory / "default")
    shutil.move(str(tmp_path / "default2"), str(directory / "default"))
    with pytest.raises(
        SecretLeakError, match=r"default/train-00000-of-00001.parquet \(HF_TOKEN, the Hugging Face token\)"
    ):
        push_dataset(directory, "me/movies-crs")
    assert hub.calls == []


def test_missing_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, synthesis_dir: Path) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(push_module, "get_token", lambda: None)
    recorder = HubRecorder().install(monkeypatch)
    with pytest.raises(HubPushError, match="set HF_TOKEN or log in"):
        push_dataset(synthesis_dir, "me/movies-crs")
    assert recorder.calls == []


def test_a_bad_repo_id_is_refused(hub: HubRecorder, synthesis_dir: Path) -> None:
    with pytest.raises(HubPushError, match="expected OWNER/NAME"):
        push_dataset(synthesis_dir, "movies-crs")


def test_parquet_files_of_an_earlier_push_that_are_not_rewritten_are_deleted(
    monkeypatch: pytest.MonkeyPatch, synthesis_dir: Path
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    old = [
        "README.md",
        "default/train-00000-of-00001.parquet",
        "default/train-00001-of-00002.parquet",
        "x.md",
    ]
    recorder = HubRecorder(existing=old).install(monkeypatch)
    result = push_dataset(synthesis_dir, "me/movies-crs")
    assert recorder.deleted == result["deleted"] == ["default/train-00001-of-00002.parquet"]


def test_cli_push_reports_the_files(hub: HubRecorder, synthesis_dir: Path) -> None:
    from revdial.cli import app

    result = CliRunner().invoke(app, ["push", str(synthesis_dir), "--repo-id", "me/movies-crs", "--private"])
    assert result.exit_code == 0, result.output
    assert "Pushed 7 files" in result.output and "default/train-00000-of-00001.parquet" in result.output
    assert hub.created["private"] is True


def test_what_lands_loads_with_load_dataset_as_conversational_sft_rows(
    synthesis_dir: Path, tmp_path: Path
) -> None:
    from datasets import load_dataset
    from trl.data_utils import is_conversational

    folder = tmp_path / "repo"
    build_push_folder(synthesis_dir, folder, repo_id="me/movies-crs")
    train = load_dataset(
        str(folder), split="train", cache_dir=str(tmp_path / "cache")
    )  # the card's default config
    assert len(train) == 6
    row = train[0]
    assert is_conversational(row)
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["prompt"] + row["completion"] == row["messages"]
    rejects = load_dataset(str(folder), "rejects", split="train", cache_dir=str(tmp_path / "cache"))
    assert sorted(rejects["reason"]) == ["leak", "missing_target", "missing_target"]


def _tiny_llama(tmp_path: Path, texts: list[str]) -> Path:
    """A random 1-layer Llama and a word-level tokenizer with a chat template, saved for SFTTrainer (offline)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=specials))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} </s> {% endfor %}"
        "{% if add_generation_prompt %}<|assistant|> {% endif %}"
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    path = tmp_path / "tiny-llama"
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_sft_trainer_trains_one_step_on_the_pushed_rows_as_they_are(
    synthesis_dir: Path, tmp_path: Path
) -> None:
    from datasets import load_dataset
    from trl import SFTConfig, SFTTrainer

    folder = tmp_path / "repo"
    build_push_folder(synthesis_dir, folder, repo_id="me/movies-crs")
    train = load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "cache"))
    texts = [m["content"] for row in train for m in row["messages"]]
    model_path = _tiny_llama(tmp_path, texts)
    args = SFTConfig(
        output_dir=str(tmp_path / "out"),
        max_steps=1,
        per_device_train_batch_size=2,
        bf16=False,
        fp16=False,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        use_cpu=True,
        max_length=256,
        dataloader_num_workers=0,
    )
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    trainer = SFTTrainer(model=str(model_path), args=args, train_dataset=train)
    output = trainer.train()
    assert output.global_step == 1
    assert output.training_loss > 0


def test_list_columns_empty_in_every_row_land_typed_as_strings(tmp_path: Path) -> None:
    from datasets import Dataset, DatasetDict, List, Value, load_dataset

    directory = write_synthesis(tmp_path / "s", kept=2)
    rows = [
        {k: v for k, v in r.items()} for r in Dataset.load_from_disk(str(directory / "default" / "train"))
    ]
    for row in rows:
        row["hallucinated_titles"] = []
    clean = Dataset.from_list(rows)
    assert clean.features["hallucinated_titles"] == List(Value("null"))
    import shutil

    shutil.rmtree(directory / "default")
    DatasetDict(train=clean).save_to_disk(str(directory / "default"))
    build_push_folder(directory, tmp_path / "repo", repo_id="me/x")
    pushed = load_dataset(str(tmp_path / "repo"), split="train", cache_dir=str(tmp_path / "cache"))
    assert pushed.features["hallucinated_titles"] == List(Value("string"))
    assert pushed["hallucinated_titles"] == [[], []]


def test_an_unreachable_hub_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, synthesis_dir: Path) -> None:
    from huggingface_hub.errors import OfflineModeIsEnabled

    monkeypatch.setenv("HF_TOKEN", TOKEN)

    def offline(self, *args, **kwargs):
        raise OfflineModeIsEnabled("Cannot reach https://huggingface.co: offline mode is enabled.")

    monkeypatch.setattr(HfApi, "create_repo", offline)
    with pytest.raises(HubPushError, match="me/movies-crs: the Hub refused the push or could not be reached"):
        push_dataset(synthesis_dir, "me/movies-crs")


def test_every_config_the_card_lists_loads_and_an_empty_one_is_not_pushed(tmp_path: Path) -> None:
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    run = write_synthesis(tmp_path / "run", rejects=[])  # a run that kept every seed: `rejects` has no row
    folder = tmp_path / "repo"
    written = build_push_folder(run, folder, repo_id="me/movies-crs")
    assert not any(path.startswith("rejects/") for path in written)
    listed = [entry["config_name"] for entry in DatasetCard.load(folder / "README.md").data.configs]
    assert "rejects" not in listed and "default" in listed
    assert "Configuration: rejects" not in (folder / "README.md").read_text()
    for name in listed:
        assert len(load_dataset(str(folder), name, split="train", cache_dir=str(tmp_path / "cache"))) > 0, (
            name
        )
