#!/usr/bin/env bash
# `longca run` through worker ranks, both ways a session starts: workers spawned by a plain
# process (--workers 2) and `mpirun -np 3` (ranks 1 and 2 serve). Each sweep must finish with
# exit status 0 within its time limit, and the session's capture must hold both workers'
# hellos, every run's result and the end of the sweep.
set -u
longca="$1"
command -v mpirun >/dev/null || { echo "skipped: mpirun not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1 # three processes share the CI's two cores
sweep=(--kernel cpu --mask causal,full --seqlen 256 --heads 2:1 --head-dim 32 --warmup 1 --iters 2 --check
       --format csv --quiet)
failures=0

fail() {
    echo "FAIL [$1]: $2"
    failures=$((failures + 1))
}

# name, capture: the capture is complete and holds what the sweep did.
check_capture() {
    local name="$1" cap="$2"
    [ -f "$cap" ] || { fail "$name" "no capture at $cap"; return; }
    local hellos results done
    hellos=$(grep -c '"type":"hello"' "$cap")
    results=$(grep '"type":"result"' "$cap" | grep -c '"status":"ok"')
    done=$(grep -c '"type":"sweep_done"' "$cap")
    [ "$hellos" -eq 2 ] || fail "$name" "$hellos hellos in the capture, expected 2"
    [ "$results" -eq 2 ] || fail "$name" "$results ok results in the capture, expected 2"
    [ "$done" -eq 1 ] || fail "$name" "$done sweep_done events in the capture, expected 1"
    if ls "$cap".partial-* >/dev/null 2>&1; then fail "$name" "a temp capture was left behind"; fi
}

timeout 120 "$longca" run "${sweep[@]}" --workers 2 --capture "$tmp/spawned.lccap" >"$tmp/spawned.csv" 2>"$tmp/spawned.err"
rc=$?
[ $rc -eq 0 ] || { fail spawned "exit status $rc"; cat "$tmp/spawned.err"; }
check_capture spawned "$tmp/spawned.lccap"

timeout 120 mpirun -np 3 --oversubscribe --enable-recovery "$longca" run "${sweep[@]}" --capture "$tmp/mpirun.lccap" \
    >"$tmp/mpirun.csv" 2>"$tmp/mpirun.err"
rc=$?
[ $rc -eq 0 ] || { fail "mpirun -np 3" "exit status $rc"; cat "$tmp/mpirun.err"; }
check_capture "mpirun -np 3" "$tmp/mpirun.lccap"

[ $failures -eq 0 ] && echo "session_run_test: ok"
[ $failures -eq 0 ]
