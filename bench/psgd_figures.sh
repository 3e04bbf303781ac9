#!/bin/sh
# psgd_figures.sh -- the runs and figures of parallelized SGD / local SGD
# (algorithms/psgd.c), on a Fashion-MNIST subset with softmax regression
# (convex), the total number of examples fixed at 5 epochs of 12,000.
#
#   make build/distlab build/bench/psgd_figures
#   bench/psgd_figures.sh [BUILD_DIR [OUT_DIR]]     (defaults: build, runs/psgd; ~15 s)
#
# Draws, and prints the numbers behind them:
#   OUT_DIR/psgd_oneshot.png   one-shot averaging (Zinkevich et al. 2010)
#                              for W = 2..16 against one worker on its 1/W
#                              share and one worker on all the data
#   OUT_DIR/psgd_tradeoff.png  test loss against simulated time for
#                              H = 1, 8, 64 and end, 8 workers on 1 Gb/s
#                              links with 10 Gflop/s cores (communication
#                              dear), each labelled with the bytes it sent
# and checks that a sim run and a real run end with the same model.bin.
set -e
build=${1:-build}
out=${2:-runs/psgd}
bin=$build/distlab
fig=$build/bench/psgd_figures
for b in "$bin" "$fig"; do
    [ -x "$b" ] || { echo "psgd_figures.sh: $b not built (make $b)" >&2; exit 1; }
done
data="--dataset fashion-mnist --train-size 12000 --test-size 2000 --model softmax
      --epochs 5 --lr 0.1 --seed 1 --quiet --no-figures"

# ---- one-shot averaging against W ----
dirs=""
for W in 1 2 4 8 16; do
    $bin run psgd $data --workers "$W" --average-every end --eval-every 5 \
        --out "$out/oneshot-W$W" >/dev/null
    dirs="$dirs $out/oneshot-W$W"
done
$fig oneshot "$out/psgd_oneshot.png" $dirs

# ---- communication against progress: H = 1, 8, 64, end ----
dirs=""
for H in 1 8 64 end; do
    $bin run psgd $data --workers 8 --average-every "$H" --eval-every 0.25 \
        --bandwidth 1Gbps --speed 10Gf --out "$out/tradeoff-H$H" >/dev/null
    dirs="$dirs $out/tradeoff-H$H"
done
$fig tradeoff "$out/psgd_tradeoff.png" $dirs

# ---- the same model on both backends ----
$bin run psgd $data --workers 4 --average-every 8 --out "$out/real-H8" --backend real >/dev/null
$bin run psgd $data --workers 4 --average-every 8 --out "$out/sim-H8" >/dev/null
cmp "$out/sim-H8/model.bin" "$out/real-H8/model.bin"
echo "sim and real: the same model.bin, bit for bit"
echo "figures: $out/psgd_oneshot.png $out/psgd_tradeoff.png"
