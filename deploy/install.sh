#!/usr/bin/env bash
# Installs weir as a systemd service on Raspberry Pi OS (64-bit) or Debian, from the source tree
# this script is in:
#
#   /opt/weir/node           Node.js 24 for this machine (from the npm registry's node-linux-<arch>
#                            package, checked by npm against the registry's checksum)
#   /opt/weir/app            weir and its npm dependencies (production only)
#   /etc/weir/weir.yaml      the config, from deploy/weir.example.yaml (never overwritten)
#   /etc/weir/schemas/       the Avro schemas the config names (yours go here too)
#   /usr/local/bin/weir      the CLI (weir config check, weir spool inspect, …)
#   /etc/systemd/system/weir.service, enabled; the spool goes to /var/lib/weir
#   user and group `weir`    a system account without login
#
# Run it again to upgrade: it is idempotent. Files you may have edited (weir.yaml, schemas) are
# kept; when the shipped version differs, it is written next to yours as *.new.
#
#   sudo deploy/install.sh                 install or upgrade, then (re)start on upgrade
#   deploy/install.sh --dry-run            print what would be done, change nothing
#   sudo deploy/install.sh --root DIR      install into DIR as if it were / (no systemctl)
#
# Options:
#   --dry-run            change nothing; say what would be done
#   --root DIR           a throwaway root (tests, image builds): paths go under DIR, the user is
#                        created in DIR/etc/passwd, systemctl is not run
#   --node-dist PATH     use this Node.js 24 instead of downloading it: a node-v24.*-linux-*.tar.xz
#                        or an unpacked Node directory (with bin/node)
#   --node-from SOURCE   where to download Node.js 24 from: registry (default; needs npm, e.g.
#                        apt-get install npm) or nodejs.org (checked against its SHASUMS256.txt)
#   --skip-deps          do not run `npm ci` for weir's dependencies (they come some other way)
#   --no-start           enable the service but neither start nor restart it
#   -h, --help           this text
set -euo pipefail
# System tools (useradd, systemctl) live in sbin, which a non-login root shell or sudo may leave
# out of PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

NODE_MAJOR=24
PREFIX=/opt/weir
CONFIG_DIR=/etc/weir
STATE_DIR=/var/lib/weir
UNIT_PATH=/etc/systemd/system/weir.service
CLI_PATH=/usr/local/bin/weir
SERVICE_USER=weir

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT=""
DRY_RUN=0
NODE_DIST=""
NODE_FROM=registry
SKIP_DEPS=0
START=1

say() { printf 'weir install: %s\n' "$*"; }
die() {
  printf 'weir install: error: %s\n' "$*" >&2
  exit 1
}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --root)
      [ $# -ge 2 ] || die "--root needs a directory"
      ROOT="$(cd "$2" && pwd)" || die "no directory $2"
      shift
      ;;
    --node-dist)
      [ $# -ge 2 ] || die "--node-dist needs a path"
      NODE_DIST="$2"
      shift
      ;;
    --node-from)
      [ $# -ge 2 ] || die "--node-from needs registry or nodejs.org"
      case "$2" in registry | nodejs.org) NODE_FROM="$2" ;; *) die "--node-from: registry or nodejs.org, not $2" ;; esac
      shift
      ;;
    --skip-deps) SKIP_DEPS=1 ;;
    --no-start) START=0 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

# Runs a command, or only prints it in a dry run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '  would run: %s\n' "$*"
  else
    "$@"
  fi
}

# --- checks -------------------------------------------------------------------------------
case "$(uname -m)" in
  aarch64 | arm64) ARCH=arm64 ;;
  x86_64 | amd64) ARCH=x64 ;;
  armv7l | armv6l) die "this is a 32-bit system; weir needs a 64-bit OS (Raspberry Pi OS 64-bit on a Pi 3, 4 or 5)" ;;
  *) die "unsupported machine $(uname -m)" ;;
esac
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "run as root (sudo $0 $*), or with --dry-run to see what it would do"
fi
if [ ! -f "$SRC/bin/weir.ts" ] || [ ! -f "$SRC/package.json" ]; then
  die "run this script from a weir source tree ($SRC)"
fi
[ -z "$ROOT" ] || say "installing into the root $ROOT"
[ "$DRY_RUN" = 0 ] || say "dry run: nothing is changed"

R="$ROOT"
NODE_HOME="$PREFIX/node"
APP="$PREFIX/app"

# --- 1. Node.js ---------------------------------------------------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

