#!/usr/bin/env bash
# bench/dp_512.sh DISTLAB [REPS] -- issue 17's scale goal: one data-parallel
# ResNet-50 step on 512 simulated V100s (64 nodes of 8, 100 Gb/s NICs,
# DDP's 25 MB buckets, size-only) in under 30 s of wall time on a 2-core
# machine. Three ways to sum the buckets, each REPS times (default 1),
# taking turns: the flat ring of 512 ranks under SimGrid's flow model
# (--net ideal, 2 x 511 messages per rank per bucket), the same ring under
# distlab's own flow model (--net analytic: same simulated step, no global
# solver) and the hierarchical allreduce (a ring of 64 node leaders).
# Prints the medians of wall and CPU (user+sys) seconds against the goal;
# on a shared machine the CPU seconds say more than the wall ones.
set -uo pipefail
bin=${1:-build/distlab}
reps=${2:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # NAME OPTIONS...
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -a -o "$tmp/$name.time" "$bin" dp --workload resnet50 --device v100 \
    --workers 512 --gpus-per-node 8 --bandwidth 100Gbps --latency 10us --framework ddp --steps 1 \
    "$@" >"$tmp/$name.out" || { echo "dp_512: $name failed" >&2; exit 1; }
}
for i in $(seq "$reps"); do
  run ring --net ideal
  run analytic --net analytic
  run hierarchical --allreduce hierarchical
done
med() { awk -v c="$2" '{print (c == 1) ? $1 : $2 + $3}' "$1" | sort -g |
        awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf "  512 GPUs, ResNet-50, 1 step, median of %d run(s) each; load average %s\n" "$reps" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
for name in ring analytic hierarchical; do
  awk -v n="$name" -v w="$(med "$tmp/$name.time" 1)" -v c="$(med "$tmp/$name.time" 2)" \
      -v s="$(tail -1 "$tmp/$name.out" | cut -d, -f9)" 'BEGIN {
    printf "  %-26s simulated step %.4f s   wall %6.2f s  cpu %6.2f s  (goal: wall < 30 s: %s)\n",
      n == "ring" ? "ring, --net ideal" : n == "analytic" ? "ring, --net analytic" : "hierarchical, --net ideal",
      s, w, c, w < 30 ? "met" : "NOT met"
  }'
done
