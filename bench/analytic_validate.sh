#!/usr/bin/env bash
# bench/analytic_validate.sh DISTLAB [quick] -- --net analytic against
# --net ideal (SimGrid's CM02 flow model), case by case, as one table:
# the simulated seconds under each, their relative difference and the goal
# (issue 21 item 2): 1e-6 where no two flows share a link (every collective,
# pingpong), 5% where they do (a parameter server's incast, the uplinks of
# platforms/two-racks.xml). The wall seconds of both runs are beside them.
# "quick" stops the contention-free cases at 64 ranks (the 1024-rank runs
# under ideal take minutes on a 2-core machine). Exit 1 if a case misses.
set -uo pipefail
bin=${1:-build/distlab}
quick=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
platforms=${DISTLAB_PLATFORMS:-$here/../platforms}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
printf "  %-34s %5s %10s %15s %15s %9s %6s %7s %7s\n" case p bytes ideal_s analytic_s rel_diff goal wall_i wall_a

# run NET OUTFILE ARGS...: one distlab command under NET; its wall seconds
# go to OUTFILE.wall
run() {
  local net=$1 out=$2
  shift 2
  /usr/bin/time -f "%e" -o "$out.wall" "$bin" "$@" --net "$net" >"$out" 2>"$out.err" ||
    { echo "  FAILED: $bin $* --net $net: $(tail -2 "$out.err")"; return 1; }
}

# compare NAME P GOAL COLUMN BYTESCOLUMN ARGS...: the same command under
# both nets; one row per CSV row of its output (the columns of its seconds
# and of its bytes)
compare() {
  local name=$1 p=$2 goal=$3 col=$4 bcol=$5
  shift 5
  run ideal "$tmp/i" "$@" && run analytic "$tmp/a" "$@" || { status=1; return; }
  paste -d' ' <(grep -v '^#' "$tmp/i" | tail -n +2) <(grep -v '^#' "$tmp/a" | tail -n +2) |
    awk -v name="$name" -v p="$p" -v goal="$goal" -v c="$col" -v bc="$bcol" \
        -v wi="$(cat "$tmp/i.wall")" -v wa="$(cat "$tmp/a.wall")" '{
      split($1, i, ","); split($2, a, ",")
      d = (a[c] - i[c]) / i[c]; if (d < 0) d = -d
      ok = d <= goal
      printf "  %-34s %5d %10s %15.9g %15.9g %9.2e %6g %7.2f %7.2f%s\n", name, p, i[bc], i[c], a[c], d, goal, wi, wa,
             ok ? "" : "  MISSED"
      if (!ok) bad = 1
    } END { exit bad }' || status=1
}

# ps_compare NAME W S ARGS...: one BSP run of the parameter server under
# both nets (a 20,010-parameter softmax model, one epoch of about two iterations), summary.json's
# simulated seconds; bytes is the model's size
ps_compare() {
  local name=$1 w=$2 s=$3
  shift 3
  local args=(run ps --workers "$w" --servers "$s" --consistency bsp --epochs 1 --batch 16
              --dataset "synth-dense:n=$((w * 32)),d=2000,classes=10" --eval-every 1 --no-figures --quiet "$@")
  run ideal "$tmp/pi" "${args[@]}" --out "$tmp/psi" && run analytic "$tmp/pa" "${args[@]}" --out "$tmp/psa" ||
    { status=1; return; }
  secs() { sed -n 's/^  "seconds": \(.*\),$/\1/p' "$1/summary.json"; }
  local params
  params=$(sed -n 's/^  "parameters": \(.*\),$/\1/p' "$tmp/psi/summary.json")
  awk -v name="$name" -v p="$((w + s))" -v i="$(secs "$tmp/psi")" -v a="$(secs "$tmp/psa")" -v b="$((4 * params))" \
      -v wi="$(cat "$tmp/pi.wall")" -v wa="$(cat "$tmp/pa.wall")" 'BEGIN {
    d = (a - i) / i; if (d < 0) d = -d
    printf "  %-34s %5d %10s %15.9g %15.9g %9.2e %6g %7.2f %7.2f%s\n", name, p, b, i, a, d, 0.05, wi, wa,
           d <= 0.05 ? "" : "  MISSED"
    exit d > 0.05 }' || status=1
}

echo "  -- contention-free: one flow per link (goal 1e-6)"
sizes=4,1MB
for p in 2 7 64 1024; do
  [ -n "$quick" ] && [ "$p" -gt 64 ] && continue
  [ "$p" -gt 64 ] && sizes=1MB
  for algo in ring tree rd rabenseifner; do
    compare "allreduce $algo" "$p" 1e-6 6 5 collective --op allreduce --algo "$algo" --workers "$p" --bytes "$sizes" \
      --payload size-only --no-events
  done
  for op in bcast reduce; do
    compare "$op" "$p" 1e-6 6 5 collective --op "$op" --workers "$p" --bytes "$sizes" --payload size-only --no-events
  done
  compare barrier "$p" 1e-6 6 5 collective --op barrier --workers "$p" --payload size-only --no-events
done
for p in 16 1024; do
  [ -n "$quick" ] && [ "$p" -gt 64 ] && continue
  compare "allreduce hierarchical (8 GPUs/node)" "$p" 1e-6 6 5 collective --op allreduce --algo hierarchical \
    --workers "$p" --gpus-per-node 8 --hosts $((p / 8)) --bytes 1MB --payload size-only --no-events
done
compare "pingpong" 2 1e-6 4 2 pingpong --bytes 0,1KiB,1MiB,64MiB

echo "  -- contended: flows share links (goal 5%)"
for w in 16 32 64; do
  for s in 1 2 4 8; do
    ps_compare "ps bsp, $w workers, $s servers" "$w" "$s"
  done
done
ps_compare "ps bsp on two-racks, 12 w, 4 s" 12 4 --platform "$platforms/two-racks.xml"
for algo in ring rd rabenseifner; do
  compare "two-racks: allreduce $algo" 16 0.05 6 5 collective --op allreduce --algo "$algo" --workers 16 \
    --bytes 1MB,64MB --platform "$platforms/two-racks.xml" --payload size-only --no-events
done
compare "two-racks: byteps, 2 servers" 16 0.05 6 5 collective --op byteps --workers 14 --servers 2 --bytes 64MB \
  --platform "$platforms/two-racks.xml" --payload size-only --no-events
exit $status
