#!/usr/bin/env bash
# demo.sh DISTLAB -- what `make demo` runs.
set -euo pipefail
bin=${1:-build/distlab}
echo "== pingpong: 2 simulated hosts (10 Gb/s, 50 us), then 2 real threads over loopback TCP"
"$bin" pingpong --bytes 0,1KiB,64KiB,1MiB,16MiB
"$bin" pingpong --bytes 0,1KiB,64KiB,1MiB,16MiB --backend real
