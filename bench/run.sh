#!/usr/bin/env bash
# bench/run.sh DISTLAB -- what `make bench` runs: every speed measurement,
# each side by side with its reference in one run, printed as ratios.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-build/distlab}
status=0
for b in "$here"/collective.sh "$here"/ml.sh; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" "$bin" || status=1
done
exit $status
