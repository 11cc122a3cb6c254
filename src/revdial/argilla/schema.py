"""The Argilla dataset revdial pushes for review, and the mapping between a synthesis row and an Argilla record.

One record per SFT row. The annotator sees the conversation (a ChatField), the seed material the generator was
given, and how the recommended titles matched the catalogue; answers four questions; and can filter by style,
selection strategy and rank, target item and hallucination count. Every column of the synthesis output contract is
kept on the record (fields or metadata; internal ones hidden from annotators), so `revdial argilla pull` can rebuild
the rows from Argilla alone.

The mapping (`record_payload`, `row_from_record_values`, `row_id`) is pure Python; only `build_settings` and
`to_record` import the argilla SDK.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from datasets import List

from revdial.contract import DEFAULT_COLUMNS, DEFAULT_FEATURES

if TYPE_CHECKING:
    import argilla as rg


# Questions, by name.
QUALITY = "quality"
RELEVANT = "relevant"
FLAGS = "flags"
CORRECTED = "corrected_recommendation"
QUALITY_VALUES = (1, 2, 3, 4, 5)
RELEVANT_LABELS = ("yes", "no")
FLAG_LABELS = ("hallucination", "leak", "other")

# Fields, by name.
MESSAGES = "messages"
SEED_TEXT = "seed_text"
CATALOGUE_MATCHES = "catalogue_matches"

# Metadata: (name, kind, visible to annotators). "terms" values are a string or a list of strings.
METADATA = (
    ("style", "terms", True),
    ("selection_strategy", "terms", True),
    ("selection_rank", "integer", True),
    ("target_item_id", "terms", True),
    ("hallucinations", "integer", True),  # derived: len(hallucinated_titles), for "show me the bad ones"
    ("seed_id", "terms", False),
    ("target_title", "terms", False),
    ("generator_model", "terms", False),
    ("request", "terms", False),
    ("recommended_item_ids", "terms", False),
    ("recommended_titles", "terms", False),
    ("hallucinated_titles", "terms", False),
)
# Metadata that holds a list: the contract's list-typed columns.
LIST_METADATA = tuple(name for name, _, _ in METADATA if isinstance(DEFAULT_FEATURES.get(name), List))
DERIVED_METADATA = ("hallucinations",)

SUGGESTION_AGENT = "revdial-checks"

GUIDELINES = """\
Each record is one synthetic conversation: a user request written from a real review, and the assistant's
recommendation list. Judge the assistant turn.

- **quality** (1-5): would this be a good training example for a recommender? 5 = natural request, fitting and
  well-explained recommendations.
