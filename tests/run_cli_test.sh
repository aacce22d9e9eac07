#!/usr/bin/env bash
# longca run / list: bad input gets one line on stderr and exit status 2, never a crash; a
# random-argument fuzz over flags and junk values never crashes, hangs or prints more than one
# error line. Valid fuzz cases use --dry-run so nothing heavy runs.
set -u
longca=$1
fail=0
say() { echo "FAIL: $*"; fail=1; }

expect_usage_error() {
  local out err rc
  err=$(timeout 20 "$longca" "$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 2 ]; then say "exit $rc (want 2): longca $*"; return; fi
  if [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || [ -z "$err" ]; then say "not one line: longca $* -> $err"; fi
}

expect_usage_error run --kernel nope
expect_usage_error run --mask nope
expect_usage_error run --seqlen 0
expect_usage_error run --seqlen -5
expect_usage_error run --seqlen 1099511627776
expect_usage_error run --seqlen 4k:1k:x2
expect_usage_error run --seqlen 1k:4k:x1
expect_usage_error run --seqlen abc
expect_usage_error run --heads 12:5
expect_usage_error run --heads 0:0
expect_usage_error run --head-dim 0
expect_usage_error run --batch -1
expect_usage_error run --dtype fp8
expect_usage_error run --direction sideways
expect_usage_error run --iters 0
expect_usage_error run --warmup
expect_usage_error run --format xml
expect_usage_error run --check=yes
expect_usage_error run --gpus 2
expect_usage_error run --cp nope --gpus 2
expect_usage_error run --window -3 --mask sliding_window
expect_usage_error run --frobnicate 3
expect_usage_error run positional
expect_usage_error run --seqlen 1k,,2k
expect_usage_error list bogus
expect_usage_error bogus-command

# The messages say what is wrong.
msg=$("$longca" run --heads 12:5 2>&1 >/dev/null)
[[ $msg == *"query heads 12 not divisible by KV heads 5"* ]] || say "heads message: $msg"
msg=$("$longca" run --kernel nope 2>&1 >/dev/null)
[[ $msg == *"unknown kernel 'nope'"* ]] || say "kernel message: $msg"

# Sweeps expand as written.
n=$("$longca" run --kernel cpu --mask causal,full --seqlen 1k:16k:x2 --dry-run | tail -1)
[ "$n" = "10 runs" ] || say "1k:16k:x2 over 2 masks expanded to '$n'"
n=$("$longca" run --seqlen 1k:4k:+1k --heads 8:2,8:8 --dry-run | tail -1)
[ "$n" = "8 runs" ] || say "1k:4k:+1k over 2 head shapes expanded to '$n'"

# A CP dry run predicts each run's imbalance and bytes per rank without running: zigzag ring is
# even on a full mask, balanced within 5 % on documents and moving less than ring.
out=$("$longca" run --dry-run --cp ring,balanced --gpus 4 --mask full,causal_document --seqlen 32k --heads 8:8)
imb() { awk -v k="$1" '$0 ~ k { for (i = 1; i <= NF; i++) if ($i == "imbalance") { sub(",", "", $(i + 1)); print $(i + 1) } }' <<<"$out"; }
max_bytes() { awk -v k="$1" '$0 ~ k { for (i = 1; i <= NF; i++) if ($i == "max") print $(i + 1) }' <<<"$out"; }
[ "$(imb 'full.*cp=ring')" = "1.0000" ] || say "dry run, ring on full: imbalance '$(imb 'full.*cp=ring')'"$'\n'"$out"
awk -v b="$(imb 'document.*cp=balanced')" 'BEGIN { exit !(b != "" && b <= 1.05) }' ||
  say "dry run, balanced on causal_document: imbalance '$(imb 'document.*cp=balanced')'"$'\n'"$out"
awk -v b="$(max_bytes 'document.*cp=balanced')" -v r="$(max_bytes 'document.*cp=ring')" 'BEGIN { exit !(b + 0 > 0 && b + 0 <= 0.75 * r) }' ||
  say "dry run, causal_document: balanced moves $(max_bytes 'document.*cp=balanced') bytes, ring $(max_bytes 'document.*cp=ring')"

# Fuzz: random argument vectors from flags, good values and junk.
flags=(--kernel --mask --seqlen --batch --heads --head-dim --dtype --direction --cp --gpus --warmup --iters
       --window --global --prefix --block --density --doclen --seed --format --check --cp-inner --capture --bogus)
values=(cpu cpu_ref flash naive causal full sliding_window block_sparse 1k 4k 1k:8k:x2 0 -1 2 8:2 64:8 12:5 x
        bf16 fp32 fwd bwd fwd+bwd ring none 1.5 0.5 auto pile 99999999999999999999 '' , : 1k:: -- =
        "$(printf 'a%.0s' {1..300})" 1e308 nan)
RANDOM=12345
for i in $(seq 1 300); do
  args=(run)
  for j in $(seq 1 $((RANDOM % 6 + 1))); do
    args+=("${flags[RANDOM % ${#flags[@]}]}")
    [ $((RANDOM % 4)) -eq 0 ] || args+=("${values[RANDOM % ${#values[@]}]}")
  done
  args+=(--dry-run)
  err=$(timeout 20 "$longca" "${args[@]}" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 2 ]; then say "fuzz exit $rc: longca ${args[*]}"; continue; fi
  if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then say "fuzz: not one line: longca ${args[*]}"; fi
done

[ $fail -eq 0 ] && echo "run CLI: all checks passed"
exit $fail
