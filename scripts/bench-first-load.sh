#!/usr/bin/env bash
# First load (issue 14): builds the release app and the driver, then loads a film page in fresh
# headless Chromium profiles on a throttled link and prints the time until it is interactive
# and the bytes fetched (docs/BENCHMARKS.md). Extra arguments go to the driver, e.g.
#   cargo make bench-first-load -- --runs 9 --down-kbit 4000 --latency-ms 60
set -euo pipefail
cd "$(dirname "$0")/.."
# `cargo make <task> -- --flag` hands the script the `--` too; the flags are what follows it.
if [ "${1:-}" = "--" ]; then shift; fi
bash scripts/ensure-tools.sh test
echo "==> building Kino (release); the first build takes several minutes"
bash scripts/build.sh
echo "==> building the driver"
cargo build --release --locked -p kino-bench --bin first_load
target_dir="${CARGO_TARGET_DIR:-target}"
export KINO_BIN="${KINO_BIN:-$target_dir/release/kino}"
export KINO_SITE_ROOT="${KINO_SITE_ROOT:-target/site}"
exec "$target_dir/release/first_load" "$@"
