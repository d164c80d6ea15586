#!/usr/bin/env bash
# The README's quick start as a first-time user meets it: `npm run demo` in a clean clone of the
# committed tree, with an empty HOME (so no npm cache, no ~/.npmrc, no Node 24 in ~/.cache/weir,
# no local Kafka state) and only the system's PATH. Only the Maven cache (~/.m2, the Kafka jars)
# is shared, to keep it cheap. Fails when the demo does not pass, when it wrote anything into the
# source tree, when npm printed notices, or when node_modules holds the opt-in native client.
# CI runs it (.ci/run); locally it checks the last commit, not uncommitted changes.
# --fresh-maven: an empty Maven cache too (downloads the Kafka jars and Maven's plugins).
set -euo pipefail
share_m2=1
[ "${1:-}" = --fresh-maven ] && share_m2=0
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/weir-quick-start.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
fail() {
  echo "quick-start check: FAILED: $*" >&2
  exit 1
}

git clone --quiet --no-hardlinks "$src" "$work/weir"
mkdir -p "$work/home"
if [ "$share_m2" = 1 ] && [ -d "$HOME/.m2" ]; then ln -s "$HOME/.m2" "$work/home/.m2"; fi
# A first-time user's environment: no CI variable, no npm or weir settings of this machine.
user_env=(env -i "HOME=$work/home" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "LANG=C.UTF-8" "TERM=dumb")
for proxy in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -n "${!proxy:-}" ] && user_env+=("$proxy=${!proxy}")
done

echo "quick-start check: npm run demo in a clean clone ($(git -C "$work/weir" rev-parse --short HEAD)), empty HOME, system Node $(node --version 2>/dev/null || echo missing)" >&2
start=$SECONDS
rc=0
(cd "$work/weir" && "${user_env[@]}" npm run demo) >"$work/demo.log" 2>&1 </dev/null || rc=$?
took=$((SECONDS - start))
sed 's/^/  | /' "$work/demo.log" >&2
[ "$rc" -eq 0 ] || fail "npm run demo exited $rc"
grep -q '^PASS: every acknowledged message is in Kafka' "$work/demo.log" || fail "the demo did not print PASS"
if grep -Eq '^npm (notice|warn)|^added [0-9]+ packages?' "$work/demo.log"; then
  fail "npm printed notices or install summaries (see above)"
fi
dirty="$(git -C "$work/weir" status --porcelain --ignored --untracked-files=all -- . ':!node_modules')"
[ -z "$dirty" ] || fail "the demo wrote into the source tree: $dirty"
[ ! -e "$work/weir/node_modules/node-rdkafka" ] || fail "node_modules holds node-rdkafka, which is opt-in"
echo "quick-start check: passed in ${took} s; node_modules $(du -sm "$work/weir/node_modules" | cut -f1) MB" >&2
