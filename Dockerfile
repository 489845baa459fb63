# Kino in a container: the same build as `cargo make start` (scripts/build.sh: the pinned tools
# of scripts/ensure-tools.sh, the browser's files and the release server), then a slim runtime
# image with the binary, the site and ffmpeg, running as a user of its own.
#
#   docker build -t kino .
#   docker run -p 3000:3000 -p 7882:7882/udp -v kino-data:/data kino
#
# Several nodes: compose.yaml (PostgreSQL, two nodes, HAProxy) and deploy/k8s/.

FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm ffmpeg \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/build.sh

FROM debian:bookworm-slim AS runtime
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --create-home kino
COPY --from=build /src/target/release/kino /usr/local/bin/kino
COPY --from=build /src/target/site /opt/kino/site
USER kino
WORKDIR /data
ENV KINO_LISTEN=0.0.0.0:3000 \
    KINO_SITE_ROOT=/opt/kino/site \
    KINO_MEDIA_DIR=/data/media \
    KINO_DATABASE_URL=sqlite:///data/kino.db \
    KINO_RTC_UDP=0.0.0.0:7882 \
    KINO_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 3000/tcp 7882/udp
# SIGTERM drains: /readyz turns 503, the room sockets move to other nodes, exit within 25 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/kino"]
