#!/usr/bin/env bash
# bench/sweep_jobs.sh DISTLAB -- the same 8-run sweep with --jobs 1 and
# with --jobs (the machine's cores), one after the other: wall seconds and
# their ratio. Goal (issue 21): at most 0.6 on a 2-core machine.
set -uo pipefail
bin=${1:-build/distlab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args="--algos allreduce:ring,psgd:8 --vary workers=1,2,4,8 --epochs 1 --train-size 20000"
s=$( { /usr/bin/time -f "%e" "$bin" sweep $args --jobs 1 --out "$tmp/seq" >/dev/null; } 2>&1 | tail -1)
p=$( { /usr/bin/time -f "%e" "$bin" sweep $args --out "$tmp/par" >/dev/null; } 2>&1 | tail -1)
awk -v s="$s" -v p="$p" -v c="$(nproc)" 'BEGIN {
  printf "  8 runs: --jobs 1 %.2f s, --jobs %d %.2f s: ratio %.2f (goal <= 0.6 on 2 cores)\n", s, c, p, p / s }'
