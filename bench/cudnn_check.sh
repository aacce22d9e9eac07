#!/usr/bin/env bash
# The cudnn plugin on a GPU machine in one call, with both cuDNN versions there (the system's and
# a PyTorch venv's): build longca and the plugin, `longca list`, --check of every mask cudnn takes
# (fwd+bwd, bf16/fp16, d=64/128, GQA, packed documents with batch 2, the composite route forced
# for full), the CP path (mpirun -np 2 longca run --kernel cudnn --cp ring --gpus 1 --check), then
# full and causal at 8K-32K (64:8, d=128, bf16) fwd and bwd beside PyTorch's SDPA cuDNN measured
# in the same call, as one table with the cudnn/sdpa_cudnn ratios. Logs and CSVs go to $OUT.
#
#   OUT=/tmp/out bench/cudnn_check.sh
#   SYSTEM_CUDNN=/path/libcudnn.so.9 TORCH_CUDNN=/path/libcudnn.so.9 bench/cudnn_check.sh
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out}
BUILD=${BUILD:-$ROOT/build-bench}
SEQLENS=${SEQLENS:-8k,16k,32k}
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
step() { echo "== $*" | tee -a "$log"; }

masks=full,causal,sliding_window_causal,sliding_window,full_document,causal_document
for pair in "9.14:$SYSTEM_CUDNN" "9.19:$TORCH_CUDNN"; do
    tag=${pair%%:*} lib=${pair#*:}
    export LONGCA_CUDNN_LIB=$lib
    step "cuDNN $tag: $lib"
    "$LONGCA" list kernels 2>&1 | grep -A1 '^  cudnn' | tee -a "$log"
    csv=$OUT/check_$tag.csv
    "$LONGCA" run --kernel cudnn --mask $masks --window 100 --seqlen 512 --heads 8:2 --head-dim 64,128 \
        --dtype bf16,fp16 --direction fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv >"$csv" 2>>"$log" || status=1
    "$LONGCA" run --kernel cudnn --mask full_document,causal_document --seqlen 1024 --batch 2 --heads 4:4 \
        --head-dim 128 --direction fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv 2>>"$log" | tail -n +2 >>"$csv" || status=1
    LONGCA_CUDNN_ROUTE=composite "$LONGCA" run --kernel cudnn --mask full --seqlen 512 --heads 8:2 --head-dim 128 \
        --direction fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv 2>>"$log" | tail -n +2 | sed 's/^cudnn,/cudnn_composite,/' >>"$csv" || status=1
    step "checks, cuDNN $tag: $(grep -c ',pass,' "$csv") passed of $(($(wc -l <"$csv") - 1))"
    grep -v ',pass,' "$csv" | cut -d, -f1-12,21,28 | tee -a "$log"

    step "ring at degree 1, cuDNN $tag"
    timeout 300 mpirun -np 2 "$LONGCA" run --kernel cudnn --cp ring --gpus 1 --check --quiet --mask causal_document,sliding_window_causal \
        --seqlen 2k --heads 8:2 --direction fwd+bwd 2>&1 | tee -a "$log"

    step "performance, cuDNN $tag"
    "$LONGCA" run --kernel cudnn --mask full,causal --seqlen "$SEQLENS" --heads 64:8 --head-dim 128 --dtype bf16 \
        --direction fwd,bwd --format csv --quiet 2>>"$log" | sed "s/^cudnn,/cudnn_$tag,/" >"$OUT/perf_$tag.csv"
done
unset LONGCA_CUDNN_LIB
step "mpirun -np 2 longca run --kernel cudnn --cp ring --gpus 1 --check (the newest cuDNN found)"
"$LONGCA" list kernels 2>&1 | grep -A1 '^  cudnn' | tee -a "$log"
timeout 300 mpirun -np 2 "$LONGCA" run --kernel cudnn --cp ring --gpus 1 --check --quiet 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

seqlens_tokens=""
for s in ${SEQLENS//,/ }; do
    case $s in *[kK]) n=$((${s%[kK]} * 1024)) ;; *) n=$s ;; esac
    seqlens_tokens+="${seqlens_tokens:+,}$n"
done
step "PyTorch SDPA cuDNN"
PYTHONUNBUFFERED=1 python3 "$ROOT/bench/peers.py" --longca "$LONGCA" --masks full,causal --seqlens "$seqlens_tokens" \
    --peers sdpa_cudnn --out "$OUT/peers.csv" 2>>"$log"
python3 -c "import torch; print('torch', torch.__version__, 'cuDNN', torch.backends.cudnn.version())" 2>&1 | tee -a "$log"
python3 "$ROOT/bench/table.py" "$OUT"/perf_*.csv "$OUT/peers.csv" | tee "$OUT/table.md"
exit $status
