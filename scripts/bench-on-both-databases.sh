#!/usr/bin/env bash
# `bench-on-both-databases.sh BIN [-- FLAGS…]`: builds the benchmark BIN of kino-bench and runs
# it on a fresh SQLite file, then on the local PostgreSQL (KINO_BENCH_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test). With --database-url (or --help) among the flags it
# runs once, as asked. Used by bench-match and bench-analytics (docs/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
name="$1"
shift
# `cargo make <task> -- --flag` hands the script the `--` too; the flags are what follows it.
if [ "${1:-}" = "--" ]; then shift; fi
echo "==> building the $name benchmark"
cargo build --release --locked -p kino-bench --bin "$name"
bin="${CARGO_TARGET_DIR:-target}/release/$name"
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
