#!/bin/sh
# Removes tigk-agent's binary and unit. Config (/etc/tigk/agent.*), the disk buffer and the
# system user are kept unless --purge is given.
#
#   uninstall.sh [--purge] [--destdir DIR]
set -eu

purge=0 destdir="${DESTDIR:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) purge=1; shift ;;
    --destdir) destdir="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall.sh: unknown argument $1" >&2; exit 1 ;;
  esac
done
root="${destdir%/}"

if [ -z "$root" ]; then
  [ "$(id -u)" = 0 ] || { echo "uninstall.sh: run as root" >&2; exit 1; }
  systemctl disable --now tigk-agent.service 2>/dev/null || true
fi
rm -f "$root/etc/systemd/system/tigk-agent.service" "$root/usr/bin/tigk-agent"
[ -z "$root" ] && systemctl daemon-reload 2>/dev/null || true

if [ "$purge" = 1 ]; then
  rm -f "$root/etc/tigk/agent.toml" "$root/etc/tigk/agent.toml.new" "$root/etc/tigk/agent.env"
  rmdir "$root/etc/tigk" 2>/dev/null || true
  rm -rf "$root/var/lib/tigk-agent"
  if [ -z "$root" ] && getent passwd tigk-agent >/dev/null; then
    userdel tigk-agent || true
  fi
fi
if [ "$purge" = 1 ]; then echo "tigk-agent removed (purged)"; else echo "tigk-agent removed"; fi
