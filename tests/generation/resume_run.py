"""Run the synthesis with a slow fake LLM (a subprocess target of test_resume.py, so it can be killed with -9).

resume_run.py SEEDS OUT CALLS            the fake LLM class, counting its calls in CALLS
resume_run.py SEEDS OUT - BASE_URL       an OpenAI-compatible server (tests/fakes/server.py) at BASE_URL
"""

import os
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from helpers import config, synthesize_fixed

if __name__ == "__main__":
    seeds_dir, out, calls = (Path(arg) for arg in sys.argv[1:4])
    llm = {
        "backend": "class",
        "path": "fakes.llm:FakeLLM",
        "kwargs": {
            "calls_path": str(calls),
            "delay_s": float(os.environ.get("FAKE_LLM_DELAY_S", "0.3")),
            "hallucinate": False,
        },
    }
    if len(sys.argv) > 4:
        llm = {
            "backend": "openai",
            "model": "fake-model",
            "base_url": sys.argv[4],
            "api_key_env": "REVDIAL_TEST_KEY",
        }
    synthesize_fixed(config(llm, budget=8, batch_size=2), out, seeds_dir)
