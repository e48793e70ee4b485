#!/usr/bin/env bash
# The project's one test command:
#   1. cargo test --workspace
#   2. cargo build -p modelmux
#   3. the official-SDK conformance tests (tests/sdk) against that binary, in two venvs:
#      - tests/sdk/requirements.txt (openai, anthropic 2.x): every test in tests/sdk;
#      - tests/sdk/requirements-legacy.txt (anthropic 0.x, the major that sends `x-api-key`;
#        two versions of one package cannot share a venv): test_anthropic_sdk.py only.
#   4. the real Claude Code CLI through the gateway (tests/cli; see the last block).
#   It ends with one line, `total: N passed, N failed, N skipped`, over every runner.
#   PostgreSQL and Redis are found at their default local addresses when DATABASE_URL and
#   REDIS_URL are unset.
#
# Environment:
#   CARGO_TARGET_DIR      honoured as cargo does (default: <repo>/target)
#   MODELMUX_VENV         the venv for the SDK tests (default: $TARGET_DIR/sdk-venv)
#   MODELMUX_VENV_LEGACY  the venv for the legacy anthropic SDK (default: $TARGET_DIR/sdk-venv-legacy)
#   PYTHON                interpreter that creates the venvs (default: python3; 3.11 is known good)
#   CI=true               the SDK tests must run: failing to install them is an error
# Extra arguments are passed to both pytest runs, e.g. `scripts/test.sh -k stream`.
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

# The local services the store and shared-state suites use: found at their default addresses
# when the variables are unset, so a fresh machine with PostgreSQL and Redis running tests
# them instead of skipping them. Unset and unreachable: those suites say they were skipped.
reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
if [[ -z "${DATABASE_URL:-}" ]] && reachable 127.0.0.1 5432; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/test"
fi
if [[ -z "${REDIS_URL:-}" ]] && reachable 127.0.0.1 6379; then
  export REDIS_URL="redis://127.0.0.1:6379"
fi
echo "DATABASE_URL=${DATABASE_URL:-(unset: PostgreSQL suites skip)}"
echo "REDIS_URL=${REDIS_URL:-(unset: Redis suites skip)}"

# Every runner's output is kept here and counted at the end into one line.
LOGS="$TARGET_DIR/test-logs"
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log

# summary: one line counting passed, failed and skipped tests over every runner so far
# (cargo's `test result:` lines; its suites that skip for a missing service print
# `SKIPPED <test>` and are counted as skipped, not passed; pytest's closing lines, with
# xfailed counted as skipped).
summary() {
  python3 - "$LOGS" <<'PYEOF' || echo "summary: could not count the test logs"
import glob, re, sys
passed = failed = skipped = 0
for path in sorted(glob.glob(sys.argv[1] + "/*.log")):
    text = open(path, errors="replace").read()
    if path.endswith("cargo.log"):
        for m in re.finditer(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", text):
            passed += int(m[1]); failed += int(m[2]); skipped += int(m[3])
        skips = len(re.findall(r"^SKIPPED ", text, re.M))
        passed -= skips; skipped += skips
    else:
        for line in re.findall(r"^=*\s*(\d+ (?:passed|failed|skipped|xfailed|error|errors|deselected).*) in [\d.]+s", text, re.M):
            for n, kind in re.findall(r"(\d+) (\w+)", line):
                n = int(n)
                if kind == "passed": passed += n
                elif kind in ("failed", "error", "errors"): failed += n
                elif kind in ("skipped", "xfailed"): skipped += n
print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
PYEOF
}

say "cargo test --workspace"
if ! cargo test --workspace 2>&1 | tee "$LOGS/cargo.log"; then
  summary
  exit 1
fi

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
    summary
    exit 1
  fi
  echo "!! (not CI, so not failing; the cargo tests above passed)"
  summary
  exit 0
}

PY="${PYTHON:-python3}"

# prepare_venv VENV REQS: create VENV if needed and install REQS into it, only when the
# requirements (or the interpreter) changed since the last install. On failure prints why
# and returns 1.
prepare_venv() {
  local venv="$1" reqs="$2"
  say "SDK tests: venv $venv ($reqs)"
  if [[ ! -x "$venv/bin/python" ]]; then
    if ! command -v "$PY" >/dev/null 2>&1; then
      WHY="no Python interpreter ($PY not found)"
      return 1
    fi
    if ! "$PY" -m venv "$venv"; then
      WHY="$PY -m venv $venv failed (is the venv module installed?)"
      return 1
    fi
  fi
  local stamp="$venv/.requirements.stamp" want
  want="$( { cat "$reqs"; "$venv/bin/python" -VV; } | sha256sum | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "installing $reqs"
    local pip_log="$venv/pip-install.log"
    if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        --retries "${PIP_RETRIES:-2}" -r "$reqs" >"$pip_log" 2>&1; then
      tail -n 15 "$pip_log" | sed 's/^/   pip: /'
      WHY="pip could not install $reqs (is PyPI reachable?); full log: $pip_log"
      return 1
    fi
    echo "$want" >"$stamp"
  else
    echo "requirements already installed ($stamp matches)"
  fi
}

