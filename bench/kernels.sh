#!/usr/bin/env bash
# The kernel benchmark in one call on a GPU machine: build longca, run flash, naive and cudnn through
# `longca run`, run the PyTorch peers (bench/peers.py) on the same shapes and masks, and print
# one side-by-side table (bench/table.py). Results and logs go to $OUT (default bench/out).
#
#   bench/kernels.sh                      # b=1, 64:8 heads, d=128, bf16, S = 4K..32K, 4 masks
#   SEQLENS=8k,16k MASKS=causal DIRECTIONS=fwd bench/kernels.sh
# Block-sparse runs (BLOCK_SPARSE, block:density pairs, at SPARSE_SEQLEN; empty for none) name
# their mask block_sparse/B<block>/d<density> in both CSVs (their peer is FlexAttention, when
# PEERS has flex); the peers also time a cuBLAS GEMM (8192^3) as the roof.
#   LONGCA=path/to/longca bench/kernels.sh   # use a longca built elsewhere instead of building
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out}
BUILD=${BUILD:-$ROOT/build-bench}
SEQLENS=${SEQLENS:-4k,8k,16k,32k}
MASKS=${MASKS:-full,causal,sliding_window_causal,causal_document}
PEERS=${PEERS:-sdpa_flash,sdpa_cudnn,sdpa_efficient,flex}
DIRECTIONS=${DIRECTIONS:-fwd,bwd}
BLOCK_SPARSE=${BLOCK_SPARSE-64:0.1,64:0.25,64:0.5,128:0.1,128:0.25,128:0.5}
SPARSE_SEQLEN=${SPARSE_SEQLEN:-32k}
export NCCL_NVLS_ENABLE=0
mkdir -p "$OUT"

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
source "$ROOT/bench/build.sh"
# longca's cudnn plugin is a column wherever it loads (build.sh builds it where cudnn.h is present)
kernels=$("$LONGCA" list kernels 2>/dev/null || true)
cudnn=""
[[ $'\n'$kernels == *$'\n  cudnn'* ]] && cudnn=,cudnn
KERNELS=${KERNELS:-flash,naive$cudnn}

tokens() {
    local out="" s n
    for s in ${1//,/ }; do
        case $s in *[kK]) n=$((${s%[kK]} * 1024)) ;; *) n=$s ;; esac
        out+="${out:+,}$n"
    done
    echo "$out"
}

csvs=()
for dir in ${DIRECTIONS//,/ }; do
    "$LONGCA" run --kernel "$KERNELS" --mask "$MASKS" --seqlen "$SEQLENS" --heads 64:8 --head-dim 128 \
        --dtype bf16 --direction "$dir" --format csv --quiet >"$OUT/longca_$dir.csv"
    csvs+=("$OUT/longca_$dir.csv")
    for spec in ${BLOCK_SPARSE//,/ }; do
        block=${spec%%:*} density=${spec#*:} name=block_sparse/B${spec%%:*}/d${spec#*:}
        "$LONGCA" run --kernel flash --mask block_sparse --block "$block" --density "$density" \
            --seqlen "$SPARSE_SEQLEN" --heads 64:8 --head-dim 128 --dtype bf16 --direction "$dir" --format csv \
            --quiet | awk -F, -v OFS=, -v name="$name" 'NR > 1 { $2 = name; print } NR == 1 { print }' \
            >"$OUT/longca_${dir}_B${block}_d$density.csv"
        csvs+=("$OUT/longca_${dir}_B${block}_d$density.csv")
    done
done

sparse_masks=""
for spec in ${BLOCK_SPARSE//,/ }; do sparse_masks+=",block_sparse/B${spec%%:*}/d${spec#*:}"; done
PYTHONUNBUFFERED=1 python3 "$ROOT/bench/peers.py" --longca "$LONGCA" --masks "$MASKS" --seqlens "$(tokens "$SEQLENS")" \
    --directions "$DIRECTIONS" --peers "$PEERS" --gemm --out "$OUT/peers.csv" 2>"$OUT/peers.log"
if [ -n "$BLOCK_SPARSE" ] && [[ ,$PEERS, == *,flex,* ]]; then # FlexAttention's BlockMask is the sparse peer
    PYTHONUNBUFFERED=1 python3 "$ROOT/bench/peers.py" --longca "$LONGCA" --masks "${sparse_masks#,}" \
        --seqlens "$(tokens "$SPARSE_SEQLEN")" --directions "$DIRECTIONS" --peers flex --out "$OUT/peers_sparse.csv" \
        2>>"$OUT/peers.log"
    tail -n +2 "$OUT/peers_sparse.csv" >>"$OUT/peers.csv"
fi

python3 "$ROOT/bench/table.py" "${csvs[@]}" "$OUT/peers.csv" | tee "$OUT/table.md"
