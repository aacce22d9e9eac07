#!/usr/bin/env bash
# Context parallelism under MPI, as CI runs it: every method x {full, causal, causal_document,
# sliding_window_causal} x {fwd, bwd} x {8:8, 8:2} against the single-device reference on 4
# ranks and a smaller matrix on 2 (tests/test_cp_methods.c), then the whole path through
# `longca run` with a front end and 4 CPU workers (the balanced method on all 12 static masks),
# balanced again on 16 workers (two nodes' worth: its node-aware stage pairing), and bad CP input
# refused with one line and exit status 2.
set -u
longca=$1
bin=$(dirname "$longca")/tests/test_cp_methods
command -v mpirun >/dev/null || { echo "mpirun not found: skipping the MPI tests"; exit 77; }
[ -x "$bin" ] || { echo "no test_cp_methods beside $longca: skipping"; exit 77; }
# The ranks already share the cores; one OpenMP thread each keeps them from thrashing.
export OMP_NUM_THREADS=1
fail=0
say() { echo "FAIL: $*"; fail=1; }

# The sanitizer build (LONGCA_TEST_QUICK set) runs the same paths on a smaller matrix.
quick=${LONGCA_TEST_QUICK:+--quick}
timeout 600 mpirun --oversubscribe -np 4 -x OMP_NUM_THREADS "$bin" $quick || say "test_cp_methods on 4 ranks"
timeout 600 mpirun --oversubscribe -np 2 -x OMP_NUM_THREADS "$bin" --quick || say "test_cp_methods --quick on 2 ranks"

methods=allgather,ring,ulysses,usp,double_ring
masks=full,causal,causal_document,sliding_window_causal
[ -n "$quick" ] && masks=causal,causal_document
out=$(timeout 600 mpirun --oversubscribe -np 5 -x OMP_NUM_THREADS "$longca" run --cp "$methods" --gpus 4 \
      --mask "$masks" --window 100 --seqlen 512 --heads 8:2 --head-dim 32 --direction fwd,bwd \
      --warmup 0 --iters 1 --check --quiet --format csv)
rc=$?
passed=$(grep -c ',pass,' <<<"$out")
want=$((5 * $(tr ',' '\n' <<<"$masks" | wc -l) * 2))
[ "$rc" -eq 0 ] && [ "$passed" -eq "$want" ] || say "longca run --cp $methods --gpus 4: exit $rc, $passed of $want checks passed"$'\n'"$out"

# The balanced method on every static mask, both directions, MHA and GQA (quick: GQA only, and
# both directions in one run).
all_masks=full,causal,full_document,causal_document,sliding_window,sliding_window_causal,shared_question
all_masks+=,causal_blockwise,prefix_lm_causal,prefix_lm_document,global_sliding_window,block_causal_document
heads=8:8,8:2 dirs=fwd,bwd
[ -n "$quick" ] && heads=8:2 dirs=fwd+bwd
out=$(timeout 600 mpirun --oversubscribe -np 5 -x OMP_NUM_THREADS "$longca" run --cp balanced --gpus 4 \
      --mask "$all_masks" --window 100 --global 64 --block 128 --seqlen 512 --heads "$heads" --head-dim 32 \
      --direction "$dirs" --warmup 0 --iters 1 --check --quiet --format csv)
rc=$?
passed=$(grep -c ',pass,' <<<"$out")
want=$((12 * $(tr ',' '\n' <<<"$dirs" | wc -l) * $(tr ',' '\n' <<<"$heads" | wc -l)))
[ "$rc" -eq 0 ] && [ "$passed" -eq "$want" ] || say "longca run --cp balanced --gpus 4: exit $rc, $passed of $want checks passed"$'\n'"$out"

# Over two nodes' worth of ranks (16) balanced pairs its stages by node and place in the node.
masks=causal_document,sliding_window_causal
[ -n "$quick" ] && masks=causal_document
out=$(timeout 600 mpirun --oversubscribe -np 17 -x OMP_NUM_THREADS "$longca" run --cp balanced --gpus 16 \
      --mask "$masks" --window 100 --seqlen 1024 --heads 8:2 --head-dim 32 \
      --direction fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv)
rc=$?
passed=$(grep -c ',pass,' <<<"$out")
want=$(tr ',' '\n' <<<"$masks" | wc -l)
[ "$rc" -eq 0 ] && [ "$passed" -eq "$want" ] || say "longca run --cp balanced --gpus 16: exit $rc, $passed of $want checks passed"$'\n'"$out"
# Its plan there is chosen among the solver's variants: the run and its prediction take the same one.
pred=$("$longca" run --dry-run --cp balanced --gpus 16 --mask "$masks" --window 100 --seqlen 1024 --heads 8:2 \
       --head-dim 32 --direction fwd+bwd)
for mask in ${masks//,/ }; do
    ran=$(awk -F, -v m="$mask" '$2 == m {printf "imbalance %s, bytes per rank max %.4g", $24, $25}' <<<"$out")
    grep -q " $mask .*predicted: $ran " <<<"$pred" ||
        say "balanced --gpus 16 $mask: the run reports '$ran', the prediction"$'\n'"$pred"
done

# Bad input: a clear line before anything runs.
expect_refusal() {
  local want=$1; shift
  local err rc
  err=$(timeout 60 mpirun --oversubscribe -np 3 "$longca" run --seqlen 512 --quiet "$@" 2>&1 >/dev/null); rc=$?
  [ "$rc" -eq 2 ] && [[ $err == *"$want"* ]] || say "longca run $*: exit $rc, wanted 2 and '$want': $err"
}
expect_refusal "ulysses: 6 query heads do not split evenly over 4 GPUs" --cp ulysses --gpus 4 --heads 6:6
expect_refusal "not divisible by 8" --cp ring --gpus 4 --seqlen 500
expect_refusal "static masks" --cp ring --gpus 2 --mask block_sparse
expect_refusal "not divisible by 256 (chunks: GPUs x the kernel's query tile)" --cp balanced --gpus 4 --seqlen 640
expect_refusal "session has 2 workers" --cp ring --gpus 4
exit $fail
