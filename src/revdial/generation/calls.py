"""The one path every LLM call of a run takes: `call_llm(llm, inputs, ...)`.

    cache     a finished call is written to the LLM call cache (SQLite) as soon as it returns, so a run killed at
              any point and re-run pays for no call twice
    budget    once the run has spent `max_total_tokens`, no call is made (rows become `token_budget_exhausted`)
    failures  a call that fails after the client's own bounded retries becomes one `llm_error` row; after
              `max_consecutive_failures` failed calls in a row the run stops calling (the endpoint is down)

The tasks (tasks.py) only format prompts and parse answers; they call `call_llm` for the batch.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import inspect
import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKEN_BUDGET_REASON = "token_budget_exhausted"
ENDPOINT_DOWN_REASON = "llm_error: endpoint_failing"


@dataclass(frozen=True)
class CallFailed:
    """No output for an input: the skip reason its row carries."""

    reason: str


class TokenLedger:
    """What every LLM task of one run spent and how many calls failed in a row, shared across distilabel's worker
    processes through a small JSON file under an exclusive lock (one update per finished call)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, int]:
        try:
            return {key: int(value) for key, value in json.loads(self.path.read_text()).items()}
        except (FileNotFoundError, ValueError, AttributeError):
            return {}

    def counts(self) -> dict[str, int]:
        """tokens, calls (made), failed_calls, cached_calls (served from the call cache), consecutive_failures."""
        return self._read()

    def spent(self) -> int:
        return self._read().get("tokens", 0)

    def consecutive_failures(self) -> int:
        return self._read().get("consecutive_failures", 0)

    def _update(self, change: Callable[[dict[str, int]], None]) -> dict[str, int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            try:
                state = {key: int(value) for key, value in json.loads(handle.read() or "{}").items()}
            except (ValueError, AttributeError):
                state = {}
            change(state)
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(state))
            handle.flush()
        return state

    def served(self, calls: int) -> None:
        """Record calls answered from the call cache (for the progress display)."""

        def change(state: dict[str, int]) -> None:
            state["cached_calls"] = state.get("cached_calls", 0) + calls

        self._update(change)

    def record(self, outcomes: list[int | None]) -> dict[str, int]:
        """Record several finished calls in one update, in the order they finished: a call's tokens, or None for
        a failure (a success ends a run of failures). The state afterwards."""

        def change(state: dict[str, int]) -> None:
            for tokens in outcomes:
                if tokens is None:
                    state["consecutive_failures"] = state.get("consecutive_failures", 0) + 1
                    state["failed_calls"] = state.get("failed_calls", 0) + 1
                else:
                    state["tokens"] = state.get("tokens", 0) + tokens
                    state["calls"] = state.get("calls", 0) + 1
                    state["consecutive_failures"] = 0

        return self._update(change)


_CONNECTIONS: dict[tuple[str, int], sqlite3.Connection] = {}


