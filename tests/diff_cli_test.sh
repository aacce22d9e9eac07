#!/usr/bin/env bash
# longca diff over real results: captures against their own JSON Lines and JSON outputs (every
# run "same", ratio 1), the CPU kernel against the reference kernel (--ignore kernel: runs matched
# across kernels, each verdict and ratio checked against the figures it came from, never against
# an expected speed), the CPU kernel against itself at one thread (matched by key), runs on one
# side only, the three output formats, and bad input (one line, exit status 2).
set -u
longca=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
common=(--mask causal --seqlen 128,256 --warmup 1 --iters 3 --quiet)

"$longca" run "${common[@]}" --capture "$tmp/a.lccap" --format jsonl -o "$tmp/a.jsonl" || fail "run A"
"$longca" run "${common[@]}" --capture "$tmp/a2.lccap" --format json -o "$tmp/a.json" || fail "run A2 as json"
"$longca" run --kernel cpu_ref --mask causal --seqlen 128,256,512 --warmup 1 --iters 3 --quiet \
    --capture "$tmp/ref.lccap" >/dev/null || fail "run B"

"$longca" diff "$tmp/a.lccap" "$tmp/a.jsonl" >"$tmp/self.txt" || fail "diff capture vs jsonl"
cat "$tmp/self.txt"
[ "$(grep -c ' 1.000  same$' "$tmp/self.txt")" -eq 2 ] || fail "a capture against its own jsonl is not 2 x same at 1.000"
"$longca" diff "$tmp/a.json" "$tmp/a2.lccap" --format csv >"$tmp/self.csv" || fail "diff json vs capture"
[ "$(grep -c ',1.000000,same$' "$tmp/self.csv")" -eq 2 ] || fail "json against its capture: $(cat "$tmp/self.csv")"

"$longca" diff "$tmp/a.lccap" "$tmp/ref.lccap" --ignore kernel >"$tmp/ref.txt" || fail "diff --ignore kernel"
cat "$tmp/ref.txt"
[ "$(grep -c '^\* causal S=\(128\|256\) .* \(faster\|slower\|same\)$' "$tmp/ref.txt")" -eq 2 ] || fail "S=128 and 256 not matched across kernels"
grep -q '^\* causal S=512 .* only in B$' "$tmp/ref.txt" || fail "S=512 is not listed as only in B"
"$longca" diff "$tmp/a.lccap" "$tmp/ref.lccap" >"$tmp/keyed.txt" || fail "diff by kernel"
grep -q '0 faster, 0 slower, 0 same, 0 failed, 2 only in A, 3 only in B' "$tmp/keyed.txt" ||
    fail "different kernels matched without --ignore kernel: $(tail -1 "$tmp/keyed.txt")"
"$longca" diff "$tmp/a.lccap" "$tmp/ref.lccap" --ignore kernel --format json >"$tmp/ref.json" || fail "json"
if command -v python3 >/dev/null 2>&1; then
    python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
rows = d['rows']
assert [r['run'].split()[2] for r in rows] == ['S=128', 'S=256', 'S=512'] and rows[2]['verdict'] == 'only in B'
assert rows[2]['a'] is None
for r in rows[:2]:
    a, b = r['a'], r['b']
    want = 'faster' if b['ms_p80'] < a['ms_p20'] else 'slower' if b['ms_p20'] > a['ms_p80'] else 'same'
    assert r['verdict'] == want, (r, want)
    assert abs(r['ratio'] - b['ms_median'] / a['ms_median']) < 1e-9, r
print('json:', [(r['run'].split()[2], r['verdict'], r['ratio']) for r in rows])" "$tmp/ref.json" || failed=1
fi

# One kernel against itself at a slower setting that is not part of a run's key (one OpenMP
# thread instead of the default): every run matched by its key, the setting in B's metadata.
OMP_NUM_THREADS=1 "$longca" run "${common[@]}" --capture "$tmp/one_thread.lccap" >/dev/null || fail "run at 1 thread"
grep -q '"device":"[^"]*, 1 threads' "$tmp/one_thread.lccap" || fail "the 1-thread setting is not in B's capture"
"$longca" diff "$tmp/a.lccap" "$tmp/one_thread.lccap" >"$tmp/threads.txt" || fail "diff default vs 1 thread"
cat "$tmp/threads.txt"
[ "$(grep -c '^cpu causal S=\(128\|256\) .* \(faster\|slower\|same\)$' "$tmp/threads.txt")" -eq 2 ] &&
    grep -q ', 0 failed, 0 only in A, 0 only in B$' "$tmp/threads.txt" || fail "a thread count split the runs' keys"

expect_usage() {
    local what=$1
    shift
    "$longca" diff "$@" >/dev/null 2>"$tmp/err"
    local rc=$?
    if [ $rc -ne 2 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then fail "$what: exit $rc, $(cat "$tmp/err")"; else echo "ok: $what -> $(cat "$tmp/err")"; fi
}
expect_usage "one file" "$tmp/a.lccap"
expect_usage "missing file" "$tmp/a.lccap" "$tmp/none"
printf 'not json\n' >"$tmp/junk"
expect_usage "not a results file" "$tmp/a.lccap" "$tmp/junk"
printf '{"schema":2}\n\0\0\n' >"$tmp/nul.jsonl"
expect_usage "NUL bytes" "$tmp/a.lccap" "$tmp/nul.jsonl"
# Out of memory is not bad input: a 1000 MiB file (sparse) cannot be read whole under the
# smallest of these address-space limits the program starts in: exit 1 with the reason. The
# limit depends on the build (a CUDA build maps about 1 GB at start; without CUDA, 1.2 GB left
# room for the whole file, which was then refused as NUL bytes, exit 2). Every limit tried up to
# 1000000 KB is below the file's 1000 MiB; 1.2 GB is used only by a build that needs over 1 GB.
if [ -n "${ASAN_OPTIONS:-}" ]; then
    echo "note: sanitizer build: the address-space limit would stop the sanitizer, not the read (skipped)"
else
    truncate -s 1000M "$tmp/huge.jsonl"
    limit=1200000
    for kb in 600000 800000 1000000; do
        (ulimit -v $kb && "$longca" --version >/dev/null 2>&1) && { limit=$kb; break; }
    done
    (ulimit -v $limit && "$longca" diff "$tmp/a.lccap" "$tmp/huge.jsonl" >/dev/null 2>"$tmp/err")
    rc=$?
    [ $rc -eq 1 ] && grep -q "out of memory" "$tmp/err" && echo "ok: out of memory -> 1: $(cat "$tmp/err")" \
        || fail "out of memory: exit $rc, $(cat "$tmp/err")"
fi
expect_usage "bad format" "$tmp/a.lccap" "$tmp/a.jsonl" --format xml
# a value with control characters is still one line (the fuzzer's vector)
expect_usage "a format with a newline" /dev/zero --format $'a\nb'
expect_usage "three files" "$tmp/a.lccap" "$tmp/a.jsonl" "$tmp/a.json"
[ "$failed" -eq 0 ] || { echo "diff_cli_test: FAILED"; exit 1; }
echo "diff_cli_test: all checks passed"
