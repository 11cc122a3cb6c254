"""Push a synthesis output to a throwaway local Argilla, answer every record as a scripted annotator, pull the
labels back, and print the record counts at each step (the numbers for a closing note or a README).

    .venv/bin/python tests/argilla/server/roundtrip_demo.py OUT_DIR_OF_REVDIAL_SYNTHESIZE [--pulled DIR]

The scripted annotator follows revdial's automatic suggestions (relevant, flags) and rates a clean row 4 and a
flagged one 2; it leaves every fifth record unanswered so that pending records show up in the counts. Needs
tests/argilla/server/setup.sh to have run. Nothing is written to OUT_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def start_server(workdir: Path) -> tuple[subprocess.Popen, dict]:
    python = (
        Path(os.environ.get("ARGILLA_SERVER_VENV", ROOT / ".cache" / "argilla-server-venv"))
        / "bin"
        / "python"
    )
    if not python.exists():
        sys.exit(f"{python} not found: run bash tests/argilla/server/setup.sh first")
    info = workdir / "info.json"
    log = open(workdir / "server.log", "w")  # noqa: SIM115  (lives as long as the server)
    proc = subprocess.Popen(
        [str(python), str(HERE / "launch.py"), "--info", str(info)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not info.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.terminate()
            sys.exit(f"the Argilla test server did not start; see {workdir / 'server.log'}")
        time.sleep(0.25)
    return proc, json.loads(info.read_text())


def annotate(server: dict, dataset: str) -> dict[str, int]:
    from argilla._models import UserResponseModel

    import argilla as rg

    owner = rg.Argilla(api_url=server["api_url"], api_key=server["api_key"])
    annotator = rg.Argilla(api_url=server["api_url"], api_key=server["annotator_api_key"])
    counts = {"answered": 0, "left pending": 0}
    remote = owner.datasets(name=dataset, workspace=server["workspace"])
    for index, record in enumerate(remote.records(with_suggestions=True, with_responses=False)):
        if index % 5 == 4:
            counts["left pending"] += 1
            continue
        suggested = {s.question_name: s.value for s in record.suggestions}
        relevant, flags = suggested.get("relevant", "no"), suggested.get("flags") or []
        values = {"quality": 2 if flags else 4, "relevant": relevant}
        if flags:
            values["flags"] = flags
        annotator.api.records.create_record_response(
            record._server_id,
            UserResponseModel(
                values={q: {"value": v} for q, v in values.items()},
                status="submitted",
                user_id=annotator.me.id,
            ),
        )
        counts["answered"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--pulled", type=Path, default=None, help="Where to write the pulled Distiset.")
    parser.add_argument("--min-quality", type=int, default=3)
    args = parser.parse_args()

    from revdial.argilla.pull import pull_from_argilla
    from revdial.argilla.push import push_to_argilla

    workdir = Path(tempfile.mkdtemp(prefix="revdial-argilla-demo-"))
    started = time.perf_counter()
    proc, server = start_server(workdir)
    try:
        os.environ["ARGILLA_API_URL"], os.environ["ARGILLA_API_KEY"] = server["api_url"], server["api_key"]
        up = time.perf_counter()
        pushed = push_to_argilla(args.directory, "revdial-demo", server["workspace"])
        repushed = push_to_argilla(args.directory, "revdial-demo", server["workspace"])
        answered = annotate(server, "revdial-demo")
        pulled = pull_from_argilla(
            "revdial-demo",
            args.pulled or workdir / "pulled",
            server["workspace"],
            min_quality=args.min_quality,
            source=args.directory,
        )
        done = time.perf_counter()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    print(f"server start: {up - started:.1f} s; push + re-push + annotate + pull: {done - up:.1f} s")
    print(f"rows in {args.directory}/default: {pushed.rows}")
    print(f"push: {pushed.created} records created, {pushed.updated} updated, skipped {pushed.skipped or 0}")
    print(f"re-push: {repushed.created} created, {repushed.updated} updated")
    print(f"annotate: {answered}")
    print(f"pull: {pulled.records} records, statuses {pulled.statuses}, corrected {pulled.corrected}")
    print(
        f"pull: labelled config {pulled.records} rows, default config {pulled.kept} rows; dropped {pulled.dropped}"
    )
    print(f"pulled Distiset: {pulled.out}")


if __name__ == "__main__":
    main()
