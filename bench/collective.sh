#!/usr/bin/env bash
# collective.sh DISTLAB -- `distlab collective --backend real` against Open
# MPI's MPI_Allreduce over TCP on this machine, same rank counts, sizes and
# timing method, side by side in one run -- the ring, and distlab's --algo
# auto (per size, the algorithm its cost model predicts fastest) against
# Open MPI's own choice -- and the 2-rank 64 MiB allreduce
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
printf "%-6s %-10s %-13s %-13s %-13s %-13s %s\n" ranks bytes ring_s auto_s auto_algo openmpi_s auto/ompi
for p in 2 4; do
  for a in ring auto; do
    "$bin" collective --backend real --launch procs --workers "$p" --iters "$iters" --algo "$a" \
      --bytes "$(echo $sizes | tr ' ' ,)" | grep -v '^#' | tail -n +2 | cut -d, -f3,5,6 \
      | sed "s/^/$a,/" >> "$work/d$p"
  done
  mpirun $mpirun_flags -np "$p" "$work/mpi_allreduce" "$iters" $sizes > "$work/m$p"
  for bytes in $sizes; do
    m=$(grep "^$bytes," "$work/m$p" | cut -d, -f2)
    ring=$(grep "^ring,ring,$bytes," "$work/d$p" | cut -d, -f4)
    auto=$(grep "^auto,[a-z]*,$bytes," "$work/d$p")
    IFS=, read -r _ algo _ secs <<< "$auto"
    printf "%-6s %-10s %-13s %-13s %-13s %-13s %.2f\n" "$p" "$bytes" "$ring" "$secs" "$algo" "$m" \
      "$(awk -v a="$secs" -v b="$m" 'BEGIN{print a/b}')"
  done
done
limit=$("$(dirname "$bin")/bench/loopback_exchange" 67108864 5 | cut -d, -f2)
ours=$(grep '^ring,ring,67108864,' "$work/d2" | cut -d, -f4)
printf "\n64 MiB, 2 ranks: distlab ring %s s, loopback exchange limit %s s, ratio %.2f (goal <= 1.10)\n" \
  "$ours" "$limit" "$(awk -v a="$ours" -v b="$limit" 'BEGIN{print a/b}')"
