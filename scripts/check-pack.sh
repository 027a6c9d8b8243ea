#!/usr/bin/env bash
# The npm package as a user gets it: pack, install the tarball into an empty folder, run rlif
# from there (help, an evaluation on a shipped benchmark by name, the grader). Catches files
# missing from package.json "files" and paths that only resolve inside the repository.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

tgz="$(cd "$repo" && npm pack --silent --pack-destination "$tmp" | tail -n 1)"
mkdir "$tmp/user"
cd "$tmp/user"
# --prefer-offline: dependencies come from the npm cache when it has them (npm ci filled it).
npm install --no-audit --no-fund --prefer-offline --loglevel=error "$tmp/$tgz" >/dev/null

fail() { echo "check-pack: $*" >&2; exit 1; }

npx --no-install rlif --help | grep -q "reproduce" || fail "rlif --help does not list its commands"
out="$(npx --no-install rlif eval --bench math500 --limit 2 2>&1)" || fail "rlif eval --bench math500 --limit 2 failed:
$out"
echo "$out" | grep -Eq "^math500 +2 " || fail "rlif eval --bench math500 --limit 2 printed no math500 row of 2 problems:
$out"
[ "$(npx --no-install rlif grade --pred '2\sqrt{2}' --gold '\sqrt{8}')" = true ] || fail "rlif grade: 2√2 ≠ √8"
echo "check-pack: $tgz installs and runs (help, eval --bench math500, grade)"
