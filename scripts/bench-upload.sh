#!/usr/bin/env bash
# Resumable uploads (issue 15): 2 GB through /uploads to the release server on loopback; MB/s and
# the server's memory while it arrives (docs/BENCHMARKS.md). Extra arguments go to the benchmark:
#   cargo make bench-upload -- --mb 500 --piece-mb 16
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--" ]; then shift; fi
echo "==> building the release server and the upload benchmark"
cargo build --release --locked -p kino -p kino-bench --bin kino --bin upload
export KINO_BIN="${CARGO_TARGET_DIR:-target}/release/kino"
"${CARGO_TARGET_DIR:-target}/release/upload" "$@"
