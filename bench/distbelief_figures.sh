#!/bin/sh
# distbelief_figures.sh -- the figures of DistBelief (algorithms/distbelief*.c).
#
#   make BUILD=build build/distlab build/bench/distbelief_figures
#   bench/distbelief_figures.sh [BUILD_DIR [OUT_DIR]]   (defaults: build, runs/distbelief; ~1 min)
#
# Draws, and prints the numbers behind them:
#   OUT_DIR/distbelief_scaling.png   speedup of one training step against
#                                    the partitions K = 1..64 for a small,
#                                    a medium and a large MLP (simulated,
#                                    size-only payloads; the paper's fig. 3),
#                                    and the large one split by layers
#   OUT_DIR/distbelief_accuracy.png  test accuracy against simulated time on
#                                    a Fashion-MNIST subset (MLP 784-128-10):
#                                    Downpour with R = 1, 4, 16 replicas of a
#                                    2-partition model and 4 servers, Adagrad
#                                    and SGD at a fixed rate (both lr 0.02: SGD
#                                    at 0.05 diverges with 16 stale replicas),
#                                    all for the same 8 epochs, and Sandblaster
#                                    L-BFGS with 16 replicas for 8 and for 48
#                                    evaluations (one pass each)
# (the single model-parallel replica's run is printed, not drawn), with the
# time each run first reached TARGET test accuracy (default 0.8),
# and the simulated time of 4 Sandblaster evaluations with a quarter of the
# ranks 4 times slower, work units balanced against split evenly.
set -e
build=${1:-build}
out=${2:-runs/distbelief}
bin=$build/distlab
fig=$build/bench/distbelief_figures
for b in "$bin" "$fig"; do
    [ -x "$b" ] || { echo "distbelief_figures.sh: $b not built (make $b)" >&2; exit 1; }
done
mkdir -p "$out"
$fig scaling "$out/distbelief_scaling.png"

data="--dataset fashion-mnist --train-size 12000 --test-size 2000 --model mlp:128
      --epochs 8 --batch 32 --lr 0.02 --eval-every 0.25 --seed 1 --quiet --no-figures"
$bin run distbelief --mode model-parallel --partitions 2 $data --out "$out/mp-sgd"
dirs=""
for R in 1 4 16; do
    for opt in adagrad sgd; do
        $bin run distbelief --mode downpour --replicas "$R" --partitions 2 --servers 4 \
            --optimizer "$opt" $data --out "$out/downpour-R$R-$opt" >/dev/null
        dirs="$dirs $out/downpour-R$R-$opt"
    done
done
for E in 8 48; do
    $bin run distbelief --mode sandblaster --replicas 16 --partitions 2 --servers 4 --unit 250 \
        $data --epochs "$E" --out "$out/sandblaster-R16-E$E" >/dev/null
    dirs="$dirs $out/sandblaster-R16-E$E"
done
TARGET=${TARGET:-0.8} $fig accuracy "$out/distbelief_accuracy.png" $dirs

# ---- Sandblaster with stragglers: work units to whoever is free, or 1/R each ----
for b in dynamic even; do
    $bin run distbelief --mode sandblaster --replicas 8 --servers 2 --unit 100 --balance "$b" \
        --stragglers 0.25 --slowdown 4 $data --epochs 4 --out "$out/sandblaster-stragglers-$b"
done
