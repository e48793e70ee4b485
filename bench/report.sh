#!/usr/bin/env bash
# Report and analytics speed over a seeded store (issue 15, item 9): 1 M records and
# 200 k feedback rows (RECORDS / FEEDBACK override), on SQLite and on PostgreSQL. Seeds
# once per store (kept under /var/tmp; RESEED=1 seeds again), then times `modelmux report`
# (table and JSON, by route, per request and per episode) and `GET /v1/analytics` on a
# gateway over the same store, each run REPEAT times (default 3; the median is printed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RECORDS="${RECORDS:-1000000}"
FEEDBACK="${FEEDBACK:-200000}"
REPEAT="${REPEAT:-3}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/modelmux-ci-target}"
cargo build --release -p modelmux >/dev/null
cargo build --release -p modelmux-core --example seed_store >/dev/null
BIN="$CARGO_TARGET_DIR/release/modelmux"
SEED="$CARGO_TARGET_DIR/release/examples/seed_store"
STAMP_DIR=/var/tmp/modelmux-bench-report
mkdir -p "$STAMP_DIR/sqlite"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { # timed CMD...: seconds of the median of REPEAT runs
  for _ in $(seq "$REPEAT"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null || { echo "failed: $*" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | median
}

printf '| store | what | records | feedback | seconds (median of %s) |\n|---|---|---:|---:|---:|\n' "$REPEAT"
for store in sqlite postgres; do
  cfg="bench/report-$store.toml"
  stamp="$STAMP_DIR/$store-$RECORDS-$FEEDBACK.seeded"
  if [[ ! -f "$stamp" || "${RESEED:-}" == 1 ]]; then
    if [[ "$store" == sqlite ]]; then rm -rf "$STAMP_DIR/sqlite"; mkdir -p "$STAMP_DIR/sqlite"; fi
    if [[ "$store" == postgres ]]; then
      psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS mmx_bench_report CASCADE" >/dev/null
    fi
    "$SEED" --config "$cfg" --records "$RECORDS" --feedback "$FEEDBACK" >&2
    touch "$stamp"
  fi
  for args in "--by route" "--by route --format json" "--by route --per episode --format json" "--by target --baseline openai/gpt-4.1"; do
    # shellcheck disable=SC2086
    s=$(timed "$BIN" report --config "$cfg" --since 30d $args)
    printf '| %s | report %s | %s | %s | %.2f |\n' "$store" "$args" "$RECORDS" "$FEEDBACK" "$s"
  done
  # The analytics endpoint on a gateway over the same store.
  port=$((20000 + RANDOM % 20000))
  gwcfg="$STAMP_DIR/gateway-$store.toml"
  { cat "$cfg"; printf '\n[keys]\nanalytics_key = "bench-analytics-key-0123456789"\n[server]\nlisten = "127.0.0.1:%s"\n' "$port"; } >"$gwcfg"
  "$BIN" serve --config "$gwcfg" --log warn &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  s=$(timed curl -sf -H "Authorization: Bearer bench-analytics-key-0123456789" \
    "http://127.0.0.1:$port/v1/analytics?by=route&since=30d")
  printf '| %s | GET /v1/analytics?by=route | %s | %s | %.2f |\n' "$store" "$RECORDS" "$FEEDBACK" "$s"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
