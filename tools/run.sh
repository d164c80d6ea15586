#!/usr/bin/env bash
# Runs `node ARGS...` with Node >= 22 and the project's dependencies installed — what the npm
# scripts use, so `npm start` and `npm test` work on a machine that has only an older Node.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools/node-env.sh
. "$root/tools/node-env.sh"
if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "weir: installing dependencies (npm ci)" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
exec node "$@"
