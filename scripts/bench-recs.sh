#!/usr/bin/env bash
# The recommendations' offline evaluation (docs/BENCHMARKS.md): accuracy on MovieLens-100K
# (popularity, item-kNN, EASE as Kino ships it, a λ sweep), the group rule on synthetic groups,
# and the model build's time and memory on a generated 100 000-person graph.
# MovieLens-100K ships inside the PyPI wheel recbole==1.2.1; its licence forbids redistribution,
# so the wheel is downloaded into a cache outside the repository (never committed) and the
# benchmark reads the files straight out of it. Extra arguments go to the benchmark, e.g.
#   cargo make bench-recs -- --no-scale
#   cargo make bench-recs -- --lambdas 50,100,200 --groups 1000 --people 20000
set -euo pipefail
cd "$(dirname "$0")/.."
# `cargo make <task> -- --flag` hands the script the `--` too; the flags are what follows it.
if [ "${1:-}" = "--" ]; then shift; fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/kino/recbole"
wheel="$cache/recbole-1.2.1-py3-none-any.whl"
sha256=9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407
if [ ! -f "$wheel" ]; then
  echo "==> downloading MovieLens-100K (the recbole 1.2.1 wheel) into $cache"
  mkdir -p "$cache"
  if command -v pip >/dev/null; then pip=(pip); else pip=(python3 -m pip); fi
  "${pip[@]}" download --no-deps --only-binary :all: recbole==1.2.1 -d "$cache"
fi
if ! echo "$sha256  $wheel" | sha256sum --check --quiet -; then
  echo "$wheel is not the recbole 1.2.1 wheel this benchmark was measured on (sha256 $sha256);" >&2
  echo "remove it and run again to download it anew." >&2
  exit 1
fi

echo "==> building the recommendations benchmark"
cargo build --release --locked -p kino-bench-recs
"${CARGO_TARGET_DIR:-target}/release/kino-bench-recs" --wheel "$wheel" "$@"
