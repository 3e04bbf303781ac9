#!/usr/bin/env bash
# device.sh [BUILD_DIR [OUT_DIR]] -- the measurements a 2-core machine cannot
# show, in one run of a few minutes on a machine with 16 cores or more:
#   1. allreduce on real sockets with 2, 4, 8 and 16 ranks, each on a core
#      of its own (so they poll and are bound), against Open MPI when it is
#      installed, and the 2-rank 64 MiB case against the loopback limit;
#   2. synchronous data-parallel SGD (ring allreduce) on 1..16 real
#      processes: time per epoch and speedup (distlab sweep);
#   3. Hogwild! on 1..16 real threads: updates per second and staleness,
#      lock-free against its locked baselines (bench/hogwild_scaling.sh).
# Each part has its own time limit (200 + 150 + 200 s: under the 600 s a
# device command may run), so one stuck part cannot eat the session; the
# collectives print each rank count's rows as they finish. Everything it
# prints is also in OUT_DIR/device.txt. It does not try to install Open
# MPI (such machines reach no registry; NO_MPI_INSTALL= to try).
#   RANKS="2 4 8 16"   PS="1 2 4 8 16"   the rank and thread counts
set -uo pipefail
build=${1:-build}
out=${2:-runs/device}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
ranks=${RANKS:-2 4 8 16}
ps=${PS:-1 2 4 8 16}
{
  echo "== machine: $(nproc) cores; $(date -u +%FT%TZ)"
  echo "== 1. allreduce on real sockets, ranks: $ranks"
  NO_MPI_INSTALL=${NO_MPI_INSTALL:-1} RANKS="$ranks" ROUNDS=${ROUNDS:-3} timeout 200 \
    "$here/collective.sh" "$build/distlab" ||
    echo "(collective.sh ended with status $?)"
  echo "== 2. allreduce SGD on real processes, workers: $ps"
  timeout 150 "$build/distlab" sweep --algos allreduce:ring --backend real --launch procs \
    --vary workers="$(echo $ps | tr ' ' ,)" --dataset synth-dense:n=32000,d=256,classes=10 \
    --model mlp:256 --epochs 1 --batch 32 --out "$out/sgd-scaling" || echo "(sweep ended with status $?)"
  echo "== 3. Hogwild! on real threads: $ps"
  PS="$ps" timeout 200 "$here/hogwild_scaling.sh" "$build" "$out/hogwild" ||
    echo "(hogwild_scaling.sh ended with status $?)"
} 2>&1 | tee "$out/device.txt"
