#!/usr/bin/env bash
# The kernel benchmark in one call on a GPU machine: build longca, run flash and naive through
# `longca run`, run the PyTorch peers (bench/peers.py) on the same shapes and masks, and print
# one side-by-side table (bench/table.py). Results and logs go to $OUT (default bench/out).
#
#   bench/kernels.sh                      # b=1, 64:8 heads, d=128, bf16, S = 4K..32K, 4 masks
#   SEQLENS=8k,16k MASKS=causal bench/kernels.sh
#   LONGCA=path/to/longca bench/kernels.sh   # use a longca built elsewhere instead of building
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out}
BUILD=${BUILD:-$ROOT/build-bench}
SEQLENS=${SEQLENS:-4k,8k,16k,32k}
MASKS=${MASKS:-full,causal,sliding_window_causal,causal_document}
PEERS=${PEERS:-sdpa_flash,sdpa_cudnn,sdpa_efficient,flex}
KERNELS=${KERNELS:-flash,naive}
export NCCL_NVLS_ENABLE=0
mkdir -p "$OUT"

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
source "$ROOT/bench/build.sh"

for dir in fwd bwd; do
    "$LONGCA" run --kernel "$KERNELS" --mask "$MASKS" --seqlen "$SEQLENS" --heads 64:8 --head-dim 128 \
        --dtype bf16 --direction "$dir" --format csv --quiet >"$OUT/longca_$dir.csv"
done

seqlens_tokens=""
for s in ${SEQLENS//,/ }; do
    case $s in *[kK]) n=$((${s%[kK]} * 1024)) ;; *) n=$s ;; esac
    seqlens_tokens+="${seqlens_tokens:+,}$n"
done
PYTHONUNBUFFERED=1 python3 "$ROOT/bench/peers.py" --longca "$LONGCA" --masks "$MASKS" --seqlens "$seqlens_tokens" \
    --peers "$PEERS" --out "$OUT/peers.csv" 2>"$OUT/peers.log"

python3 "$ROOT/bench/table.py" "$OUT/longca_fwd.csv" "$OUT/longca_bwd.csv" "$OUT/peers.csv" | tee "$OUT/table.md"
