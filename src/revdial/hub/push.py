"""Push a `revdial synthesize` output to the Hugging Face Hub as a dataset repo with revdial's card.

    revdial push runs/movies --repo-id me/movies-crs [--private]

What lands in the repo (one commit):

    README.md                               revdial's dataset card, merged over distilabel's
    <config>/<split>-00000-of-00001.parquet one file per saved config and split (default/train, rejects/train)
    pipeline.yaml                           distilabel's pipeline, to re-run it
    summary.json, funnel.png                the run summary and its plot

The card's `configs` metadata points at the parquet files, so `load_dataset("me/movies-crs")` reads the `default`
config and `load_dataset("me/movies-crs", "rejects")` the rejects. Before anything is sent, every file is searched for
the token and for any secret-looking environment variable value; a hit stops the push.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, DatasetCard, HfApi, get_token

from revdial.config import read_yaml
from revdial.hub.cards import SPLIT_FILE, SynthesisRun, load_synthesis, render_dataset_card

__all__ = ["HubPushError", "SecretLeakError", "build_push_folder", "push_command", "push_dataset"]


def _network_errors() -> tuple[type[BaseException], ...]:
    """What a Hub call raises when the Hub refuses (HTTP errors) or cannot be reached (offline mode, DNS, TLS)."""
    from huggingface_hub.errors import HfHubHTTPError

    errors: list[type[BaseException]] = [HfHubHTTPError, OSError]
    for module in ("httpx2", "httpx"):  # huggingface_hub 2.x sends through httpx2
        try:
            errors.append(__import__(module).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


_SECRET_NAME_RE = re.compile(r"(TOKEN|API_KEY|APIKEY|SECRET|PASSWORD|ACCESS_KEY)$", re.IGNORECASE)


class HubPushError(RuntimeError):
    """The push cannot start: no token, no dataset, a bad repo id."""


class SecretLeakError(HubPushError):
    """A file about to be pushed contains a secret's value."""


def _distilabel_card(run: SynthesisRun, repo_id: str) -> DatasetCard | None:
    """distilabel's own card for these configs, with links for `repo_id` (rendered locally: token=None)."""
    from distilabel.distiset import Distiset

    distiset = Distiset({name: dd for name, dd in run.datasets.items()})
    if run.pipeline_yaml is not None:
        distiset.pipeline_path = run.pipeline_yaml
    try:
        # A private method of the pinned distilabel (1.5.3): the same card `Distiset.push_to_hub` would write.
        return distiset._get_card(repo_id=repo_id, token=None)
    except (ValueError, KeyError, TypeError, IndexError, OSError):  # revdial's card can stand alone
        return None


def build_push_folder(
    directory: str | Path,
    folder: str | Path,
    *,
    repo_id: str,
    config: dict[str, Any] | None = None,
    license: str | None = None,
) -> list[str]:
    """Write exactly what a push lands into `folder`; return the repo paths, sorted.

    `datasets.load_dataset(folder)` reads it as `load_dataset(repo_id)` would read the pushed repo. A config with
    no row (e.g. `rejects` of a run that kept every seed) is neither pushed nor listed in the card:
    `load_dataset(repo, config)` cannot read a config made only of empty files.
    """
    run = load_synthesis(directory)
    run.datasets = {name: dd for name, dd in run.datasets.items() if any(len(split) for split in dd.values())}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for name, dataset_dict in run.datasets.items():
        for split, dataset in dataset_dict.items():
            path_in_repo = SPLIT_FILE.format(config=name, split=split)
            (folder / path_in_repo).parent.mkdir(parents=True, exist_ok=True)
            dataset.to_parquet(str(folder / path_in_repo))
            written.append(path_in_repo)
    for source, name in ((run.pipeline_yaml, "pipeline.yaml"), (run.funnel_png, "funnel.png")):
        if source is not None:
            shutil.copyfile(source, folder / name)
            written.append(name)
    if run.summary:
        (folder / "summary.json").write_text(json.dumps(run.summary, indent=2, default=str))
        written.append("summary.json")
    card = render_dataset_card(
        run, repo_id=repo_id, config=config, license=license, distilabel_card=_distilabel_card(run, repo_id)
    )
    card.save(folder / "README.md")
    written.append("README.md")
    return sorted(written)


