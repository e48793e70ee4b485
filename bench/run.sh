#!/usr/bin/env bash
# modelmux benchmarks (issue 6), one command from a clean clone:
#
#     bash bench/run.sh
#
# Builds the release binary, installs `oha` into <target>/bench-tools if it is missing, waits
# (bounded) for the machine to be quiet, then on loopback only:
#   core 1: the upstream and the load tool
#   core 0: the gateway (`modelmux serve`), a route behind 20 CEL policy rules and 10 targets
# The fast upstream is bench/mock-upstream (UPSTREAM=mock, the default): `modelmux sim` awaits a
# tokio sleep even for zero delays (latency_ms, ttft_ms and each token), ~1 ms apiece on tokio's
# millisecond timer, so its "zero-latency" answers take ~2 ms and its streams ~1 ms a token.
# UPSTREAM=sim measures against the sim instead. The slow streams always come from the sim.
# and measures, each against the upstream hit directly in the same run:
#   open loop at 500 / 2000 / 5000 req/s (latency-corrected), closed loop (64 connections),
#   gateway CPU per request, idle and peak RSS, added time to first token (200 sequential
#   streams), memory per open stream (1,000 slow streams), ready-to-serve time; and the same
#   loads through a relay-only proxy (bench/mock-upstream's mock-proxy) on the gateway's core,
#   the floor any gateway stands on.
# Then the criterion benchmarks (modelmux-wire translate, modelmux-core decision).
# Writes bench/RESULTS.md (the generated part, between markers) and bench/out/<stamp>/ (raw).
#
# Environment (all optional):
#   DURATION=10      seconds per load run          RATES="500 2000 5000"
#   CONNS=64         connections (open and closed) QUIET_WAIT=1200 seconds to wait for quiet
#   LOG=warn         gateway log filter (info writes one access line per request to stderr)
#   STORE=sqlite     gateway [store] kind (sqlite is the default deployment; or memory)
#   CRITERION=1      run the criterion benches (0 skips them)
#   LOADGEN=auto     auto (oha if installable, else probe.py) | oha | python
#   UPSTREAM=mock    mock (bench/mock-upstream, answers at once) | sim (modelmux sim, zero-delay model)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
BIN=$TARGET/release/modelmux
TOOLS=$TARGET/bench-tools
OHA_VERSION=1.16.0 # rust-version 1.88; `cargo info oha` — builds on rustc 1.95
DURATION=${DURATION:-10}
RATES=${RATES:-"500 2000 5000"}
CONNS=${CONNS:-64}
QUIET_WAIT=${QUIET_WAIT:-1200}
LOG=${LOG:-warn}
STORE=${STORE:-sqlite}
CRITERION=${CRITERION:-1}
LOADGEN=${LOADGEN:-auto}
UPSTREAM=${UPSTREAM:-mock}
MOCK=$TOOLS/mock/release/mock-upstream
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$ROOT/bench/out/$STAMP
mkdir -p "$OUT"
ln -sfn "$STAMP" "$ROOT/bench/out/latest"
PROBE="python3 $ROOT/bench/probe.py"
say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    sleep 0.3
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

# ---- 1. build ------------------------------------------------------------------------------
say "building: cargo build --release -p modelmux (target $TARGET)"
cargo build --release -p modelmux 2>&1 | tail -3 | tee -a "$OUT/run.log" >&2
[ -x "$BIN" ] || { say "no binary at $BIN"; exit 1; }
if [ "$UPSTREAM" = mock ]; then
    say "building bench/mock-upstream (target $TOOLS/mock)"
    cargo build --release --manifest-path "$ROOT/bench/mock-upstream/Cargo.toml" --target-dir "$TOOLS/mock" 2>&1 | tail -1 >&2
    [ -x "$MOCK" ] || { say "no mock upstream at $MOCK"; exit 1; }
fi

OHA=""
if [ "$LOADGEN" != python ]; then
    if [ -x "$TOOLS/bin/oha" ]; then
        OHA=$TOOLS/bin/oha
    elif command -v oha >/dev/null 2>&1; then
        OHA=$(command -v oha)
    else
        say "installing oha $OHA_VERSION into $TOOLS (once)"
        if timeout 1800 cargo install oha --version "$OHA_VERSION" --locked --root "$TOOLS" >"$OUT/oha-install.log" 2>&1; then
            OHA=$TOOLS/bin/oha
        else
            say "WARNING: oha could not be installed (see $OUT/oha-install.log)."
            say "WARNING: falling back to bench/probe.py load (python asyncio): it saturates near"
            say "WARNING: a few thousand req/s on one core, so high rates and closed-loop figures are"
            say "WARNING: bounded by the load generator, not the gateway."
        fi
    fi
