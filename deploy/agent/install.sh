#!/usr/bin/env bash
# Installs tigk-agent: binary, config under /etc/tigk, a system user, a hardened systemd unit.
#
#   install.sh --server URL [--token T] [--database DB] [--binary PATH] [--destdir DIR] [--no-start]
#
# With --destdir (or DESTDIR=...) everything is written under that staging root and nothing on
# the machine itself is touched: no user is created and systemctl is not called. An existing
# agent.toml is kept; the new one is written next to it as agent.toml.new.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
server="" token="" database="telegraf" binary="" destdir="${DESTDIR:-}" start=1
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --server) server="${2:?--server needs a URL}"; shift 2 ;;
    --token) token="${2:?--token needs a value}"; shift 2 ;;
    --database) database="${2:?}"; shift 2 ;;
    --binary) binary="${2:?}"; shift 2 ;;
    --destdir) destdir="${2:?}"; shift 2 ;;
    --no-start) start=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; usage 1 ;;
  esac
done

[ -n "$server" ] || die "--server URL is required (e.g. http://metrics.example:8086)"
case "$server" in http://*|https://*) ;; *) die "--server must start with http:// or https://" ;; esac
case "$server$database" in *'"'*|*'\'*) die "quotes and backslashes are not allowed in --server/--database" ;; esac
if [ -z "$binary" ]; then
  for b in "$here/tigk-agent" "$here/../../target/release/tigk-agent"; do
    [ -x "$b" ] && { binary="$b"; break; }
  done
fi
[ -n "$binary" ] && [ -x "$binary" ] || die "no tigk-agent binary found; pass --binary PATH"

root="${destdir%/}"
staging=0; [ -n "$root" ] && staging=1
[ "$staging" = 1 ] || [ "$(id -u)" = 0 ] || die "run as root (or pass --destdir for a staging install)"

bindir="$root/usr/local/bin" etcdir="$root/etc/tigk" unitdir="$root/etc/systemd/system"
install -d -m 0755 "$bindir" "$unitdir"
install -d -m 0750 "$etcdir"
install -m 0755 "$binary" "$bindir/tigk-agent"
install -m 0644 "$here/tigk-agent.service" "$unitdir/tigk-agent.service"

# The config comes from the binary's own sample so the two cannot drift; the output points at
# --server, the token is read from the environment file, and the buffer goes to disk.
conf="$(mktemp)"; trap 'rm -f "$conf"' EXIT
"$binary" config | sed \
  -e "s#^  urls = \[\"http://127.0.0.1:8086\"\]#  urls = [\"$server\"]#" \
  -e "s#^  database = \"telegraf\"#  database = \"$database\"#" \
  -e 's#^  \# buffer_strategy = "disk"#  buffer_strategy = "disk"#' \
  -e 's#^  \# buffer_directory = .*#  buffer_directory = "/var/lib/tigk-agent/buffer"#' \
  >"$conf"
if [ -n "$token" ]; then
  sed -i -e 's#^  \# token = "${TIGK_TOKEN}"#  token = "${TIGK_TOKEN}"#' "$conf"
fi
target="$etcdir/agent.toml"
[ -e "$target" ] && target="$etcdir/agent.toml.new"
install -m 0640 "$conf" "$target"

if [ -n "$token" ]; then
  umask 077
  printf 'TIGK_TOKEN=%s\n' "$token" >"$etcdir/agent.env"
  chmod 0640 "$etcdir/agent.env"
fi

if [ "$staging" = 1 ]; then
  echo "staged tigk-agent under $root (no user created, no service started)"
  exit 0
fi

if ! getent passwd tigk-agent >/dev/null; then
  useradd --system --no-create-home --home-dir /var/lib/tigk-agent --shell /usr/sbin/nologin \
    --user-group tigk-agent
fi
chgrp tigk-agent "$etcdir" "$etcdir"/agent.toml* ${token:+"$etcdir/agent.env"}
TIGK_TOKEN="$token" "$bindir/tigk-agent" --config "$etcdir/agent.toml" validate
systemctl daemon-reload
if [ "$start" = 1 ]; then
  systemctl enable --now tigk-agent.service
  echo "tigk-agent installed and started; logs: journalctl -u tigk-agent"
else
  echo "tigk-agent installed; start with: systemctl enable --now tigk-agent"
fi
