#!/bin/sh
# Removes the tigk server's binary and unit. The configuration (/etc/tigk/tigk.toml), the data
# (/var/lib/tigk) and the system user are kept unless --purge is given.
#
#   uninstall.sh [--purge] [--destdir DIR]
set -eu

purge=0 destdir="${DESTDIR:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) purge=1; shift ;;
    --destdir) destdir="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall.sh: unknown argument $1" >&2; exit 1 ;;
  esac
done
root="${destdir%/}"

if [ -z "$root" ]; then
  [ "$(id -u)" = 0 ] || { echo "uninstall.sh: run as root" >&2; exit 1; }
  systemctl disable --now tigk-server.service 2>/dev/null || true
fi
rm -f "$root/etc/systemd/system/tigk-server.service" "$root/usr/bin/tigk" \
  "$root/usr/lib/tigk/tigk-agent"
rmdir "$root/usr/lib/tigk" 2>/dev/null || true
[ -z "$root" ] && systemctl daemon-reload 2>/dev/null || true

if [ "$purge" = 1 ]; then
  rm -f "$root/etc/tigk/tigk.toml" "$root/etc/tigk/tigk.toml.new"
  # The agent may share /etc/tigk; leave the directory if it is not empty.
  rmdir "$root/etc/tigk" 2>/dev/null || true
  rm -rf "$root/var/lib/tigk"
  if [ -z "$root" ] && getent passwd tigk >/dev/null; then
    userdel tigk || true
  fi
fi
if [ "$purge" = 1 ]; then echo "tigk server removed (purged)"; else echo "tigk server removed"; fi
