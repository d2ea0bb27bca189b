#!/usr/bin/env python3
"""Records the InfluxQL golden answers from a real InfluxDB 1.6.7.

    scripts/record-golden.py [--influxd /usr/bin/influxd] [--port 28187] [--regen-data] [--serve]

1. Writes the deterministic data set to tsdb/tests/golden/data.lp (only with --regen-data,
   or when the file is missing: the committed file is what both sides load).
2. Starts a scratch `influxd` on 127.0.0.1 (config and data under a temporary directory),
   creates database `golden` and retention policy `short`, writes data.lp.
3. Runs every query of tsdb/tests/golden/queries.txt with `epoch=ns` and saves the answers to
   tsdb/tests/golden/expected.json, which tsdb/tests/influxql_golden.rs compares our engine with.

Only the Python standard library is used. Install the server with
`apt-get install -y influxdb` (Debian ships 1.6.7).
"""

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tsdb", "tests", "golden")
DATA = os.path.join(GOLDEN, "data.lp")
QUERIES = os.path.join(GOLDEN, "queries.txt")
EXPECTED = os.path.join(GOLDEN, "expected.json")

DB = "golden"
T0 = 1767225600 * 10**9  # 2026-01-01T00:00:00Z
S = 10**9


class Lcg:
    """A tiny LCG, so the data never depends on Python's random module version."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % 2**64
        return self.state >> 33

    def uniform(self, lo, hi):
        return lo + (hi - lo) * (self.next() % 1000000) / 1000000.0


def generate():
    """The data set: several measurements, tags, gaps, a counter that resets, ints,
    strings, bools, irregular nanosecond timestamps and a second retention policy."""
    rng = Lcg(42)
    lines = ["# database golden, retention policy autogen (default)"]
    hosts = [("web01", "us-east"), ("web02", "us-east"), ("db01", "eu-west")]
    # cpu: floats every 10 s for an hour; web02 misses 20:00-25:00; db01 stops at 40:00.
    for h, (host, region) in enumerate(hosts):
        user = 20.0 + 10 * h
        for i in range(360):
            if host == "web02" and 120 <= i < 150:
                continue
            if host == "db01" and i >= 240:
                break
            user = min(100.0, max(0.0, user + rng.uniform(-3, 3)))
            system = round(5 + 3 * math.sin(i / 9.0 + h) + rng.uniform(0, 1), 2)
            u = round(user, 2)
            idle = round(100 - u - system, 2)
            lines.append(
                f"cpu,host={host},region={region} usage_user={u},usage_system={system},usage_idle={idle} {T0 + i * 10 * S}"
            )
    # mem: integers every 30 s; used/total gives float arithmetic.
    for host, _ in hosts[:2]:
        used = 4_000_000_000 if host == "web01" else 6_000_000_000
        for i in range(120):
            used += int(rng.uniform(-50_000_000, 50_000_000))
            lines.append(
                f"mem,host={host} used={used}i,total=8000000000i,free={8_000_000_000 - used}i {T0 + i * 30 * S}"
            )
    # net: an integer counter with a reset (web01 at 33:20) and a float rate.
    for host, _ in hosts[:2]:
        counter = 1000 if host == "web01" else 50_000
        for i in range(360):
            if host == "web01" and i == 200:
                counter = 17
            counter += int(rng.uniform(0, 5000))
            if host == "web02" and i % 37 == 5:
                continue  # a missed sample now and then
            lines.append(
                f"net,host={host},interface=eth0 bytes_recv={counter}i,drop_rate={round(rng.uniform(0, 2), 3)} {T0 + i * 10 * S}"
            )
    # status: strings, booleans and small ints every minute (mode, distinct, count on strings).
    states = ["ok", "ok", "warn", "ok", "crit", "ok"]
    for h, (host, _) in enumerate(hosts):
        for i in range(60):
            st = states[(i * (h + 1) + h) % len(states)]
            up = "true" if st != "crit" else "false"
            code = {"ok": 200, "warn": 300, "crit": 500}[st]
            lines.append(f'status,host={host} state="{st}",up={up},code={code}i {T0 + i * 60 * S}')
    # sensor: irregular nanosecond timestamps; the tag `kind` exists only on loc=b.
    for loc, kind in [("a", None), ("b", "x")]:
        t = T0 + 123_456_789 + (0 if loc == "a" else 3_000_000_001)
        for i in range(150):
            t += int(rng.uniform(5, 40) * S) + (i % 7) * 1_000
            temp = round(rng.uniform(15, 25), 1)
            hum = int(rng.uniform(30, 60))
            tags = f"loc={loc}" + (f",kind={kind}" if kind else "")
            lines.append(f"sensor,{tags} temp={temp},hum={hum}i {t}")
            if t > T0 + 3600 * S:
                break
    lines.append("# rp=short")
    for i in range(60):
        lines.append(f"disk,host=web01,path=/ used_percent={round(40 + i * 0.25, 2)} {T0 + i * 60 * S}")
    return "\n".join(lines) + "\n"


def load_data():
    """(rp, [lines]) groups in file order."""
    groups = [["autogen", []]]
    with open(DATA) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# rp="):
                groups.append([line[5:], []])
            elif line and not line.startswith("#"):
                groups[-1][1].append(line)
    return groups


def load_queries():
    """(flags, query) per non-comment line. Flags: @nodb (no db parameter), @diff (we keep
    a deliberate difference, see DIFFERENCES.md)."""
    out = []
    with open(QUERIES) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            flags = []
            while line.startswith("@"):
                flag, _, line = line.partition(" ")
                flags.append(flag)
                line = line.strip()
            out.append((flags, line))
    return out


def http(base, path, params=None, body=None):
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--influxd", default=shutil.which("influxd") or "/usr/bin/influxd")
    ap.add_argument("--port", type=int, default=28187)
    ap.add_argument("--regen-data", action="store_true")
    ap.add_argument(
        "--serve",
        action="store_true",
        help="load the data, then keep the server running (for exploring) instead of recording",
    )
    args = ap.parse_args()

    if args.regen_data or not os.path.exists(DATA):
        with open(DATA, "w") as f:
            f.write(generate())
        print(f"wrote {DATA}")

    scratch = tempfile.mkdtemp(prefix="golden-influxd-")
    conf = os.path.join(scratch, "influxdb.conf")
    with open(conf, "w") as f:
        f.write(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{args.port + 1}"
[meta]
  dir = "{scratch}/meta"
[data]
  dir = "{scratch}/data"
  wal-dir = "{scratch}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{args.port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""
        )
    log = open(os.path.join(scratch, "influxd.log"), "w")
    proc = subprocess.Popen([args.influxd, "-config", conf], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(100):
            try:
                if http(base, "/ping")[0] == 204:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            sys.exit("influxd did not start; see " + scratch)
        for q in [f"CREATE DATABASE {DB}", f"CREATE RETENTION POLICY short ON {DB} DURATION INF REPLICATION 1"]:
            st, body = http(base, "/query", {"q": q}, b"")
            assert st == 200, body
        for rp, lines in load_data():
            for i in range(0, len(lines), 5000):
                chunk = "\n".join(lines[i : i + 5000]).encode()
                st, body = http(base, "/write", {"db": DB, "rp": rp, "precision": "ns"}, chunk)
                assert st == 204, body
        if args.serve:
            print(f"serving {DB} on {base}; Ctrl-C to stop", flush=True)
            try:
                proc.wait()
            except KeyboardInterrupt:
                pass
            return
        expected = []
        for flags, q in load_queries():
            params = {"q": q, "epoch": "ns"}
            if "@nodb" not in flags:
                params["db"] = DB
            st, body = http(base, "/query", params)
            doc = json.loads(body)
            entry = {"query": q, "status": st}
            if "error" in doc:
                entry["error"] = doc["error"]
            else:
                entry["result"] = doc["results"][0]
            expected.append(entry)
        with open(EXPECTED, "w") as f:
            json.dump({"server": "InfluxDB 1.6.7", "queries": expected}, f, indent=1)
            f.write("\n")
        print(f"recorded {len(expected)} answers to {EXPECTED}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
