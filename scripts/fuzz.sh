#!/usr/bin/env bash
# Coverage-guided fuzzing of one target with libFuzzer, on the pinned stable toolchain.
#   scripts/fuzz.sh TARGET [SECONDS]     targets: line_protocol influxql tickscript
#                                                 chunk_decode chunk_roundtrip
# Seeds come from fuzz/corpus/TARGET (kept in the repo); what libFuzzer learns goes to
# target/fuzz/corpus/TARGET and crashes to target/fuzz/artifacts/. A crash is fixed, then its
# input is copied into fuzz/corpus/TARGET so the test suite's short pass replays it forever.
# The test suite's pass (`cargo test -p tigk-fuzz`) needs none of this.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}
secs=${2:-60}
host=$(rustc -vV | sed -n 's/^host: //p')
# The coverage instrumentation cargo-fuzz adds, minus the sanitizer (which needs nightly).
# `--target` keeps these flags off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --locked --release -p tigk-fuzz --features libfuzzer --bin "fuzz_$target" \
  --target "$host" --target-dir target/fuzz
work=target/fuzz/corpus/$target
mkdir -p "$work" target/fuzz/artifacts
exec "target/fuzz/$host/release/fuzz_$target" "$work" "fuzz/corpus/$target" \
  -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="target/fuzz/artifacts/$target-"
