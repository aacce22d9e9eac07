#!/usr/bin/env bash
# The flash kernel of one direction (DIRECTION, bwd by default, or fwd) in one GPU call: build, the
# GPU correctness tests (14 masks against cpu_ref, flash vs naive with deterministic repeats, the CP
# folds), TFLOP/s of flash (default, backward also --deterministic, block-sparse B=64 and B=128:
# BLOCKS and DENSITIES, lists by commas or spaces as SEQLENS),
# compute-sanitizer (SANITIZERS, default memcheck racecheck synccheck) on the quick test set, SDPA
# cuDNN and FlexAttention from bench/peers.py in the same call (FlexAttention with a BlockMask beside
# B=128, a cuBLAS GEMM as the roof) and, with NCU=1, ncu's view of one launch (NCU_MASK, default causal,
# at NCU_SEQLEN, default 8k).
# SRC names the tree checked and measured (default: this script's). With BASE=<source tree> the
# previous version is built too and measured row by row beside it (rows `base`); with
# VARIANT_SRC=<tree> and/or VARIANT_FLAGS="-D..." a variant (rows `variant`), and with
# VARIANTS="name:-D...;name2:-D..." more variants of SRC (rows by name); each variant gets a smoke run
# of its own first; flags go to the C and CUDA compilers. FLAGS="-D..." builds SRC itself with flags
# (an option that is off by default, say), so that the tests and sanitizers check it too. Ratios are
# measured in one call. Every step runs under a timeout inside the call's END seconds. Logs and CSVs go to $OUT; a summary to stdout.
#
#   OUT=/tmp/o BUILD=/tmp/bg bench/flash.sh
#   BASE=../.. VARIANT_FLAGS=-DLC_BWD_STAGES=3 SKIP_PEERS=1 DET_SEQLENS=8k BLOCKS=128 DENSITIES=0.25 END=280 \
#       bench/flash.sh
#   DIRECTION=fwd VARIANTS="wide:-DLC_FWD_WIDE_PAIR_COST=0" bench/flash.sh
#   VARIANTS="together:-DLC_BWD_HALVES_APART=0" SEQLENS="" BLOCKS="64 128" SKIP_PEERS=1 bench/flash.sh
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=${SRC:-$ROOT}
OUT=${OUT:-$ROOT/bench/out}
BUILD=${BUILD:-/tmp/bg}
SEQLENS=${SEQLENS:-8k,32k}
MASKS=${MASKS:-full,causal,sliding_window_causal,causal_document}
DIRECTION=${DIRECTION:-bwd}
END=${END:-580}
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
mkdir -p "$OUT"
T0=$SECONDS
el() { echo "[$((SECONDS - T0)) s] $*"; }
# a step's timeout: its own limit, or what is left of the call's, whichever is less
lim() {
    local l=$((END - (SECONDS - T0) - 5))
    [ $l -lt "$1" ] && echo $((l > 1 ? l : 1)) || echo "$1"
}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
date -u | tee -a "$OUT/gpu.txt"

GEN=Ninja
command -v ninja >/dev/null || GEN="Unix Makefiles"
build() { # source dir, build dir, name, extra CUDA flags, targets...
    local src=$1 dir=$2 name=$3 log=$OUT/build_$3.log flags=$4
    shift 4
    # a build folder a warm machine kept from another source tree: cmake would refuse it and its
    # old binary would be measured under this name (the flags are always given: the cache keeps
    # an earlier call's)
    [ -f "$dir/CMakeCache.txt" ] &&
        ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$(cd "$src" && pwd)" "$dir/CMakeCache.txt" && rm -rf "$dir"
    timeout 100 cmake -S "$src" -B "$dir" -G "$GEN" -DCMAKE_BUILD_TYPE=Release -DLONGCA_TUI=OFF \
        -DCMAKE_CUDA_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" >"$log" 2>&1 &&
        timeout $(lim 200) cmake --build "$dir" -j 8 --target "$@" >>"$log" 2>&1 || {
        tail -30 "$log"
        echo "build of $src ($name) failed"
        rm -f "$dir/longca" # never measured under this name
        return 1
    }
}
build "$SRC" "$BUILD" new "${FLAGS:-}" longca test_gpu_kernels test_gpu_flash_vs_naive test_gpu_fold &
[ -n "${BASE:-}" ] && build "$BASE" "$BUILD-base" base "" longca &
# every variant as name:flags
variants=()
[ -n "${VARIANT_SRC:-}${VARIANT_FLAGS:-}" ] && variants+=("variant:${VARIANT_FLAGS:-}")
IFS=';' read -ra more <<<"${VARIANTS:-}"
variants+=("${more[@]}")
for v in "${variants[@]}"; do
    src=$SRC
    [ "${v%%:*}" = variant ] && src=${VARIANT_SRC:-$SRC}
    build "$src" "$BUILD-${v%%:*}" "${v%%:*}" "${v#*:}" longca &
