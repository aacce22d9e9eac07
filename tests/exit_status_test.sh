#!/usr/bin/env bash
# Exit status of longca run (see --help): 0 every run that could run succeeded, with the last
# stderr line "0 of N runs failed"; 1 a run out of memory (under a ulimit) or a lost worker
# (killed mid-sweep, reported with its rank; Open MPI's own messages kept in the log file);
# 2 bad input in one line whose quoted text has its newlines and escape codes neutralised.
set -u
longca=$1
tmp=$(mktemp -d)
failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }
trap 'rm -rf "$tmp"' EXIT
run() { timeout 300 "$longca" run --iters 1 --warmup 0 --quiet "$@" >"$tmp/out" 2>"$tmp/err"; }

run --seqlen 128,256
rc=$?
[ "$rc" = 0 ] && [ "$(tail -1 "$tmp/err")" = "longca run: 0 of 2 runs failed" ] && ok "all ran: $(tail -1 "$tmp/err")" \
    || fail "all ran: rc $rc $(cat "$tmp/err")"
grep -q "runs failed" "$tmp/out" && fail "the summary went to stdout"
"$longca" run --help | grep -q "^Exit status: 0" || fail "--help does not document the exit status"

# Out of memory: the inputs of S=64K, 64:8 heads, d=128 cannot fit under a 1.5 GB address space.
if [ -n "${ASAN_OPTIONS:-}" ]; then
    echo "note: sanitizer build: the address-space limit would stop the sanitizer, not the run (skipped)"
else
    (ulimit -v 1500000 && run --seqlen 256,64k --heads 64:8 --head-dim 128)
    rc=$?
    [ "$rc" = 1 ] && grep -q "out of memory" "$tmp/out" && [ "$(tail -1 "$tmp/err")" = "longca run: 1 of 2 runs failed" ] \
        && ok "out of memory -> exit 1: $(tail -1 "$tmp/err")" || fail "out of memory: rc $rc $(cat "$tmp/out" "$tmp/err")"
fi

# What cannot fit is refused before planning, in about a second, rather than building tile lists
# for minutes and meeting the OOM killer (the address-space limit only guards the machine
# should the refusal break; it would fail the run with another message, later).
if [ -z "${ASAN_OPTIONS:-}" ]; then
    start=$SECONDS
    (ulimit -v 8000000 && timeout 120 "$longca" run --seqlen 4m --heads 64:8 --iters 1 --warmup 0 --quiet >"$tmp/out" 2>"$tmp/err")
    rc=$?
    took=$((SECONDS - start))
    [ "$rc" = 1 ] && [ "$took" -le 10 ] && grep -q "GiB of host memory for its inputs and outputs, more than the" "$tmp/out" \
        && ok "refused before running in ${took} s: $(grep -o 'out of memory.*' "$tmp/out")" \
        || fail "S=4M not refused: rc $rc after ${took} s $(cat "$tmp/out" "$tmp/err")"
fi

# More spawned workers than the host can hold (each a process of ~250 MiB): refused before any starts.
timeout 60 "$longca" run --workers 4096 --seqlen 256 --quiet >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && grep -q "4096 workers on this host need about" "$tmp/err" && ok "--workers 4096 refused: $(head -1 "$tmp/err")" \
    || fail "--workers 4096: rc $rc $(cat "$tmp/err")"

# More GPUs than the host can hold (--gpus spawns one worker each): refused before any starts.
timeout 60 "$longca" run --cp ring --gpus 4096 --seqlen 8m --heads 8:8 --head-dim 64 --quiet >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && grep -q "4096 workers on this host need about" "$tmp/err" && ok "--gpus 4096 refused: $(head -1 "$tmp/err")" \
    || fail "--gpus 4096: rc $rc $(cat "$tmp/err")"

# Unsupported runs (the example plugin, built beside longca, has fp32 only): all of them -> 1
# "no run could run"; beside a run that ran -> 0 and counted in the last line; --strict -> 1.
example=$(dirname "$longca")/plugins/liblongca_example.so
if [ ! -f "$example" ]; then
    echo "note: no $example: the unsupported sweeps were not tried"
