"""What `revdial synthesize` shows while it runs: one live line (stage, LLM calls done / expected, failed calls,
tokens, ETA), read from the run's ledger that every LLM task updates; distilabel's own log lines and the libraries'
progress bars stay out of the terminal (they remain in pipeline.log; `--verbose` shows them)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Self

from revdial.generation.calls import TokenLedger


class ConsoleAtLevel(list):
    """A `logging_handlers` list for `Pipeline.run`: distilabel appends its console (rich) handler to the list it is
    given; this one sets that handler's level (None: left as it is), so the console shows only warnings while
    pipeline.log keeps all. `handlers` start the list (e.g. a StepTimes)."""

    def __init__(
        self, level: int | None = logging.WARNING, handlers: tuple[logging.Handler, ...] = ()
    ) -> None:
        super().__init__(handlers)
        self.level = level

    def append(self, handler: Any) -> None:
        from rich.logging import RichHandler

        if self.level is not None and isinstance(handler, RichHandler):
            handler.setLevel(self.level)
        super().append(handler)


def quiet_libraries() -> None:
    """No progress bars (datasets, transformers, tqdm) and no INFO chatter from the libraries revdial drives, in
    this process and the pipeline's worker processes (they inherit the environment)."""
    import os

    for name, value in (
        ("TQDM_DISABLE", "1"),
        ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TRANSFORMERS_VERBOSITY", "error"),
        ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
    ):
        os.environ.setdefault(name, value)
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    for name in ("sentence_transformers", "transformers", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # "No output files for step 'rejects'": an empty leaf, which revdial.generation.summary completes as expected
    logging.getLogger("distilabel.distiset").setLevel(logging.ERROR)


def describe(done: int, expected: int, failed: int, tokens: int, elapsed: float, started_calls: bool) -> str:
    """The live line, e.g. `generating | LLM calls 12/32 (1 failed) | 4,210 tokens | ETA 0:41`."""
    if not started_calls:
        stage = "selecting seeds (features, ranking)"
    elif done < expected:
        stage = "generating"
    else:
        stage = "curating and saving"
    parts = [
        stage,
        f"LLM calls {done}/{expected}" + (f" ({failed} failed)" if failed else ""),
        f"{tokens:,} tokens",
    ]
    if started_calls and 0 < done < expected:
        remaining = elapsed / done * (expected - done)
        parts.append(f"ETA {int(remaining // 60)}:{int(remaining % 60):02d}")
    return " | ".join(parts)


class LiveProgress:
    """A thread that redraws the live line from the ledger twice a second (rich's Live; on a non-terminal only the
    last state is printed)."""

    def __init__(self, ledger_path: str | None, expected_calls: int) -> None:
        self.ledger = TokenLedger(ledger_path) if ledger_path else None
        self.expected = expected_calls
        self._baseline = self._counts()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first_call_at: float | None = None

    def _counts(self) -> dict[str, int]:
        return self.ledger.counts() if self.ledger is not None else {}

    def line(self) -> str:
        now = self._counts()
        delta = {
            key: now.get(key, 0) - self._baseline.get(key, 0)
            for key in ("calls", "failed_calls", "tokens", "cached_calls")
        }
        done = delta["calls"] + delta["failed_calls"] + delta["cached_calls"]
        if done and self._first_call_at is None:
            self._first_call_at = time.monotonic()
        elapsed = time.monotonic() - (self._first_call_at or time.monotonic())
        return describe(done, self.expected, delta["failed_calls"], delta["tokens"], elapsed, bool(done))

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        from rich.console import Console
        from rich.live import Live

        console = Console(stderr=True)
        with Live(self.line(), console=console, refresh_per_second=2, transient=False) as live:
            while not self._stop.wait(0.5):
                live.update(self.line())
            live.update(self.line())
        console.line()  # off a terminal, Live leaves its last frame without a line end


class Timeline:
    """Wall-clock marks of one run (`time.time()`, so a benchmark can line them up with a server's or another
    process's clock) and, per pipeline step, when it finished loading, took its first batch and sent its last.

    `run_plan` writes it to OUT/distiset_configs/timings.json; benchmarks/quickstart.py and benchmarks/generation.py
    print the start-up and stage breakdowns from it.
    """

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.steps: dict[str, dict[str, float]] = {}
        self.mark("start")

    def mark(self, name: str) -> None:
        self.marks[name] = time.time()

    def step_event(self, step: str, event: str, at: float) -> None:
        """`loaded` / `first_batch` keep the earliest time seen, `last_batch` / `finished` the latest."""
        times = self.steps.setdefault(step, {})
        earliest = event in ("loaded", "first_batch")
        if event not in times or (at < times[event] if earliest else at > times[event]):
            times[event] = at

    def to_dict(self) -> dict[str, Any]:
        return {"marks": dict(self.marks), "steps": {name: dict(times) for name, times in self.steps.items()}}


# distilabel's INFO lines (its step processes log through a queue to the main process) that time a step's work
_STEP_EVENTS = (
    ("📦 Processing batch", "first_batch"),
    ("🚰 Starting yielding batches", "first_batch"),
    ("📨 Step '", "last_batch"),
    ("🏁 Finished running step", "finished"),
)


class StepTimes(logging.Handler):
    """A logging handler for `Pipeline.run(logging_handlers=...)` that records step events into a Timeline, at the
    time the step's process logged them."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__(level=logging.INFO)
        self.timeline = timeline

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for prefix, event in _STEP_EVENTS:
            if message.startswith(prefix):
                quoted = message.split("'")
                if len(quoted) >= 2:
                    self.timeline.step_event(quoted[1], event, record.created)
                return
