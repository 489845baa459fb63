#!/usr/bin/env bash
# Renders the demo films' posters to PNG for link previews (Telegram and most messengers ignore
# SVG in og:image). Run once after changing app/seed/films.json; the PNGs are committed to
# public/posters/. Needs a running Kino (e.g. `cargo make start`) and rsvg-convert
# (`apt-get install librsvg2-bin`).
#   scripts/make-posters.sh [http://127.0.0.1:3000]
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-http://127.0.0.1:3000}"
mkdir -p public/posters
for id in $(python3 -c 'import json; print(" ".join(f["slug"] for f in json.load(open("app/seed/films.json"))))'); do
  curl -fsS "$base/posters/$id.svg" | rsvg-convert --width 400 --height 600 --format png -o "public/posters/$id.png"
  echo "public/posters/$id.png"
done
