"""`revdial argilla pull --dataset NAME --out DIR`: submitted labels back into a new Distiset.

Every record is read first (nothing local is touched if Argilla is unreachable or refuses the key); then the rows
are rebuilt from the records, the annotators' corrections replace the assistant turns, and DIR gets:

- config `labelled` (split `train`): every record, the SFT columns plus `row_id` and the `label_*` columns,
  `kept` and `drop_reason`;
- config `default` (split `train`): the rows the labels keep (submitted, quality >= --min-quality, relevant, no
  flag), with exactly the SFT columns of the synthesis output, so `revdial push` and training read it as they read
  `revdial synthesize`'s output;
- `distiset_configs/summary.json`: under `argilla`, counts of records, label statuses, kept rows and drop reasons;
  with `--source SYNTH_DIR`, the synthesis run's summary around it and its pipeline.yaml and funnel.png next to it
  (what the dataset card cites).

DIR is replaced as a whole when it holds an earlier pull (pulling again refreshes the labels); any other existing
folder is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revdial.argilla.client import ArgillaConnectionError, connect, resolve_workspace
from revdial.argilla.labels import DROP_REASONS, Labels, aggregate, apply_correction, drop_reason
from revdial.argilla.schema import row_from_record_values
from revdial.contract import DEFAULT_COLUMNS, DEFAULT_FEATURES

if TYPE_CHECKING:
    import datasets

    import argilla as rg

# Inside distilabel's own folder, so that `Distiset.load_from_disk(DIR)` still sees only configs at the top.
SUMMARY = "distiset_configs/summary.json"
SOURCE = "revdial argilla pull"


@dataclass
class PullResult:
    out: Path
    records: int
    kept: int
    statuses: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    corrected: int = 0


def _features(labelled: bool) -> datasets.Features:
    """`default`'s features; with the label columns appended for the `labelled` config."""
    from datasets import Features, List, Value

    features = dict(DEFAULT_FEATURES)
    if labelled:
        features.update(
            {
                "row_id": Value("string"),
                "label_status": Value("string"),
                "label_quality": Value("float64"),
                "label_relevant": Value("string"),
                "label_flags": List(Value("string")),
                "label_corrected_recommendation": Value("string"),
                "label_original_recommendation": Value("string"),
                "label_annotators": Value("int64"),
                "kept": Value("bool"),
                "drop_reason": Value("string"),
            }
        )
    return Features(features)


def labelled_row(
    record_id: str, fields: dict, metadata: dict, labels: Labels, min_quality: float | None
) -> dict:
    """One `labelled` row: the rebuilt SFT row with the correction applied, and its label columns."""
    row = row_from_record_values(fields, metadata)
    original = row["completion"][-1]["content"] if labels.corrected else None
    row = apply_correction(row, labels.corrected)
    reason = drop_reason(labels, min_quality)
    return {
        **row,
        "row_id": record_id,
        "label_status": labels.status,
        "label_quality": labels.quality,
        "label_relevant": labels.relevant,
        "label_flags": list(labels.flags),
        "label_corrected_recommendation": labels.corrected,
        "label_original_recommendation": original,
        "label_annotators": labels.annotators,
        "kept": reason is None,
        "drop_reason": reason or "",
    }


def _record_responses(record: rg.Record) -> list[tuple[str | None, Any, str, str]]:
    """(question, value, user_id, status) per answer. Read from the record's API model: the SDK's public
    `record.responses` has one entry per answered question, so a discard without answers would vanish."""
    models = getattr(getattr(record, "_model", None), "responses", None)
    if models is None:
        return [
            (r.question_name, r.value, str(r.user_id), getattr(r.status, "value", r.status))
            for r in record.responses
        ]
    answers: list[tuple[str | None, Any, str, str]] = []
    for model in models:
        status = str(getattr(model.status, "value", model.status))
        values = model.values or {}
        if not values:
            answers.append((None, None, str(model.user_id), status))
        for question, value in values.items():
            answers.append((question, (value or {}).get("value"), str(model.user_id), status))
    return answers


def _check_out(out: Path) -> None:
    if out.exists() and not (out.is_dir() and _is_pull_output(out)):
        raise ArgillaConnectionError(
            f"{out} exists and is not the output of an earlier `{SOURCE}`: choose another --out"
        )


def _is_pull_output(path: Path) -> bool:
    try:
        return json.loads((path / SUMMARY).read_text()).get("source") == SOURCE
    except (OSError, ValueError):
        return False


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / "distiset_configs" / name):
        if candidate.is_file():
            return candidate
    return None


def read_source(source: Path) -> tuple[dict, list[Path]]:
    """The synthesis run's summary (its config echo is what a dataset card cites) and the files worth carrying."""
    source = Path(source)
    if not (source / "default").is_dir():
        raise ArgillaConnectionError(
            f"--source {source}: not a synthesis output (no 'default' config folder)"
        )
    summary_path = _find(source, "summary.json")
    try:
        summary = json.loads(summary_path.read_text()) if summary_path else {}
    except ValueError as exc:
        raise ArgillaConnectionError(f"--source {summary_path}: not valid JSON ({exc})") from exc
    files = [path for name in ("pipeline.yaml", "funnel.png") if (path := _find(source, name)) is not None]
    return summary, files


