#!/usr/bin/env bash
# Captures stream and read back safely: a `longca run --capture` killed with SIGKILL mid-sweep
# leaves a capture that view and export load (a cut last line named "truncated at line N");
# reading refuses what is not a regular file (/dev/zero, a FIFO, a directory), an empty file
# and an over-long line with exit 2, never blocking or growing; view and export are linear in
# the capture (a 4x larger capture takes well under 16x, the quadratic ratio).
set -u
longca=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }

# --- a killed run keeps what it emitted
"$longca" run --seqlen 128,256,384,512,640,768,896,1024,1152,1280,1408,1536 --iters 2 --warmup 0 --quiet \
    --capture "$tmp/killed.lccap" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
    grep -q '"type":"run_done"' "$tmp/killed.lccap" 2>/dev/null && break
    sleep 0.1
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
results=$(grep -c '"type":"run_done"' "$tmp/killed.lccap")
rows=$("$longca" view "$tmp/killed.lccap" </dev/null 2>"$tmp/err" | grep -c '^cpu ')
[ "$results" -ge 1 ] && [ "$rows" -ge 1 ] && ok "killed with SIGKILL after $results result(s): view shows $rows row(s)" \
    || fail "killed capture: $results results, $rows rows: $(cat "$tmp/err")"

# --- a cut last line: what precedes loads, the cut is named
head -c "$(($(stat -c %s "$tmp/killed.lccap") - 7))" "$tmp/killed.lccap" >"$tmp/cut.lccap"
lines=$(wc -l <"$tmp/cut.lccap")
"$longca" view "$tmp/cut.lccap" </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] && grep -q "truncated at line $((lines + 1))" "$tmp/err" && ok "view of a cut capture: $(cat "$tmp/err")" \
    || fail "view of a cut capture: rc $rc $(cat "$tmp/err")"

# --- what is not a capture file: exit 2, one line, at once
expect_refused() { # what, file
    timeout 10 "$longca" view "$2" </dev/null >/dev/null 2>"$tmp/err"
    local rc=$?
    [ "$rc" = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && ok "$1 -> $(cat "$tmp/err")" || fail "$1: rc $rc $(cat "$tmp/err")"
}
expect_refused "/dev/zero" /dev/zero
mkfifo "$tmp/fifo"
expect_refused "a FIFO (no writer: must not block)" "$tmp/fifo"
expect_refused "a directory" "$tmp"
: >"$tmp/empty.lccap"
expect_refused "an empty file" "$tmp/empty.lccap"
# The slow parts run smaller in the sanitizer pass (LONGCA_TEST_QUICK): the same paths.
quick=${LONGCA_TEST_QUICK:-}
if [ -z "$quick" ]; then
    head -c 300000000 /dev/zero | tr '\0' ' ' >"$tmp/long.lccap"
    expect_refused "a 300 MB line" "$tmp/long.lccap"
    rm -f "$tmp/long.lccap"
    # Out of memory mid-capture is an error (exit 1), not an end of file that shows the runs
    # before it and exits 0: a 200 MB line (under the maximum) between runs, read under an
    # address-space limit of what the program maps before reading plus 200 MB (measured on a
    # `view -` waiting on an empty FIFO: the CUDA build maps far more than the C-only one).
    "$longca" run --seqlen 64,128 --iters 1 --warmup 0 --quiet --capture "$tmp/two.lccap" >/dev/null 2>&1
    { head -n 3 "$tmp/two.lccap"; head -c 200000000 /dev/zero | tr '\0' ' '; echo; tail -n +4 "$tmp/two.lccap"; } >"$tmp/mid.lccap"
    mkfifo "$tmp/idle"
    sleep 5 >"$tmp/idle" &
    holder=$!
    "$longca" view - <"$tmp/idle" >/dev/null 2>&1 &
    viewer=$!
    sleep 1
    base=$(awk '/^VmSize/ {print $2}' "/proc/$viewer/status" 2>/dev/null)
    kill "$viewer" "$holder" 2>/dev/null
    wait "$viewer" "$holder" 2>/dev/null
    if [ -z "$base" ]; then fail "no VmSize of a waiting view"; else
        (ulimit -v $((base + 200000)) && timeout 60 "$longca" view "$tmp/mid.lccap" </dev/null >/dev/null 2>"$tmp/err")
        rc=$?
        [ "$rc" = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "out of memory for line" "$tmp/err" \
            && ok "out of memory mid-capture -> exit 1: $(cat "$tmp/err")" || fail "out of memory mid-capture: rc $rc $(cat "$tmp/err")"
    fi
    rm -f "$tmp/mid.lccap"
fi
printf '{"type":"progress","run":1,"rank":300000000,"t_ns":5,"phase":"setup","iter":0,"total":1}\n' >"$tmp/rank.lccap"
expect_refused "rank 300000000" "$tmp/rank.lccap"
"$longca" export - -o "$tmp/stdin.json" <"$tmp/killed.lccap" >/dev/null 2>&1 && ok "export - reads stdin" || fail "export -"
[ "$("$longca" view - <"$tmp/killed.lccap" 2>/dev/null | grep -c '^cpu ')" = "$rows" ] && ok "view - reads stdin" || fail "view -"

# --- linear: runs of one captured run repeated with new ids, 20K and 80K
make_capture() { # runs, file
    awk -v n="$1" 'NR == FNR { line[FNR] = $0; k = FNR; next }
        END { for (r = 0; r < n; r++) for (i = 1; i <= k; i++) { s = line[i]; sub(/"run":0,/, "\"run\":" r ",", s); print s } }' \
        "$tmp/one.lccap" /dev/null >"$2"
}
"$longca" run --seqlen 64 --iters 1 --warmup 0 --quiet --capture "$tmp/one.lccap" >/dev/null
# CPU seconds (user + system) of the command: the machine's other load does not count.
seconds() {
    /usr/bin/time -o "$tmp/time" -f '%U %S' "$@" >/dev/null 2>&1 </dev/null
    awk '{ printf "%.2f", $1 + $2 }' "$tmp/time"
}
small=$([ -n "$quick" ] && echo 5000 || echo 20000)
make_capture "$small" "$tmp/small.lccap"
make_capture $((4 * small)) "$tmp/large.lccap"
[ -x /usr/bin/time ] || { echo "note: no /usr/bin/time: the scaling check was not run"; set -- ; }
[ -x /usr/bin/time ] && for cmd in view export; do
    s=$(seconds "$longca" $cmd "$tmp/small.lccap")
    l=$(seconds "$longca" $cmd "$tmp/large.lccap")
    ratio=$(awk -v s="$s" -v l="$l" 'BEGIN { printf "%.1f", l / (s + 0.05) }')
    if awk -v r="$ratio" 'BEGIN { exit !(r < 8) }'; then ok "$cmd: $small runs ${s}s, $((4 * small)) runs ${l}s CPU (x$ratio)"
    else fail "$cmd is not linear: $small runs ${s}s, $((4 * small)) runs ${l}s"; fi
done

[ "$failed" = 0 ] && echo "capture_stream_test: all checks passed" || { echo "capture_stream_test: FAILED"; exit 1; }
