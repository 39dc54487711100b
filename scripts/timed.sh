#!/usr/bin/env bash
# Run a suite and print its wall time, so the cost of each part of `make test` stays visible:
#   scripts/timed.sh NAME COMMAND [ARGS...]   ->   "time: NAME 42 s (exit 0)" on stderr
set -uo pipefail
name=$1
shift
start=$(date +%s)
"$@"
rc=$?
printf 'time: %s %d s (exit %d)\n' "$name" "$(($(date +%s) - start))" "$rc" >&2
exit "$rc"
