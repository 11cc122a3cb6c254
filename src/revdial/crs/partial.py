"""Resumable generation for `revdial eval`: finished turns are kept in a partial file beside the report.

An LM evaluation of He et al.'s ReDial test takes about an hour on a 2-core CPU; a run cut short (the process killed,
the session over) used to lose all of it. `generate_resumable` runs a backend over the turns in chunks and appends
each finished chunk to `<report>.partial.jsonl`; a re-run with the same model, decoding and turns generates only
what is missing. `eval_command` removes the file once the report is written.

Each line is a finished turn, {"key": ..., "text": ...}, or a chunk's decoding cost, {"stats": {...}, "turns": n,
"options": ...}.
A turn's key hashes the model reference, the options that shape its text and its prompt messages, so a changed
backend, decoding, K or dialogue is generated again rather than read back. A last line cut mid-write is ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from revdial.crs.decoding import cost_summary

logger = logging.getLogger(__name__)

# turns generated between two appends: at most this many are generated again after a stop (~4 min at 4 s/turn)
CHUNK_TURNS = 64

Generate = Callable[..., list[str]]


def partial_path(report: Path) -> Path:
    """Where the finished turns of `report` are kept until it is written."""
    return report.with_suffix(".partial.jsonl")


def _shaping(model: str, options: Any) -> list:
    """The model and the options that shape a turn's text (the backend and its dtype; sampling for `sample`)."""
    return [
        model,
        options.backend,
        options.dtype,
        options.decoding,
        options.k,
        options.max_new_tokens,
        options.max_prompt_tokens,
        options.item_noun,
        options.n_samples,
        options.temperature,
    ]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def turn_key(model: str, messages: list[dict[str, str]], options: Any) -> str:
    """What a turn's text depends on: the model, the decoding options and the prompt messages."""
    return _digest([_shaping(model, options), messages])


def read_partial(path: Path) -> tuple[dict[str, str], list[dict]]:
    """(text by turn key, chunk costs) from a partial file; a missing file is empty, a torn last line is skipped."""
    texts: dict[str, str] = {}
    costs: list[dict] = []
    if not path.exists():
        return texts, costs
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                logger.warning("%s: line %d was cut mid-write; its turns are generated again", path, number)
                break
            raise ValueError(
                f"{path}: line {number} is not JSON; delete the file to start this evaluation over"
            )
        if "key" in record:
            texts[record["key"]] = record["text"]
        else:
            costs.append(record)
    return texts, costs


def merge_costs(costs: list[dict], options_key: str) -> dict:
    """One decoding cost over the chunks generated with these options that reported one (a backend that counts
    nothing reports {})."""
    costs = [c for c in costs if c.get("stats") and c.get("options") == options_key]
    if not costs:
        return {}
    return cost_summary(
        sum(c["stats"].get("backend_calls", 0) for c in costs),
        sum(c["stats"].get("rejected_lines", 0) for c in costs),
        sum(c["turns"] for c in costs),
    )


def generate_resumable(
    generate: Generate,
    model: str,
    conversations: list[list[dict[str, str]]],
    options: Any,
    path: Path,
    progress: bool = True,
) -> list[str]:
    """`generate(model, conversations, options, progress=...)`, chunk by chunk, keeping finished turns in `path`."""
    keys = [turn_key(model, messages, options) for messages in conversations]
    options_key = _digest(_shaping(model, options))
    done, costs = read_partial(path)
    todo = [i for i, key in enumerate(keys) if key not in done]
    if len(todo) < len(keys):
        print(f"resuming from {path}: {len(keys) - len(todo)} of {len(keys)} turns already generated")
    path.parent.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(todo), CHUNK_TURNS):
        chunk = todo[start : start + CHUNK_TURNS]
        options.decode_stats = {}
        texts = generate(model, [conversations[i] for i in chunk], options, progress=progress)
        cost = {"stats": options.decode_stats, "turns": len(chunk), "options": options_key}
        records = [{"key": keys[i], "text": text} for i, text in zip(chunk, texts)] + [cost]
        with open(path, "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        done.update((keys[i], text) for i, text in zip(chunk, texts))
        costs.append(cost)
        if progress and len(todo) > CHUNK_TURNS:
            print(f"{len(keys) - len(todo) + start + len(chunk)} of {len(keys)} turns kept in {path}")
    options.decode_stats = merge_costs(costs, options_key)
    return [done[key] for key in keys]
