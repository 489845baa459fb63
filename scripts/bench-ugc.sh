#!/usr/bin/env bash
# The UGC load mix (issue 3): builds the release server and the load generator, then drives the
# server on a fresh database and prints requests/s and latencies per kind (docs/BENCHMARKS.md).
# Extra arguments go to the load generator, e.g.
#   cargo make bench-ugc -- --concurrency 128 --duration 30
#   cargo make bench-ugc -- --database-url postgres://postgres@127.0.0.1:5432/test
set -euo pipefail
cd "$(dirname "$0")/.."
# `cargo make <task> -- --flag` hands the script the `--` too; the flags are what follows it.
if [ "${1:-}" = "--" ]; then shift; fi
echo "==> building Kino (release); the first build takes several minutes"
bash scripts/build.sh
echo "==> building the load generator"
cargo build --release --locked -p kino-bench --bin ugc
target_dir="${CARGO_TARGET_DIR:-target}"
export KINO_BIN="$target_dir/release/kino"
export KINO_SITE_ROOT="${KINO_SITE_ROOT:-target/site}"
exec "$target_dir/release/ugc" "$@"
