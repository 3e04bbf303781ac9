#!/usr/bin/env bash
# bench/frameworks_scaling.sh DISTLAB [OUT] [JOBS] -- the Horovod paper's
# scaling figure (Sergeev & Del Balso 2018, fig. 6) in simulation: Horovod
# (dp_horovod.c: 5 ms cycles, negotiation on rank 0, 64 MiB fusion) and
# DDP on Inception-v3, ResNet-101 and VGG-16, P100s at their measured
# rates (docs/workloads.md), 4 to a server, 25 Gb/s NICs, 10 us, 64 images
# per GPU, from 8 to 512 GPUs. Writes OUT (default runs/scaling) with
# sweep.csv, step.png and scaling_efficiency.png, and prints each
# framework's scaling efficiency at 512 GPUs beside the paper's. Not part
# of `make bench` (the 512-GPU points take minutes each on a 2-core
# machine); JOBS (default 2) points run at once.
set -uo pipefail
bin=${1:-build/distlab}
out=${2:-runs/scaling}
jobs=${3:-2}
mkdir -p "$(dirname "$out")"
start=$(date +%s)
"$bin" sweep --frameworks horovod,ddp --workload inception3,resnet101,vgg16 --device p100 \
  --gpus-per-node 4 --bandwidth 25Gbps --latency 10us --batch 64 --net analytic --no-events \
  --vary gpus=8,16,32,64,128,256,512 --jobs "$jobs" --out "$out" >"$out.log" 2>&1 ||
  { echo "frameworks_scaling: the sweep failed (see $out.log)" >&2; exit 1; }
printf "  %d s of wall time, load average %s; at 512 GPUs:\n" "$(($(date +%s) - start))" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
awk -F, 'NR > 1 && $3 == 512 {
  paper = $1 != "horovod" ? "" : $2 == "vgg16" ? "   (the paper: ~68%)" : "   (the paper: ~90%)"
  printf "  %-8s %-11s scaling efficiency %5.1f%%%s\n", $1, $2, 100 * $7, paper
}' "$out/sweep.csv"
