#!/usr/bin/env bash
# bench/ray.sh DISTLAB -- the Ray model's two goals (issue 16), in one run:
#   1. on real threads, the round trip of an empty remote task against a
#      plain rt_send/rt_recv round trip on the same two ranks (goal: <= 3x);
#   2. the wall time to simulate 100,000 tasks on 64 nodes (goal: < 30 s on
#      a 2-core machine).
# Both with --no-events, as measured before ray-bench wrote run folders.
set -uo pipefail
bin=${1:-build/distlab}
out=${BENCH_OUT:-runs/bench}/ray
status=0
# each run's output is kept whole and its first line taken afterwards: piping
# into head would end distlab with SIGPIPE (141 under pipefail) once head exits
lines=$("$bin" ray-bench latency --backend real --reps 5000 --no-events --out "$out") || status=1
echo "${lines%%$'\n'*}"
ratio=$(tail -1 "$out/latency.csv" | cut -d, -f7)
awk -v r="$ratio" 'BEGIN { printf "  remote task / plain round trip: %.2fx (goal <= 3x): %s\n", r, r <= 3 ? "met" : "MISSED"; exit !(r <= 3) }' || status=1
start=$(date +%s.%N)
lines=$("$bin" ray-bench throughput --nodes 64 --tasks 100000 --no-events --out "$out") || status=1
echo "${lines%%$'\n'*}"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { w = e - s; printf "  100,000 tasks on 64 simulated nodes: %.2f s of wall time (goal < 30 s): %s\n", w, w < 30 ? "met" : "MISSED"; exit !(w < 30) }' || status=1
exit $status
