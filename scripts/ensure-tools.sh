#!/usr/bin/env bash
# Installs the build and test tools Kino needs, each only when the pinned version is missing.
# Usage: scripts/ensure-tools.sh build   # the wasm32 target, wasm-opt (binaryen) and ffmpeg
#        scripts/ensure-tools.sh test    # the above plus Chromium, ChromeDriver, coturn, HAProxy and
#                                        the deploy files' checkers
# Nothing here downloads a prebuilt binary: wasm-opt comes from the npm registry (binaryen runs
# under Node), browsers and ffmpeg from the OS packages. wasm-bindgen is a library inside
# `cargo xtask` (xtask/), so there is no CLI to install, and no cargo-leptos.
set -euo pipefail

BINARYEN_VERSION=132.0.0
TOOLS_DIR="${KINO_TOOLS_DIR:-$HOME/.cache/kino/tools}"

say() { printf '\033[1;36m[kino setup]\033[0m %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    say "apt-get not found: please install $* with your system's package manager" >&2
    exit 1
  fi
  if [ "$apt_updated" = 0 ]; then
    say "updating the OS package lists"
    as_root apt-get update -qq
    apt_updated=1
  fi
  say "installing OS packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown Rust target"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_wasm_opt() {
  # Debian's binaryen (108) produces WASM that fails in Chromium; use binaryen from npm.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  local bin="$TOOLS_DIR/binaryen/node_modules/.bin/wasm-opt"
  if ! "$bin" --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
    say "installing binaryen $BINARYEN_VERSION (wasm-opt) from the npm registry"
    mkdir -p "$TOOLS_DIR/binaryen"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/binaryen" "binaryen@$BINARYEN_VERSION" >/dev/null
  fi
}

ensure_test_packages() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
  # The call test relays through a real TURN server.
  command -v turnserver >/dev/null 2>&1 || missing+=(coturn)
  # The several-nodes test balances two kino processes with a real HAProxy.
  command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
  # The deploy files are checked offline (scripts/check-deploy.sh).
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  # promtool (in Debian's prometheus package) checks the alert rules and the scrape config.
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
  ensure_kubernetes_validate
}

# Kubernetes manifests are validated against the API's schemas (bundled in the PyPI package,
# no cluster needed).
KUBERNETES_VALIDATE_VERSION=1.37.0
ensure_kubernetes_validate() {
  local venv="$TOOLS_DIR/kubernetes-validate"
  if ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -qx "$KUBERNETES_VALIDATE_VERSION"; then
    say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  fi
}

# The library transcodes with ffmpeg (and reads files with ffprobe) at run time.
ensure_ffmpeg() {
  command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || apt_install ffmpeg
}

mode="${1:-build}"
case "$mode" in
  build) ensure_ffmpeg ;;
  test) ensure_test_packages ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac
ensure_wasm_target
ensure_wasm_opt
say "tools ready"
