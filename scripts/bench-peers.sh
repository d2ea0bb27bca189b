#!/usr/bin/env bash
# Benchmarks `tigk serve` beside InfluxDB 1.6.7 and VictoriaMetrics in one run with
# ../shared/bench/peers.sh (ingest values per server CPU-second, bytes/value on disk, peak
# RSS, settle time, query medians). Extra arguments go to peers.sh (e.g. --ints).
#   scripts/bench-peers.sh [--peers "influxdb victoriametrics"] [peers.sh options...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH_DIR:-$ROOT/../shared/bench}
PORT=${TIGK_BENCH_PORT:-18086}
PEERS="influxdb victoriametrics"
if [ "${1-}" = "--peers" ]; then PEERS=$2; shift 2; fi

# TIGK_BIN: benchmark an already built binary instead of building one.
if [ -z "${TIGK_BIN-}" ]; then (cd "$ROOT" && cargo build --release -q -p tigk); fi
TIGK=${TIGK_BIN:-$ROOT/target/release/tigk}
DATA=$(mktemp -d /tmp/tigk-bench-XXXX)
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA" "$DATA.toml"' EXIT

"$TIGK" user create --data-dir "$DATA" --name admin --password "bench-$(date +%s)" --admin >/dev/null
TOKEN=$("$TIGK" token create --data-dir "$DATA" --admin --description bench)
# Self-monitoring off: its write every 10 s into _internal keeps the data directory changing,
# so the harness's settle check (du unchanged for 15 s) would always run to its maximum.
printf '[monitor]\nstore_enabled = false\n' >"$DATA.toml"
NO_COLOR=1 "$TIGK" serve --config "$DATA.toml" --bind "127.0.0.1:$PORT" --data-dir "$DATA" 2>"$DATA.log" &
PID=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/ping" && break; sleep 0.1; done

BENCH_AUTH="Token $TOKEN" "$BENCH/peers.sh" --peers "$PEERS" \
  --target "http://127.0.0.1:$PORT" --target-pid "$PID" --target-dir "$DATA" --target-name tigk "$@"
