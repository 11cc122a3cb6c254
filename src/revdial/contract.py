"""The synthesis output contract: the columns of a `revdial synthesize` Distiset, their types and what they mean.

    default     one SFT row per kept dialogue, in TRL's conversational format (messages, prompt + completion)
    rejects     one row per selected seed that kept nothing, with the stage and reason of its first reject
    candidates  every generated row with its verdict (an audit config; its columns follow the pipeline)

Curation writes these columns, the run summary types empty configs with them, the Argilla schema and pull rebuild
rows from them, the cards document them and training reads them. This module is their one definition.
"""

from __future__ import annotations

import datasets

DEFAULT_CONFIG, REJECTS_CONFIG, CANDIDATES_CONFIG = "default", "rejects", "candidates"

_STRING = datasets.Value("string")
_STRINGS = datasets.List(_STRING)
_RANK = datasets.Value("int64")
_TURNS = datasets.List({"role": _STRING, "content": _STRING})

# (name, type, doc): one line per column, in the order the datasets have them.
_DEFAULT = (
    (
        "messages",
        _TURNS,
        "The conversation in TRL's conversational format: system, user and assistant turns.",
    ),
    ("prompt", _TURNS, "System + user turns (TRL prompt-completion format)."),
    ("completion", _TURNS, "The one assistant turn: the recommendation answer."),
    ("target_item_id", _STRING, "Catalogue id of the seed item: the answer must recommend it."),
    ("target_title", _STRING, "Title of the seed item."),
    (
        "recommended_item_ids",
        _STRINGS,
        "Catalogue ids of the recommended titles that ground in the catalogue, in order.",
    ),
    ("recommended_titles", _STRINGS, "Recommended titles as the generator wrote them."),
    ("hallucinated_titles", _STRINGS, "Recommended titles that match no catalogue item."),
    ("style", _STRING, "The request style template (mood, similar-to, attributes, negative, occasion)."),
    ("seed_id", _STRING, "Stable id of the seed (item x review x user signal) the row was made from."),
    ("selection_strategy", _STRING, "Active-selection strategy that picked the seed."),
    ("selection_rank", _RANK, "0-based rank of the seed in the selection order."),
    ("generator_model", _STRING, "The LLM that generated the request and the answer."),
    ("request", _STRING, "The generated user request."),
    ("seed_text", _STRING, "The rendered seed given to the generator (review text PII-scrubbed)."),
)
_REJECTS = (
    ("seed_id", _STRING, "Stable id of the seed that kept no row."),
    ("selection_rank", _RANK, "0-based rank of the seed in the selection order."),
    ("stage", _STRING, "Pipeline stage that rejected the seed."),
    ("reason", _STRING, "Reject reason code."),
    ("detail", _STRING, "Human-readable detail of the reject."),
)
# Columns of the `candidates` audit config that a card documents (the config carries the pipeline's other columns).
_CANDIDATE_DOCS = {
    "reject_reason": "Why this generated row was not kept (empty when kept).",
    "parsed_titles": "Titles parsed from the generator's answer.",
    "tokens_in": "Prompt tokens of the LLM calls for this row.",
    "tokens_out": "Completion tokens of the LLM calls for this row.",
    "model_name": "The LLM that generated the row.",
}

DEFAULT_FEATURES = datasets.Features({name: kind for name, kind, _ in _DEFAULT})
REJECTS_FEATURES = datasets.Features({name: kind for name, kind, _ in _REJECTS})
# The least a `candidates` config holds (an empty run writes just these).
CANDIDATES_FEATURES = datasets.Features({"seed_id": _STRING, "reject_reason": _STRING})

DEFAULT_COLUMNS: tuple[str, ...] = tuple(DEFAULT_FEATURES)
REJECTS_COLUMNS: tuple[str, ...] = tuple(REJECTS_FEATURES)

COLUMN_DOCS: dict[str, str] = {
    **{name: doc for name, _, doc in _REJECTS},
    **{name: doc for name, _, doc in _DEFAULT},
    **_CANDIDATE_DOCS,
}

FEATURES = {
    DEFAULT_CONFIG: DEFAULT_FEATURES,
    REJECTS_CONFIG: REJECTS_FEATURES,
    CANDIDATES_CONFIG: CANDIDATES_FEATURES,
}
