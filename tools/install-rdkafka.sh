#!/usr/bin/env bash
# `weir kafka install-rdkafka` runs this: installs node-rdkafka VERSION (kafka.client: rdkafka)
# into node_modules without changing package.json or package-lock.json. npm builds librdkafka
# from source, which takes a few minutes and ~500 MB; the default clients need none of it.
# The build tools and libraries come first (tools/system-packages.sh, set rdkafka).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$1"
# shellcheck source=tools/node-env.sh
. "$root/tools/node-env.sh"
# shellcheck source=tools/system-packages.sh
. "$root/tools/system-packages.sh"
weir_need rdkafka "node-rdkafka's build (librdkafka from source)" || exit 1
cd "$root"
weir_step "installing node-rdkafka $version: building librdkafka from source with $(node --version) (about 3–4 minutes on 2 cores)" \
  npm install --no-save --no-audit --no-fund --no-update-notifier --loglevel=error "node-rdkafka@$version"
node -e 'require("node-rdkafka")' || {
  echo "weir: node-rdkafka $version was built but does not load; see the lines above" >&2
  exit 1
}
echo "weir: node-rdkafka $version installed; kafka.client: rdkafka can be used (after a Node upgrade or npm ci, run this command again)" >&2
