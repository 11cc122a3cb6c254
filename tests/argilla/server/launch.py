"""Start a real argilla-server 2.8.0 on 127.0.0.1 for revdial's integration tests, and stop it on SIGTERM.

Run with the server's own interpreter (see setup.sh):

    .cache/argilla-server-venv/bin/python tests/argilla/server/launch.py --info /tmp/argilla.json

What it starts: redis-server on a free loopback port (no persistence), a fresh SQLite database under --home
(migrated), an owner and an annotator user with random API keys in the workspace ``revdial``, and the FastAPI app
served by uvicorn on a free port with the in-process search engine of memory_engine.py instead of Elasticsearch.
When the server answers, the connection info is written as JSON to --info (url, owner/annotator API keys, workspace,
pids) and printed. SIGTERM or SIGINT stops uvicorn, then redis; redis also dies with this process (PR_SET_PDEATHSIG),
so a killed launcher leaves nothing behind.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKSPACE = "revdial"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM when the launcher dies, even by SIGKILL.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_redis(port: int, workdir: Path) -> subprocess.Popen:
    redis = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(redis).exists():
        sys.exit("redis-server not found: run tests/argilla/server/setup.sh")
    proc = subprocess.Popen(
        [
            redis,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--protected-mode",
            "yes",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509  (started before any thread)
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"redis-server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    sys.exit(f"redis-server did not answer on 127.0.0.1:{port}")


def prepare_database(users: dict) -> None:
    """`python -m argilla_server database migrate` and `... database users create`, called in this process:
    each separate `python -m argilla_server` would import the server again (seconds of CPU on a busy machine)."""
    import asyncio

    from argilla_server.cli.database.migrate import migrate_db
    from argilla_server.cli.database.users.create import _create
    from argilla_server.database import async_engine

    migrate_db(revision="head")
    for username, user in users.items():
        with contextlib.redirect_stdout(io.StringIO()):  # it echoes the API key; keep keys out of the log
            asyncio.run(
                _create(
                    first_name=username,
                    username=username,
                    role=user["role"],
                    password=user["password"],
                    api_key=user["api_key"],
                    workspace=[WORKSPACE],
                )
            )
    # the pooled SQLite connections belong to the event loops above; uvicorn starts its own
    asyncio.run(async_engine.dispose())


def wait_until_serving(url: str, api_key: str, server_thread: threading.Thread, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server_thread.is_alive():
            sys.exit("uvicorn stopped before serving")
        try:
            request = urllib.request.Request(f"{url}/api/v1/me", headers={"X-Argilla-Api-Key": api_key})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"argilla-server did not answer on {url} within {timeout:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--info", type=Path, required=True, help="Write the connection info JSON here.")
    parser.add_argument(
        "--home", type=Path, default=None, help="ARGILLA_HOME_PATH (default: a temporary folder)."
    )
    parser.add_argument("--port", type=int, default=0, help="HTTP port (default: a free one).")
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="revdial-argilla-"))
    home.mkdir(parents=True, exist_ok=True)
    redis_port, http_port = free_port(), args.port or free_port()
    users = {
        "revdial-owner": {
            "role": "owner",
            "password": secrets.token_urlsafe(12),
            "api_key": secrets.token_urlsafe(24),
        },
        "revdial-annotator": {
            "role": "annotator",
            "password": secrets.token_urlsafe(12),
            "api_key": secrets.token_urlsafe(24),
        },
    }
    env = {
        **os.environ,
        "ARGILLA_HOME_PATH": str(home),
        "ARGILLA_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'argilla.db'}?check_same_thread=False",
        "ARGILLA_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "ARGILLA_SEARCH_ENGINE": "memory",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
    }
    os.environ.update(env)  # argilla_server reads its settings at import time

    started = time.monotonic()
    redis = start_redis(redis_port, home)
    stopping = threading.Event()
    server = None

    def stop(signum, frame):
        stopping.set()
        if server is not None:
            server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        prepare_database(users)
        if stopping.is_set():
            return

        sys.path.insert(0, str(HERE))
        import memory_engine  # noqa: F401  (registers the "memory" search engine)
        import uvicorn
        from argilla_server import app

        config = uvicorn.Config(app, host="127.0.0.1", port=http_port, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        # uvicorn would replace our signal handlers; run it in a thread and keep them here.
        server_thread = threading.Thread(target=server.run, daemon=True)
        server_thread.start()
        url = f"http://127.0.0.1:{http_port}"
        wait_until_serving(url, users["revdial-owner"]["api_key"], server_thread)

        info = {
            "api_url": url,
            "api_key": users["revdial-owner"]["api_key"],
            "annotator_api_key": users["revdial-annotator"]["api_key"],
            "annotator_username": "revdial-annotator",
            "workspace": WORKSPACE,
            "home": str(home),
            "pid": os.getpid(),
            "redis_pid": redis.pid,
        }
        args.info.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.info.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=2))
        tmp.replace(args.info)  # readers never see a half-written file
        print(
            f"argilla-server ready at {url} in {time.monotonic() - started:.1f} s (info: {args.info})",
            flush=True,
        )

        while server_thread.is_alive() and not stopping.is_set():
            stopping.wait(0.5)
        server.should_exit = True
        server_thread.join(timeout=15)
    finally:
        redis.terminate()
        try:
            redis.wait(timeout=10)
        except subprocess.TimeoutExpired:
            redis.kill()
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
