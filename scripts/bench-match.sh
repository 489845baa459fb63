#!/usr/bin/env bash
# The friend match (issue 4): builds the generator, fills a fresh database with 100 000 users
# (~50 friends and 100 "Want to watch" films each) and times the server's two match queries on
# random users, printing their query plans (docs/BENCHMARKS.md, docs/QUERY_PLANS.md).
# Without --database-url it runs on SQLite, then on the local PostgreSQL. Extra arguments go to
# the generator, e.g.
#   cargo make bench-match -- --users 10000 --samples 500
#   cargo make bench-match -- --database-url postgres://postgres@127.0.0.1:5432/test
set -euo pipefail
cd "$(dirname "$0")/.."
# `cargo make <task> -- --flag` hands the script the `--` too; the flags are what follows it.
if [ "${1:-}" = "--" ]; then shift; fi
echo "==> building the match benchmark"
cargo build --release --locked -p kino-bench --bin match
bin="${CARGO_TARGET_DIR:-target}/release/match"
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