- **relevant**: does the list answer the request (the target item is the review's item)?
- **flags**: `hallucination` = a title that is not a real catalogue item; `leak` = the request names the target;
  `other` = anything else that should keep the row out of training.
- **corrected_recommendation** (optional): a better assistant answer. It replaces the assistant turn when the
  labels are pulled back.

The suggestions come from revdial's automatic checks (catalogue grounding and the leak filter), not from a person.
"""


class RowError(ValueError):
    """A synthesis row that cannot become an Argilla record; the message names the row and the column."""


def row_id(row: Mapping[str, Any]) -> str:
    """A stable record id: the seed plus a hash of (style, request), so that pushing the same rows again updates
    the records instead of adding copies, while the k requests made from one seed get different ids."""
    digest = hashlib.sha1(f"{row['style']}\x1f{row['request']}".encode()).hexdigest()[:12]
    return f"{row['seed_id']}-{digest}"


def render_catalogue_matches(row: Mapping[str, Any]) -> str:
    """Markdown for the annotator: the target, each recommended title with the catalogue item it matched, and the
    titles that matched nothing."""
    target = row["target_item_id"]
    lines = [
        f"**Target:** {row['target_title']} (item `{target}`)",
        "",
        "**Recommended, matched in the catalogue:**",
    ]
    titles, ids = list(row["recommended_titles"]), list(row["recommended_item_ids"])
    if len(titles) != len(ids):  # no pairing to show; list both as they are
        lines += [f"- titles: {', '.join(titles) or '(none)'}", f"- item ids: {', '.join(ids) or '(none)'}"]
    elif not titles:
        lines.append("- (none)")
    else:
        for position, (title, item_id) in enumerate(zip(titles, ids), start=1):
            mark = " — **the target**" if item_id == target else ""
            lines.append(f"{position}. {title} (item `{item_id}`){mark}")
    hallucinated = list(row["hallucinated_titles"])
    lines += [
        "",
        "**Not in the catalogue (hallucinated):** " + (", ".join(hallucinated) if hallucinated else "none"),
    ]
    return "\n".join(lines)


def automatic_suggestions(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Suggestions from revdial's checks: relevant = the target is in the list; flags = hallucinated titles found,
    the request names the target. (No flag means no flags suggestion: Argilla stores no empty label list.)"""
    from revdial.curation.filters import leaks_title

    relevant = "yes" if row["target_item_id"] in list(row["recommended_item_ids"]) else "no"
    suggestions = [{"question_name": RELEVANT, "value": relevant, "score": 1.0, "agent": SUGGESTION_AGENT}]
    flags = []
    if list(row["hallucinated_titles"]):
        flags.append("hallucination")
    if row["target_title"] and leaks_title(row["request"], row["target_title"]):
        flags.append("leak")
    if flags:
        suggestions.append(
            {"question_name": FLAGS, "value": flags, "score": [1.0] * len(flags), "agent": SUGGESTION_AGENT}
        )
    return suggestions


def _check_row(row: Mapping[str, Any], index: int) -> None:
    missing = [c for c in DEFAULT_COLUMNS if c not in row]
    if missing:
        raise RowError(
            f"row {index}: missing column(s) {', '.join(missing)}; the synthesis output has {DEFAULT_COLUMNS}"
        )
    messages = row["messages"]
    if not messages or messages[-1].get("role") != "assistant":
        raise RowError(f"row {index}, column 'messages': the conversation must end with the assistant turn")


def record_payload(row: Mapping[str, Any], index: int = 0) -> dict[str, Any]:
    """The record for one synthesis row, as plain data: `id`, `fields`, `metadata`, `suggestions`."""
    _check_row(row, index)
    metadata: dict[str, Any] = {}
    for name, _kind, _visible in METADATA:
        if name == "hallucinations":
            metadata[name] = len(row["hallucinated_titles"])
        elif name in LIST_METADATA:
            metadata[name] = [str(v) for v in row[name]]
        elif name == "selection_rank":
            metadata[name] = int(row[name])
        else:
            metadata[name] = str(row[name])
    fields = {
        MESSAGES: [{"role": m["role"], "content": m["content"]} for m in row["messages"]],
        CATALOGUE_MATCHES: render_catalogue_matches(row),
    }
    if row["seed_text"]:  # Argilla stores no empty text; an absent optional field reads back as ""
        fields[SEED_TEXT] = row["seed_text"]
    return {
        "id": row_id(row),
        "fields": fields,
        "metadata": metadata,
        "suggestions": automatic_suggestions(row),
    }


def _turn(message: Any) -> dict[str, str]:
    # the SDK returns chat turns as pydantic models (ChatFieldValue); rows and tests use dicts
    if isinstance(message, Mapping):
        return {"role": message["role"], "content": message["content"]}
    return {"role": message.role, "content": message.content}


def row_from_record_values(fields: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Rebuild the synthesis row (the SFT columns, in contract order) from a record's fields and metadata."""
    messages = [_turn(m) for m in fields[MESSAGES]]
    row: dict[str, Any] = {
        "messages": messages,
        "prompt": messages[:-1],
        "completion": messages[-1:],
        "seed_text": fields.get(SEED_TEXT) or "",
    }
    for name, _kind, _visible in METADATA:
        if name in DERIVED_METADATA:
            continue
        value = metadata.get(name)
        if name in LIST_METADATA:
            row[name] = (
                [] if value is None else ([value] if isinstance(value, str) else [str(v) for v in value])
            )
        elif name == "selection_rank":
            row[name] = -1 if value is None else int(value)
        else:
            row[name] = "" if value is None else str(value)
    return {column: row[column] for column in DEFAULT_COLUMNS}


def build_settings() -> rg.Settings:
    """The Argilla dataset settings: fields, questions, metadata and guidelines."""
    import argilla as rg

    metadata = []
    for name, kind, visible in METADATA:
        title = name.replace("_", " ")
        if kind == "integer":
            metadata.append(
                rg.IntegerMetadataProperty(name=name, title=title, visible_for_annotators=visible)
            )
        else:
            metadata.append(rg.TermsMetadataProperty(name=name, title=title, visible_for_annotators=visible))
    return rg.Settings(
        guidelines=GUIDELINES,
        fields=[
            rg.ChatField(name=MESSAGES, title="Conversation", use_markdown=True),
            rg.TextField(
                name=SEED_TEXT,
                title="Seed material given to the generator",
                use_markdown=False,
                required=False,
            ),
            rg.TextField(name=CATALOGUE_MATCHES, title="Catalogue matches", use_markdown=True),
        ],
        questions=[
            rg.RatingQuestion(
                name=QUALITY,
                title="Overall quality (1 = unusable, 5 = excellent)",
                values=list(QUALITY_VALUES),
            ),
            rg.LabelQuestion(
                name=RELEVANT,
                title="Is the recommendation relevant to the request?",
                labels=list(RELEVANT_LABELS),
            ),
            rg.MultiLabelQuestion(name=FLAGS, title="Problems", labels=list(FLAG_LABELS), required=False),
            rg.TextQuestion(
                name=CORRECTED,
                title="Corrected recommendation (replaces the assistant turn)",
                required=False,
                use_markdown=True,
            ),
        ],
        metadata=metadata,
        allow_extra_metadata=False,
    )


def to_record(payload: Mapping[str, Any]) -> rg.Record:
    """An `rg.Record` from `record_payload(row)`."""
    import argilla as rg

    return rg.Record(
        id=payload["id"],
        fields=dict(payload["fields"]),
        metadata=dict(payload["metadata"]),
        suggestions=[rg.Suggestion(**s) for s in payload["suggestions"]],
    )


def settings_mismatch(existing: rg.Settings, wanted: rg.Settings) -> list[str]:
    """What stops records of `wanted` from going into a dataset with `existing` settings (empty: compatible)."""
    problems = []
    for kind in ("fields", "questions", "metadata"):
        have = {p.name for p in getattr(existing, kind)}
        need = {p.name for p in getattr(wanted, kind)}
        if need - have:
            problems.append(f"{kind} missing: {', '.join(sorted(need - have))}")
    return problems
