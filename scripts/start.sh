#!/usr/bin/env bash
# Builds Kino (release) and runs it: ./data/ holds the SQLite database, created on first start.
# Extra arguments go to the server, e.g. `cargo make start -- --listen 0.0.0.0:3000`.
set -euo pipefail
cd "$(dirname "$0")/.."
# `cargo make <task> -- --flag` hands the script the `--` too; the flags are what follows it.
if [ "${1:-}" = "--" ]; then shift; fi
echo "==> building Kino (release); the first build takes several minutes"
bash scripts/build.sh
mkdir -p data
target_dir="${CARGO_TARGET_DIR:-target}"
export KINO_SITE_ROOT="${KINO_SITE_ROOT:-target/site}"
exec "$target_dir/release/kino" "$@"
