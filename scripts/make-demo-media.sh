#!/usr/bin/env bash
# Regenerates the synthetic demo videos used by the seed films (see app/seed/films.json).
# Every file is built from ffmpeg lavfi sources only (no real film footage):
#   a moving test pattern (testsrc, hue-shifted per film), the film title,
#   a running playback clock (%{pts:hms}) and a sine tone (different pitch per film).
# Keyframe every 2 s (-g 48) so players can seek/sync precisely.
# Output: public/media/<slug>.mp4 (H.264 + AAC) and public/media/<slug>.webm (VP9 + Opus),
# 640x360, 24 fps, 40 s each; all 8 files together stay well under 5 MB.
set -euo pipefail

command -v ffmpeg >/dev/null 2>&1 || { echo "error: ffmpeg not found in PATH" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/public/media"
mkdir -p "$OUT"

FONT=""
for f in /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf \
         /usr/share/fonts/dejavu/DejaVuSans-Bold.ttf \
         /usr/share/fonts/TTF/DejaVuSans-Bold.ttf; do
  if [ -f "$f" ]; then FONT="$f"; break; fi
done
if [ -z "$FONT" ]; then
  echo "error: DejaVu font not found (install fonts-dejavu-core)" >&2
  exit 1
fi

DURATION=40
SIZE=640x360
FPS=24

# slug|English title|tone Hz|hue shift (degrees) of the test pattern
FILMS=(
  "nosferatu-1922|Nosferatu|330|0"
  "the-general-1926|The General|440|90"
  "metropolis-1927|Metropolis|550|180"
  "night-of-the-living-dead-1968|Night of the Living Dead|660|270"
)

for entry in "${FILMS[@]}"; do
  IFS='|' read -r slug title freq hue <<<"$entry"
  echo "==> $slug ($title, ${freq} Hz)"

  vsrc="testsrc=size=${SIZE}:rate=${FPS}:duration=${DURATION}"
  asrc="sine=frequency=${freq}:sample_rate=48000:duration=${DURATION}"
  vf="hue=h=${hue},format=yuv420p"
  vf+=",drawbox=x=0:y=0:w=iw:h=64:color=black@0.6:t=fill"
  vf+=",drawtext=fontfile=${FONT}:text='${title}':fontsize=36:fontcolor=white:x=(w-text_w)/2:y=14"
  vf+=",drawbox=x=0:y=ih-56:w=iw:h=56:color=black@0.6:t=fill"
  vf+=",drawtext=fontfile=${FONT}:text='%{pts\:hms}':fontsize=32:fontcolor=yellow:x=(w-text_w)/2:y=h-46"

  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "$vsrc" -f lavfi -i "$asrc" \
    -vf "$vf" -af "volume=2.0" \
    -c:v libx264 -preset veryslow -crf 35 -pix_fmt yuv420p -g 48 \
    -c:a aac -b:a 32k -ac 1 -ar 48000 \
    -t "$DURATION" -map_metadata -1 -metadata title="$title (Kino demo)" \
    -movflags +faststart \
    "$OUT/$slug.mp4"

  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "$vsrc" -f lavfi -i "$asrc" \
    -vf "$vf" -af "volume=2.0" \
    -c:v libvpx-vp9 -b:v 60k -deadline good -cpu-used 2 -row-mt 1 -pix_fmt yuv420p -g 48 \
    -c:a libopus -b:a 32k -ac 1 -ar 48000 \
    -t "$DURATION" -map_metadata -1 -metadata title="$title (Kino demo)" \
    "$OUT/$slug.webm"
done

du -ch "$OUT"/*.mp4 "$OUT"/*.webm
