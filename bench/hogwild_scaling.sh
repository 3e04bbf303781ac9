#!/bin/sh
# hogwild_scaling.sh -- how Hogwild! (algorithms/hogwild.c) scales with the
# number of workers P against its two locked baselines, on the RCV1-like
# sparse problem with the paper's model (linear SVM, one example per
# update): updates per second, speedup over one worker, staleness, and
# time to a target training loss.
# reference: Niu, Recht, Re & Wright, "Hogwild!", NIPS 2011, figure 4.
#
#   bench/hogwild_scaling.sh [BUILD_DIR [OUT_DIR]]   (defaults: build, runs/hogwild)
#
# Real threads, P = 1 2 4 8 16, by default: meant for a machine with at
# least 16 cores (with fewer, the threads share cores and the speedup
# stops at the core count). The environment changes what runs:
#   BACKEND=sim              simulated, one host with a core per worker
#   PS="1 2 4 8 16 32 64"    the worker counts
#   SYNCS="none lock round-robin"
#   DATA="--dataset ... --model ..."   the problem (default below)
#   OPTIM="--lr 0.5 --schedule inv:t0=0.2"   the step sizes
#   EPOCHS=5  TARGET=0.6     training length, target training loss
#   REPEAT=1                 runs per point; the fastest is kept (on a
#                            loaded machine it is the least disturbed)
#
# Prints one table row per run; the speedup is over `--sync none` with one
# worker, whose updates are exactly serial SGD's. Run folders go to
# OUT_DIR/BACKEND-SYNC-PP; when BUILD_DIR/bench/hogwild_figures exists
# (make BUILD_DIR/bench/hogwild_figures) it draws OUT_DIR/BACKEND-speedup.png
# and OUT_DIR/BACKEND-time-to-target.png from them.
set -e
build=${1:-build}
out=${2:-runs/hogwild}
bin=$build/distlab
[ -x "$bin" ] || { echo "hogwild_scaling.sh: $bin not built (make $bin)" >&2; exit 1; }
backend=${BACKEND:-real}
ps=${PS:-1 2 4 8 16}
syncs=${SYNCS:-none lock round-robin}
data=${DATA:---dataset synth-sparse:n=20000,d=20000,nnz=40 --model svm}
epochs=${EPOCHS:-5}
target=${TARGET:-0.6}
optim=${OPTIM:---lr 0.5 --schedule inv:t0=0.2}
common="$data --batch 1 $optim --epochs $epochs --eval-every 0.25
        --target-loss $target --seed 1 --quiet --no-figures --backend $backend --timeout 600s"

# one number out of summary.json ("key": value, one per line)
field() {
    v=$(sed -n "s/^ *\"$2\": \\([^,]*\\),*\$/\\1/p" "$1/summary.json")
    echo "${v:-null}"
}

echo "# hogwild scaling: $backend, $(nproc) cores here; $data, batch 1, $optim, $epochs epochs, target loss $target"
printf "%-12s %4s %13s %8s %10s %9s %10s %12s %9s\n" sync P updates/s speedup stale_mean stale_max train_s to_target_s test_acc
base=""
dirs=""
for sync in $syncs; do
    for p in $ps; do
        dir=$out/$backend-$sync-P$p
        best=""
        for r in $(seq "${REPEAT:-1}"); do
            "$bin" run hogwild --workers "$p" --sync "$sync" $common --out "$dir.try" >/dev/null
            t=$(field "$dir.try" train_seconds)
            if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
                best=$t
                rm -rf "$dir"
                mv "$dir.try" "$dir"
            else
                rm -rf "$dir.try"
            fi
        done
        dirs="$dirs $dir"
        ups=$(field "$dir" updates_per_s)
        [ -z "$base" ] && [ "$sync" = none ] && [ "$p" = 1 ] && base=$ups
        speedup=$(awk -v a="$ups" -v b="${base:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        to=$(field "$dir" seconds_to_target_loss)
        [ "$to" = null ] || to=$(awk -v a="$to" 'BEGIN { printf "%.4g", a }')
        printf "%-12s %4d %13.0f %8s %10.3f %9.0f %10.4g %12s %8.2f%%\n" "$sync" "$p" "$ups" "$speedup" \
            "$(field "$dir" staleness_mean)" "$(field "$dir" staleness_max)" \
            "$(field "$dir" train_seconds)" "$to" \
            "$(awk -v a="$(field "$dir" final_accuracy)" 'BEGIN { print 100 * a }')"
    done
done
if [ -x "$build/bench/hogwild_figures" ]; then
    "$build/bench/hogwild_figures" "$out/$backend" $dirs
fi