fi
[ "$LOADGEN" = oha ] && [ -z "$OHA" ] && { say "LOADGEN=oha but oha is unavailable"; exit 1; }
if [ -n "$OHA" ]; then say "load generator: $("$OHA" --version)"; else say "load generator: probe.py (python)"; fi

if [ "$CRITERION" = 1 ]; then
    say "compiling criterion benches"
    cargo bench -p modelmux-wire --bench translate --no-run 2>&1 | tail -1 >&2
    cargo bench -p modelmux-core --bench decision --no-run 2>&1 | tail -1 >&2
fi

# ---- 2. wait for a quiet machine -------------------------------------------------------------
busy() {
    local c r l
    c=$(pgrep -c -x cargo || true)
    r=$(pgrep -c -x rustc || true)
    l=$(cut -d' ' -f1 /proc/loadavg)
    echo "cargo=$c rustc=$r load1=$l"
    [ "$c" -gt 0 ] || [ "$r" -gt 0 ] || awk -v l="$l" 'BEGIN{exit !(l>=1.0)}'
}
waited=0
while state=$(busy); do
    if [ "$waited" -ge "$QUIET_WAIT" ]; then
        say "machine still busy after ${waited}s ($state): measuring anyway"
        break
    fi
    say "machine busy ($state); waiting (${waited}/${QUIET_WAIT}s)"
    sleep 30
    waited=$((waited + 30))
done
LOAD_START=$(cat /proc/loadavg)
echo "$state" >"$OUT/quiet.txt"
echo "waited_s=$waited loadavg_start=$LOAD_START" >>"$OUT/quiet.txt"
say "measuring ($state, waited ${waited}s)"

# ---- 3. configs ------------------------------------------------------------------------------
cat >"$OUT/sim.toml" <<'EOF'
# The upstream: zero latency, 12-word answers, every token at once.
[default]
latency_ms = 0
ttft_ms = 0
tokens_per_second = 0
output_tokens = 12

# For memory per open stream: one token a second, long answers.
[models.slow]
latency_ms = 0
ttft_ms = 0
tokens_per_second = 1
output_tokens = 600
EOF