done
wait
[ -x "$BUILD/longca" ] || exit 1
el built
L=$BUILD/longca
obj=$(find "$BUILD" -name "flash_$DIRECTION.cu.o" | head -1)
# each bf16 d = 128 instance's count of the instructions that tell the design (and its spills: STL, LDL)
[ -n "$obj" ] && command -v cuobjdump >/dev/null &&
    cuobjdump -sass "$obj" | awk '
        /Function :/ { name = /elem_bf16Li128/ ? $NF : ""; if (name) order[++n] = name; next }
        name { while (match($0, /HGMMA|UTMAREDG|UBLKRED|UTMALDG|RED\.E[A-Z.0-9]*|STL|LDL|LDSM[A-Z.0-9]*|STSM[A-Z.0-9]*|SETMAXREG[A-Z.]*/)) {
                   k = substr($0, RSTART, RLENGTH); if (!(k in seen)) { seen[k] = 1; kinds[++nk] = k }
                   c[name, k]++; $0 = substr($0, RSTART + RLENGTH) } }
        END { for (i = 1; i <= n; i++) { line = ""; for (j = 1; j <= nk; j++) if (c[order[i], kinds[j]]) line = line " " c[order[i], kinds[j]] " " kinds[j]
                                         print "SASS of " order[i] ":" line } }'

# A hang (a barrier that never completes) shows here in seconds, not after the tests' timeouts.
smoke() { # binary, run arguments...
    local bin=$1
    shift
    timeout $(lim 30) "$bin" run --kernel flash --mask full,causal,block_sparse --seqlen 1000 --heads 4:2 \
        --direction "$DIRECTION" \
        --iters 2 --warmup 1 --check --format csv --quiet "$@" | cut -d, -f1,2,3,7,12,21,22,23
    local rc=${PIPESTATUS[0]}
    [ "$rc" != 124 ] || echo "smoke: $bin $* hung"
    return $rc
}
dets=("")
[ "$DIRECTION" = bwd ] && dets+=(--deterministic)
for det in "${dets[@]}"; do
    for d in 128 64; do
        smoke "$L" --head-dim $d $det
        [ $? = 124 ] && exit 1
    done
