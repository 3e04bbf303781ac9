#!/usr/bin/env bash
# demo.sh DISTLAB -- what `make demo` runs: the what-if question of
# labs/demo.exp (Fashion-MNIST on a simulated 16-node cluster where 2
# workers are 4x slower: allreduce SGD, a parameter server under BSP, under
# bounded delay and asynchronous, and local SGD), then where the figures
# are. The count of ways is the file's run lines, so an edit keeps it true.
set -euo pipefail
bin=${1:-build/distlab}
here=$(cd "$(dirname "$0")" && pwd)
out=${DEMO_OUT:-runs/demo}
exp="$here/labs/demo.exp"
ways=$(grep -c '^[[:space:]]*run[[:space:]]' "$exp" || true)
workers=$(awk '$1 == "workers" { w = $2 } END { print w ? w : 16 }' "$exp")
slow=$(awk -v w="$workers" '$1 == "stragglers" { f = $2 } $1 == "slowdown" { x = $2 }
    END { printf "%d of the %d workers are %gx slower", f * w + 0.5, w, x ? x : 4 }' "$exp")
echo "distlab demo: training Fashion-MNIST $ways ways on $workers simulated workers"
echo "($slow; the math is real, the clock simulated)"
echo
"$bin" compare --experiment "$exp" --out "$out"
echo
echo "Open $out/accuracy.png, $out/breakdown.png, $out/bytes.png and $out/loss.png;"
echo "each run's own records, loss.png and timeline.png are in $out/<run>/."
echo "Ask your own question: edit labs/demo.exp (bandwidth, workers, stragglers, runs)."
