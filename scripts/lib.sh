# Shared by scripts/run, scripts/test and scripts/bench: find Python 3.11+,
# make the virtualenv and install the pinned requirements when they change.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KAMENG_VENV:-$ROOT/.venv}"

find_python() {
  local candidate
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "Kameng needs Python 3.11 or newer on PATH." >&2
  return 1
}

# ensure_venv FILE: the venv exists and has FILE's pins installed.
ensure_venv() {
  local reqs="$1" stamp python
  stamp="$VENV/.installed-$(basename "$reqs")"
  if [ ! -x "$VENV/bin/python" ]; then
    python="$(find_python)"
    echo "==> creating virtualenv in $VENV"
    "$python" -m venv "$VENV"
  fi
  local digest
  digest="$(cat "$ROOT/requirements.txt" "$reqs" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "==> installing pinned requirements ($(basename "$reqs"))"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs"
    echo "$digest" >"$stamp"
  fi
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