wait_line() { # file regex timeout_s → prints the first match
    local f=$1 re=$2 t=$3 i=0 line
    while [ $i -lt $((t * 20)) ]; do
        line=$(grep -m1 -oE "$re" "$f" 2>/dev/null || true)
        [ -n "$line" ] && { echo "$line"; return 0; }
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

taskset -c 1 "$BIN" --log warn sim --config "$OUT/sim.toml" --listen 127.0.0.1:0 >"$OUT/sim.out" 2>"$OUT/sim.err" &
SIM_PID=$!
PIDS+=("$SIM_PID")
SIM_URL=$(wait_line "$OUT/sim.out" 'http://[0-9.:]+/v1' 10) || { say "sim did not start"; cat "$OUT/sim.err" >&2; exit 1; }
say "sim (slow streams): $SIM_URL (pid $SIM_PID, core 1)"
if [ "$UPSTREAM" = mock ]; then
    taskset -c 1 "$MOCK" 127.0.0.1:0 >"$OUT/mock.out" 2>"$OUT/mock.err" &
    UP_PID=$!
    PIDS+=("$UP_PID")
    UP_URL=$(wait_line "$OUT/mock.out" 'http://[0-9.:]+/v1' 10) || { say "mock did not start"; exit 1; }
    UP_CMD=("$MOCK" 127.0.0.1:0)
else
    UP_PID=$SIM_PID
    UP_URL=$SIM_URL
    UP_CMD=("$BIN" --log warn sim --config "$OUT/sim.toml" --listen 127.0.0.1:0)
fi
echo "$UPSTREAM" >"$OUT/upstream.txt"
say "fast upstream ($UPSTREAM): $UP_URL (pid $UP_PID, core 1)"

gateway_config() {
    local f=$1 i targets=""
    {
        echo '[server]'
        echo 'shutdown_grace = "1s"'
        echo '[router]'
        echo 'num_retries = 0'
        echo 'timeout = "120s"'
        echo 'total_timeout = "300s"'
        echo 'ttft_timeout = "20s"'
        echo '[store]'
        echo "kind = \"$STORE\""
        echo "data_dir = \"$OUT/data\""
        echo '[providers.up]'
        echo 'kind = "openai"'
        echo "base_url = \"$UP_URL\""
        echo 'api_key = "sk-bench"'
        echo '[providers.sim]'
        echo 'kind = "openai"'
        echo "base_url = \"$SIM_URL\""
        echo 'api_key = "sk-bench"'
        for i in $(seq 0 9); do
            echo "[providers.up.models.m$i]"
            echo 'context_window = 128000'
            echo 'max_output_tokens = 16384'
            echo 'capabilities = ["tools", "vision", "json_schema", "streaming"]'
            echo "input_price = $(awk -v i=$i 'BEGIN{print 0.1*(i+1)}')"
            echo "output_price = $(awk -v i=$i 'BEGIN{print 0.4*(i+1)}')"
            targets="$targets\"up/m$i\", "
        done
        echo '[providers.sim.models.slow]'
        echo 'context_window = 128000'
        echo 'max_output_tokens = 16384'
        echo 'capabilities = ["streaming"]'
        targets=${targets%, }
        echo "[[routes]]"
        echo 'name = "support"'
        echo "targets = [$targets]"
        echo 'strategy = "cheapest"'
        echo "[[routes]]"
        echo 'name = "faq"'
        echo "targets = [$targets]"
        echo 'strategy = "cheapest"'
        echo "[[routes]]"
        echo 'name = "slow"'
        echo 'targets = ["sim/slow"]'
        echo '[[intents]]'
        echo 'name = "billing"'
        echo 'keywords = ["invoice", "refund", "charge", "payment"]'
        echo '[[intents]]'
        echo 'name = "policy"'
        echo "patterns = ['(?i)\\b(privacy|gdpr|legal)\\b']"
        # 19 rules that do not match the request, then the one that does (as in decision.rs).
        for i in $(seq 0 18); do
            echo '[[rules]]'
            echo "name = \"r$i\""
            echo "when = 'requested == \"support\" && intent == \"x$i\" && input_tokens < $((1000 + i))'"
            echo 'route = "faq"'
        done
        echo '[[rules]]'
        echo 'name = "billing-faq"'
        echo "when = 'requested == \"support\" && intent == \"billing\" && input_tokens < 2000 && !images'"
        echo 'route = "faq"'
    } >"$f"
}
gateway_config "$OUT/gateway.toml"
"$BIN" check --config "$OUT/gateway.toml" >"$OUT/check.txt" 2>&1 || { say "config invalid:"; cat "$OUT/check.txt" >&2; exit 1; }

# The request of crates/modelmux-core/benches/decision.rs, not streaming. Via the gateway it
# names the route; direct, the model the route picks (m0, the cheapest).
MSGS='[{"role":"system","content":"You are a helpful support assistant for an online shop. Answer briefly."},{"role":"user","content":"Hi, I was charged twice for my last order. Can I get a refund for the second charge?"}]'
printf '{"model":"support","messages":%s,"temperature":0.3,"max_tokens":300}' "$MSGS" >"$OUT/body-gw.json"
printf '{"model":"m0","messages":%s,"temperature":0.3,"max_tokens":300}' "$MSGS" >"$OUT/body-direct.json"
printf '{"model":"support","messages":%s,"temperature":0.3,"max_tokens":300,"stream":true,"stream_options":{"include_usage":true}}' "$MSGS" >"$OUT/stream-gw.json"
printf '{"model":"m0","messages":%s,"temperature":0.3,"max_tokens":300,"stream":true,"stream_options":{"include_usage":true}}' "$MSGS" >"$OUT/stream-direct.json"
printf '{"model":"slow","messages":[{"role":"user","content":"Tell me a long story."}],"max_tokens":600,"stream":true}' >"$OUT/slow.json"

GW_ARGS=(--log "$LOG" serve --config "$OUT/gateway.toml" --listen 127.0.0.1:0)
start_gateway() { # name → sets GW_PID, GW_URL
    taskset -c 0 "$BIN" "${GW_ARGS[@]}" >"$OUT/$1.out" 2>"$OUT/$1.err" &
    GW_PID=$!
    PIDS+=("$GW_PID")
    GW_URL=$(wait_line "$OUT/$1.out" 'http://[0-9.:]+' 10) || { say "gateway did not start"; cat "$OUT/$1.err" >&2; exit 1; }
    wait_line "$OUT/$1.out" 'http' 1 >/dev/null
}
stop_pid() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
}
cpu_ticks() { awk '{print $14 + $15}' <(sed 's/^.*) //; s/^/x x /' "/proc/$1/stat"); }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# ---- 4. ready-to-serve -----------------------------------------------------------------------
say "ready-to-serve: 5 starts of the gateway, 5 of the fast upstream"
: >"$OUT/ready-gw.jsonl"
: >"$OUT/ready-sim.jsonl"
for _ in 1 2 3 4 5; do
    timeout 30 $PROBE ready --path /healthz -- taskset -c 0 "$BIN" "${GW_ARGS[@]}" >>"$OUT/ready-gw.jsonl"
    timeout 30 $PROBE ready --path /v1/models -- taskset -c 0 "${UP_CMD[@]}" >>"$OUT/ready-sim.jsonl"
