#!/usr/bin/env bash
# Prepare the local Argilla test server: its own virtualenv (argilla-server pins clash with revdial's) and redis.
# Idempotent: each step is skipped when already done. Run from anywhere; paths are relative to the repo root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
VENV="${ARGILLA_SERVER_VENV:-$ROOT/.cache/argilla-server-venv}"
PYTHON="${PYTHON:-python3}"

if ! command -v redis-server >/dev/null 2>&1; then
  echo "[argilla-server setup] installing redis-server (apt)"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import argilla_server, uvicorn" >/dev/null 2>&1; then
  echo "[argilla-server setup] creating $VENV"
  "$PYTHON" -m venv "$VENV"
  # click<8.2, huggingface-hub and datasets pins: the versions argilla-server 2.8.0 runs with.
  "$VENV/bin/pip" install -q argilla-server==2.8.0 "click<8.2" huggingface-hub==1.13.0 datasets==5.0.1
fi

echo "[argilla-server setup] ready: $VENV ($("$VENV/bin/python" -c 'import importlib.metadata as m; print("argilla-server", m.version("argilla-server"))')), $(redis-server --version | cut -d' ' -f1-3)"