class LLMCallCache:
    """Finished LLM calls on disk (SQLite, one row per call, written as soon as the call returns), keyed by the
    backend, its generation settings and the exact prompt.

    distilabel's own cache resumes a stopped pipeline, but not one killed mid-batch (argilla-io/distilabel#1065:
    the re-run waits forever for batches the dead workers had taken). With this cache, a re-run that starts the
    pipeline afresh still makes no LLM call it has already paid for.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._key = str(self.path.resolve())
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, output TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        """This process's connection to the file, opened once. distilabel forks its workers and a SQLite
        connection must not cross a fork, so connections are keyed by process id. WAL with synchronous=NORMAL:
        a commit survives the process being killed (only an OS crash can lose the last calls), at 0.04 ms per
        call instead of 0.5 ms for a connection and an fsync per call, which blocked the event loop."""
        key = (self._key, os.getpid())
        db = _CONNECTIONS.get(key)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            _CONNECTIONS[key] = db
        return db

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        if not keys:
            return {}
        with self._connect() as db:
            found = db.execute(
                f"SELECT key, output FROM calls WHERE key IN ({','.join('?' * len(keys))})", keys
            ).fetchall()
        return {key: json.loads(output) for key, output in found}

    def put_many(self, items: dict[str, Any]) -> None:
        if items:
            with self._connect() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO calls VALUES (?, ?)",
                    [(key, json.dumps(value)) for key, value in items.items()],
                )

    def __len__(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]


def call_key(llm: Any, generation_kwargs: dict[str, Any], formatted: Any) -> str:
    """The cache key of one call: backend, model, the backend's and the task's generation settings, the prompt."""
    settings = [
        type(llm).__name__,
        llm.model_name,
        llm.get_generation_kwargs() or {},
        generation_kwargs,
        formatted,
    ]
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def output_tokens(output: dict[str, Any]) -> int:
    """Input + output tokens of one call's output (distilabel's `statistics`)."""
    stats = output.get("statistics") or {}
    total = 0
    for key in ("input_tokens", "output_tokens"):
        value = stats.get(key) or 0
        total += int(sum(value)) if isinstance(value, list) else int(value)
    return total


def call_llm(
    llm: Any,
    inputs: list[Any],
    *,
    generation_kwargs: dict[str, Any] | None = None,
    cache_path: str | None = None,
    ledger_path: str | None = None,
    max_total_tokens: int = 0,
    max_consecutive_failures: int = 0,
    warn: Callable[[str], None] | None = None,
) -> list[dict[str, Any] | CallFailed]:
    """One output per input (a distilabel GenerateOutput) or a CallFailed with the reason; cached calls are read
    back, the rest are made, each written to the cache the moment it returns."""
    kwargs = dict(generation_kwargs or {})
    keys = [call_key(llm, kwargs, formatted) for formatted in inputs]
    cache = LLMCallCache(cache_path) if cache_path else None
    ledger = TokenLedger(ledger_path) if ledger_path else None
    found = cache.get_many(keys) if cache is not None else {}
    outputs: list[Any] = [found.get(key) for key in keys]
    missing = [i for i, output in enumerate(outputs) if output is None]
    if ledger is not None and len(missing) < len(keys):
        ledger.served(len(keys) - len(missing))
    stop = _stop_reason(ledger, max_total_tokens, max_consecutive_failures) if missing else None
    if stop:
        for i in missing:
            outputs[i] = CallFailed(stop)
        return outputs

    pending = _PendingOutcomes(ledger)

    def finished(position: int, output: Any) -> None:
        index = missing[position]
        if isinstance(output, BaseException) or not isinstance(output, dict):
            outputs[index] = CallFailed(f"llm_error: {type(output).__name__}")
            pending.add(None)
            if warn is not None:
                warn(f"LLM call failed: {type(output).__name__}: {output}"[:300])
            return
        if cache is not None:
            cache.put_many({keys[index]: output})
        pending.add(output_tokens(output))
        outputs[index] = output

    try:
        _generate([inputs[i] for i in missing], llm, kwargs, finished)
    finally:
        pending.flush()
    return outputs


class _PendingOutcomes:
    """Finished calls on their way to the ledger: written together at most every `interval_s` (and when the batch
    ends), not one locked file update per call. Per call, the update blocked the event loop of every LLM worker
    (~5 CPU-s of 4,096 calls at C = 64); the budget and failure checks read the ledger per batch, so they see the
    same totals."""

    interval_s = 0.5

    def __init__(self, ledger: TokenLedger | None) -> None:
        self.ledger = ledger
        self.outcomes: list[int | None] = []
        self.flushed_at = time.monotonic()

    def add(self, tokens: int | None) -> None:
        self.outcomes.append(tokens)
        if time.monotonic() - self.flushed_at >= self.interval_s:
            self.flush()

    def flush(self) -> None:
        if self.ledger is not None and self.outcomes:
            self.ledger.record(self.outcomes)
        self.outcomes = []
        self.flushed_at = time.monotonic()


def _stop_reason(
    ledger: TokenLedger | None, max_total_tokens: int, max_consecutive_failures: int
) -> str | None:
    if ledger is None:
        return None
    if max_total_tokens and ledger.spent() >= max_total_tokens:
        return TOKEN_BUDGET_REASON
    if max_consecutive_failures and ledger.consecutive_failures() >= max_consecutive_failures:
        return ENDPOINT_DOWN_REASON
    return None


def _generate(
    inputs: list[Any], llm: Any, kwargs: dict[str, Any], finished: Callable[[int, Any], None]
) -> None:
    """Make the calls, reporting each as it finishes: concurrently and one by one for async (API) backends; as one
    batch for local backends (batching is their speed), input by input only if the batch fails."""
    if _async_per_input(llm):
        llm.event_loop.run_until_complete(_gather(inputs, llm, kwargs, finished))
        return
    try:
        batch = list(llm.generate_outputs(inputs=inputs, num_generations=1, **kwargs))
    except Exception:  # noqa: BLE001 - any backend error: find the inputs that fail, one by one
        batch = None
    if batch is not None and len(batch) == len(inputs):
        for position, output in enumerate(batch):
            finished(position, output)
        return
    for position, formatted in enumerate(inputs):
        try:
            finished(position, llm.generate_outputs(inputs=[formatted], num_generations=1, **kwargs)[0])
        except Exception as error:  # noqa: BLE001
            finished(position, error)


def _async_per_input(llm: Any) -> bool:
    agenerate = getattr(llm, "agenerate", None)
    return agenerate is not None and "num_generations" in inspect.signature(agenerate).parameters


async def _gather(
    inputs: list[Any], llm: Any, kwargs: dict[str, Any], finished: Callable[[int, Any], None]
) -> None:
    async def one(position: int, formatted: Any) -> None:
        try:
            output = await llm.agenerate(input=formatted, num_generations=1, **kwargs)
        except Exception as error:  # noqa: BLE001 - recorded as this input's failure
            output = error
        finished(position, output)

    await asyncio.gather(*(one(position, formatted) for position, formatted in enumerate(inputs)))
