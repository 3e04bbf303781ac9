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
echo "== simulator overhead: 100 MB size-only ring allreduce on 1024 ranks, distlab vs plain SimGrid (bench/sg_ring.c)"
"$here/sim_overhead.sh" "$bin" 1024 || status=1
echo "== a 512-GPU ResNet-50 step (size-only): flat ring, --net analytic, hierarchical; goal: under 30 s wall (bench/dp_512.sh)"
"$here/dp_512.sh" "$bin" || status=1
echo "== --net analytic against --net ideal, every case to 1024 ranks (bench/analytic_validate.sh; docs/analytic-net.md)"
"$here/analytic_validate.sh" "$bin" || status=1
echo "== --net analytic at scale: 4,096-rank ring, a 10,000-worker parameter server (bench/analytic_scale.sh; 16,384 ranks: add the argument 16384)"
"$here/analytic_scale.sh" "$bin" || status=1
echo "== sweeps on every core: 8 runs, --jobs 1 vs the default (bench/sweep_jobs.sh)"
"$here/sweep_jobs.sh" "$bin" || status=1
echo "== calibrated simulation against real runs, every algorithm family (distlab validate; goal: within 10%)"
"$bin" validate --out "${BENCH_OUT:-runs/bench}/validate" --epochs 3 --repeat 5 || status=1
echo "== a failure in simulation: restart, resume from a checkpoint, async (bench/failure_figure.sh)"
"$here/failure_figure.sh" "$build" "${BENCH_OUT:-runs/bench}/failure" || status=1
echo "== Ray model: empty remote task vs plain round trip (real), 100,000 simulated tasks (bench/ray.sh)"
"$here/ray.sh" "$bin" || status=1
echo "== ML core vs OpenBLAS, a CSR streaming loop and liblinear (bench/ml.sh)"
"$here/ml.sh" "$build" || status=1
echo "== Hogwild! on real threads: 2 workers vs 1 on this machine (bench/hogwild_threads.sh; 16 cores: bench/device.sh)"
"$here/hogwild_threads.sh" "$bin" || status=1
exit $status
