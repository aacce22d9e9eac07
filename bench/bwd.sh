#!/usr/bin/env bash
# The flash backward in one GPU call: build, the GPU correctness tests (14 masks against cpu_ref,
# flash vs naive with deterministic repeats, the CP folds), backward TFLOP/s of flash (default,
# --deterministic, block-sparse B=64 and B=128) beside SDPA cuDNN and FlexAttention measured by
# bench/peers.py in the same call (FlexAttention with a BlockMask beside B=128), then
# compute-sanitizer memcheck, racecheck and synccheck on the quick test set.
# Logs and CSVs go to $OUT; a summary goes to stdout.
#
#   OUT=/tmp/o bench/bwd.sh
#   SEQLENS=8k MASKS=causal SKIP_PEERS=1 bench/bwd.sh
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out}
BUILD=${BUILD:-/tmp/bg}
SEQLENS=${SEQLENS:-8k,32k}
MASKS=${MASKS:-full,causal,sliding_window_causal,causal_document}
export NCCL_NVLS_ENABLE=0
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
date -u | tee -a "$OUT/gpu.txt"

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLONGCA_TUI=OFF >"$OUT/build.log" 2>&1 &&
    ninja -C "$BUILD" >>"$OUT/build.log" 2>&1 || {
    tail -40 "$OUT/build.log"
    exit 1
}
L=$BUILD/longca

# A hang (a barrier that never completes) shows here in seconds, not after the tests' timeouts.
for det in "" --deterministic; do
    for d in 128 64; do
        timeout 30 "$L" run --kernel flash --mask causal,block_sparse --seqlen 1000 --heads 4:2 --head-dim $d \
            --direction bwd --iters 2 --warmup 1 --check $det --format csv --quiet | cut -d, -f1,2,3,7,12,21,22,23
        rc=${PIPESTATUS[0]}
        if [ "$rc" = 124 ]; then
            echo "smoke: flash bwd d=$d $det hung; stopping"
            exit 1
        fi
    done
done

for t in test_gpu_kernels test_gpu_flash_vs_naive test_gpu_fold; do
    timeout 150 "$BUILD/tests/$t" >"$OUT/$t.log" 2>&1
    rc=$?
    echo "$t: exit $rc, $(grep -c '^ *pass' "$OUT/$t.log") pass lines, $(grep -c 'FAIL' "$OUT/$t.log") FAIL lines"
    grep -m 8 'FAIL' "$OUT/$t.log"
done

run() { timeout 120 "$L" run --kernel flash --heads 64:8 --head-dim 128 --dtype bf16 --direction bwd --format csv --quiet "$@"; }
{
    run --mask "$MASKS" --seqlen "$SEQLENS"
    run --mask full,causal --seqlen "$SEQLENS" --deterministic | tail -n +2 | sed 's/^flash,/flash_det,/'
    for b in 128 64; do
        for d in 0.1 0.25 0.5; do
            run --mask block_sparse --block $b --density $d --seqlen 32k | tail -n +2 |
                sed "s#block_sparse#block_sparse/B$b/d$d#"
        done
    done
} >"$OUT/longca_bwd.csv" 2>"$OUT/longca_bwd.err"
cut -d, -f1,2,3,12,13,16,28 "$OUT/longca_bwd.csv" | head -40

if [ -z "${SKIP_PEERS:-}" ]; then
    tokens=""
    for s in ${SEQLENS//,/ }; do
        case $s in *[kK]) n=$((${s%[kK]} * 1024)) ;; *) n=$s ;; esac
        tokens+="${tokens:+,}$n"
    done
    PYTHONUNBUFFERED=1 timeout 300 python3 "$ROOT/bench/peers.py" --longca "$L" --masks "$MASKS" --seqlens "$tokens" \
        --directions bwd --peers sdpa_cudnn,flex --out "$OUT/peers.csv" >"$OUT/peers.log" 2>&1
    # FlexAttention's BlockMask beside the B=128 rows (it refuses B=64)
    PYTHONUNBUFFERED=1 timeout 200 python3 "$ROOT/bench/peers.py" --longca "$L" --seqlens 32768 --directions bwd \
        --masks block_sparse/B128/d0.1,block_sparse/B128/d0.25,block_sparse/B128/d0.5 --peers flex \
        --out "$OUT/peers_sparse.csv" >>"$OUT/peers.log" 2>&1 && tail -n +2 "$OUT/peers_sparse.csv" >>"$OUT/peers.csv"
    python3 "$ROOT/bench/table.py" "$OUT/longca_bwd.csv" "$OUT/peers.csv" | head -30
fi

for tool in memcheck racecheck synccheck; do
    LONGCA_GPU_TEST_QUICK=1 timeout 120 compute-sanitizer --tool $tool "$BUILD/tests/test_gpu_kernels" >"$OUT/$tool.log" 2>&1
    echo "$tool: exit $?; $(grep -E -m1 '(ERROR|RACECHECK) SUMMARY' "$OUT/$tool.log")"
done
