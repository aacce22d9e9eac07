#!/usr/bin/env bash
# The context-parallel benchmark in one call on a 2-GPU machine (nvidia-h200-x2): every CP method of
# longca (mpirun, rank 0 = front end without a GPU, ranks 1..2 = workers) beside torch's
# context_parallel (bench/cp_peers.py under torchrun, flash and cuDNN backends) on the same total
# lengths, masks and heads, and longca's single-GPU flash at the per-GPU length. One table with ratios
# (bench/cp_table.py). Results and logs go to $OUT (default bench/out).
#
# The whole default grid takes longer than one 10-minute device call (64:8 heads at 256K run 5-10 s a
# rep): pick a slice per call with SEQLENS, HEADS, METHODS. CAPTURE=1 also writes the runs' timelines
# to $OUT/cp.lccap (large at 64:8).
#
#   bench/cp.sh
#   SEQLENS=64k,128k,256k HEADS=8:8 METHODS=ring,allgather,ulysses,usp REPS="--warmup 1 --iters 3" bench/cp.sh
#   LONGCA=path/to/longca bench/cp.sh        # skip the build
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out}
BUILD=${BUILD:-$ROOT/build-bench}
GPUS=${GPUS:-2}
SEQLENS=${SEQLENS:-64k,128k,256k}
HEADS=${HEADS:-8:8,64:8}
MASKS=${MASKS:-full,causal}
METHODS=${METHODS:-ring,allgather,ulysses,usp,double_ring,balanced}
DIRECTIONS=${DIRECTIONS:-fwd,fwd+bwd}
REPS=${REPS:---warmup 2 --iters 5}
PEER_REPS=${PEER_REPS:-$REPS} # the same flags for bench/cp_peers.py
CAPTURE=${CAPTURE:-}
export NCCL_NVLS_ENABLE=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
nvidia-smi topo -m >"$OUT/topo.txt" 2>&1 || true
source "$ROOT/bench/build.sh"

# The per-GPU lengths of the single-GPU baseline.
per_gpu=""
for s in ${SEQLENS//,/ }; do
    case $s in *[kK]) n=$((${s%[kK]} * 1024)) ;; *) n=$s ;; esac
    per_gpu+="${per_gpu:+,}$((n / GPUS))"
    tokens+="${tokens:+,}$n"
done

mpirun -np $((GPUS + 1)) --oversubscribe --enable-recovery -x NCCL_NVLS_ENABLE "$LONGCA" run --kernel flash \
    --cp "$METHODS" --gpus "$GPUS" --mask "$MASKS" --seqlen "$SEQLENS" --heads "$HEADS" --head-dim 128 --dtype bf16 \
    --direction "$DIRECTIONS" $REPS --format csv --quiet ${CAPTURE:+--capture "$OUT/cp.lccap"} >"$OUT/longca_cp.csv" \
    2>"$OUT/longca_cp.log" || true
"$LONGCA" run --kernel flash --mask "$MASKS" --seqlen "$per_gpu" --heads "$HEADS" --head-dim 128 --dtype bf16 \
    --direction "$DIRECTIONS" $REPS --format csv --quiet >"$OUT/longca_single.csv" 2>"$OUT/longca_single.log" || true

PYTHONUNBUFFERED=1 torchrun --nproc-per-node "$GPUS" "$ROOT/bench/cp_peers.py" --seqlens "$tokens" --heads "$HEADS" \
    --masks "$MASKS" --directions "$DIRECTIONS" $PEER_REPS --out "$OUT/cp_peers.csv" >"$OUT/cp_peers.log" 2>&1 || true

python3 "$ROOT/bench/cp_table.py" "$OUT/longca_cp.csv" "$OUT/longca_single.csv" "$OUT/cp_peers.csv" "$GPUS" | tee "$OUT/cp_table.md"