VENV="${MODELMUX_VENV:-$TARGET_DIR/sdk-venv}"
VENV_LEGACY="${MODELMUX_VENV_LEGACY:-$TARGET_DIR/sdk-venv-legacy}"
WHY=""

prepare_venv "$VENV" tests/sdk/requirements.txt || skip_sdk "$WHY"

LEGACY_OK=1
if ! prepare_venv "$VENV_LEGACY" tests/sdk/requirements-legacy.txt; then
  LEGACY_OK=0
  echo
  echo "!! legacy anthropic SDK tests SKIPPED: $WHY"
  if [[ "${CI:-}" == "true" ]]; then
    echo "!! CI=true: the SDK tests must run here, so this is a failure." >&2
    exit 1
  fi
fi

# sdk_versions VENV PKG...: "openai 3.54.0, anthropic 2.12.0" as installed there.
sdk_versions() {
  local venv="$1"
  shift
  "$venv/bin/python" - "$@" <<'PYEOF' 2>/dev/null || echo "versions unknown"
import sys
from importlib.metadata import version
print(", ".join(f"{p} {version(p)}" for p in sys.argv[1:]))
PYEOF
}

run_pytest() {
  local venv="$1" log="$2"
  shift 2
  MODELMUX_BIN="$BIN" PYTHONDONTWRITEBYTECODE=1 \
    "$venv/bin/python" -m pytest -q -rs -p no:cacheprovider "$@" 2>&1 | tee "$LOGS/$log"
}

# Both runs go ahead whatever the first gives; the script fails if either failed.
say "pytest tests/sdk (MODELMUX_BIN=$BIN; $(sdk_versions "$VENV" openai anthropic))"
STATUS=0
run_pytest "$VENV" sdk.log tests/sdk "$@" || STATUS=$?

if [[ "$LEGACY_OK" == 1 ]]; then
  say "pytest tests/sdk/test_anthropic_sdk.py (legacy SDK; $(sdk_versions "$VENV_LEGACY" anthropic))"
  LEGACY_STATUS=0
  run_pytest "$VENV_LEGACY" sdk-legacy.log tests/sdk/test_anthropic_sdk.py "$@" || LEGACY_STATUS=$?
  # 5 = no test selected, which extra arguments such as `-k openai` may well cause here.
  if [[ "$LEGACY_STATUS" != 0 && "$LEGACY_STATUS" != 5 ]]; then
    STATUS=$LEGACY_STATUS
  fi
fi

# --- Codex CLI (tests/cli/test_codex.py): the real `codex exec` (npm @openai/codex, pinned),
# headless, through the gateway's /v1/responses to a simulated provider of each format, with an
# exec_command round trip. It runs in the `pytest tests/cli` call of the block below; npm
# installs it once into $CLI_CACHE/codex; without npm or its registry it is skipped with the
# reason printed, in CI too (MODELMUX_CLI_REQUIRED=1 makes that a failure).

# --- Claude Code CLI (tests/cli): the real `claude -p`, headless, through the gateway to a
# simulated provider of each format, with a Bash tool round trip. npm installs the pinned
# CLI once into MODELMUX_CLI_CACHE (default $TARGET_DIR/cli-cache); without npm or its
# registry the tests are skipped, with the reason printed (CI=true: they fail instead).
# MODELMUX_SKIP_CLI=1 skips this block. Runs in the SDK venv (it needs only pytest).
if [[ "${MODELMUX_SKIP_CLI:-}" == 1 ]]; then
  printf '\n!! Claude Code CLI tests SKIPPED: MODELMUX_SKIP_CLI=1\n'
else
  CLI_CACHE="${MODELMUX_CLI_CACHE:-$TARGET_DIR/cli-cache}"
  say "pytest tests/cli (Claude Code CLI, cache $CLI_CACHE)"
  CLI_STATUS=0
  MODELMUX_BIN="$BIN" MODELMUX_CLI_CACHE="$CLI_CACHE" PYTHONDONTWRITEBYTECODE=1 \
    "$VENV/bin/python" -m pytest tests/cli -q -rs -p no:cacheprovider "$@" 2>&1 \
    | tee "$LOGS/cli.log" || CLI_STATUS=$?
  # 5 = no test selected, which extra arguments such as `-k stream` may well cause here.
  if [[ "$CLI_STATUS" != 0 && "$CLI_STATUS" != 5 ]]; then
    STATUS=$CLI_STATUS
  fi
fi

echo
summary
exit "$STATUS"
