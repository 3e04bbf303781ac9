#!/bin/sh
# allreduce_lbfgs_figures.sh -- the figures of Agarwal et al.'s hybrid
# learner (algorithms/allreduce_lbfgs.c), from distlab run, plot and sweep.
#
#   make build/distlab
#   bench/allreduce_lbfgs_figures.sh [BUILD_DIR [OUT_DIR]]  (defaults: build, runs/alb; ~30 s)
#
# On a simulated cluster of 8 workers (10 Gb/s, 50 us, 1 Gflop/s), sparse
# logistic regression (synth-sparse n=50000 d=5000, l2 1e-5), 12 passes:
#   OUT_DIR/objective-passes.png   train_loss against passes over the data for
#   OUT_DIR/objective-time.png     online only (12 AdaGrad passes, averaged after
#                                  each), L-BFGS from zero, and the hybrid (one
#                                  online pass, then L-BFGS); and against time
#   OUT_DIR/scaling/speedup.png    seconds per pass against 1..64 workers (hybrid,
#                                  4 passes of n=200000)
#   OUT_DIR/straggler-timeline/timeline.png   a small run whose worker 0 is
#                                  4x slower, with speculation
# and prints the loss of each after 2, 4, 6, 8 and 12 passes, and the
# simulated time of a 4x straggler run with speculation off, on (the
# backup on a worker that finished), and on with one spare rank.
set -e
build=${1:-build}
out=${2:-runs/alb}
bin=$build/distlab
[ -x "$bin" ] || { echo "allreduce_lbfgs_figures.sh: $bin not built (make $bin)" >&2; exit 1; }
mkdir -p "$out"
data="--dataset synth-sparse:n=50000,d=5000,nnz=20 --model logreg --l2 1e-5 --lr 0.5 --batch 1
      --workers 8 --epochs 12 --seed 1 --quiet --no-figures"
$bin run allreduce-lbfgs $data --warmstart 12 --out "$out/online"
$bin run allreduce-lbfgs $data --warmstart 0 --out "$out/lbfgs"
$bin run allreduce-lbfgs $data --warmstart 1 --out "$out/hybrid"
$bin plot "$out/online" "$out/lbfgs" "$out/hybrid" --x epoch -o "$out/objective-passes.png" \
    --title "8 workers: objective against passes"
$bin plot "$out/online" "$out/lbfgs" "$out/hybrid" -o "$out/objective-time.png" \
    --title "8 workers: objective against time"
printf '%-8s' passes; for p in 2 4 6 8 12; do printf ' %8s' $p; done; echo
for r in online lbfgs hybrid; do
    printf '%-8s' $r
    for p in 2 4 6 8 12; do
        awk -F, -v p=$p 'NR > 1 && $2 <= p { l = $4 } END { printf " %.6f", l }' "$out/$r/metrics.csv"
    done
    echo
done
$bin sweep --algos allreduce-lbfgs --vary workers=1,2,4,8,16,32,64 \
    --dataset synth-sparse:n=200000,d=5000,nnz=20 --model logreg --l2 1e-5 --lr 0.5 --batch 1 \
    --epochs 4 --seed 1 --quiet --no-figures --out "$out/scaling"
cut -d, -f1-3,5 "$out/scaling/sweep.csv"
# one worker in eight computes 4x slower; a 10 Mflop/s core makes a pass
# take long against the network's 50 us
slow="--dataset synth-sparse:n=50000,d=5000,nnz=20 --model logreg --l2 1e-5 --lr 0.5 --batch 1
      --workers 8 --epochs 6 --seed 1 --quiet --no-figures --speed 10Mf --stragglers 0.125"
for s in off on spare; do
    case $s in off) o="--speculative off" ;; on) o="--speculative on" ;; spare) o="--speculative on --spares 1" ;; esac
    $bin run allreduce-lbfgs $slow $o --out "$out/straggler-$s"
    printf '%-6s' $s
    grep -E '"(seconds|backups|backup_wins|model_fnv1a64)"' "$out/straggler-$s/summary.json" | tr -d '\n '
    echo
done
# the timeline of a small one: worker 0 straggles, the tracker (rank 4)
# starts a backup on the spare (rank 5), which wins
$bin run allreduce-lbfgs --dataset synth-sparse:n=5000,d=2000,nnz=20 --model logreg --l2 1e-4 \
    --lr 0.5 --batch 1 --workers 4 --epochs 5 --seed 1 --speed 10Mf --stragglers 0.25 \
    --speculative on --spares 1 --quiet --out "$out/straggler-timeline"
