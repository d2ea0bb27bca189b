#!/bin/sh
# Installs tigk-agent: binary, config under /etc/tigk, a system user, a hardened systemd unit.
#
#   install.sh --server URL [--token T] [--database DB] [--binary PATH] [--destdir DIR] [--no-start]
#
# From a tigk server, in one line (the server fills in its own URL):
#   curl -fsSL http://SERVER:8086/install-agent.sh | sudo sh -s -- --token T
#
# Without a binary next to this script (or --binary PATH), the binary and the unit are
# downloaded from the server (GET /downloads/tigk-agent and /downloads/tigk-agent.service).
# With --destdir (or DESTDIR=...) everything is written under that staging root and nothing on
# the machine itself is touched: no user is created and systemctl is not called. An existing
# agent.toml is kept; the new one is written next to it as agent.toml.new. The token always
# goes to agent.env, so running the one-liner again with a new token replaces the old one.
#
# POSIX sh on purpose: the one-liner pipes it into `sh`, which is dash on Debian.
set -eu

# A tigk server serving this script (GET /install-agent.sh) fills these three in.
served_server=""
served_arch=""
served_sha256=""

server="$served_server" token="" database="telegraf" binary="" destdir="${DESTDIR:-}" start=1
usage() {
  cat <<'EOF'
install.sh --server URL [--token T] [--database DB] [--binary PATH] [--destdir DIR] [--no-start]
  --server URL    the tigk server the agent writes to (filled in when served by it)
  --token T       a write token for DB (tigk token create --db DB --write, or the UI)
  --database DB   database to write to (default: telegraf)
  --binary PATH   the tigk-agent binary to install (default: next to this script, or
                  downloaded from the server)
  --destdir DIR   stage the install under DIR; touch nothing else
  --no-start      install and enable nothing, just put the files in place
EOF
  exit "${1:-0}"
}
die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --server) [ $# -ge 2 ] || die "--server needs a URL"; server="$2"; shift 2 ;;
    --token) [ $# -ge 2 ] || die "--token needs a value"; token="$2"; shift 2 ;;
    --database) [ $# -ge 2 ] || die "--database needs a name"; database="$2"; shift 2 ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a path"; binary="$2"; shift 2 ;;
    --destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; destdir="$2"; shift 2 ;;
    --no-start) start=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; usage 1 ;;
  esac
done

[ -n "$server" ] || die "--server URL is required (e.g. http://metrics.example:8086)"
server="${server%/}"
case "$server" in http://?*|https://?*) ;; *) die "--server must start with http:// or https://" ;; esac
# The values end up in sed expressions and TOML strings: allow only what they need.
case "$server" in *[!][A-Za-z0-9._~:/@%+-]*) die "--server has characters a URL here cannot have" ;; esac
case "$database" in ''|*[!A-Za-z0-9._-]*) die "--database may hold only letters, digits, '.', '_' and '-'" ;; esac
case "$token" in *[!A-Za-z0-9._~+/=-]*) die "--token has characters a token cannot have" ;; esac

root="${destdir%/}"
staging=0; [ -n "$root" ] && staging=1
[ "$staging" = 1 ] || [ "$(id -u)" = 0 ] || die "run as root (or pass --destdir for a staging install)"

# Local files are used only when this script runs from a file (deploy/agent/ or a release
# archive); piped from a server there is no "next to this script".
here=""
if [ -z "$served_server" ]; then
  case "$0" in */*) here="$(cd "$(dirname "$0")" && pwd)" ;; esac
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1" || die "downloading $1 failed"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" || die "downloading $1 failed"
  else
    die "neither curl nor wget is installed; pass --binary PATH"
  fi
}

if [ -z "$binary" ] && [ -n "$here" ]; then
  for b in "$here/tigk-agent" "$here/../../target/release/tigk-agent"; do
    if [ -x "$b" ]; then binary="$b"; break; fi
  done
fi
if [ -z "$binary" ]; then
  if [ -n "$served_arch" ]; then
    case "$(uname -m)" in
      "$served_arch"*) ;;
      *) die "this server offers a $served_arch agent, this host is $(uname -m); pass --binary PATH" ;;
    esac
  fi
  fetch "$server/downloads/tigk-agent" "$tmp/tigk-agent"
  if [ -n "$served_sha256" ] && command -v sha256sum >/dev/null 2>&1; then
    echo "$served_sha256  $tmp/tigk-agent" | sha256sum -c --status \
      || die "the downloaded binary does not match the server's checksum (upgraded meanwhile? run again)"
  fi
  chmod 0755 "$tmp/tigk-agent"
  binary="$tmp/tigk-agent"
fi
[ -x "$binary" ] || die "no tigk-agent binary at $binary"

unit="$tmp/tigk-agent.service"
if [ -n "$here" ] && [ -f "$here/tigk-agent.service" ]; then
  cp "$here/tigk-agent.service" "$unit"
else
  fetch "$server/downloads/tigk-agent.service" "$unit"
fi

# /usr/bin like the Debian package, so the unit is the same for both.
bindir="$root/usr/bin" etcdir="$root/etc/tigk" unitdir="$root/etc/systemd/system"
install -d -m 0755 "$bindir" "$unitdir" "$etcdir"
install -m 0755 "$binary" "$bindir/tigk-agent"
install -m 0644 "$unit" "$unitdir/tigk-agent.service"

# The config comes from the binary's own sample so the two cannot drift; the output points at
# --server, the token is read from the environment file, and the buffer goes to disk.
"$binary" config | sed \
  -e "s#^  urls = \[\"http://127.0.0.1:8086\"\]#  urls = [\"$server\"]#" \
  -e "s#^  database = \"telegraf\"#  database = \"$database\"#" \
  -e 's#^  \# buffer_strategy = "disk"#  buffer_strategy = "disk"#' \
  -e 's#^  \# buffer_directory = .*#  buffer_directory = "/var/lib/tigk-agent/buffer"#' \
  >"$tmp/agent.toml"
if [ -n "$token" ]; then
  sed -i -e 's#^  \# token = "${TIGK_TOKEN}"#  token = "${TIGK_TOKEN}"#' "$tmp/agent.toml"
fi
target="$etcdir/agent.toml"
if [ -e "$target" ]; then
  target="$etcdir/agent.toml.new"
  echo "install.sh: kept the existing $etcdir/agent.toml; the new one is $target" >&2
fi
install -m 0640 "$tmp/agent.toml" "$target"

if [ -n "$token" ]; then
  (umask 077 && printf 'TIGK_TOKEN=%s\n' "$token" >"$etcdir/agent.env")
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
# /etc/tigk stays root's and world-listable: the server may share it. The files are not.
chgrp tigk-agent "$etcdir"/agent.toml*
if [ -n "$token" ]; then chgrp tigk-agent "$etcdir/agent.env"; fi
if [ -f "$etcdir/agent.env" ]; then set -a; . "$etcdir/agent.env"; set +a; fi
"$bindir/tigk-agent" --config "$etcdir/agent.toml" validate
systemctl daemon-reload
if [ "$start" = 1 ]; then
  systemctl enable tigk-agent.service
  # restart, not start: a second run with a new token must take effect.
  systemctl restart tigk-agent.service
  echo "tigk-agent installed and started; logs: journalctl -u tigk-agent"
else
  echo "tigk-agent installed; start with: systemctl enable --now tigk-agent"
fi
