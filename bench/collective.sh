#!/usr/bin/env bash
# collective.sh DISTLAB -- `distlab collective --backend real` against Open
# MPI's MPI_Allreduce over TCP on this machine, same rank counts, sizes and
# timing method, side by side in one run; and the 2-rank 64 MiB allreduce
# against the machine's own limit (two processes exchanging 64 MiB each way
# over loopback). Installs Open MPI from Debian if it is missing.
# Goals (issue 4): 2 ranks at or below Open MPI from 64 KiB up, at most
# 1.5x at 4 KiB; at 64 MiB within 10% of the loopback limit. The ratio
# column is distlab / Open MPI: below 1 is faster. Open MPI busy-polls, so
# with more ranks than cores its times swing widely; compare on a machine
# with a core per rank.
set -euo pipefail
bin=$(realpath "${1:-build/distlab}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null; then
  echo "installing Open MPI (openmpi-bin, libopenmpi-dev) for the reference"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openmpi-bin libopenmpi-dev >/dev/null
fi
mpicc -O2 -o "$work/mpi_allreduce" "$here/mpi/allreduce.c"
sizes="4096 65536 1048576 16777216 67108864"
iters=${ITERS:-10}
mpirun_flags="--allow-run-as-root --oversubscribe --mca btl tcp,self --mca btl_tcp_if_include lo"
printf "%-6s %-12s %-14s %-14s %s\n" ranks bytes distlab_s openmpi_s ratio
for p in 2 4; do
  "$bin" collective --backend real --launch procs --workers "$p" --iters "$iters" \
    --bytes "$(echo $sizes | tr ' ' ,)" | grep -v '^#' | tail -n +2 | cut -d, -f5,6 > "$work/d$p"
  mpirun $mpirun_flags -np "$p" "$work/mpi_allreduce" "$iters" $sizes > "$work/m$p"
  join -t, "$work/d$p" "$work/m$p" | while IFS=, read -r bytes d m; do
    printf "%-6s %-12s %-14s %-14s %.2f\n" "$p" "$bytes" "$d" "$m" "$(awk -v a="$d" -v b="$m" 'BEGIN{print a/b}')"
  done
done
limit=$("$(dirname "$bin")/bench/loopback_exchange" 67108864 5 | cut -d, -f2)
ours=$(grep '^67108864,' "$work/d2" | cut -d, -f2)
printf "\n64 MiB, 2 ranks: distlab %s s, loopback exchange limit %s s, ratio %.2f (goal <= 1.10)\n" \
  "$ours" "$limit" "$(awk -v a="$ours" -v b="$limit" 'BEGIN{print a/b}')"
