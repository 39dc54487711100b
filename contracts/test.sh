#!/usr/bin/env bash
# Build and test the Lucid contracts; exit non-zero when anything fails.
#   1. npm toolchain (npm ci when node_modules is missing or older than package-lock.json)
#   2. forge build, then forge test (unit + fuzz), checking that every suite ran
#   3. forge lint (warnings are errors)
#   4. daemons/lucid/chain_artifacts must match the fresh build (contracts/export.sh)
#   5. gas per session of an anchor tx, measured on a private anvil
# Needs only node >= 20 and npm; works from any directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v node >/dev/null || { echo "contracts: node >= 20 and npm are required" >&2; exit 1; }
bash scripts/npm-deps.sh
forge=node_modules/.bin/forge

$forge build
if ! node scripts/out-complete.js; then
  echo "contracts: incomplete out/ (stale cache), rebuilding with --force" >&2
  $forge build --force
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
$forge test 2>&1 | tee "$log" || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "contracts: forge test failed (exit $rc)" >&2
  exit "$rc"
fi
# forge skips, without a word, a suite whose artifact it lost: count them.
expected=$(cat test/*.t.sol | grep -cE '^contract [A-Za-z0-9_]+ is Test\b' || true)
ran=$(sed -nE 's/^Ran ([0-9]+) test suites? in .*/\1/p' "$log" | tail -n1)
if [[ "$ran" != "$expected" ]]; then
  echo "contracts: forge test ran ${ran:-no} suites, test/ declares $expected" >&2
  exit 1
fi

FOUNDRY_PROFILE=lint $forge lint -D warnings

node scripts/export.js --check
node scripts/gas.js
echo "contracts: all checks passed"
