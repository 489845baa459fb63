#!/usr/bin/env bash
# `cargo make bench-analytics [-- --users N]`: the analytics rollup job and the dashboard on a
# generated month of raw events, on SQLite and then on PostgreSQL (docs/BENCHMARKS.md).
exec bash "$(dirname "$0")/bench-on-both-databases.sh" analytics "$@"
