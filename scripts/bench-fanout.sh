#!/usr/bin/env bash
# The room channel's fan-out (issue 6, DESIGN.md "Numbers to beat"): builds the release server and
# the load generator, then opens R rooms × N websockets on a fresh database and prints latency,
# memory per socket, server CPU and chat throughput (docs/BENCHMARKS.md). Extra arguments go to
# the load generator, e.g.
#   cargo make bench-fanout -- --rooms 1000 --duration 30
#   cargo make bench-fanout -- --database-url postgres://postgres@127.0.0.1:5432/test
#   cargo make bench-fanout -- --database-url postgres://… --nodes 2   # two nodes, then a
#                                                  # reconnect storm after SIGKILL of one
set -euo pipefail
cd "$(dirname "$0")/.."
# `cargo make <task> -- --flag` hands the script the `--` too; the flags are what follows it.
if [ "${1:-}" = "--" ]; then shift; fi
echo "==> building Kino (release); the first build takes several minutes"
bash scripts/build.sh
echo "==> building the load generator"
cargo build --release --locked -p kino-bench --bin fanout
target_dir="${CARGO_TARGET_DIR:-target}"
export KINO_BIN="$target_dir/release/kino"
export KINO_SITE_ROOT="${KINO_SITE_ROOT:-target/site}"
# Thousands of sockets on both ends of loopback.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# The throughput phase sends as fast as the server takes it; lift the per-person chat limit.
export KINO_CHAT_PER_SECOND="${KINO_CHAT_PER_SECOND:-100000}"
export KINO_CHAT_BURST="${KINO_CHAT_BURST:-100000}"
exec "$target_dir/release/fanout" "$@"
