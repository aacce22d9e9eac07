#!/usr/bin/env bash
# The cudnn plugin on a GPU machine in one call, with both cuDNN versions there (the system's and
# a PyTorch venv's): build longca and the plugin; for each version `longca list`, a checked smoke
# run and full and causal (64:8 and 64:64, d=128, bf16) fwd and bwd timed; PyTorch's SDPA cuDNN on the same
# shapes in the same call, one table with the cudnn/sdpa_cudnn ratios, and both sides' GPU kernels
# of one call (bench/cudnn_kernels.py); then --check of every mask
# cudnn takes (fwd+bwd, bf16, d=128, GQA; the newest version also fp16 at d=64, packed documents
# with batch 2 and the composite route forced for full) and the CP path at degree 1 (mpirun -np 2
# longca run --kernel cudnn --cp ring --gpus 1 --check). Every step has a time limit; logs and
# CSVs go to $OUT.
#
#   OUT=/tmp/out bench/cudnn_check.sh
#   SEQLENS=8k,32k SYSTEM_CUDNN=/path/libcudnn.so.9 TORCH_CUDNN=/path/libcudnn.so.9 bench/cudnn_check.sh
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out}
BUILD=${BUILD:-$ROOT/build-bench}
SEQLENS=${SEQLENS:-8k,16k,32k}
# 64:8 is the benchmark's GQA shape; 64:64 gives SDPA's cuDNN path the same work (it has no GQA
# path of its own and times K and V expanded to every query head: peers.py notes it).
HEADS=${HEADS:-64:8,64:64}
SYSTEM_CUDNN=${SYSTEM_CUDNN:-/usr/lib/x86_64-linux-gnu/libcudnn.so.9}
TORCH_CUDNN=${TORCH_CUDNN:-$(ls /opt/torch/.venv/lib/python3*/site-packages/nvidia/cudnn/lib/libcudnn.so.9 2>/dev/null | head -1)}
export NCCL_NVLS_ENABLE=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 LONGCA_CUDNN_VERBOSE=1
mkdir -p "$OUT"
log=$OUT/cudnn_check.log
: >"$log"

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
set -e
source "$ROOT/bench/build.sh"
set +e
status=0
step() { echo "== $(date -u +%T) $*" | tee -a "$log"; }
# seconds, then the command: its stderr to the log, a time-out said there; its exit status.
limited() {
    local secs=$1 rc
    shift
    timeout "$secs" "$@" 2>>"$log"
    rc=$?
    [ "$rc" -eq 124 ] && echo "timed out after $secs s: $*" >>"$log"
    return "$rc"
}
# cuDNN's own errors (why a graph has no engine) beside ours, for the checks only.
checks_env=(env CUDNN_LOGLEVEL_DBG=1 "CUDNN_LOGDEST_DBG=$OUT/cudnn_errors_%i.log")
masks=full,causal,sliding_window_causal,sliding_window,full_document,causal_document

