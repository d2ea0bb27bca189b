#!/bin/sh
# Installs the tigk server: binary, /etc/tigk/tigk.toml, a system user, a hardened systemd unit.
#
#   install.sh [--bind ADDR] [--binary PATH] [--agent-binary PATH] [--destdir DIR] [--no-start]
#
# The agent binary (--agent-binary, default: tigk-agent next to the tigk binary) is installed
# as /usr/lib/tigk/tigk-agent, which the server offers to hosts: GET /install-agent.sh.
#
# With --destdir (or DESTDIR=...) everything is written under that staging root and nothing on
# the machine itself is touched: no user is created and systemctl is not called. An existing
# tigk.toml is kept; the new one is written next to it as tigk.toml.new.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
bind="" binary="" agent="" destdir="${DESTDIR:-}" start=1
usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --bind) bind="${2:?--bind needs IP:PORT}"; shift 2 ;;
    --binary) binary="${2:?}"; shift 2 ;;
    --agent-binary) agent="${2:?}"; shift 2 ;;
    --destdir) destdir="${2:?}"; shift 2 ;;
    --no-start) start=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; usage 1 ;;
  esac
done

case "$bind" in *'"'*|*'\'*|*'#'*) die "quotes, backslashes and # are not allowed in --bind" ;; esac
if [ -z "$binary" ]; then
  for b in "$here/tigk" "$here/../../target/release/tigk"; do
    [ -x "$b" ] && { binary="$b"; break; }
  done
fi
[ -n "$binary" ] && [ -x "$binary" ] || die "no tigk binary found; pass --binary PATH"
if [ -z "$agent" ] && [ -x "$(dirname "$binary")/tigk-agent" ]; then
  agent="$(dirname "$binary")/tigk-agent"
fi
[ -z "$agent" ] || [ -x "$agent" ] || die "no tigk-agent binary at $agent"

root="${destdir%/}"
staging=0; [ -n "$root" ] && staging=1
[ "$staging" = 1 ] || [ "$(id -u)" = 0 ] || die "run as root (or pass --destdir for a staging install)"

# /usr/bin like the Debian package, so the unit is the same for both.
bindir="$root/usr/bin" etcdir="$root/etc/tigk" unitdir="$root/etc/systemd/system"
datadir="$root/var/lib/tigk"
# /etc/tigk stays root's and listable: the agent may share it. The files in it are not.
install -d -m 0755 "$bindir" "$unitdir" "$etcdir"
install -d -m 0750 "$datadir"
install -m 0755 "$binary" "$bindir/tigk"
if [ -n "$agent" ]; then
  install -d -m 0755 "$root/usr/lib/tigk"
  install -m 0755 "$agent" "$root/usr/lib/tigk/tigk-agent"
else
  echo "install.sh: no tigk-agent binary (--agent-binary); /install-agent.sh will need --binary on hosts" >&2
fi
install -m 0644 "$here/tigk-server.service" "$unitdir/tigk-server.service"

# The config comes from the binary's own default so the two cannot drift.
conf="$(mktemp)"; trap 'rm -f "$conf"' EXIT
"$binary" config >"$conf"
if [ -n "$bind" ]; then
  sed -i -e "s#^bind = \".*\"#bind = \"$bind\"#" "$conf"
fi
"$binary" validate --config "$conf" --data-dir "$datadir" >/dev/null \
  || die "the configuration does not validate"
target="$etcdir/tigk.toml"
[ -e "$target" ] && target="$etcdir/tigk.toml.new"
install -m 0640 "$conf" "$target"

if [ "$staging" = 1 ]; then
  echo "staged tigk server under $root (no user created, no service started)"
  exit 0
fi

if ! getent passwd tigk >/dev/null; then
  useradd --system --no-create-home --home-dir /var/lib/tigk --shell /usr/sbin/nologin \
    --user-group tigk
fi
chgrp tigk "$etcdir"/tigk.toml*
chown tigk:tigk "$datadir"
systemctl daemon-reload
if [ "$start" = 1 ]; then
  systemctl enable --now tigk-server.service
  echo "tigk installed and started; create the first admin with:"
  echo "  sudo -u tigk tigk user create --data-dir /var/lib/tigk --name admin --admin"
  echo "logs: journalctl -u tigk-server"
else
  echo "tigk installed; start with: systemctl enable --now tigk-server"
fi
