#!/usr/bin/env bash
# `npm start`: the local Kafka, then weir with deploy/weir.example.yaml (extra arguments go to
# `weir start`). Ctrl-C stops weir and leaves the local Kafka running (`npm run weir -- kafka
# stop` stops it); when weir cannot start (exit 2), a Kafka this command started is stopped again.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run=(bash "$root/tools/run.sh")
# shellcheck source=tools/node-env.sh
. "$root/tools/node-env.sh"
# shellcheck source=tools/system-packages.sh
. "$root/tools/system-packages.sh"
weir_need kafka "the local Kafka (weir kafka, npm start, npm run demo)" || exit 1
"${run[@]}" "$root/bin/weir.ts" kafka status >/dev/null 2>&1
was_running=$?
"${run[@]}" "$root/bin/weir.ts" kafka start || exit $?
# The V8 flag weir is deployed with (bin/weir.ts says why).
NODE_OPTIONS="--max-semi-space-size=4 ${NODE_OPTIONS:-}" "${run[@]}" "$root/bin/weir.ts" start --config "$root/deploy/weir.example.yaml" "$@"
rc=$?
if [ "$rc" -eq 2 ] && [ "$was_running" -ne 0 ]; then
  echo "weir: stopping the local Kafka this command started, as weir did not start" >&2
  "${run[@]}" "$root/bin/weir.ts" kafka stop >/dev/null
fi
exit "$rc"