def _secret_values(token: str | None) -> dict[str, str]:
    secrets = {
        name: value for name, value in os.environ.items() if _SECRET_NAME_RE.search(name) and len(value) >= 8
    }
    if token:
        secrets["the Hugging Face token"] = token
    return secrets


def check_no_secrets(folder: str | Path, secrets: dict[str, str]) -> None:
    """Raise SecretLeakError naming every file and secret NAME (never a value) when a file holds a secret's value."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    hits: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            # Parquet pages are compressed: search the values, not the bytes.
            haystack = json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False).encode()
        else:
            haystack = path.read_bytes()
        names = [name for name, value in secrets.items() if value.encode() in haystack]
        if names:
            hits.append(f"{path.relative_to(folder)} ({', '.join(names)})")
    if hits:
        raise SecretLeakError(f"secret values found in: {'; '.join(hits)}; nothing was pushed")


def push_dataset(
    directory: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    config: dict[str, Any] | None = None,
    license: str | None = None,
    api: HfApi | None = None,
    commit_message: str = "revdial: push synthesized dataset",
) -> dict[str, Any]:
    """Create (or reuse) the dataset repo and land every file of `build_push_folder` in one commit.

    Parquet files of earlier pushes that this push does not rewrite are deleted in the same commit, so a config that
    shrank to fewer splits does not keep stale rows. Returns {"url", "commit_url", "files", "deleted"}.
    """
    if "/" not in repo_id or repo_id.count("/") != 1:
        raise HubPushError(f"repo id {repo_id!r}: expected OWNER/NAME")
    token = token or os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise HubPushError(
            "no Hugging Face token: set HF_TOKEN or log in with `hf auth login` (a token with write access)"
        )
    api = api or HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="revdial-push-") as staging:
        files = build_push_folder(directory, staging, repo_id=repo_id, config=config, license=license)
        check_no_secrets(staging, _secret_values(token))
        try:
            repo_url = api.create_repo(
                repo_id, repo_type="dataset", private=private, exist_ok=True, token=token
            )
            existing = api.list_repo_files(repo_id, repo_type="dataset", token=token)
            stale = sorted(f for f in existing if f.endswith(".parquet") and f not in files)
            operations: list[Any] = [
                CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(Path(staging) / f)) for f in files
            ]
            operations += [CommitOperationDelete(path_in_repo=f) for f in stale]
            commit = api.create_commit(
                repo_id,
                operations=operations,
                commit_message=commit_message,
                repo_type="dataset",
                token=token,
            )
        except _network_errors() as error:
            raise HubPushError(
                f"{repo_id}: the Hub refused the push or could not be reached: {error}"
            ) from error
    return {
        "url": str(repo_url),
        "commit_url": getattr(commit, "commit_url", None),
        "files": files,
        "deleted": stale,
    }


def push_command(
    directory: Path,
    repo_id: str,
    private: bool = False,
    license: str | None = None,
    config: Path | None = None,
) -> None:
    """`revdial push`: push a synthesized dataset with its card and say where it went."""
    from rich.console import Console

    console = Console()
    # a HubPushError reaches the CLI, which prints its one line (exit 2)
    config_dict = read_yaml(config) if config else None
    result = push_dataset(directory, repo_id, private=private, license=license, config=config_dict)
    console.print(f"Pushed {len(result['files'])} files to [bold]{result['url']}[/bold]")
    for name in result["files"]:
        console.print(f"  {name}")
    for name in result["deleted"]:
        console.print(f"  [dim]deleted stale {name}[/dim]")
    console.print(f'Load it with: datasets.load_dataset("{repo_id}")')
