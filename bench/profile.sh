#!/usr/bin/env bash
# Profile the gateway's routed non-streaming path (and, with STREAM=1, the streaming path).
#
#     bash bench/profile.sh [bench/out/<stamp>]      (default: bench/out/latest)
#
# Uses the sim.toml / gateway.toml / bodies of a bench/run.sh run. `perf record` needs hardware
# counters (`perf stat -e instructions true` must count); when it does not (as on this VM),
# valgrind --tool=callgrind counts instructions per function instead: collection is switched
# on only around N requests after a warm-up, so start-up and config parsing are excluded.
# Writes callgrind.out / perf.data and a top-functions report into the run directory.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=${1:-$ROOT/bench/out/latest}
RUN=$(cd "$RUN" && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
BIN=$TARGET/release/modelmux
OHA=${OHA:-$TARGET/bench-tools/bin/oha}
N=${N:-4000}
STREAM=${STREAM:-0}
P=$RUN/profile
mkdir -p "$P"
rm -f "$P"/callgrind.out* "$P"/perf.data
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_line() {
    local f=$1 re=$2 t=$3 i=0 line
    while [ $i -lt $((t * 20)) ]; do
        line=$(grep -m1 -oE "$re" "$f" 2>/dev/null || true)
        [ -n "$line" ] && { echo "$line"; return 0; }
        sleep 0.05; i=$((i + 1))
    done
    return 1
}

taskset -c 1 "$BIN" --log warn sim --config "$RUN/sim.toml" --listen 127.0.0.1:0 >"$P/sim.out" 2>&1 &
PIDS+=($!)
SIM_URL=$(wait_line "$P/sim.out" 'http://[0-9.:]+/v1' 10)
UP_URL=$SIM_URL
if [ "$(cat "$RUN/upstream.txt" 2>/dev/null || echo sim)" = mock ]; then
    taskset -c 1 "$TARGET/bench-tools/mock/release/mock-upstream" 127.0.0.1:0 >"$P/mock.out" 2>&1 &
    PIDS+=($!)
    UP_URL=$(wait_line "$P/mock.out" 'http://[0-9.:]+/v1' 10)
fi
awk -v up="$UP_URL" -v sim="$SIM_URL" -v data="$P/data" '
    /^\[providers\.up\]/ {sec = "up"} /^\[providers\.sim\]/ {sec = "sim"}
    /^base_url = / {print "base_url = \"" (sec == "up" ? up : sim) "\""; next}
    /^data_dir = / {print "data_dir = \"" data "\""; next}
    {print}' "$RUN/gateway.toml" >"$P/gateway.toml"

BODY=$RUN/body-gw.json
[ "$STREAM" = 1 ] && BODY=$RUN/stream-gw.json
MODE=callgrind
perf stat -e instructions true 2>&1 | grep -q 'not supported' && MODE=callgrind || MODE=perf
command -v perf >/dev/null || MODE=callgrind
echo "profiler: $MODE" | tee "$P/mode.txt"

if [ "$MODE" = callgrind ]; then
    taskset -c 0 valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$P/callgrind.out" \
        "$BIN" --log warn serve --config "$P/gateway.toml" --listen 127.0.0.1:0 >"$P/gw.out" 2>"$P/gw.err" &
    GW=$!
    PIDS+=($GW)
    GW_URL=$(wait_line "$P/gw.out" 'http://[0-9.:]+' 60)
    taskset -c 1 timeout 120 "$OHA" --no-tui -n 200 -c 8 -m POST -H 'content-type: application/json' -D "$BODY" "$GW_URL/v1/chat/completions" >/dev/null
    callgrind_control -i on "$GW" >/dev/null
    taskset -c 1 timeout 600 "$OHA" --no-tui --output-format json -n "$N" -c 8 -m POST -H 'content-type: application/json' -D "$BODY" "$GW_URL/v1/chat/completions" >"$P/oha.json"
    callgrind_control -i off "$GW" >/dev/null
    callgrind_control -d "$GW" >/dev/null
    sleep 1
    kill "$GW"; wait "$GW" 2>/dev/null || true
    OUTF=$P/callgrind.out.1 # the dump taken right after the N requests (part 1)
    callgrind_annotate --inclusive=no "$OUTF" 2>/dev/null | head -70 >"$P/top-self.txt"
    callgrind_annotate --inclusive=yes "$OUTF" 2>/dev/null | head -120 >"$P/top-inclusive.txt"
    echo "requests: $N; callgrind output $OUTF"
    echo "self cost: $P/top-self.txt; inclusive: $P/top-inclusive.txt"
else
    taskset -c 0 "$BIN" --log warn serve --config "$P/gateway.toml" --listen 127.0.0.1:0 >"$P/gw.out" 2>"$P/gw.err" &
    GW=$!
    PIDS+=($GW)
    GW_URL=$(wait_line "$P/gw.out" 'http://[0-9.:]+' 10)
    taskset -c 1 timeout 60 "$OHA" --no-tui -n 2000 -c 8 -m POST -H 'content-type: application/json' -D "$BODY" "$GW_URL/v1/chat/completions" >/dev/null
    perf record -F 4999 -g -p "$GW" -o "$P/perf.data" -- sleep 10 &
    REC=$!
    taskset -c 1 timeout 60 "$OHA" --no-tui -z 8s -c 64 -m POST -H 'content-type: application/json' -D "$BODY" "$GW_URL/v1/chat/completions" >/dev/null
    wait "$REC" || true
    perf report -i "$P/perf.data" --no-children --percent-limit 0.7 --stdio 2>/dev/null | head -120 >"$P/top-self.txt"
    echo "self cost: $P/top-self.txt"
fi
