#!/usr/bin/env bash
# Make this checkout ready to run, test and bench Lucid; safe to run again.
#   1. apt: install what scripts/apt-packages.txt lists and dpkg lacks
#   2. venv: .venv on Python 3.11
#   3. pip: `pip install -e '.[dev]'` when pyproject.toml is newer than .venv/.stamp
#   4. contracts: the pinned npm toolchain (anvil for `make run`'s anchoring, forge, solc)
#      with `npm ci` when contracts/package-lock.json is newer than the last install
#   5. contracts: `forge build` (contracts/out/, what `make bench` deploys) when a source,
#      foundry.toml or the npm install is newer than contracts/out/.setup-stamp
# Each step says "up to date" and does nothing when its stamp is current.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=.venv
stamp="$venv/.stamp"

say() { printf 'setup: %s\n' "$*"; }

# --- 1. system packages -------------------------------------------------------
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' scripts/apt-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
    say "apt: all ${#wanted[@]} packages present"
else
    say "apt: installing ${missing[*]}"
    sudo=()
    if ((EUID != 0)); then sudo=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi

# --- 2. virtualenv ------------------------------------------------------------
is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

if [[ -x "$venv/bin/python" ]] && is_py311 "$venv/bin/python"; then
    say "venv: $venv ok ($("$venv/bin/python" -V 2>&1))"
else
    python=""
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null && is_py311 "$candidate"; then
            python=$(command -v "$candidate")
            break
        fi
    done
    if [[ -z "$python" ]]; then
        echo "setup: error: no Python 3.11 on PATH (python3.11 or python3)" >&2
        exit 1
    fi
    say "venv: creating $venv with $python ($("$python" -V 2>&1))"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    rm -f "$stamp"
fi
# Keep the venv out of git without touching the tree's .gitignore.
[[ -f "$venv/.gitignore" ]] || echo '*' >"$venv/.gitignore"

# --- 3. python packages -------------------------------------------------------
if [[ -f "$stamp" && ! pyproject.toml -nt "$stamp" ]]; then
    say "pip: up to date (pyproject.toml older than $stamp)"
else
    say "pip: installing -e '.[dev]'"
    "$venv/bin/python" -m pip install -qq --disable-pip-version-check -e '.[dev]'
    touch "$stamp"
fi

# --- 4. contracts toolchain (npm) ---------------------------------------------
# `make run` anchors on an anvil chain-client starts (lucid.chain_client.localchain finds it
# in contracts/node_modules); the chain artifacts it deploys are committed
# (daemons/lucid/chain_artifacts). `make bench` deploys from contracts/out/ (step 5).
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)) || ! command -v npm >/dev/null; then
    echo "setup: error: node >= 20 and npm are needed for the contracts' toolchain (anvil, forge):" \
        "install them (e.g. from nodejs.org or NodeSource) and run make setup again" >&2
    exit 1
fi
npm_stamp=contracts/node_modules/.package-lock.json # npm rewrites it on every install
if [[ -f "$npm_stamp" && ! contracts/package-lock.json -nt "$npm_stamp" ]]; then
    say "npm: contracts/node_modules up to date (package-lock.json older than its install)"
else
    say "npm: installing the contracts' toolchain (npm ci)"
    bash contracts/scripts/npm-deps.sh
fi

# --- 5. contracts build (forge) -----------------------------------------------
build_stamp=contracts/out/.setup-stamp
newer=""
if [[ -f "$build_stamp" ]]; then
    newer=$(find contracts/src contracts/foundry.toml "$npm_stamp" -newer "$build_stamp" \
        -print -quit)
fi
if [[ -f "$build_stamp" && -z "$newer" ]]; then
    say "forge: contracts/out up to date"
else
    say "forge: building the contracts (contracts/out)"
    chmod +x contracts/tools/solc # foundry.toml's compiler; a checkout may lose the bit
    (cd contracts && node_modules/.bin/forge build --quiet)
    touch "$build_stamp"
fi