versions=("9.19:$TORCH_CUDNN" "9.14:$SYSTEM_CUDNN") # the newest first
use() {
    tag=${1%%:*}
    export LONGCA_CUDNN_LIB=${1#*:}
}

# Smoke (full and causal, tiny, checked) then the timings, for each version; the peer; then the
# rest of the checks and the CP path, so that a call cut short keeps the comparison.
for pair in "${versions[@]}"; do
    use "$pair"
    step "cuDNN $tag: $LONGCA_CUDNN_LIB"
    "$LONGCA" list kernels 2>&1 | grep -A1 '^  cudnn' | tee -a "$log"
    limited 60 "${checks_env[@]}" "$LONGCA" run --kernel cudnn --mask full,causal --seqlen 512 --heads 8:2 \
        --head-dim 128 --direction fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv >"$OUT/check_$tag.csv" ||
        status=1
    step "smoke, cuDNN $tag: $(grep -c ',pass,' "$OUT/check_$tag.csv") of 2 passed"
    grep -v ',pass,' "$OUT/check_$tag.csv" | tee -a "$log"
    for heads in ${HEADS//,/ }; do
        step "performance, cuDNN $tag, heads $heads"
        limited 120 "$LONGCA" run --kernel cudnn --mask full,causal --seqlen "$SEQLENS" --heads "$heads" --head-dim 128 \
            --dtype bf16 --direction fwd,bwd --format csv --quiet | sed "s/^cudnn,/cudnn_$tag,/" \
            >"$OUT/perf_${tag}_kv${heads#*:}.csv" || status=1
    done
done
unset LONGCA_CUDNN_LIB

seqlens_tokens=""
for s in ${SEQLENS//,/ }; do
    case $s in *[kK]) n=$((${s%[kK]} * 1024)) ;; *) n=$s ;; esac
    seqlens_tokens+="${seqlens_tokens:+,}$n"
done
python3 -c "import torch; print('torch', torch.__version__, 'cuDNN', torch.backends.cudnn.version())" 2>&1 | tee -a "$log"
for heads in ${HEADS//,/ }; do
    kv=${heads#*:}
    step "PyTorch SDPA cuDNN, heads $heads"
    PYTHONUNBUFFERED=1 limited 120 python3 "$ROOT/bench/peers.py" --longca "$LONGCA" --masks full,causal \
        --seqlens "$seqlens_tokens" --heads-q "${heads%:*}" --heads-kv "$kv" --peers sdpa_cudnn \
        --out "$OUT/peers_cudnn_kv$kv.csv" || status=1
    echo "heads $heads" | tee "$OUT/cudnn_table_kv$kv.md"
    python3 "$ROOT/bench/table.py" "$OUT"/perf_*_kv"$kv".csv "$OUT/peers_cudnn_kv$kv.csv" | tee -a "$OUT/cudnn_table_kv$kv.md"
    grep -h 'expanded' "$OUT/peers_cudnn_kv$kv.csv" | head -1 | tee -a "$OUT/cudnn_table_kv$kv.md"
done
# The GPU work of one call on each side, kernel by kernel (same cuDNN as PyTorch's): is a gap
# cuDNN's kernel or what surrounds it?
step "kernels of one call: longca cudnn against SDPA cuDNN"
LONGCA_CUDNN_LIB=$TORCH_CUDNN limited 150 python3 "$ROOT/bench/cudnn_kernels.py" --longca "$LONGCA" \
    --seqlens "${seqlens_tokens%%,*}" --heads 64:64 --out "$OUT/cudnn_kernels.md" || status=1

for pair in "${versions[@]}"; do
    use "$pair"
    csv=$OUT/check_$tag.csv
    step "checks, cuDNN $tag"
    limited 90 "${checks_env[@]}" "$LONGCA" run --kernel cudnn --mask $masks --window 100 --seqlen 512 --heads 8:2 \
        --head-dim 128 --dtype bf16 --direction fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv |
        tail -n +2 | grep -vE '^cudnn,(full|causal),' >>"$csv" || status=1
    if [ "$pair" = "${versions[0]}" ]; then
        limited 90 "${checks_env[@]}" "$LONGCA" run --kernel cudnn --mask $masks --window 100 --seqlen 512 --heads 8:2 \
            --head-dim 64 --dtype fp16 --direction fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv |
            tail -n +2 >>"$csv" || status=1
        limited 60 "${checks_env[@]}" "$LONGCA" run --kernel cudnn --mask full_document,causal_document --seqlen 1024 \
            --batch 2 --heads 4:4 --head-dim 128 --direction fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv |
            tail -n +2 >>"$csv" || status=1
        LONGCA_CUDNN_ROUTE=composite limited 60 "${checks_env[@]}" "$LONGCA" run --kernel cudnn --mask full --seqlen 512 \
            --heads 8:2 --head-dim 128 --direction fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv |
            tail -n +2 | sed 's/^cudnn,/cudnn_composite,/' >>"$csv" || status=1
    fi
    step "checks, cuDNN $tag: $(grep -c ',pass,' "$csv") passed of $(($(wc -l <"$csv") - 1))"
    grep -v ',pass,' "$csv" | tee -a "$log"

    step "mpirun -np 2 longca run --kernel cudnn --cp ring --gpus 1 --check, cuDNN $tag"
    limited 60 mpirun --bind-to none -np 2 "$LONGCA" run --kernel cudnn --cp ring --gpus 1 --check --quiet \
        --mask full,causal,causal_document,sliding_window_causal --seqlen 2k --heads 8:2 --direction fwd+bwd \
        --warmup 1 --iters 2 --format csv | tee -a "$log" || status=1
done
unset LONGCA_CUDNN_LIB
exit $status
