#!/usr/bin/env bash
# The transcoding ladder (issue 15): a 60-second 1080p source through every rendition and
# container, with each VP9 speed; CPU seconds, wall time, × real time, size, and what a 2-hour
# film would take here (docs/BENCHMARKS.md). Extra arguments go to the benchmark, e.g.
#   cargo make bench-transcode -- --seconds 20 --fast-only
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--" ]; then shift; fi
bash scripts/ensure-tools.sh build
echo "==> building the transcoding benchmark"
cargo build --release --locked -p kino-bench --bin transcode
"${CARGO_TARGET_DIR:-target}/release/transcode" "$@"
