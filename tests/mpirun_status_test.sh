#!/usr/bin/env bash
# Exit status through `mpirun --enable-recovery`, which on its own exits 0 whatever its ranks
# return (Open MPI 4.1, MPI_Abort included): rank 0 stops mpirun when it fails, so the job
# exits 0 when every run succeeded and 1 on a failure (bad input too: 2 cannot pass through such
# a job; plain mpirun passes 2, see cp_mpi_test). A worker killed with SIGKILL in the middle of
# a CP run: its peers leave the exchange when rank 0 says it is lost, and the job ends by itself
# within seconds, exit 1, one row for the run naming the lost rank, the lost rank reported on
# stderr and the summary as the last line. A rank that never starts ends the job after 60 s.
set -u
longca=$1
command -v mpirun >/dev/null || { echo "skipped: mpirun not found"; exit 77; }
tmp=$(mktemp -d)
failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }
mpi() { timeout 120 mpirun --oversubscribe --enable-recovery -x OMP_NUM_THREADS=1 "$@"; }
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/mpi_lib.sh"

mpi -np 3 "$longca" run --seqlen 256 --iters 1 --warmup 0 --quiet >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] && [ "$(tail -1 "$tmp/err")" = "longca run: 0 of 1 run failed" ] && ok "all ran -> 0" \
    || fail "all ran: rc $rc $(cat "$tmp/err")"

mpi -np 3 "$longca" run --kernel bogus >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && grep -q "unknown kernel 'bogus'" "$tmp/err" && ok "bad input -> 1: $(grep longca "$tmp/err")" \
    || fail "bad input: rc $rc $(cat "$tmp/err")"

# A run out of memory (inputs of S=64K, 64:8 heads, d=128 under a 1.5 GB address space), the
# other one fine: exit 1 and the summary.
if [ -n "${ASAN_OPTIONS:-}" ]; then
    echo "note: sanitizer build: the address-space limit would stop the sanitizer, not the run (skipped)"
else
    (ulimit -v 1500000 && mpi -np 2 "$longca" run --seqlen 256,64k --heads 64:8 --head-dim 128 --iters 1 --warmup 0 \
        --quiet >"$tmp/out" 2>"$tmp/err")
    rc=$?
    [ "$rc" = 1 ] && grep -q "out of memory" "$tmp/out" && [ "$(tail -1 "$tmp/err")" = "longca run: 1 of 2 runs failed" ] \
        && ok "out of memory -> 1: $(tail -1 "$tmp/err")" || fail "out of memory: rc $rc $(cat "$tmp/out" "$tmp/err")"
fi

# Rank 2 of a ring run over ranks 1-3 killed mid-run. longca's last line is the summary; mpirun
# itself may print its "PMIX ERROR: BAD-PARAM" after it (the launcher's, not a longca process's).
longca_last() { grep '^longca' "$1" | tail -1; }
mpi -np 4 "$longca" run --cp ring --gpus 3 --seqlen 6k --iters 400 --warmup 0 --quiet --capture "$tmp/c.lccap" \
    >"$tmp/out" 2>"$tmp/err" &
job=$!
if ! kill_rank "$job" 2 "$tmp/c.lccap" 300; then
    fail "no rank 2 under mpirun (or the run never started): $(cat "$tmp/err")"
else
    rc=$job_rc took=$job_took
    rows=$(grep -c "ring x3" "$tmp/out")
    # Detected within 5 s of silence; ranks 1 and 3 then leave the exchange (and the job) at once.
    if [ "$rc" = 1 ] && [ "$took" -le 15 ] && [ "$rows" = 1 ] && grep -q "rank 2: rank 2 was lost during the run" "$tmp/out" \
        && grep -q "worker rank 2 lost" "$tmp/err" && [ "$(longca_last "$tmp/err")" = "longca run: 1 of 1 run failed; 1 worker lost" ]; then
        ok "worker killed mid-run -> 1 in ${took} s: $(grep "rank 2 lost" "$tmp/err"); $(longca_last "$tmp/err")"
    else
        fail "worker killed: rc $rc after ${took} s, $rows rows"$'\n'"$(cat "$tmp/out" "$tmp/err")"
    fi
fi

# A process of the job that never starts (rank 2 exits before MPI does): MPI's start-up would
# wait for it for good; after 60 s rank 0 says so and ends the job, exit 1.
# (The sanitizer pass of CI, LONGCA_TEST_QUICK, leaves this minute of waiting to the release pass.)
if [ -n "${LONGCA_TEST_QUICK:-}" ]; then echo "note: quick pass: the start-up bound is checked in the release pass"; else
start=$SECONDS
mpi -np 3 sh -c '[ "$OMPI_COMM_WORLD_RANK" = 2 ] && exit 0; exec "$0" run --seqlen 256 --quiet' "$longca" \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
took=$((SECONDS - start))
[ "$rc" = 1 ] && [ "$took" -le 90 ] && grep -q "MPI did not start within 60 s" "$tmp/err" \
    && ok "a rank that never starts -> 1 in ${took} s: $(grep longca "$tmp/err")" \
    || fail "a rank that never starts: rc $rc after ${took} s $(cat "$tmp/err")"
fi

[ "$failed" = 0 ] && echo "mpirun_status_test: all checks passed" || { echo "mpirun_status_test: FAILED"; exit 1; }
