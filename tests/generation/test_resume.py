"""kill -9 in the middle of generation, run again: distilabel's cache resumes without repeating finished calls."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
from helpers import small_seeds_dir

HERE = Path(__file__).resolve().parent
N_SEEDS, BATCH = 8, 2
ALL_CALLS = 2 * N_SEEDS  # one request and one answer per seed


def _calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_rerun_after_kill_resumes_from_the_cache(tmp_path):
    seeds_dir = small_seeds_dir(tmp_path / "seeds", N_SEEDS)
    env = {**os.environ, "DISTILABEL_CACHE_DIR": str(tmp_path / "cache")}
    # The calls file is part of the fake LLM's settings, hence of the cache key: both runs use the same one.
    calls = tmp_path / "calls.txt"
    command = [sys.executable, str(HERE / "resume_run.py"), str(seeds_dir), str(tmp_path / "out"), str(calls)]

    first = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 180
    while _calls(calls) < ALL_CALLS // 2 and time.time() < deadline and first.poll() is None:
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)  # the run and every distilabel worker, no clean-up
    first.wait()
    done_before_kill = _calls(calls)
    assert ALL_CALLS // 2 <= done_before_kill < ALL_CALLS

    second_run = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _, stderr = second_run.communicate(timeout=300)
    finally:
        if second_run.poll() is None:
            os.killpg(second_run.pid, signal.SIGKILL)
    assert second_run.returncode == 0, stderr.decode()[-3000:]
    second = _calls(calls) - done_before_kill
    # Only calls of batches that had not reached the cache are repeated (at most one batch per LLM step).
    assert second <= ALL_CALLS - done_before_kill + 2 * BATCH
    assert second < ALL_CALLS
    summary = json.loads((tmp_path / "out" / "distiset_configs" / "summary.json").read_text())
    assert summary["accounting"]["ok"]
    kept = datasets.load_from_disk(str(tmp_path / "out" / "default"))["train"]
    assert len(kept) == N_SEEDS  # nothing lost across the kill


def _stats(base_url: str) -> dict:
    import httpx

    return httpx.get(base_url.removesuffix("/v1") + "/stats", timeout=5).json()


def _cached_calls(cache_dir: Path) -> int:
    import sqlite3

    [path] = (cache_dir / "revdial-llm-calls").glob("*.sqlite")
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]


def _run(command: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def test_kill_9_and_resume_repays_no_completed_call_at_the_server(tmp_path):
    """Clean run: N requests at the server. Killed run: k requests, c of them completed (in the call cache).
    Resumed run: exactly N - c requests."""
    from fakes.server import FakeOpenAIServer

    seeds_dir = small_seeds_dir(tmp_path / "seeds", N_SEEDS)
    with FakeOpenAIServer(latency_s=0.4) as server:
        base = server.base_url

        def command(name: str) -> tuple[list[str], dict]:
            env = {
                **os.environ,
                "DISTILABEL_CACHE_DIR": str(tmp_path / f"cache-{name}"),
                "REVDIAL_TEST_KEY": "k",
            }
            return [
                sys.executable,
                str(HERE / "resume_run.py"),
                str(seeds_dir),
                str(tmp_path / name),
                "-",
                base,
            ], env

        clean = _run(*command("clean"))
        assert clean.wait(timeout=300) == 0, clean.stderr.read().decode()[-3000:]
        n_clean = _stats(base)["requests"]
        httpx_reset = __import__("httpx").post(base.removesuffix("/v1") + "/stats", timeout=5)
        assert httpx_reset.status_code == 200 and _stats(base)["requests"] == 0

        killed = _run(*command("killed"))
        deadline = time.time() + 180
        while _stats(base)["requests"] < n_clean // 2 and time.time() < deadline and killed.poll() is None:
            time.sleep(0.05)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
        k = _stats(base)["requests"]
        completed = _cached_calls(tmp_path / "cache-killed")
        assert 0 < completed < n_clean and k < n_clean
        __import__("httpx").post(base.removesuffix("/v1") + "/stats", timeout=5)

        resumed = _run(*command("killed"))
        assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()[-3000:]
        repaid = _stats(base)["requests"]
        print(f"clean N={n_clean}, killed k={k} requests, c={completed} completed, resumed {repaid} = N - c")
        assert repaid == n_clean - completed, (n_clean, k, completed)


def test_first_ctrl_c_stops_within_10_s_marks_the_run_stopped_and_the_rerun_finishes(tmp_path):
    seeds_dir = small_seeds_dir(tmp_path / "seeds", N_SEEDS)
    calls = tmp_path / "calls.txt"
    env = {**os.environ, "DISTILABEL_CACHE_DIR": str(tmp_path / "cache"), "FAKE_LLM_DELAY_S": "20"}
    command = [sys.executable, str(HERE / "resume_run.py"), str(seeds_dir), str(tmp_path / "out"), str(calls)]
    run = _run(command, env)
    deadline = time.time() + 180
    state = tmp_path / ".out.work" / "run-state.json"
    while not (state.exists() and "running" in state.read_text()) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the LLM steps are loaded and inside a 20 s call
    os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole foreground group
    pressed = time.monotonic()
    _, stderr = run.communicate(timeout=60)
    assert time.monotonic() - pressed <= 10
    assert run.returncode != 0 and "re-run the same command to resume" in stderr.decode()
    assert json.loads(state.read_text())["status"] == "stopped"

    again = _run(command, {**env, "FAKE_LLM_DELAY_S": "0"})
    assert again.wait(timeout=300) == 0, again.stderr.read().decode()[-3000:]
    assert json.loads(state.read_text())["status"] == "finished"
    assert len(datasets.load_from_disk(str(tmp_path / "out" / "default"))["train"]) == N_SEEDS