done

# ---- 5. the gateway: routed-path check, idle RSS, TTFT, load --------------------------------
start_gateway gw
say "gateway: $GW_URL (pid $GW_PID, core 0, log=$LOG, store=$STORE)"
sleep 1
echo "{\"gw_rss_kib\": $(status_kib "$GW_PID" VmRSS), \"gw_hwm_kib\": $(status_kib "$GW_PID" VmHWM), \"sim_rss_kib\": $(status_kib "$UP_PID" VmRSS)}" >"$OUT/idle.json"

curl -sS -D "$OUT/routed-headers.txt" -o "$OUT/routed-body.json" -H 'content-type: application/json' \
    --data-binary @"$OUT/body-gw.json" --max-time 5 "$GW_URL/v1/chat/completions"
grep -i '^x-modelmux-decision' "$OUT/routed-headers.txt" | tee -a "$OUT/run.log" >&2 || true
grep -qi '^x-modelmux-decision:.*billing-faq' "$OUT/routed-headers.txt" || { say "the request was not routed by the rule billing-faq"; cat "$OUT/routed-headers.txt" >&2; exit 1; }
grep -qi '^HTTP/1.1 200' "$OUT/routed-headers.txt" || { say "gateway did not answer 200"; exit 1; }

load() { # name url body pid mode(rate|closed) value
    local name=$1 url=$2 body=$3 pid=$4 mode=$5 val=$6 t0 t1 s0 s1 w0 w1
    t0=$(cpu_ticks "$pid"); s0=$(cpu_ticks "$UP_PID"); w0=$(date +%s.%N)
    if [ -n "$OHA" ]; then
        local rate_args=()
        [ "$mode" = rate ] && rate_args=(-q "$val" --latency-correction)
        taskset -c 1 timeout $((DURATION + 30)) "$OHA" --no-tui --output-format json -z "${DURATION}s" \
            -c "$CONNS" "${rate_args[@]}" -m POST -H 'content-type: application/json' -D "$body" \
            "$url/chat/completions" >"$OUT/$name.json" 2>"$OUT/$name.err" || true
    else
        local rate_args=()
        [ "$mode" = rate ] && rate_args=(--rate "$val")
        taskset -c 1 timeout $((DURATION + 30)) $PROBE load --url "$url/chat/completions" --body "$body" \
            --conns "$CONNS" -z "$DURATION" "${rate_args[@]}" >"$OUT/$name.json" 2>"$OUT/$name.err" || true
    fi
    t1=$(cpu_ticks "$pid"); s1=$(cpu_ticks "$UP_PID"); w1=$(date +%s.%N)
    echo "{\"ticks\": $((t1 - t0)), \"sim_ticks\": $((s1 - s0)), \"wall\": $(awk -v a="$w0" -v b="$w1" 'BEGIN{print b-a}'), \"clk_tck\": $(getconf CLK_TCK)}" >"$OUT/$name.cpu.json"
}

say "warm-up (3 s each way)"
DURATION_SAVED=$DURATION
DURATION=3
load warm-direct "$UP_URL" "$OUT/body-direct.json" "$UP_PID" closed 0
load warm-gw "$GW_URL/v1" "$OUT/body-gw.json" "$GW_PID" closed 0
DURATION=$DURATION_SAVED

say "time to first token: 200 sequential streams each way"
timeout 120 $PROBE ttft --url "$UP_URL/chat/completions" --body "$OUT/stream-direct.json" -n 200 >"$OUT/ttft-direct.json"
timeout 120 $PROBE ttft --url "$GW_URL/v1/chat/completions" --body "$OUT/stream-gw.json" -n 200 >"$OUT/ttft-gw.json"

for rate in $RATES; do
    say "open loop $rate req/s, ${DURATION}s: direct, then via the gateway"
    load "rate$rate-direct" "$UP_URL" "$OUT/body-direct.json" "$UP_PID" rate "$rate"
    load "rate$rate-gw" "$GW_URL/v1" "$OUT/body-gw.json" "$GW_PID" rate "$rate"
