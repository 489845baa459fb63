#!/usr/bin/env bash
# Makes sure the PostgreSQL the tests use answers. When the URL is the default local one and no
# server listens there, installs PostgreSQL from the OS packages and lets local TCP connect
# without a password (as on this project's CI machines). Any other URL must already work:
# the tests then fail loudly rather than skip.
set -euo pipefail
url="$1"
say() { printf '\033[1;36m[kino setup]\033[0m %s\n' "$*"; }
listening() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

if [ "$url" != "postgres://postgres@127.0.0.1:5432/test" ] || listening; then
  exit 0
fi
say "no PostgreSQL on 127.0.0.1:5432: installing one for the tests"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! as_root grep -q "kino tests" "$hba"; then
  as_root sed -i "1i host all postgres 127.0.0.1/32 trust # kino tests" "$hba"
fi
as_root pg_ctlcluster "$version" main restart || as_root pg_ctlcluster "$version" main start
for _ in $(seq 1 30); do listening && break; sleep 1; done
as_root runuser -u postgres -- psql -qc "CREATE DATABASE test" 2>/dev/null || true
say "PostgreSQL $version is running on 127.0.0.1:5432"
