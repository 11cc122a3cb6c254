"""Small, real-format fixtures for the CRS tests: a tiny random Llama with a chat template, tiny benchmark files."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

MOVIES = {
    "101": "Heat (1995)",
    "102": "The Matrix (1999)",
    "103": "Toy Story (1995)",
    "104": "Alien (1979)",
    "105": "Jaws (1975)",
    "106": "Se7en (1995)",
}


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
    corpus = ["system user assistant Recommend movies: 1. Heat (1995) 2. The Matrix (1999) Toy Story Alien Jaws"] * 5
    tokenizer.train_from_iterator(
        corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                    initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHATML
    fast.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=1024, bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def _message(sender: int, text: str) -> dict:
    return {"senderWorkerId": sender, "text": text, "timeOffset": 0, "messageId": 0}


@pytest.fixture()
def redial_dir(tmp_path) -> Path:
    """Official-format ReDial: test_data.jsonl.gz + movies_with_mentions.csv + a train split for popularity."""
    folder = tmp_path / "redial"
    (folder / "original").mkdir(parents=True)
    (folder / "train_split_partial").mkdir()
    with open(folder / "original" / "movies_with_mentions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["movieId", "movieName", "nbMentions"])
        for movie_id, title in MOVIES.items():
            writer.writerow([movie_id, title.replace(" (", "  ("), 1])
    dialogues = [
        {
            "conversationId": "c1",
            "initiatorWorkerId": 1,
            "respondentWorkerId": 2,
            "movieMentions": {"101": "Heat (1995)", "102": "The Matrix (1999)", "104": "Alien (1979)"},
            "respondentQuestions": {},
            "messages": [
                _message(1, "hi, I loved @101"),
                _message(1, "anything similar?"),
                _message(2, "Try @102"),
                _message(1, "seen it, another one?"),
                _message(2, "@104 or @101 again"),
            ],
        },
        {
            "conversationId": "c2",
            "initiatorWorkerId": 5,
            "respondentWorkerId": 6,
            "movieMentions": {"103": "Toy Story (1995)"},
            "respondentQuestions": {},
            "messages": [_message(6, "How about @103?"), _message(5, "ok"), _message(6, "@103 it is")],
        },
    ]
    with gzip.open(folder / "original" / "test_data.jsonl.gz", "wt") as handle:
        for dialogue in dialogues:
            handle.write(json.dumps(dialogue) + "\n")
    train = {
        "conversationId": "t1", "initiatorWorkerId": 1, "respondentWorkerId": 2,
        "movieMentions": {"105": "Jaws (1975)", "106": "Se7en (1995)"},
        "respondentQuestions": {"105": {"suggested": 1}, "106": {"suggested": 0}},
        "messages": [_message(1, "hi"), _message(2, "@105")],
    }
    with gzip.open(folder / "train_split_partial" / "train_split_union.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(train) + "\n" + json.dumps({**train, "conversationId": "t2"}) + "\n")
    return folder


INSPIRED_HEADER = [
    "dialog_id", "utt_id", "speaker", "turn_id", "text", "text_with_placeholder", "movies", "genres", "people_names",
    "movie_dict", "genre_dict", "actor_dict", "director_dict", "others_dict", "expert_label", "second_label",
    "fine_label", "coarse_label", "movie_id",
]


@pytest.fixture()
def inspired_tsv(tmp_path) -> Path:
    rows = [
        ("d1", "1", "RECOMMENDER", "Hi! What do you like?", ""),
        ("d1", "2", "SEEKER", "I loved Heat", "Heat (1995)"),
        ("d1", "3", "RECOMMENDER", "Then watch The Matrix", "The Matrix (1999)"),
        ("d1", "4", "RECOMMENDER", "or Alien", "Alien (1979)"),
        ("d1", "5", "SEEKER", "great", ""),
    ]
    movie_dict = "{'Heat (1995)': 0, 'The Matrix (1999)': 1, 'Alien (1979)': 2, 'Jaws (1975)': 3}"
    folder = tmp_path / "inspired" / "original" / "dialog_data"
    folder.mkdir(parents=True)
    path = folder / "dev.tsv"
    with open(path, "w") as handle:
        handle.write("\t".join(INSPIRED_HEADER) + "\n")
        for dialog_id, utt, speaker, text, movies in rows:
            cells = dict.fromkeys(INSPIRED_HEADER, "")
            cells.update(dialog_id=dialog_id, utt_id=utt, speaker=speaker, text=text, movies=movies,
                         movie_dict=movie_dict)
            handle.write("\t".join(cells[c] for c in INSPIRED_HEADER) + "\n")
    return path
