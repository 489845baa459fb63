#!/usr/bin/env bash
# Builds the release app: the browser's files into target/site (`cargo xtask site --release`:
# the WASM, wasm-bindgen, wasm-opt, CSS, public/, brotli) and the `kino` server binary, the two
# at once (the WASM compiles in its own target directory, so neither waits for the other's lock).
# With nothing changed, both finish in seconds. Used by start, test and the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh build
export PATH="${KINO_TOOLS_DIR:-$HOME/.cache/kino/tools}/binaryen/node_modules/.bin:$PATH"
echo "==> building the build step (xtask)"
cargo build --locked --quiet --release -p xtask
echo "==> building the browser's files and the server (release), side by side"
# The built xtask is run directly: `cargo xtask` would first wait for the server build's lock.
# It is told this checkout's path as `cargo run` would (the target directory may be shared).
CARGO_MANIFEST_DIR="$PWD/xtask" "${CARGO_TARGET_DIR:-target}/release/xtask" site --release &
site=$!
server_ok=0
cargo build --release --locked -p kino --bin kino || server_ok=$?
site_ok=0
wait "$site" || site_ok=$?
if [ "$site_ok" != 0 ] || [ "$server_ok" != 0 ]; then
  echo "build failed (site: exit $site_ok, server: exit $server_ok)" >&2
  exit 1
fi