done
for v in "${variants[@]}"; do
    vb=$BUILD-${v%%:*}/longca
    for d in 128 64; do
        [ -x "$vb" ] && { smoke "$vb" --head-dim $d ${dets[${#dets[@]} - 1]} || rm "$vb"; }
    done
done
el smoke

for t in test_gpu_kernels test_gpu_flash_vs_naive test_gpu_fold; do
    (
        timeout $(lim 150) "$BUILD/tests/$t" >"$OUT/$t.log" 2>&1
        rc=$?
        echo "$t: exit $rc, $(grep -c '^ *pass' "$OUT/$t.log") pass lines, $(grep -c 'FAIL' "$OUT/$t.log") FAIL lines"
    ) &
done
wait
grep -h -m 8 'FAIL' "$OUT"/test_gpu_*.log
el tests

# each row for every binary in turn (this one as `flash`, then `base`, the variants)
bins=("flash:$L")
[ -x "$BUILD-base/longca" ] && bins+=("base:$BUILD-base/longca")
for v in "${variants[@]}"; do
    [ -x "$BUILD-${v%%:*}/longca" ] && bins+=("${v%%:*}:$BUILD-${v%%:*}/longca")
done
rows() { # label suffix, run arguments...
    local sfx=$1 b
    shift
    for b in "${bins[@]}"; do
        timeout $(lim 120) "${b#*:}" run --kernel flash --heads 64:8 --head-dim 128 --dtype bf16 --direction "$DIRECTION" \
            --format csv --quiet "$@" | tail -n +2 | sed "s/^flash,/${b%%:*}$sfx,/"
    done
}
{
    "$L" run --kernel flash --mask causal --seqlen 1000 --heads 1 --direction "$DIRECTION" --iters 1 --warmup 0 \
        --format csv --quiet | head -1
    for s in ${SEQLENS//,/ }; do rows "" --mask "$MASKS" --seqlen "$s"; done
    [ "$DIRECTION" = bwd ] && rows _det --mask full,causal --seqlen "${DET_SEQLENS:-$SEQLENS}" --deterministic
    blocks=${BLOCKS-128 64} densities=${DENSITIES:-0.1 0.25 0.5}
    for b in ${blocks//,/ }; do
        for d in ${densities//,/ }; do
            rows "" --mask block_sparse --block $b --density $d --seqlen 32k | sed "s#block_sparse#block_sparse/B$b/d$d#"
        done
    done
} >"$OUT/longca_$DIRECTION.csv" 2>"$OUT/longca_$DIRECTION.err"
cut -d, -f1,2,3,12,13,16 "$OUT/longca_$DIRECTION.csv" | head -80
el bench

for tool in ${SANITIZERS-memcheck racecheck synccheck}; do
    LONGCA_GPU_TEST_QUICK=1 timeout $(lim 120) compute-sanitizer --print-limit 20 --tool $tool \
        "$BUILD/tests/test_gpu_kernels" >"$OUT/$tool.log" 2>&1
    echo "$tool: exit $?; $(grep -E -m1 '(ERROR|RACECHECK) SUMMARY' "$OUT/$tool.log")"
done
el sanitizers

if [ -z "${SKIP_PEERS:-}" ]; then
    tokens=""
    for s in ${SEQLENS//,/ }; do
        case $s in *[kK]) n=$((${s%[kK]} * 1024)) ;; *) n=$s ;; esac
        tokens+="${tokens:+,}$n"
    done
    timeout $(lim 300) python3 "$ROOT/bench/peers.py" --longca "$L" --masks "$MASKS" --seqlens "$tokens" \
        --directions "$DIRECTION" --peers sdpa_cudnn,flex --gemm --out "$OUT/peers.csv" >"$OUT/peers.log" 2>&1
    # FlexAttention's BlockMask beside the B=128 rows (it refuses B=64)
    timeout $(lim 200) python3 "$ROOT/bench/peers.py" --longca "$L" --seqlens 32768 --directions "$DIRECTION" \
        --masks block_sparse/B128/d0.1,block_sparse/B128/d0.25,block_sparse/B128/d0.5 --peers flex \
        --out "$OUT/peers_sparse.csv" >>"$OUT/peers.log" 2>&1 && tail -n +2 "$OUT/peers_sparse.csv" >>"$OUT/peers.csv"
    python3 "$ROOT/bench/table.py" "$OUT/longca_$DIRECTION.csv" "$OUT/peers.csv" >"$OUT/table.md"
    sed -n 1,40p "$OUT/table.md"
    el peers
fi

if [ -n "${NCU:-}" ]; then # where the cycles go: one launch
    timeout $(lim 90) ncu --clock-control none --section SpeedOfLight --section WarpStateStats \
        --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis -c 1 -k "regex:flash_${DIRECTION}_kernel" \
        "$L" run --kernel flash --mask "${NCU_MASK:-causal}" --seqlen "${NCU_SEQLEN:-8k}" --heads 64:8 --direction "$DIRECTION" --iters 1 \
        --warmup 0 --counters off --quiet >"$OUT/ncu_$DIRECTION.txt" 2>&1
    grep -E 'Duration|Compute \(SM\) Throughput|L2 Cache Throughput|DRAM Throughput|Issue Slots Busy|Warp Cycles Per Issued|Local Memory Spilling Requests  ' "$OUT/ncu_$DIRECTION.txt"
    el ncu
fi
