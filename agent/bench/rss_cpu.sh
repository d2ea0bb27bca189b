#!/usr/bin/env bash
# Benchmark (not a test): tigk-agent with the sample config's default inputs at a 10 s
# interval, writing to a scratch InfluxDB 1.6.7 on loopback. Reports peak RSS (VmHWM),
# CPU as a share of one core over the run, and the stripped binary size.
#
#   agent/bench/rss_cpu.sh [SECONDS]     (default 300; needs influxd on PATH)
# Budget from issue #4: peak RSS <= 12 MiB, CPU <= 0.1 % of a core.
set -euo pipefail
secs="${1:-300}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
cleanup() { [ -n "${agent_pid:-}" ] && kill "$agent_pid" 2>/dev/null; [ -n "${influx_pid:-}" ] && kill "$influx_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cargo build --release -p agent --manifest-path "$repo/Cargo.toml" >/dev/null 2>&1
cp "$repo/target/release/tigk-agent" "$work/tigk-agent"
strip "$work/tigk-agent"
size=$(stat -c %s "$work/tigk-agent")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rpc=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$work/meta"
[data]
  dir = "$work/data"
  wal-dir = "$work/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
influxd run -config "$work/influxdb.conf" >/dev/null 2>&1 & influx_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ping" && break; sleep 0.1; done

"$work/tigk-agent" config | sed "s#http://127.0.0.1:8086#http://127.0.0.1:$port#" >"$work/agent.toml"
"$work/tigk-agent" --config "$work/agent.toml" 2>"$work/agent.log" & agent_pid=$!
sleep 1
ticks=$(getconf CLK_TCK)
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$agent_pid/stat")
t0=$(date +%s.%N)
sleep "$secs"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$agent_pid/stat")
t1=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$agent_pid/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent_pid/status")
points=$(curl -s "http://127.0.0.1:$port/query" --data-urlencode 'db=telegraf' --data-urlencode 'q=SELECT count(usage_idle) FROM cpu' | grep -o '"values":\[\[[^]]*\]' || true)
python3 - "$u0" "$s0" "$u1" "$s1" "$t0" "$t1" "$ticks" "$hwm" "$rss" "$size" <<'PY'
import sys
u0, s0, u1, s1 = map(int, sys.argv[1:5]); t0, t1 = map(float, sys.argv[5:7]); tick = int(sys.argv[7])
hwm, rss, size = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])
cpu = ((u1 + s1) - (u0 + s0)) / tick / (t1 - t0) * 100
print(f"duration {t1 - t0:.0f} s, interval 10s, default inputs (cpu mem swap system disk diskio processes kernel)")
print(f"peak RSS (VmHWM) {hwm / 1024:.2f} MiB, RSS at end {rss / 1024:.2f} MiB  [budget 12 MiB]")
print(f"CPU {cpu:.4f} % of one core  [budget 0.1 %]")
print(f"stripped binary {size / 1024 / 1024:.2f} MiB ({size} bytes)")
PY
echo "stored: $points"
grep -E ' E! ' "$work/agent.log" || true
