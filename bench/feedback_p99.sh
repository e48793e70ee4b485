#!/usr/bin/env bash
# Does POST /v1/feedback add to the p99 of chat traffic? (issue 15, item 9.) A release gateway
# (records and feedback on SQLite) over `modelmux sim` (zero-delay answers), chat at CHAT_RATE
# req/s open loop for SECONDS, alone and then with FEEDBACK_RATE feedback posts/s beside it,
# alternated ROUNDS times; prints each run's chat p50/p99 and the ratio of the medians.
# Load from bench/probe.py (latency-corrected open loop). Loopback only; stops by itself.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CHAT_RATE="${CHAT_RATE:-500}"
FEEDBACK_RATE="${FEEDBACK_RATE:-200}"
SECONDS_EACH="${SECONDS_EACH:-15}"
ROUNDS="${ROUNDS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/modelmux-ci-target}"
cargo build --release -p modelmux >/dev/null
BIN="$CARGO_TARGET_DIR/release/modelmux"
OUT=$(mktemp -d /var/tmp/modelmux-feedback-p99.XXXXXX)
printf '[default]\nlatency_ms = 0\nttft_ms = 0\ntokens_per_second = 0\noutput_tokens = 12\n' >"$OUT/sim.toml"
"$BIN" --log warn sim --config "$OUT/sim.toml" --listen 127.0.0.1:0 >"$OUT/sim.out" 2>&1 &
SIM=$!
trap 'kill $SIM ${GW:-} 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -qoE 'http://[0-9.:]+/v1' "$OUT/sim.out" && break; sleep 0.1; done
SIM_URL=$(grep -m1 -oE 'http://[0-9.:]+/v1' "$OUT/sim.out")
PORT=$((20000 + RANDOM % 20000))
cat >"$OUT/gw.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
[store]
kind = "sqlite"
data_dir = "$OUT/data"
[providers.up]
kind = "openai"
base_url = "$SIM_URL"
api_key = "sk-bench"
[[routes]]
name = "chat"
targets = ["up/m"]
[[metrics]]
name = "resolved"
type = "boolean"
level = "episode"
optimize = "max"
TOML
"$BIN" serve --config "$OUT/gw.toml" --log warn >"$OUT/gw.out" 2>&1 &
GW=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "the gateway did not start:"; cat "$OUT/gw.out"; exit 1; }
echo '{"model":"chat","messages":[{"role":"user","content":"Where is my refund?"}],"max_tokens":50}' >"$OUT/chat.json"
echo '{"episode_id":"ticket-1","metric":"resolved","value":true,"source":"user"}' >"$OUT/fb.json"
chat() { python3 bench/probe.py load --url "http://127.0.0.1:$PORT/v1/chat/completions" \
  --body "$OUT/chat.json" --rate "$CHAT_RATE" -z "$SECONDS_EACH"; }
feedback() { python3 bench/probe.py load --url "http://127.0.0.1:$PORT/v1/feedback" \
  --body "$OUT/fb.json" --rate "$FEEDBACK_RATE" -z "$SECONDS_EACH" >"$OUT/fb-load.json"; }
p() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); l=d["latencyPercentiles"]; print(l["p50"]*1e3, l["p99"]*1e3)' "$1"; }
chat >/dev/null  # warm-up
printf '| run | chat p50 ms | chat p99 ms |\n|---|---:|---:|\n'
for r in $(seq "$ROUNDS"); do
  chat >"$OUT/alone-$r.json"
  read -r a50 a99 < <(p "$OUT/alone-$r.json")
  printf '| chat alone #%s | %.3f | %.3f |\n' "$r" "$a50" "$a99"
  feedback & FB=$!
  chat >"$OUT/with-$r.json"
  wait $FB
  read -r w50 w99 < <(p "$OUT/with-$r.json")
  printf '| chat + %s feedback/s #%s | %.3f | %.3f |\n' "$FEEDBACK_RATE" "$r" "$w50" "$w99"
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, n = sys.argv[1], int(sys.argv[2])
def p99(kind): return statistics.median(json.load(open(f"{out}/{kind}-{r}.json"))["latencyPercentiles"]["p99"] for r in range(1, n + 1))
a, w = p99("alone"), p99("with")
print(f"\nmedian chat p99: alone {a*1e3:.3f} ms, with feedback {w*1e3:.3f} ms, ratio {w/a:.2f}")
PY
rows=$(sqlite3 "$OUT/data/records.sqlite" "SELECT COUNT(*) FROM feedback" 2>/dev/null || echo "?")
echo "feedback rows stored: $rows"