install_node() {
  local stage="$R$PREFIX/node.new" tmp file base sums
  run rm -rf "$stage"
  run mkdir -p "$stage"
  if [ -n "$NODE_DIST" ] && [ -d "$NODE_DIST" ]; then
    [ -x "$NODE_DIST/bin/node" ] || die "$NODE_DIST has no bin/node"
    say "Node.js: copying $NODE_DIST"
    run cp -R "$NODE_DIST/." "$stage/"
  elif [ -n "$NODE_DIST" ]; then
    [ -f "$NODE_DIST" ] || die "no file $NODE_DIST"
    say "Node.js: unpacking $NODE_DIST"
    run tar -xJf "$NODE_DIST" -C "$stage" --strip-components=1
  elif [ "$NODE_FROM" = registry ]; then
    command -v npm >/dev/null || die "npm is needed to fetch Node.js $NODE_MAJOR from the npm registry (apt-get install npm), or use --node-from nodejs.org or --node-dist"
    if [ "$DRY_RUN" = 1 ]; then
      printf '  would download: node-linux-%s@%s from the npm registry (npm pack; npm checks its integrity), unpack it\n' "$ARCH" "$NODE_MAJOR"
    else
      tmp="$(mktemp -d)"
      say "Node.js: downloading node-linux-$ARCH@$NODE_MAJOR from the npm registry"
      file="$(cd "$tmp" && npm pack --silent --no-update-notifier "node-linux-$ARCH@$NODE_MAJOR")" || die "cannot fetch node-linux-$ARCH@$NODE_MAJOR from the npm registry"
      tar -xzf "$tmp/$file" -C "$stage" --strip-components=1
      rm -rf "$tmp"
    fi
  else
    for tool in curl tar xz sha256sum; do command -v "$tool" >/dev/null || die "$tool is needed (apt-get install curl xz-utils)"; done
    base="https://nodejs.org/dist/latest-v${NODE_MAJOR}.x"
    if [ "$DRY_RUN" = 1 ]; then
      printf '  would download: %s/node-v%s.x.y-linux-%s.tar.xz, check it against SHASUMS256.txt, unpack it\n' "$base" "$NODE_MAJOR" "$ARCH"
    else
      sums="$(curl -fsSL "$base/SHASUMS256.txt")" || die "cannot reach $base"
      file="$(printf '%s\n' "$sums" | awk '{print $2}' | grep -E "^node-v${NODE_MAJOR}\.[0-9]+\.[0-9]+-linux-${ARCH}\.tar\.xz$" | head -n 1)"
      [ -n "$file" ] || die "no linux-$ARCH build listed in $base/SHASUMS256.txt"
      tmp="$(mktemp -d)"
      say "Node.js: downloading $file"
      curl -fsSL -o "$tmp/$file" "$base/$file"
      (cd "$tmp" && printf '%s\n' "$sums" | grep "  $file\$" | sha256sum -c --quiet -) || die "checksum mismatch for $file"
      tar -xJf "$tmp/$file" -C "$stage" --strip-components=1
      rm -rf "$tmp"
    fi
  fi
  if [ "$DRY_RUN" = 0 ]; then
    [ "$(node_major "$stage/bin/node")" = "$NODE_MAJOR" ] || die "the Node.js in $stage is not version $NODE_MAJOR"
  fi
  run rm -rf "$R$NODE_HOME"
  run mv "$stage" "$R$NODE_HOME"
}

if [ -x "$R$NODE_HOME/bin/node" ] && [ "$(node_major "$R$NODE_HOME/bin/node")" = "$NODE_MAJOR" ]; then
  say "Node.js: $("$R$NODE_HOME/bin/node" --version) already in $NODE_HOME"
else
  say "Node.js: installing version $NODE_MAJOR into $NODE_HOME"
  run mkdir -p "$R$PREFIX"
  install_node
fi

# --- 2. the service account ---------------------------------------------------------------
user_exists() {
  if [ -n "$R" ]; then grep -q "^${SERVICE_USER}:" "$R/etc/passwd" 2>/dev/null; else getent passwd "$SERVICE_USER" >/dev/null; fi
}
if user_exists; then
  say "user: $SERVICE_USER exists"
else
  say "user: creating the system user $SERVICE_USER"
  prefix_args=()
  if [ -n "$R" ]; then
    run mkdir -p "$R/etc"
    for f in passwd group shadow gshadow; do [ -e "$R/etc/$f" ] || run touch "$R/etc/$f"; done
    prefix_args=(--prefix "$R")
  fi
  run useradd "${prefix_args[@]}" --system --user-group --home-dir "$STATE_DIR" --no-create-home \
    --shell /usr/sbin/nologin --comment "weir IoT gateway" "$SERVICE_USER"
fi
# Numeric ids: in a throwaway root the names exist only in its own /etc/group.
group_id() {
  if [ -n "$R" ]; then awk -F: -v g="$SERVICE_USER" '$1 == g { print $3 }' "$R/etc/group"; else getent group "$SERVICE_USER" | cut -d: -f3; fi
}
GID="$( (group_id) 2>/dev/null || true)"
[ -n "$GID" ] || GID="$SERVICE_USER" # dry run before the user exists

