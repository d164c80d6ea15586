# shellcheck shell=bash
# Sourced by tools/run.sh and .ci/run: puts a Node >= 22 first on PATH. When the system Node is
# older, Node 24 is installed from the npm registry package node-linux-<arch>@24 into
# ~/.cache/weir/node24 (once), and native addons are pointed at its headers.

# weir_step WHAT CMD...: runs CMD with its output kept in a log file, says what it does, prints a
# line every 10 s while it runs and how long it took; on failure, the end of the log and its path.
weir_step() {
  local what="$1" log rc pid start=$SECONDS next=10
  shift
  log="$(mktemp "${TMPDIR:-/tmp}/weir-step.XXXXXX")"
  echo "weir: $what …" >&2
  "$@" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ $((SECONDS - start)) -ge "$next" ] && kill -0 "$pid" 2>/dev/null; then
      echo "weir: … still running ($((SECONDS - start)) s)" >&2
      next=$((next + 10))
    fi
  done
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "weir: $what failed (exit $rc); the whole output is in $log" >&2
    return "$rc"
  fi
  rm -f "$log"
  echo "weir: done in $((SECONDS - start)) s" >&2
}

weir_node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)'
}
if ! weir_node_ok; then
  case "$(uname -m)" in
    x86_64) weir_arch=x64 ;;
    aarch64 | arm64) weir_arch=arm64 ;;
    *) echo "weir: no Node 24 package for $(uname -m); install Node >= 22.18 yourself" >&2; return 1 ;;
  esac
  weir_node_home="${WEIR_NODE_HOME:-$HOME/.cache/weir/node24}"
  weir_node_pkg="$weir_node_home/node_modules/node-linux-$weir_arch"
  if [ ! -x "$weir_node_pkg/bin/node" ]; then
    mkdir -p "$weir_node_home"
    weir_step "system Node is $(node --version 2>/dev/null || echo missing); installing Node 24 from the npm registry into $weir_node_home" \
      npm install --prefix "$weir_node_home" --no-save --no-package-lock --no-audit --no-fund --no-update-notifier \
      --loglevel=error "node-linux-$weir_arch@24" || return 1
  fi
  export PATH="$weir_node_pkg/bin:$PATH"
  export npm_config_nodedir="$weir_node_pkg"
fi
