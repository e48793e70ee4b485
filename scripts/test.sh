#!/usr/bin/env bash
# The project's one test command:
#   1. cargo test --workspace
#   2. cargo build -p modelmux
#   3. the official-SDK conformance tests (tests/sdk) in a venv, against that binary.
#
# Environment:
#   CARGO_TARGET_DIR  honoured as cargo does (default: <repo>/target)
#   MODELMUX_VENV     the venv for the SDK tests (default: $TARGET_DIR/sdk-venv)
#   PYTHON            interpreter that creates the venv (default: python3; 3.11 is known good)
#   CI=true           the SDK tests must run: failing to install them is an error
# Extra arguments are passed to pytest, e.g. `scripts/test.sh -k stream`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '\n==> %s\n' "$*"; }

# Where cargo puts its output (honours CARGO_TARGET_DIR and any build.target-dir).
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
if [[ -z "$TARGET_DIR" ]]; then
  TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
fi
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac

say "cargo test --workspace"
cargo test --workspace

say "cargo build -p modelmux"
cargo build -p modelmux
BIN="$TARGET_DIR/debug/modelmux"
[[ -x "$BIN" ]] || { echo "error: $BIN was not built" >&2; exit 1; }

# SDK tests cannot run: say so loudly; in CI that is a failure.
skip_sdk() {
  echo
  echo "!! SDK conformance tests SKIPPED: $*"
  if [[ "${CI:-}" == "true" ]]; then
    echo "!! CI=true: the SDK tests must run here, so this is a failure." >&2
    exit 1
  fi
  echo "!! (not CI, so not failing; the cargo tests above passed)"
  exit 0
}

REQS="tests/sdk/requirements.txt"
VENV="${MODELMUX_VENV:-$TARGET_DIR/sdk-venv}"
PY="${PYTHON:-python3}"

say "SDK tests: venv $VENV"
if [[ ! -x "$VENV/bin/python" ]]; then
  command -v "$PY" >/dev/null 2>&1 || skip_sdk "no Python interpreter ($PY not found)"
  "$PY" -m venv "$VENV" || skip_sdk "$PY -m venv $VENV failed (is the venv module installed?)"
fi

# Install only when the requirements (or the interpreter) changed since the last install.
STAMP="$VENV/.requirements.stamp"
WANT="$( { cat "$REQS"; "$VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
  echo "installing $REQS"
  PIP_LOG="$VENV/pip-install.log"
  if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
      --retries "${PIP_RETRIES:-2}" -r "$REQS" >"$PIP_LOG" 2>&1; then
    tail -n 15 "$PIP_LOG" | sed 's/^/   pip: /'
    skip_sdk "pip could not install $REQS (is PyPI reachable?); full log: $PIP_LOG"
  fi
  echo "$WANT" >"$STAMP"
else
  echo "requirements already installed ($STAMP matches)"
fi

say "pytest tests/sdk (MODELMUX_BIN=$BIN)"
MODELMUX_BIN="$BIN" PYTHONDONTWRITEBYTECODE=1 \
  "$VENV/bin/python" -m pytest tests/sdk -q -p no:cacheprovider "$@"