done
say "closed loop, $CONNS connections, ${DURATION}s: direct, then via the gateway"
load closed-direct "$UP_URL" "$OUT/body-direct.json" "$UP_PID" closed 0
load closed-gw "$GW_URL/v1" "$OUT/body-gw.json" "$GW_PID" closed 0
echo "{\"gw_rss_kib\": $(status_kib "$GW_PID" VmRSS), \"gw_hwm_kib\": $(status_kib "$GW_PID" VmHWM), \"sim_rss_kib\": $(status_kib "$UP_PID" VmRSS), \"sim_hwm_kib\": $(status_kib "$UP_PID" VmHWM)}" >"$OUT/peak.json"
stop_pid "$GW_PID"

# ---- 5b. the floor: a relay-only proxy on the gateway's core ---------------------------------
# bench/mock-upstream's mock-proxy reads each request, sends it to the upstream over a pooled
# client and returns the answer, and does nothing else. What it costs is what relaying alone
# costs on this machine: the gateway cannot go below it.
PROXY=$TOOLS/mock/release/mock-proxy
if [ "$UPSTREAM" = mock ] && [ -x "$PROXY" ]; then
    say "relay-only proxy (mock-proxy, core 0): open loop at $RATES req/s, then closed loop"
    taskset -c 0 "$PROXY" 127.0.0.1:0 "$UP_URL" >"$OUT/proxy.out" 2>"$OUT/proxy.err" &
    PX_PID=$!
    PIDS+=("$PX_PID")
    PX_URL=$(wait_line "$OUT/proxy.out" 'http://[0-9.:]+/v1' 10) || { say "mock-proxy did not start"; exit 1; }
    DURATION_SAVED=$DURATION
    DURATION=3
    load warm-proxy "$PX_URL" "$OUT/body-direct.json" "$PX_PID" closed 0
    DURATION=$DURATION_SAVED
    for rate in $RATES; do
        load "rate$rate-proxy" "$PX_URL" "$OUT/body-direct.json" "$PX_PID" rate "$rate"
    done
    load closed-proxy "$PX_URL" "$OUT/body-direct.json" "$PX_PID" closed 0
    stop_pid "$PX_PID"
fi

# ---- 6. memory per open stream, on a fresh gateway -------------------------------------------
say "1,000 slow streams: direct to the sim (its RSS), then via a fresh gateway"
timeout 120 $PROBE streams --url "$SIM_URL/chat/completions" --body "$OUT/slow.json" -n 1000 --pid "$SIM_PID" --hold 3 >"$OUT/streams-direct.json" || true
sleep 2
start_gateway gw-streams
for _ in $(seq 1 20); do
    curl -sS -o /dev/null -H 'content-type: application/json' --data-binary @"$OUT/body-gw.json" --max-time 5 "$GW_URL/v1/chat/completions" || true
done
timeout 60 $PROBE ttft --url "$GW_URL/v1/chat/completions" --body "$OUT/stream-gw.json" -n 10 --warmup 0 >/dev/null || true
sleep 1
timeout 120 $PROBE streams --url "$GW_URL/v1/chat/completions" --body "$OUT/slow.json" -n 1000 --pid "$GW_PID" --hold 3 >"$OUT/streams-gw.json" || true
stop_pid "$GW_PID"
stop_pid "$SIM_PID"
[ "$UP_PID" != "$SIM_PID" ] && stop_pid "$UP_PID"
LOAD_END=$(cat /proc/loadavg)
echo "loadavg_end=$LOAD_END" >>"$OUT/quiet.txt"

# ---- 7. criterion ----------------------------------------------------------------------------
if [ "$CRITERION" = 1 ]; then
    say "criterion: modelmux-wire translate, modelmux-core decision"
    cargo bench -p modelmux-wire --bench translate -- --warm-up-time 1 --measurement-time 3 >"$OUT/criterion-translate.txt" 2>&1 || say "translate bench failed"
    cargo bench -p modelmux-core --bench decision -- --warm-up-time 1 --measurement-time 3 >"$OUT/criterion-decision.txt" 2>&1 || say "decision bench failed"
fi

# ---- 8. report -------------------------------------------------------------------------------
python3 "$ROOT/bench/report.py" "$OUT" "$ROOT/bench/RESULTS.md" "$TARGET"
say "raw results in $OUT; table in bench/RESULTS.md"
