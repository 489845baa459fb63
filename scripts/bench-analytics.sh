#!/usr/bin/env bash
# `cargo make bench-analytics [-- --users N]`: the analytics rollup job and the dashboard on a
# generated month of raw events, on SQLite and then on PostgreSQL (docs/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--" ]; then shift; fi
echo "==> building the analytics benchmark"
cargo build --release --locked -p kino-bench --bin analytics
bin="${CARGO_TARGET_DIR:-target}/release/analytics"
for arg in "$@"; do
  case "$arg" in
    --database-url|--database-url=*|-h|--help) exec "$bin" "$@" ;;
  esac
done
postgres="${KINO_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
"$bin" --database-url sqlite "$@"
echo
bash scripts/ensure-postgres.sh "$postgres"
"$bin" --database-url "$postgres" "$@"