# --- 3. weir ------------------------------------------------------------------------------
stage="$R$APP.new"
say "weir: installing $(sed -n 's/^ *"version": *"\(.*\)".*/\1/p' "$SRC/package.json" | head -n 1) from $SRC into $APP"
run rm -rf "$stage"
run mkdir -p "$stage"
for part in bin gateway device-sim tools schemas deploy package.json package-lock.json README.md LICENSE; do
  [ -e "$SRC/$part" ] && run cp -R "$SRC/$part" "$stage/"
done
if [ "$SKIP_DEPS" = 0 ]; then
  say "weir: installing its npm dependencies (production only)"
  [ "$DRY_RUN" = 1 ] || PATH="$R$NODE_HOME/bin:$PATH" command -v npm >/dev/null || die "npm is needed to install weir's dependencies (apt-get install npm)"
  run env PATH="$R$NODE_HOME/bin:$PATH" npm --prefix "$stage" ci --omit=dev --no-audit --no-fund --loglevel=error
fi
run rm -rf "$R$APP.old"
[ -e "$R$APP" ] && run mv "$R$APP" "$R$APP.old"
run mv "$stage" "$R$APP"
run rm -rf "$R$APP.old"
run chmod -R go-w "$R$PREFIX"

# --- 4. the config and schemas (never overwritten) ----------------------------------------
# Installs $2 as $1 unless $1 exists; when it exists and differs, the new one goes to $1.new.
conffile() {
  local target="$R$1" new="$2"
  if [ ! -e "$target" ]; then
    say "config: $1"
    run install -m 0640 -o 0 -g "$GID" "$new" "$target"
  elif cmp -s "$target" "$new"; then
    say "config: $1 unchanged"
  else
    say "config: $1 kept as you have it; the shipped version is $1.new"
    run install -m 0640 -o 0 -g "$GID" "$new" "$target.new"
  fi
}
run install -d -m 0750 -o 0 -g "$GID" "$R$CONFIG_DIR" "$R$CONFIG_DIR/schemas"
tmp_config="$(mktemp)"
trap 'rm -f "$tmp_config"' EXIT
# The sample, with schemas next to the config and the spool in the state directory.
sed -e 's#\.\./schemas/#schemas/#' -e "s#^\\(  *\\)\\# dir: /var/lib/weir/spool\$#\\1dir: $STATE_DIR/spool#" \
  "$SRC/deploy/weir.example.yaml" >"$tmp_config"
fresh_config=0
[ -e "$R$CONFIG_DIR/weir.yaml" ] || fresh_config=1
conffile "$CONFIG_DIR/weir.yaml" "$tmp_config"
for schema in "$SRC"/schemas/*.avsc; do
  [ "$(basename "$schema")" != deadletter.avsc ] || continue # weir's own, read from the app
  conffile "$CONFIG_DIR/schemas/$(basename "$schema")" "$schema"
done

# --- 5. the CLI and the unit --------------------------------------------------------------
run mkdir -p "$R$(dirname "$CLI_PATH")" "$R$(dirname "$UNIT_PATH")"
cli="$(mktemp)"
unit="$(mktemp)"
trap 'rm -f "$tmp_config" "$cli" "$unit"' EXIT
printf '#!/bin/sh\n# weir CLI, installed by deploy/install.sh\nexec %s/bin/node %s/bin/weir.ts "$@"\n' \
  "$NODE_HOME" "$APP" >"$cli"
run install -m 0755 "$cli" "$R$CLI_PATH"
sed -e "s#/opt/weir#$PREFIX#g" -e "s#/etc/weir#$CONFIG_DIR#g" "$SRC/deploy/systemd/weir.service" >"$unit"
unit_changed=1
if cmp -s "$unit" "$R$UNIT_PATH"; then unit_changed=0; fi
run install -m 0644 "$unit" "$R$UNIT_PATH"

# --- 6. systemd ---------------------------------------------------------------------------
if [ -n "$R" ]; then
  say "systemd: not touched (installing into a root); enable with: systemctl enable weir"
elif ! command -v systemctl >/dev/null || [ ! -d /run/systemd/system ]; then
  say "systemd is not running here: start weir with $CLI_PATH start --config $CONFIG_DIR/weir.yaml"
else
  [ "$unit_changed" = 0 ] || run systemctl daemon-reload
  run systemctl enable weir.service
  if [ "$START" = 0 ]; then
    say "systemd: weir enabled, not started (--no-start)"
  elif [ "$fresh_config" = 1 ]; then
    say "systemd: weir enabled, not started: first set kafka.brokers in $CONFIG_DIR/weir.yaml, then"
    say "  weir config check $CONFIG_DIR/weir.yaml && sudo systemctl start weir"
  else
    run systemctl restart weir.service
    say "systemd: weir restarted"
  fi
fi
say "done. Status page: http://127.0.0.1:9464/ (http.host in the config to open it wider); logs: journalctl -u weir"
