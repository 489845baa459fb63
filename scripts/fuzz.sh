#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, cargo-fuzz) of Kino's untrusted parsers, for a bounded
# time per target (fuzz/):
#   ws_frame         the room channel's websocket text frames (ClientMsg::parse)
#   server_fn_forms  form-encoded server-function bodies (serde_qs, as leptos decodes them)
#                    and the account and room domain parsers behind them
#   cargo make fuzz                 # 60 s per target
#   cargo make fuzz -- 300          # or KINO_FUZZ_SECONDS=300
# The corpus grows in fuzz/corpus/<target> (not committed; seeded from fuzz/seeds/<target>).
# A crash fails the script and names the input libFuzzer saved in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
TARGETS=(ws_frame server_fn_forms)
# `cargo make fuzz -- 300` hands the script the `--` too.
if [ "${1:-}" = "--" ]; then shift; fi
SECONDS_PER_TARGET="${1:-${KINO_FUZZ_SECONDS:-60}}"
if ! [[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [seconds per target]  (got '$SECONDS_PER_TARGET')" >&2
  exit 2
fi

say() { echo "==> $*"; }

if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io (~2 min)"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --force
fi

# cargo-fuzz needs nightly-only rustc flags; RUSTC_BOOTSTRAP lets the stable toolchain take
# them. `--sanitizer none`: the default AddressSanitizer is there for unsafe code, and Kino and
# these parsers are safe Rust, so what we look for are panics (debug assertions and overflow
# checks stay on); without ASan every execution is about twice as fast.
export RUSTC_BOOTSTRAP=1
FUZZ_FLAGS=(--sanitizer none)

# cargo-fuzz has no --locked: refuse a fuzz/Cargo.lock that would have to change.
cargo fetch --locked --manifest-path fuzz/Cargo.toml

say "building the fuzz targets (release, instrumented; the first build takes several minutes)"
started=$SECONDS
cargo fuzz build "${FUZZ_FLAGS[@]}"
say "built in $((SECONDS - started)) s"

log_dir=fuzz/target/fuzz-logs
mkdir -p "$log_dir"
summary=()
for target in "${TARGETS[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  cp -n "fuzz/seeds/$target"/* "$corpus"/ 2>/dev/null || true
  log="$log_dir/$target.log"
  say "fuzzing $target for $SECONDS_PER_TARGET s (corpus $corpus, log $log)"
  started=$SECONDS
  status=0
  cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "$corpus" -- \
    -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 2>&1 | tee "$log" \
    || status=$?
  took=$((SECONDS - started))
  runs=$(sed -n 's/^Done \([0-9]*\) runs in .*/\1/p' "$log" | tail -n 1)
  if [ "$status" -ne 0 ]; then
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo >&2
    echo "FUZZ FAILURE in $target after ${took} s (exit $status)." >&2
    if [ -n "$artifact" ]; then
      echo "  input:      $artifact" >&2
      echo "  reproduce:  RUSTC_BOOTSTRAP=1 cargo fuzz run ${FUZZ_FLAGS[*]} $target $artifact" >&2
      echo "  minimise:   RUSTC_BOOTSTRAP=1 cargo fuzz tmin ${FUZZ_FLAGS[*]} $target $artifact" >&2
    else
      echo "  no input was saved; see $log" >&2
    fi
    exit 1
  fi
  summary+=("$(printf '  %-16s %4d s  %12s executions  %5d corpus entries' \
    "$target" "$took" "${runs:-?}" "$(find "$corpus" -type f | wc -l)")")
done

say "fuzzed ${#TARGETS[@]} targets, $SECONDS_PER_TARGET s each; nothing crashed"
printf '%s\n' "${summary[@]}"
