"""Small, real-format fixtures for the CRS tests: tiny benchmark files (the tiny random Llama is in tests/conftest.py)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

MOVIES = {
    "101": "Heat (1995)",
    "102": "The Matrix (1999)",
    "103": "Toy Story (1995)",
    "104": "Alien (1979)",
    "105": "Jaws (1975)",
    "106": "Se7en (1995)",
}


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
        "conversationId": "t1",
        "initiatorWorkerId": 1,
        "respondentWorkerId": 2,
        "movieMentions": {"105": "Jaws (1975)", "106": "Se7en (1995)"},
        "respondentQuestions": {"105": {"suggested": 1}, "106": {"suggested": 0}},
        "messages": [_message(1, "hi"), _message(2, "@105")],
    }
    with gzip.open(folder / "train_split_partial" / "train_split_union.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(train) + "\n" + json.dumps({**train, "conversationId": "t2"}) + "\n")
    return folder


INSPIRED_HEADER = [
    "dialog_id",
    "utt_id",
    "speaker",
    "turn_id",
    "text",
    "text_with_placeholder",
    "movies",
    "genres",
    "people_names",
    "movie_dict",
    "genre_dict",
    "actor_dict",
    "director_dict",
    "others_dict",
    "expert_label",
    "second_label",
    "fine_label",
    "coarse_label",
    "movie_id",
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
            cells.update(
                dialog_id=dialog_id,
                utt_id=utt,
                speaker=speaker,
                text=text,
                movies=movies,
                movie_dict=movie_dict,
            )
            handle.write("\t".join(cells[c] for c in INSPIRED_HEADER) + "\n")
    return path
