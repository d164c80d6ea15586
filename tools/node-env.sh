# Sourced by tools/run.sh and .ci/run: puts a Node >= 22 first on PATH. When the system Node is
# older, Node 24 is installed from the npm registry package node-linux-<arch>@24 into
# ~/.cache/weir/node24 (once), and native addons are pointed at its headers.
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
    echo "weir: system Node is $(node --version 2>/dev/null || echo missing); installing Node 24 into $weir_node_home" >&2
    mkdir -p "$weir_node_home"
    (cd "$weir_node_home" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$weir_arch@24" >&2)
  fi
  export PATH="$weir_node_pkg/bin:$PATH"
  export npm_config_nodedir="$weir_node_pkg"
fi
