#!/usr/bin/env bash
# Calibrates `longca model` on this machine's GPU: builds longca (Release, no TUI) and runs
# `longca model --calibrate` on the flash kernel. With OLD_SRC naming the source tree of an older
# build (e.g. `git archive <commit>`), it also builds that one and times the same calibration
# runs with its `longca run`, and fits a second calibration from them (--from): the kernel that
# produced older measurements. Everything lands in $OUT.
#   OUT=<dir> [OLD_SRC=<dir> OLD_NAME=<commit>] bench/model_calibrate.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${OUT:?set OUT to a folder for the logs and calibration files}"
mkdir -p "$OUT"
BUILD=${BUILD:-/tmp/longca-model-build}
export NCCL_NVLS_ENABLE=0
gen=$(command -v ninja >/dev/null && echo Ninja || echo "Unix Makefiles")

build() { # source, build folder, log name
    cmake -S "$1" -B "$2" -G "$gen" -DCMAKE_BUILD_TYPE=Release -DLONGCA_TUI=OFF >"$OUT/$3-cmake.log" 2>&1 &&
        cmake --build "$2" -j"$(nproc)" --target longca >"$OUT/$3-build.log" 2>&1 || {
        tail -20 "$OUT/$3-build.log"
        return 1
    }
}

build "$ROOT" "$BUILD" new || exit 1
LONGCA=$BUILD/longca
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

# The older build's part fails on its own: the calibration of this build still runs after it.
if [ -n "${OLD_SRC:-}" ] && build "$OLD_SRC" "$BUILD-old" old; then
    # The calibration sweep's runs (cp/sim_calibration.c: four masks, 8K/32K/128K, 8:8 heads,
    # d=128, bf16, fwd and bwd, 1 warm-up + 3 timed reps) with the old binary.
    timeout "${OLD_TIMEOUT:-200}" "$BUILD-old/longca" run --kernel flash \
        --mask full,causal,sliding_window_causal,causal_document --window 4096 --doclen prolong64k --seed 42 \
        --seqlen 8k,32k,128k --heads 8:8 --head-dim 128 --dtype bf16 --direction fwd,bwd --warmup 1 --iters 3 \
        --format csv --quiet >"$OUT/old-runs.csv" || echo "the older build's runs failed or timed out"
    "$LONGCA" model --calibrate --kernel flash --from "$OUT/old-runs.csv" --from-version "${OLD_NAME:-old}" \
        --device "$(cut -d, -f1 "$OUT/gpu.txt")" --calibration "$OUT/calibration-old.txt" | tee "$OUT/calibration-old.log" || echo "no calibration of the older build"
fi

timeout "${NEW_TIMEOUT:-200}" "$LONGCA" model --calibrate --kernel flash --calibration "$OUT/calibration-new.txt" \
    2>&1 | tee "$OUT/calibration-new.log"
