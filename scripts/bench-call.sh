#!/usr/bin/env bash
# Voice and camera calls (issue 16): N str0m clients in one call against the media server on
# loopback (6, 15 and 30 with open microphones, then 30 and 15 with 9 cameras at 360p); the
# server's CPU and memory, frames forwarded per second, added delay p50/p99 and loss
# (docs/BENCHMARKS.md). Extra arguments go to the benchmark:
#   cargo make bench-call -- --seconds 20 --runs 1 --scenarios 30x0,30x9
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--" ]; then shift; fi
echo "==> building the call benchmark"
cargo build --release --locked -p kino-bench --bin call
"${CARGO_TARGET_DIR:-target}/release/call" "$@"
