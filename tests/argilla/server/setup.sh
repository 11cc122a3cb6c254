#!/usr/bin/env bash
# Prepare the local Argilla test server (tests/argilla/server/launch.py): argilla-server 2.8.0 in its own
# virtualenv (its pins clash with revdial's) and Debian's redis-server. Idempotent: finished steps are skipped.
#   bash tests/argilla/server/setup.sh        # then: pytest tests/argilla
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
VENV="${ARGILLA_SERVER_VENV:-$ROOT/.cache/argilla-server-venv}"
PYTHON="${PYTHON:-python3}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
APT_UPDATED=""

apt_install() {
  if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! command -v redis-server >/dev/null 2>&1; then
  echo "[argilla-server setup] installing redis-server (apt)"
  apt_install redis-server
fi

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import argilla_server, uvicorn" >/dev/null 2>&1; then
  echo "[argilla-server setup] creating $VENV"
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    apt_install python3-venv  # Debian's python3 ships without ensurepip
    "$PYTHON" -m venv "$VENV"
  fi
  # click<8.2, huggingface-hub and datasets pins: the versions argilla-server 2.8.0 starts with.
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    argilla-server==2.8.0 "click<8.2" huggingface-hub==1.13.0 datasets==5.0.1 2>&1 \
    | grep -v "^WARNING: Location '.*' is ignored" || true
  "$VENV/bin/python" -c "import argilla_server, uvicorn"
fi

echo "[argilla-server setup] ready: $VENV ($("$VENV/bin/python" -c 'import importlib.metadata as m; print("argilla-server", m.version("argilla-server"))')), $(redis-server --version | cut -d' ' -f1-3)"
