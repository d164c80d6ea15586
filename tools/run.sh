#!/usr/bin/env bash
# Runs `node ARGS...` with Node >= 22 and the project's dependencies installed — what the npm
# scripts use, so `npm start` and `npm test` work on a machine that has only an older Node.
# `--needs SET` first makes sure the system packages of SET are there (tools/system-packages.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools/node-env.sh
. "$root/tools/node-env.sh"
# shellcheck source=tools/system-packages.sh
. "$root/tools/system-packages.sh"
case "${1:-}" in
  --needs)
    case "$2" in
      kafka) weir_need kafka "the local Kafka (weir kafka, npm start, npm run demo)" || exit 1 ;;
      test) weir_need test "the tests" || exit 1 ;;
      *) weir_need "$2" "$2" || exit 1 ;;
    esac
    shift 2
    ;;
esac
if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  # npm ci replaces node_modules; node-rdkafka (opt-in, not in package.json) is installed again
  # afterwards when it was there before.
  had_rdkafka=0
  [ -d "$root/node_modules/node-rdkafka" ] && had_rdkafka=1
  (cd "$root" && weir_step "installing dependencies (npm ci)" npm ci --no-audit --no-fund --no-update-notifier --loglevel=error)
  if [ "$had_rdkafka" = 1 ]; then
    node "$root/bin/weir.ts" kafka install-rdkafka
  fi
fi
exec node "$@"
