#!/usr/bin/env bash
# CP on GPUs: the NCCL communicator and CP's CUDA kernels on 2 GPUs (tests/test_gpu_cp_comm.c),
# then every method x {full, causal, causal_document, sliding_window_causal} x {fwd, bwd}
# through `longca run` with the flash kernel on 2 GPU workers, checked against the reference:
# with GQA (8:2) and without (8:8, where the kernel writes a block's fp32 dK, dV in place); the
# balanced method on all 12 static masks on 2 GPUs and at degree 1.
# Skipped (77) without 2 GPUs or without a CUDA build.
set -u
longca=$1
bin=$(dirname "$longca")/tests/test_gpu_cp_comm
command -v mpirun >/dev/null || { echo "mpirun not found: skipping"; exit 77; }
[ -x "$bin" ] || { echo "built without CUDA: skipping"; exit 77; }
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
[ "$gpus" -ge 2 ] || { echo "needs 2 GPUs, $gpus visible: skipping"; exit 77; }
fail=0
say() { echo "FAIL: $*"; fail=1; }

timeout 300 mpirun --oversubscribe -np 2 "$bin" || say "test_gpu_cp_comm on 2 GPUs"

methods=allgather,ring,ulysses,usp,double_ring,balanced
masks=full,causal,causal_document,sliding_window_causal
out=$(timeout 900 mpirun --oversubscribe -np 3 "$longca" run --kernel flash --cp "$methods" --gpus 2 \
      --mask "$masks" --seqlen 4k --heads 8:2 --head-dim 128 --direction fwd,bwd --warmup 1 --iters 3 \
      --check --quiet --format csv)
rc=$?
echo "$out"
passed=$(grep -c ',pass,' <<<"$out")
[ "$rc" -eq 0 ] && [ "$passed" -eq 48 ] || say "longca run --kernel flash --cp $methods --gpus 2: exit $rc, $passed of 48 checks passed"

out=$(timeout 600 mpirun --oversubscribe -np 3 "$longca" run --kernel flash --cp allgather,ring,usp --gpus 2 \
      --mask causal,causal_document --seqlen 4k --heads 8:8 --head-dim 128 --direction fwd,bwd --warmup 1 --iters 2 \
      --check --quiet --format csv)
rc=$?
echo "$out"
passed=$(grep -c ',pass,' <<<"$out")
[ "$rc" -eq 0 ] && [ "$passed" -eq 12 ] || say "the same with 8:8 heads: exit $rc, $passed of 12 checks passed"
# The balanced method on all 12 static masks, MHA and GQA, fp16, on 2 GPUs and at degree 1.
all_masks=full,causal,full_document,causal_document,sliding_window,sliding_window_causal,shared_question
all_masks+=,causal_blockwise,prefix_lm_causal,prefix_lm_document,global_sliding_window,block_causal_document
for gpus in 2 1; do
  out=$(timeout 900 mpirun --oversubscribe -np $((gpus + 1)) "$longca" run --kernel flash --cp balanced --gpus $gpus \
        --mask "$all_masks" --seqlen 4k --heads 8:8,8:2 --head-dim 128 --dtype fp16 --direction fwd,bwd --warmup 1 \
        --iters 2 --check --quiet --format csv)
  rc=$?
  echo "$out"
  passed=$(grep -c ',pass,' <<<"$out")
  [ "$rc" -eq 0 ] && [ "$passed" -eq 48 ] || say "balanced on $gpus GPU(s): exit $rc, $passed of 48 checks passed"
done
exit $fail