else
    run --kernel-lib "$example" --kernel example --dtype fp16 --seqlen 128
    rc=$?
    [ "$rc" = 1 ] && [ "$(tail -1 "$tmp/err")" = "longca run: 0 of 1 run failed; 1 unsupported (no run could run)" ] \
        && ok "every run unsupported -> 1: $(tail -1 "$tmp/err")" || fail "all unsupported: rc $rc $(cat "$tmp/out" "$tmp/err")"
    run --kernel-lib "$example" --kernel example --dtype fp32,fp16 --seqlen 128
    rc=$?
    [ "$rc" = 0 ] && [ "$(tail -1 "$tmp/err")" = "longca run: 0 of 2 runs failed; 1 unsupported (--strict fails them)" ] \
        && ok "unsupported beside a run -> 0: $(tail -1 "$tmp/err")" || fail "unsupported beside a run: rc $rc $(cat "$tmp/err")"
    run --kernel-lib "$example" --kernel example --dtype fp32,fp16 --seqlen 128 --strict
    rc=$?
    [ "$rc" = 1 ] && [ "$(tail -1 "$tmp/err")" = "longca run: 1 of 2 runs failed; 1 unsupported (failed by --strict)" ] \
        && ok "--strict -> 1: $(tail -1 "$tmp/err")" || fail "--strict: rc $rc $(cat "$tmp/err")"
fi

# Bad input with a newline and an escape sequence: exit 2, one line, no ESC byte.
"$longca" run --kernel "$(printf 'evil\033[31m\nsecond line')" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && ! grep -q $'\033' "$tmp/err" && ok "bad input -> 2: $(cat "$tmp/err")" \
    || fail "bad input: rc $rc $(od -c "$tmp/err" | head -3)"
"$longca" "$(printf 'bogus\033]0;title\007')" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && ! grep -q $'\033' "$tmp/err" && ok "unknown command -> 2: $(cat "$tmp/err")" || fail "unknown command: rc $rc"

# A worker killed mid-sweep: reported with its rank, exit 1.
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
timeout 300 "$longca" run --workers 2 --seqlen 2k --iters 400 --warmup 0 --quiet >"$tmp/out" 2>"$tmp/err" &
front=$!
victim=""
for _ in $(seq 200); do
    for p in $(descendants "$front"); do
        [ "$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n 2p)" = worker ] && victim=$p && break
    done
    [ -n "$victim" ] && break
    sleep 0.1
done
if [ -z "$victim" ]; then
    kill "$front" 2>/dev/null
    fail "no worker process found under the front end"
else
    sleep 2
    # CPU workers hold a data limit: their share of the host's available memory (2 workers).
    for _ in $(seq 100); do # set once the worker has opened its device
        limit=$(awk '/Max data size/ {print $4}' "/proc/$victim/limits")
        [ "$limit" != unlimited ] && break
        sleep 0.2
    done
    avail=$(($(awk '/MemAvailable/ {print $2}' /proc/meminfo) * 1024))
    if [ -z "${ASAN_OPTIONS:-}" ]; then
        [ "$limit" != unlimited ] && [ "$limit" -lt $((avail / 2 + (1 << 30))) ] && ok "worker data limit $limit bytes" \
            || fail "worker data limit '$limit' (available $avail)"
    fi
    kill -9 "$victim"
    wait "$front"
    rc=$?
    [ "$rc" = 1 ] && grep -q "worker rank [0-9] lost" "$tmp/err" && grep -q "worker lost" "$tmp/err" \
        && ok "a killed worker -> exit 1: $(grep "lost" "$tmp/err" | head -1); $(tail -1 "$tmp/err")" \
        || fail "killed worker: rc $rc $(cat "$tmp/err")"
    # Open MPI's own messages about the dead process are kept in the log file, not shown.
    grep -qE "PMIX|orte_|^-----|MPI_ABORT" "$tmp/err" && fail "Open MPI's messages reached the terminal: $(cat "$tmp/err")"
    [ "$(tail -1 "$tmp/err")" = "longca run: 1 of 1 run failed; 1 worker lost" ] || fail "last line: $(tail -1 "$tmp/err")"
fi

[ "$failed" = 0 ] && echo "exit_status_test: all checks passed" || { echo "exit_status_test: FAILED"; exit 1; }
