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
#                                    size-only payloads; the paper's fig. 3)
#   OUT_DIR/distbelief_accuracy.png  test accuracy against simulated time on
#                                    a Fashion-MNIST subset (MLP 784-128-10):
#                                    Downpour with R = 1, 4, 16 replicas of a
#                                    2-partition model and 4 servers, Adagrad
#                                    and SGD at a fixed rate (both lr 0.02: SGD
#                                    at 0.05 diverges with 16 stale replicas),
#                                    and the single model-parallel replica,
#                                    all for the same 8 epochs
# with the time each run first reached TARGET test accuracy (default 0.8).
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
dirs=""
$bin run distbelief --mode model-parallel --partitions 2 $data --out "$out/mp-sgd" >/dev/null
dirs="$dirs $out/mp-sgd"
for R in 1 4 16; do
    for opt in adagrad sgd; do
        $bin run distbelief --mode downpour --replicas "$R" --partitions 2 --servers 4 \
            --optimizer "$opt" $data --out "$out/downpour-R$R-$opt" >/dev/null
        dirs="$dirs $out/downpour-R$R-$opt"
    done
done
TARGET=${TARGET:-0.8} $fig accuracy "$out/distbelief_accuracy.png" $dirs
