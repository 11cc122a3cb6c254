"""Test-wide setup: no network, caches inside the work tree, the ../shared/data fixture, a tiny random chat LM."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Caches stay in the work tree; the Hub is unreachable here and in CI, so run offline.
os.environ.setdefault("HF_HOME", str(ROOT / ".cache" / "hf"))
os.environ.setdefault("DISTILABEL_CACHE_DIR", str(ROOT / ".cache" / "distilabel"))
os.environ.setdefault("REVDIAL_CACHE", str(ROOT / ".cache" / "revdial"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(os.environ.get("REVDIAL_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real ReDial, INSPIRED dev, MovieLens, reviews); skips the test on a fresh clone without it."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(
            f"real data not present at {SHARED_DATA} (a fresh clone has no ../shared; set REVDIAL_SHARED_DATA)"
        )
    return SHARED_DATA


CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> Path:
    """A 2-layer random Llama and a byte-level BPE tokenizer with a ChatML template, saved offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-lm")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = [
        "system user assistant Recommend movies: 1. Heat (1995) 2. The Matrix (1999) Toy Story Alien Jaws"
    ] * 5
    tokenizer.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHATML
    fast.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    import torch

    with (
        torch.random.fork_rng()
    ):  # the same weights whichever test builds it first (its outputs are asserted)
        torch.manual_seed(0)
        LlamaForCausalLM(config).save_pretrained(folder)
    return folder
