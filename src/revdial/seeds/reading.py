"""Reading one source table: local files or a Hub dataset through `datasets.load_dataset`, into a pandas frame
whose mapped columns are checked. Nothing here cleans a value; `tables` does that on the frames read here."""

from __future__ import annotations

import glob
import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd

from revdial.seeds.errors import SeedSourceError
from revdial.seeds.sources import ID_ROLES, KEY, REQUIRED, ROLES, SeedsConfig, TableConfig, resolve_path


def _format_of(file: str) -> str:
    name = file.lower().removesuffix(".gz").removesuffix(".bz2").removesuffix(".zst").removesuffix(".xz")
    for suffix, fmt in (
        (".csv", "csv"),
        (".tsv", "csv"),
        (".txt", "csv"),
        (".jsonl", "json"),
        (".json", "json"),
        (".parquet", "parquet"),
    ):
        if name.endswith(suffix):
            return fmt
    return "csv"


def _open_text_lines(file: str):
    opener = gzip.open if file.endswith(".gz") else open
    return opener(file, "rb")


def _find_undecodable_row(file: str, encoding: str) -> tuple[int, str] | None:
    """(1-based line number, error) of the first line that does not decode, or None."""
    try:
        with _open_text_lines(file) as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    line.decode(encoding)
                except UnicodeDecodeError as exc:
                    return number, str(exc)
    except OSError:
        return None
    return None


def _exception_chain(exc: BaseException):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def load_table(table: TableConfig, config: SeedsConfig, role: str) -> tuple[pd.DataFrame, str]:
    """Read one table through `datasets.load_dataset` into pandas; returns (frame, label used in errors/summary)."""
    if table.hub:
        frame, label = _load_hub(table, config, role)
    elif table.path:
        frame, label = _load_files(table, config, role)
    else:
        raise SeedSourceError(f"<{role}>", f"the {role} table needs a `path` or a `hub` id")
    if table_limit := config.source.limit_rows:
        frame = frame.iloc[:table_limit]
    if len(frame) == 0:
        raise SeedSourceError(label, f"the {role} table is empty (0 rows)")
    return frame.reset_index(drop=True), label


def read_table(
    table: TableConfig, config: SeedsConfig, role: str, check_as: str | None = None
) -> tuple[pd.DataFrame, str]:
    """`load_table`, then `check_columns` (as `check_as`, default `role`): a raw frame whose mapped columns exist."""
    frame, label = load_table(table, config, role)
    check_columns(frame, table, label, check_as or role)
    return frame, label


def _load_hub(table: TableConfig, config: SeedsConfig, role: str) -> tuple[pd.DataFrame, str]:
    import datasets

    label = f"{table.hub}[{table.split}]"
    split = table.split
    if config.source.limit_rows and "[" not in split:
        split = f"{split}[:{config.source.limit_rows}]"  # let the loader stop early on a big Hub split
    kwargs: dict[str, Any] = {"split": split, **table.read}
    for key in ("name", "revision", "data_files"):
        if getattr(table, key):
            kwargs[key] = getattr(table, key)
    try:
        dataset = datasets.load_dataset(table.hub, **kwargs)
    except Exception as exc:
        raise SeedSourceError(
            label,
            f"cannot load the {role} table with load_dataset({table.hub!r}): {type(exc).__name__}: {exc}",
        ) from exc
    return dataset.to_pandas(), label


def _load_files(table: TableConfig, config: SeedsConfig, role: str) -> tuple[pd.DataFrame, str]:
    pattern = resolve_path(table.path, config)
    files = sorted(glob.glob(pattern)) if any(ch in pattern for ch in "*?[") else [pattern]
    if not files:
        raise SeedSourceError(pattern, f"no file matches the {role} table's path '{table.path}'")
    label = Path(files[0]).name if len(files) == 1 else f"{Path(files[0]).name} (+{len(files) - 1} files)"
    for file in files:
        if not Path(file).is_file():
            raise SeedSourceError(Path(file).name, f"the {role} table's file does not exist: {file}")
    if table.layout == "keyed_object":
        return _load_keyed_object(files[0], label, role), label
    return _load_rows(files, table, label, role), label


