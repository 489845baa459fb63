#!/usr/bin/env bash
# Sync accuracy (issue 6): builds the release server and the driver, then puts N headless
# Chromium pages in one room, presses random plays/pauses/seeks and prints the spread of video
# positions between pages (docs/BENCHMARKS.md). Extra arguments go to the driver, e.g.
#   cargo make bench-sync -- --pages 4 --commands 40
#   cargo make bench-sync -- --delay-ms 40 --jitter-ms 20    # through a slow link
set -euo pipefail
cd "$(dirname "$0")/.."
# `cargo make <task> -- --flag` hands the script the `--` too; the flags are what follows it.
if [ "${1:-}" = "--" ]; then shift; fi
bash scripts/ensure-tools.sh test
echo "==> building Kino (release); the first build takes several minutes"
bash scripts/build.sh
echo "==> building the driver"
cargo build --release --locked -p kino-bench --bin sync
target_dir="${CARGO_TARGET_DIR:-target}"
export KINO_BIN="$target_dir/release/kino"
export KINO_SITE_ROOT="${KINO_SITE_ROOT:-target/site}"
exec "$target_dir/release/sync" "$@"
