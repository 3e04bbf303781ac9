#!/usr/bin/env bash
# bench/sim_overhead.sh DISTLAB [RANKS [REPS]] -- distlab's simulator against
# a plain SimGrid program sending the same messages (bench/sg_ring.c), on
# the same generated platform, in one run: each REPS times (default 3),
# the two taking turns, so that a busy machine slows both alike. Prints the
# medians of wall and CPU (user+sys) seconds, peak memory, and their
# ratios. Goal (issue 21): distlab within 1.2x of plain SimGrid, under
# 300 MB. On a shared machine trust the CPU ratio more than the wall one.
set -uo pipefail
bin=${1:-build/distlab}
ranks=${2:-1024}
reps=${3:-3}
ref=$(dirname "$bin")/bench/sg_ring
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x "$ref" ] || { echo "sim_overhead: $ref is not built (make bench builds it)" >&2; exit 1; }
"$bin" platform --hosts "$ranks" -o "$tmp/p.xml" || exit 1
for i in $(seq "$reps"); do
  /usr/bin/time -f "%e %U %S %M" -a -o "$tmp/ref.time" "$ref" "$tmp/p.xml" "$ranks" 100000000 >"$tmp/ref.out" || exit 1
  /usr/bin/time -f "%e %U %S %M" -a -o "$tmp/dl.time" "$bin" collective --workers "$ranks" --bytes 100MB \
    --payload size-only --no-events >"$tmp/dl.out" || exit 1
done
# median of column 1 (wall), of 2+3 (cpu), of 4 (peak kB), over the runs
med() { awk '{print $1, $2 + $3, $4}' "$1" | awk -v c="$2" '{print $c}' | sort -g |
        awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
awk -v rw="$(med "$tmp/ref.time" 1)" -v rc="$(med "$tmp/ref.time" 2)" -v rm="$(med "$tmp/ref.time" 3)" \
    -v dw="$(med "$tmp/dl.time" 1)" -v dc="$(med "$tmp/dl.time" 2)" -v dm="$(med "$tmp/dl.time" 3)" \
    -v n="$reps" -v p="$ranks" \
    -v rs="$(cut -d' ' -f1 "$tmp/ref.out")" -v ds="$(tail -1 "$tmp/dl.out" | cut -d, -f6)" 'BEGIN {
  printf "  %d ranks, medians of %d runs each, taking turns\n", p, n
  printf "  simulated seconds: distlab %s, plain SimGrid %s\n", ds, rs
  printf "  wall   distlab %7.2f s, plain SimGrid %7.2f s: ratio %.2f (goal <= 1.2)\n", dw, rw, dw / rw
  printf "  cpu    distlab %7.2f s, plain SimGrid %7.2f s: ratio %.2f (goal <= 1.2; user+sys)\n", dc, rc, dc / rc
  printf "  memory distlab %7.1f MB, plain SimGrid %7.1f MB (goal: distlab under 300 MB)\n", dm / 1024, rm / 1024
}'
