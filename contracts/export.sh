#!/usr/bin/env bash
# Build the contracts and write daemons/lucid/chain_artifacts/{LucidAnchors,LucidChunkStore}.json
# (+ __init__.py) for the Python chain-client. `export.sh --check` only compares.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/npm-deps.sh
node_modules/.bin/forge build
node scripts/export.js "$@"
