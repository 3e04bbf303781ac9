#!/usr/bin/env bash
# demo.sh DISTLAB -- what `make demo` runs: the what-if question of
# labs/demo.exp (Fashion-MNIST on a simulated 16-node cluster where 2
# workers are 4x slower: allreduce SGD, a parameter server under BSP and
# under bounded delay, and local SGD), then where the figures are.
set -euo pipefail
bin=${1:-build/distlab}
here=$(cd "$(dirname "$0")" && pwd)
out=${DEMO_OUT:-runs/demo}
echo "distlab demo: training Fashion-MNIST four ways on a simulated 16-node cluster"
echo "(2 of the 16 workers are 4x slower; the math is real, the clock simulated)"
echo
"$bin" compare --experiment "$here/labs/demo.exp" --out "$out"
echo
echo "Open $out/accuracy.png, $out/breakdown.png, $out/bytes.png and $out/loss.png;"
echo "each run's own records, loss.png and timeline.png are in $out/<run>/."
echo "Ask your own question: edit labs/demo.exp (bandwidth, workers, stragglers, runs)."
