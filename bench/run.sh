#!/usr/bin/env bash
# bench/run.sh DISTLAB -- what `make bench` runs: every speed measurement,
# each side by side with its reference in one run, printed as ratios.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-build/distlab}
build=$(dirname "$bin")
status=0
echo "== collectives on real sockets vs Open MPI (bench/collective.sh)"
"$here/collective.sh" "$bin" || status=1
echo "== simulation at scale: ring allreduce of 100 MB over 1024 simulated workers"
/usr/bin/time -f "wall %e s, peak memory %M KiB (goals: under 15 s, under 300 MB)" \
  "$bin" collective --workers 1024 --bytes 100MB --payload size-only --model || status=1
echo "== ML core vs OpenBLAS, a CSR streaming loop and liblinear (bench/ml.sh)"
"$here/ml.sh" "$build" || status=1
exit $status
