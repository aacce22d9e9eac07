#!/usr/bin/env bash
# Kernel plugins on the CPU (kernels/longca_kernel.h): the example plugin loaded by path and from
# LONGCA_KERNEL_PATH, listed, swept and checked against cpu_ref forward and backward, run on
# spawned workers (its version in the results and the capture) and inside CP methods on CPU
# workers under mpirun; bad plugins (another ABI version, a missing symbol, a file that is not a
# shared object, a plan that fails) each get one line and exit status 2.
set -u
longca=$1
plugins=$(dirname "$longca")/plugins
example=$plugins/liblongca_example.so
[ -f "$example" ] || { echo "no $example beside $longca: skipping"; exit 77; }
export OMP_NUM_THREADS=1
fail=0
say() { echo "FAIL: $*"; fail=1; }

out=$("$longca" list kernels --kernel-lib "$example")
[[ $out == *"example "*"version 1.0, plugin $example"* ]] || say "list with --kernel-lib: $out"
out=$(LONGCA_KERNEL_PATH=/nonexistent:$plugins "$longca" list kernels)
[[ $out == *"plugin $example"* ]] || say "list with LONGCA_KERNEL_PATH: $out"

# A sweep of the plugin beside a built-in kernel, every output and gradient checked.
masks=full,causal,causal_document,sliding_window,prefix_lm_document
out=$(timeout 300 "$longca" run --kernel-lib="$example" --kernel example,cpu --mask $masks --seqlen 96,160 \
      --heads 4:2 --head-dim 32 --direction fwd,fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv)
rc=$?
want=$((2 * 5 * 2 * 2))
passed=$(grep -c ',pass,' <<<"$out")
[ "$rc" -eq 0 ] && [ "$passed" -eq "$want" ] || say "sweep: exit $rc, $passed of $want passed"$'\n'"$out"
grep -q '^example,' <<<"$out" || say "no example rows in the sweep"

# Spawned workers load the libraries of the process that spawns them; the plugin's version
# reaches the results and the capture through them.
capture=$(mktemp)
trap 'rm -f "$capture"' EXIT
out=$(timeout 120 "$longca" run --workers 2 --kernel-lib "$example" --kernel example --seqlen 128 --heads 4:2 \
      --head-dim 32 --warmup 0 --iters 1 --check --quiet --format csv --capture "$capture")
rc=$?
[ "$rc" -eq 0 ] && grep -q '^example,.*,pass,.*,"1.0","' <<<"$out" || say "spawned workers: exit $rc: $out"
grep -q '"type":"run_done".*"kernel_version":"1.0"' "$capture" || say "no kernel version in the capture's run_done"

# CP methods on CPU workers: the example cannot fold blocks, so cp/fold.c folds for it.
if command -v mpirun >/dev/null; then
  out=$(timeout 300 mpirun --oversubscribe -np 3 -x OMP_NUM_THREADS "$longca" run --kernel-lib "$example" \
        --kernel example --cp ring,allgather --gpus 2 --mask causal,causal_document --seqlen 256 --heads 4:2 \
        --head-dim 32 --direction fwd+bwd --warmup 0 --iters 1 --check --quiet --format csv)
  rc=$?
  passed=$(grep -c ',pass,' <<<"$out")
  [ "$rc" -eq 0 ] && [ "$passed" -eq 4 ] || say "CP under mpirun: exit $rc, $passed of 4 passed"$'\n'"$out"
else
  echo "mpirun not found: CP with the plugin not tested"
fi

expect_refusal() {
  local want=$1; shift
  local err rc
  err=$(timeout 60 "$longca" "$@" 2>&1 >/dev/null); rc=$?
  [ "$rc" -eq 2 ] || { say "longca $*: exit $rc, wanted 2: $err"; return; }
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && [[ $err == *"$want"* ]] || say "longca $*: wanted one line with '$want': $err"
}
expect_refusal "built for kernel ABI 42, this longca speaks 1" list --kernel-lib "$plugins/libtest_bad_abi.so"
expect_refusal "no symbol longca_kernel_get" run --kernel-lib "$plugins/libtest_no_get.so" --kernel example
expect_refusal "invalid ELF header" list kernels --kernel-lib "$0"
expect_refusal "cannot be opened" list --kernel-lib "$plugins/none.so"
expect_refusal "--kernel-lib needs a file" list --kernel-lib
# A plan that fails: the run's line names the kernel and carries its message.
out=$(timeout 60 "$longca" run --kernel-lib "$plugins/libtest_failing_plan.so" --kernel failing_plan --seqlen 128 \
      --quiet --format csv 2>&1); rc=$?
[ "$rc" -eq 2 ] && [[ $out == *"kernel failing_plan: refuses every problem"* ]] || say "failing plan: exit $rc: $out"
exit $fail
