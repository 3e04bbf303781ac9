#!/usr/bin/env bash
# bench/analytic_scale.sh DISTLAB [16384] -- issue 21's scale goals for
# --net analytic, each one run, measured against its goal: a 4,096-rank
# ring allreduce of 100 MB (size-only) under 60 s and 1 GB; one BSP
# iteration of a parameter server with 10,000 workers and 100 servers
# under 60 s (a 1,010-parameter softmax model on 80,000 examples of
# synth-dense, batch 8: each worker one pull and one push per server, 2
# million messages); with the argument 16384, also a 16,384-rank ring
# (goal: under 10 minutes; not in make bench, it takes minutes). Prints
# wall and CPU (user+sys) seconds and peak memory (max RSS); on a shared
# machine the CPU seconds say more than the wall ones. A missed goal is
# printed as such and makes the exit status 1, as a run that fails does.
set -uo pipefail
bin=${1:-build/distlab}
big=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
printf "  load average at the start: %s; vm.max_map_count %s\n" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo '?')"

# measure NAME GOAL_S GOAL_MB COMMAND...: one run, its simulated seconds
# from SIMCMD (a shell command reading $tmp/NAME.out), against the goals
measure() {
  local name=$1 goal_s=$2 goal_mb=$3 sim=$4
  shift 4
  if ! /usr/bin/time -f "%e %U %S %M" -o "$tmp/$name.time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; then
    echo "  $name: FAILED: $(tail -3 "$tmp/$name.err")"
    status=1
    return
  fi
  read -r wall user sys kb <"$tmp/$name.time"
  awk -v n="$name" -v w="$wall" -v c="$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" -v kb="$kb" \
      -v gs="$goal_s" -v gm="$goal_mb" -v sim="$(eval "$sim")" 'BEGIN {
    ok = w < gs && (gm == 0 || kb / 1024 < gm)
    printf "  %-44s wall %7.1f s, cpu %7.1f s (goal < %d s); peak %6.0f MB%s; simulated %s s%s\n", n, w, c, gs,
           kb / 1024, gm ? sprintf(" (goal < %d MB)", gm) : "", sim, ok ? "" : "  MISSED"
    exit !ok
  }' || status=1
}

ring_sim='tail -1 "$tmp/$name.out" | cut -d, -f6'
measure "ring allreduce, 4,096 ranks, 100 MB" 60 1024 "$ring_sim" \
  "$bin" collective --workers 4096 --bytes 100MB --payload size-only --no-events --net analytic
measure "ps bsp, 10,000 workers, 100 servers, 1 iter" 60 0 \
  'sed -n "s/^  \"seconds\": \(.*\),$/\1/p" "$tmp/ps/summary.json"' \
  "$bin" run ps --workers 10000 --servers 100 --consistency bsp --epochs 1 --batch 8 \
  --dataset synth-dense:n=100000,d=100,classes=10 --no-figures --quiet --no-events --net analytic --out "$tmp/ps"
if [ "$big" = 16384 ]; then
  measure "ring allreduce, 16,384 ranks, 100 MB" 600 0 "$ring_sim" \
    "$bin" collective --workers 16384 --bytes 100MB --payload size-only --no-events --net analytic
fi
exit $status
