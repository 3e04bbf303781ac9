#!/usr/bin/env bash
# bench/sim_overhead.sh DISTLAB [RANKS] -- distlab's simulator against a
# plain SimGrid program sending the same messages (bench/sg_ring.c), on the
# same generated platform, one after the other in one run: wall and CPU
# seconds, peak memory, and their ratios. Goal (issue 21): distlab within
# 1.2x of plain SimGrid, under 300 MB.
set -uo pipefail
bin=${1:-build/distlab}
ranks=${2:-1024}
ref=$(dirname "$bin")/bench/sg_ring
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x "$ref" ] || { echo "sim_overhead: $ref is not built (make bench builds it)" >&2; exit 1; }
"$bin" platform --hosts "$ranks" -o "$tmp/p.xml" || exit 1
/usr/bin/time -f "%e %U %M" -o "$tmp/ref.time" "$ref" "$tmp/p.xml" "$ranks" 100000000 >"$tmp/ref.out" || exit 1
/usr/bin/time -f "%e %U %M" -o "$tmp/dl.time" "$bin" collective --workers "$ranks" --bytes 100MB \
  --payload size-only --no-events >"$tmp/dl.out" || exit 1
read -r rw ru rm <"$tmp/ref.time"
read -r dw du dm <"$tmp/dl.time"
awk -v rw="$rw" -v ru="$ru" -v rm="$rm" -v dw="$dw" -v du="$du" -v dm="$dm" \
    -v rs="$(cut -d' ' -f1 "$tmp/ref.out")" -v ds="$(tail -1 "$tmp/dl.out" | cut -d, -f6)" 'BEGIN {
  printf "  simulated seconds: distlab %s, plain SimGrid %s\n", ds, rs
  printf "  wall   distlab %7.2f s, plain SimGrid %7.2f s: ratio %.2f (goal <= 1.2)\n", dw, rw, dw / rw
  printf "  cpu    distlab %7.2f s, plain SimGrid %7.2f s: ratio %.2f (goal <= 1.2)\n", du, ru, du / ru
  printf "  memory distlab %7.1f MB, plain SimGrid %7.1f MB (goal: distlab under 300 MB)\n", dm / 1024, rm / 1024
}'
