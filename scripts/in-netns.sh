#!/usr/bin/env bash
# Runs a command in a network namespace of its own: loopback, plus one interface with the address
# 10.77.0.1/24 (a dummy interface, or a veth pair where the kernel has no dummy driver), and
# nothing else — no route out. Browser call tests need it: Chromium never offers 127.0.0.1 as an
# ICE candidate, only the addresses of real interfaces, and here those lead nowhere but to the
# test's own server. The command sees KINO_CALL_NETNS=10.77.0.1.
#
#   bash scripts/in-netns.sh cargo test -p end2end --test call
#
# Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) for `unshare --net`.
set -euo pipefail
address=10.77.0.1
if [ "${1:-}" != "--inside" ]; then
  exec unshare --net -- "$0" --inside "$@"
fi
shift
ip link set lo up
if ip link add kino0 type dummy 2>/dev/null; then
  :
else
  ip link add kino0 type veth peer name kino1
  ip link set kino1 up
fi
ip addr add "$address/24" dev kino0
ip link set kino0 up
export KINO_CALL_NETNS="$address"
exec "$@"
