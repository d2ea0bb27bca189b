#!/usr/bin/env bash
# Benchmark (not a test): what a full 10,000-metric output buffer costs in memory.
# The output points at a closed loopback port, so every batch stays buffered; the inputs
# are repeated to fill the buffer in about half a minute. Reports RSS with an (almost)
# empty buffer and with a full one (the agent logs drops once it is full).
#
#   agent/bench/buffer_rss.sh
# Budget from issue #4: a full 10,000-metric buffer adds at most 8 MiB.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
cleanup() { [ -n "${agent_pid:-}" ] && kill "$agent_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cargo build --release -p agent --manifest-path "$repo/Cargo.toml" >/dev/null 2>&1
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
  printf '[agent]\n  interval = "1s"\n  flush_interval = "1s"\n  metric_buffer_limit = 10000\n  metric_batch_size = 1000\n'
  printf '[[outputs.influxdb]]\n  urls = ["http://127.0.0.1:%s"]\n  database = "telegraf"\n  skip_database_creation = true\n  timeout = "1s"\n' "$closed"
  for _ in $(seq 20); do
    printf '[[inputs.cpu]]\n[[inputs.mem]]\n[[inputs.swap]]\n[[inputs.system]]\n[[inputs.disk]]\n[[inputs.diskio]]\n[[inputs.kernel]]\n[[inputs.processes]]\n'
  done
} >"$work/agent.toml"
"$repo/target/release/tigk-agent" --config "$work/agent.toml" 2>"$work/agent.log" & agent_pid=$!
sleep 2
rss_start=$(awk '/VmRSS/ {print $2}' "/proc/$agent_pid/status")
for _ in $(seq 120); do
  grep -qi "drop" "$work/agent.log" && break
  sleep 1
done
grep -qi "drop" "$work/agent.log" || { echo "buffer never filled"; exit 1; }
sleep 3
rss_full=$(awk '/VmRSS/ {print $2}' "/proc/$agent_pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$agent_pid/status")
echo "RSS with a nearly empty buffer: $((rss_start / 1024)).$(( (rss_start % 1024) * 10 / 1024 )) MiB"
echo "RSS with a full 10,000-metric buffer: $((rss_full / 1024)).$(( (rss_full % 1024) * 10 / 1024 )) MiB (peak $((hwm / 1024)) MiB)"
echo "added by the full buffer: $(( (rss_full - rss_start) / 1024 )).$(( ((rss_full - rss_start) % 1024) * 10 / 1024 )) MiB"