def _write(out: Path, labelled: list[dict], summary: dict, carried: list[Path] = ()) -> None:
    """Write next to `out`, then swap it in, so a failure never leaves half a dataset or loses the old one."""
    import datasets

    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    kept = [{c: row[c] for c in DEFAULT_COLUMNS} for row in labelled if row["kept"]]
    configs = {"labelled": (labelled, _features(True)), "default": (kept, _features(False))}
    try:
        # The layout of `Distiset.save_to_disk` (one DatasetDict folder per config), written config by config
        # because an empty config needs num_shards=1 (datasets cannot load the zero-shard folder it writes
        # otherwise) and Distiset applies one num_shards to all.
        for name, (rows, features) in configs.items():
            columns = {column: [row[column] for row in rows] for column in features}
            table = datasets.DatasetDict({"train": datasets.Dataset.from_dict(columns, features=features)})
            table.save_to_disk(str(tmp / name), num_shards={"train": 1} if not rows else None)
        (tmp / SUMMARY).parent.mkdir(parents=True, exist_ok=True)
        (tmp / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
        for path in carried:
            shutil.copyfile(path, tmp / "distiset_configs" / path.name)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def pull_from_argilla(
    dataset: str,
    out: Path,
    workspace: str | None = None,
    *,
    min_quality: float | None = None,
    source: Path | None = None,
    client: rg.Argilla | None = None,
) -> PullResult:
    """Read `dataset`'s records and submitted responses and write the labelled Distiset to `out`.

    `source`: the synthesis output that was pushed; its summary (around the pull's own numbers), pipeline.yaml and
    funnel.png are carried into `out`, so the dataset card of the labelled data keeps its provenance.
    """
    import datasets

    out = Path(out)
    _check_out(out)
    synthesis, carried = read_source(source) if source is not None else ({}, [])
    if min_quality is not None and not 1 <= min_quality <= 5:
        raise ArgillaConnectionError(f"--min-quality must be between 1 and 5, got {min_quality}")
    started = time.perf_counter()
    client = client or connect()
    workspace = resolve_workspace(client, workspace)
    with warnings.catch_warnings():  # the SDK warns "not found"; the error below says it better
        warnings.simplefilter("ignore", UserWarning)
        remote = client.datasets(name=dataset, workspace=workspace)
    if remote is None:
        names = [d.name for d in client.datasets if d.workspace.name == workspace]
        raise ArgillaConnectionError(
            f"no dataset {dataset!r} in workspace {workspace!r}; datasets there: {', '.join(names) or '(none)'}"
        )
    records = [
        (r.id, dict(r.fields), dict(r.metadata), _record_responses(r))
        for r in remote.records(with_suggestions=False, with_responses=True)
    ]

    labelled = []
    for record_id, fields, metadata, responses in records:
        labelled.append(labelled_row(record_id, fields, metadata, aggregate(responses), min_quality))
    statuses: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for row in labelled:
        statuses[row["label_status"]] = statuses.get(row["label_status"], 0) + 1
        if row["drop_reason"]:
            dropped[row["drop_reason"]] = dropped.get(row["drop_reason"], 0) + 1
    result = PullResult(
        out=out,
        records=len(labelled),
        kept=sum(row["kept"] for row in labelled),
        statuses=statuses,
        dropped=dropped,
        corrected=sum(row["label_corrected_recommendation"] is not None for row in labelled),
    )
    summary = {
        **{k: v for k, v in synthesis.items() if k not in ("source", "argilla")},
        "source": SOURCE,
        "argilla": {  # no server URL: the summary is published with the dataset, an internal host name need not be
            "dataset": dataset,
            "workspace": workspace,
            "synthesis_output": str(source) if source is not None else None,
            "min_quality": min_quality,
            "records": result.records,
            "label_status": statuses,
            "kept": result.kept,
            "dropped": {reason: {"rows": n, "why": DROP_REASONS[reason]} for reason, n in dropped.items()},
            "corrected": result.corrected,
            "configs": {"labelled": result.records, "default": result.kept},
            "wall_time_s": round(time.perf_counter() - started, 2),
        },
    }
    datasets.disable_progress_bars()
    try:
        _write(out, labelled, summary, carried)
    finally:
        datasets.enable_progress_bars()
    return result


def argilla_pull_command(
    dataset: str,
    out: Path,
    workspace: str | None = None,
    min_quality: int | None = None,
    source: Path | None = None,
) -> None:
    """`revdial argilla pull --dataset NAME --out DIR [--workspace W] [--min-quality N] [--source SYNTH_DIR]`."""
    from rich.console import Console
    from rich.table import Table

    try:
        result = pull_from_argilla(dataset, out, workspace, min_quality=min_quality, source=source)
    except ArgillaConnectionError as exc:
        raise SystemExit(f"revdial argilla pull: {exc}") from None
    table = Table(title=f"argilla pull: {dataset} -> {result.out}")
    for column in (
        "records",
        *(f"status {s}" for s in sorted(result.statuses)),
        "corrected",
        "kept (default)",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        str(result.records),
        *(str(result.statuses[s]) for s in sorted(result.statuses)),
        str(result.corrected),
        str(result.kept),
    )
    console = Console()
    console.print(table)
    for reason, count in sorted(result.dropped.items()):
        console.print(f"  dropped {count}: {reason} ({DROP_REASONS[reason]})")