def _csv_kwargs(files: list[str], table: TableConfig, kwargs: dict[str, Any]) -> dict[str, Any]:
    if files[0].lower().removesuffix(".gz").endswith(".tsv"):
        kwargs.setdefault("sep", "\t")
    # ids stay strings ("007" must not become 7); pandas would otherwise guess per chunk
    names = kwargs.get("column_names") or kwargs.get("names")
    wanted = [*table.string_columns, *(c for r, c in table.columns.items() if r in ID_ROLES)]
    converters = {column: str for column in wanted if names is None or column in names}
    if converters:
        kwargs.setdefault("converters", converters)
    kwargs.setdefault("keep_default_na", False)  # an id "NA" is an id; empty cells still read as ""
    return kwargs


def _load_rows(files: list[str], table: TableConfig, label: str, role: str) -> pd.DataFrame:
    import datasets

    fmt = table.format or _format_of(files[0])
    kwargs = dict(table.read)
    if fmt == "csv":
        kwargs = _csv_kwargs(files, table, kwargs)
    try:
        dataset = datasets.load_dataset(fmt, data_files=files, split="train", **kwargs)
    except Exception as exc:
        raise _read_error(exc, files, kwargs.get("encoding") or "utf-8", label, role, fmt) from exc
    return dataset.to_pandas()


def _read_error(
    exc: Exception, files: list[str], encoding: str, label: str, role: str, fmt: str
) -> SeedSourceError:
    """The one-line error for a file `load_dataset` could not read: the undecodable line, empty, or the cause."""
    if any(isinstance(e, UnicodeDecodeError) for e in _exception_chain(exc)) or "codec" in str(exc):
        for file in files:
            bad = _find_undecodable_row(file, encoding)
            if bad:
                line, detail = bad
                error = SeedSourceError(
                    Path(file).name,
                    f"line {line} is not valid {encoding} text ({detail}); set `read: {{encoding: ...}}` for this table",
                )
                error.row = line  # a file line, not a data row: named in the message, not as "row N"
                return error
    chain = list(_exception_chain(exc))
    if any("corresponds to no data" in str(e) or type(e).__name__ == "EmptyDataError" for e in chain):
        return SeedSourceError(label, f"the {role} table is empty (0 rows)")
    cause = next((e for e in chain if e is not exc), exc)
    return SeedSourceError(label, f"cannot read the {role} table as {fmt}: {type(cause).__name__}: {cause}")


def _load_keyed_object(file: str, label: str, role: str) -> pd.DataFrame:
    """{id: {field: value}} JSON (iEvaLM's id2info.json): datasets would read it as one row with an id per column."""
    try:
        with (
            gzip.open(file, "rt", encoding="utf-8") if file.endswith(".gz") else open(file, encoding="utf-8")
        ) as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SeedSourceError(label, f"cannot read the {role} table as a JSON object: {exc}") from exc
    if not isinstance(data, dict):
        raise SeedSourceError(label, f"layout keyed_object needs a JSON object, found {type(data).__name__}")
    return pd.DataFrame(
        [
            {KEY: str(key), **(value if isinstance(value, dict) else {"value": value})}
            for key, value in data.items()
        ]
    )


def check_columns(frame: pd.DataFrame, table: TableConfig, label: str, role: str) -> None:
    """Every mapped column exists; the roles a table cannot do without are mapped."""
    for needed in REQUIRED.get(role, ("item_id",)):
        if needed not in table.columns:
            raise SeedSourceError(
                label, f"the {role} table maps no column to the role '{needed}' (`columns:`)"
            )
    available = [str(c) for c in frame.columns]
    for role_name, column in table.columns.items():
        if role_name not in ROLES.get(role, ROLES["items"]):
            raise SeedSourceError(
                label, f"unknown role '{role_name}' for the {role} table; roles are: {', '.join(ROLES[role])}"
            )
        if column not in frame.columns:
            raise SeedSourceError(
                label,
                f"column '{column}' (mapped from role '{role_name}') not found; columns are: "
                + ", ".join(available),
            )
    for column in [
        *(table.metadata or []),
        *table.list_separators,
        *(c for cs in table.flag_columns.values() for c in cs),
    ]:
        if column not in frame.columns:
            raise SeedSourceError(
                label,
                f"column '{column}' (a metadata column) not found; columns are: " + ", ".join(available),
            )
