"""`revdial argilla push DIR --dataset NAME`: the synthesis rows as Argilla records for human review.

Idempotent: a record's id is derived from its row (`schema.row_id`), and the SDK's `records.log` upserts by id, so
pushing the same directory again updates the records (fields, metadata, suggestions) and keeps the annotators'
responses. Nothing is written locally.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revdial.argilla.client import ArgillaConnectionError, connect, resolve_workspace
from revdial.argilla.schema import (
    RowError,
    build_settings,
    record_payload,
    settings_mismatch,
    to_record,
)
from revdial.contract import DEFAULT_COLUMNS

if TYPE_CHECKING:
    import datasets

    import argilla as rg


DUPLICATE = "duplicate row (same seed, style and request as an earlier row)"


@dataclass
class PushResult:
    dataset: str
    workspace: str
    rows: int
    created: int
    updated: int
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    dataset_created: bool = False


def load_rows(directory: Path) -> datasets.Dataset:
    """The `default` config, split `train`, of a Distiset written by `revdial synthesize` (or `argilla pull`)."""
    import datasets

    directory = Path(directory)
    config = directory / "default"
    if not config.is_dir():
        raise RowError(
            f"{directory}: no 'default' config folder; expected a Distiset saved by `revdial synthesize` "
            f"(DIR/default/train)"
        )
    loaded = datasets.load_from_disk(str(config))
    if isinstance(loaded, datasets.DatasetDict):
        if "train" not in loaded:
            raise RowError(f"{config}: no 'train' split; splits are: {', '.join(loaded)}")
        loaded = loaded["train"]
    missing = [c for c in DEFAULT_COLUMNS if c not in loaded.column_names]
    if missing:
        raise RowError(
            f"{config}: column(s) {', '.join(missing)} not found; columns are: {', '.join(loaded.column_names)}"
        )
    return loaded


def _payloads(rows: datasets.Dataset) -> tuple[list[dict[str, Any]], dict[str, int]]:
    payloads, seen, skipped = [], {}, {}
    for index, row in enumerate(rows):
        payload = record_payload(row, index)
        if payload["id"] in seen:  # same seed, style and request: one record, counted
            skipped[DUPLICATE] = skipped.get(DUPLICATE, 0) + 1
            continue
        seen[payload["id"]] = index
        payloads.append(payload)
    return payloads, skipped


def get_or_create_dataset(client: rg.Argilla, name: str, workspace: str) -> tuple[rg.Dataset, bool]:
    import argilla as rg

    settings = build_settings()
    with warnings.catch_warnings():  # "not found" is the expected answer on the first push
        warnings.simplefilter("ignore", UserWarning)
        existing = client.datasets(name=name, workspace=workspace)
    if existing is None:
        return rg.Dataset(name=name, workspace=workspace, settings=settings, client=client).create(), True
    problems = settings_mismatch(existing.settings, settings)
    if problems:
        raise ArgillaConnectionError(
            f"dataset {name!r} in workspace {workspace!r} exists with other settings ({'; '.join(problems)}): "
            f"push to a new --dataset name"
        )
    return existing, False


def push_to_argilla(
    directory: Path,
    dataset: str,
    workspace: str | None = None,
    *,
    client: rg.Argilla | None = None,
    batch_size: int = 256,
) -> PushResult:
    """Create (or update) the Argilla dataset `dataset` with one record per row of `directory`'s default config."""
    rows = load_rows(directory)
    payloads, skipped = _payloads(rows)
    client = client or connect()
    workspace = resolve_workspace(client, workspace)
    remote, created_dataset = get_or_create_dataset(client, dataset, workspace)
    known = set()
    if not created_dataset:
        known = {r.id for r in remote.records(with_suggestions=False, with_responses=False)}
    if payloads:
        # no larger than the rows: the SDK would log a warning while shrinking it
        remote.records.log([to_record(p) for p in payloads], batch_size=min(batch_size, len(payloads)))
    updated = sum(p["id"] in known for p in payloads)
    return PushResult(
        dataset=dataset,
        workspace=workspace,
        rows=len(rows),
        created=len(payloads) - updated,
        updated=updated,
        skipped=skipped,
        dataset_created=created_dataset,
    )


def argilla_push_command(directory: Path, dataset: str, workspace: str | None = None) -> None:
    """`revdial argilla push DIR --dataset NAME [--workspace W]`."""
    from rich.console import Console
    from rich.table import Table

    try:
        result = push_to_argilla(directory, dataset, workspace)
    except (ArgillaConnectionError, RowError) as exc:
        raise SystemExit(f"revdial argilla push: {exc}") from None
    table = Table(
        title=f"argilla push: {result.workspace}/{result.dataset}"
        + (" (new dataset)" if result.dataset_created else "")
    )
    table.add_column("rows read", justify="right")
    table.add_column("records created", justify="right")
    table.add_column("records updated", justify="right")
    table.add_column("rows skipped", justify="right")
    table.add_row(
        str(result.rows), str(result.created), str(result.updated), str(sum(result.skipped.values()))
    )
    console = Console()
    console.print(table)
    for reason, count in result.skipped.items():
        console.print(f"  skipped {count}: {reason}")
