#!/bin/sh
# failure_figure.sh -- test accuracy against time when a worker's host goes
# down at T (simulated, --fail): synchronous SGD restarted from scratch,
# the same resumed from its last checkpoint, and an asynchronous parameter
# server that goes on without the dead worker (#19, item 5).
#
#   make build/distlab
#   bench/failure_figure.sh [BUILD_DIR [OUT_DIR]]     (defaults: build, runs/failure; ~15 s)
#
# A failed synchronous run writes no records, so its two lines are drawn
# from runs that did finish, shifted in time as a user would live them:
# "restart" is the clean run up to T, then the clean run again from T;
# "checkpoint" is the resumed run (which carries the points before its
# checkpoint), its points after the checkpoint moved later by T minus the
# checkpoint's time (the work lost). Restarting costs nothing here.
set -e
build=${1:-build}
out=${2:-runs/failure}
bin=$build/distlab
[ -x "$bin" ] || { echo "failure_figure.sh: $bin not built (make $bin)" >&2; exit 1; }
T=0.45       # seconds: the failure, in epoch 4 of 6
ckpt=1       # epochs between checkpoints
C="--dataset fashion-mnist --train-size 12000 --test-size 2000 --model softmax --epochs 6
   --batch 32 --lr 0.1 --workers 8 --eval-every 0.5 --bandwidth 1Gbps --quiet --no-figures"
mkdir -p "$out"

$bin run allreduce $C --out "$out/no failure"
$bin run allreduce $C --checkpoint-every $ckpt --fail 3@${T}s --out "$out/stopped" 2>/dev/null && {
    echo "failure_figure.sh: the run should have stopped at ${T}s" >&2; exit 1; }
$bin run allreduce $C --resume "$out/stopped" --out "$out/resumed" 2>&1 | grep -v '^distlab run allreduce: [0-9]'
$bin run ps $C --servers 2 --consistency async --fail 5@${T}s --out "$out/ps async, failure at T" 2>&1 |
    grep -v '^distlab run ps: [0-9]' || true

# metrics.csv: time in column 1, epoch in column 2
copy_run() { rm -rf "$2"; cp -r "$1" "$2"; }
clean="$out/no failure/metrics.csv"
copy_run "$out/no failure" "$out/restart from scratch at T"
{ awk -F, -v T="$T" 'NR == 1 || $1 < T' "$clean"
  awk -F, -v OFS=, -v T="$T" 'NR > 1 { $1 = $1 + T; print }' "$clean"
} >"$out/restart from scratch at T/metrics.csv"
# the checkpoint's time: the point at the last checkpoint's epoch before T
tc=$(awk -F, -v T="$T" -v e="$ckpt" 'NR > 1 && $1 < T && ($2 / e) == int($2 / e) { t = $1 } END { print t }' "$clean")
copy_run "$out/resumed" "$out/resume from checkpoint"
awk -F, -v OFS=, -v T="$T" -v TC="$tc" 'NR > 1 && $1 > TC + 1e-12 { $1 = $1 + T - TC } { print }' \
    "$out/resumed/metrics.csv" >"$out/resume from checkpoint/metrics.csv"

$bin plot "$out/no failure" "$out/restart from scratch at T" "$out/resume from checkpoint" \
    "$out/ps async, failure at T" --y accuracy --size 6x3 \
    --title "a worker's host goes down at ${T} s" -o "$out/failure.png"
echo "failure at ${T} s, last checkpoint at ${tc} s; final accuracy and time:"
for d in "no failure" "restart from scratch at T" "resume from checkpoint" "ps async, failure at T"; do
    tail -n 1 "$out/$d/metrics.csv" | awk -F, -v d="$d" '{ printf "  %-28s %.4f at %.3f s\n", d, $6, $1 }'
done
echo "figure: $out/failure.png"
