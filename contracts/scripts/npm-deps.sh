#!/usr/bin/env bash
# Install the pinned npm toolchain (forge, anvil, cast, solc, OpenZeppelin) when
# node_modules is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=node_modules/.package-lock.json   # npm rewrites it on every install
if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
  echo "contracts: npm ci" >&2
  npm ci --prefer-offline --no-audit --no-fund --loglevel=error
fi
# foundry.toml points forge at this script; a checkout without file modes loses the bit.
chmod +x tools/solc
