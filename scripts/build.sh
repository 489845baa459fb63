#!/usr/bin/env bash
# Builds the release app: the browser's files into target/site (`cargo xtask site --release`:
# the WASM, wasm-bindgen, wasm-opt, CSS, public/, brotli) and the `kino` server binary.
# With nothing changed, both steps finish in seconds. Used by start, test and the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh build
export PATH="${KINO_TOOLS_DIR:-$HOME/.cache/kino/tools}/binaryen/node_modules/.bin:$PATH"
cargo xtask site --release
echo "==> building the server (release)"
cargo build --release --locked -p kino --bin kino
