#!/usr/bin/env bash
# Long reps: a run estimated at over a minute a rep says so before its reps start (one line on
# stderr, an "estimate" event in the capture), and Ctrl-C stops a rep in the middle instead of
# at its end: in-process between the CPU kernel's query tiles, and under mpirun (SIGINT to rank
# 0) in the CP steps of a ring run on two workers. Each run would take minutes; each is
# cancelled within seconds, so the test takes seconds.
set -u
longca=$1
tmp=$(mktemp -d)
failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=2

# Waits up to $2 seconds for the extended regex $1 in file $3.
wait_for() { for _ in $(seq $(($2 * 10))); do grep -Eq "$1" "$3" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# Sends SIGINT to pid $1 and waits for job $2; sets rc and took (seconds).
interrupt() {
    local start=$SECONDS
    kill -INT "$1"
    wait "$2"
    rc=$?
    took=$((SECONDS - start))
}
# Stops job $job that never got where it should and fails with $1.
give_up() {
    kill "$job" 2>/dev/null
    wait "$job"
    fail "$1: $(cat "$tmp/err")"
}

# 1. S=128K causal on the CPU kernel: 1.8e13 FLOP, minutes a rep on two cores (yet under a
# minute at the bound no CPU core reaches, so a rate is measured). The notice comes before the
# inputs are made, then Ctrl-C.
timeout 120 "$longca" run --kernel cpu --seqlen 128k --capture "$tmp/a.lccap" >"$tmp/out" 2>"$tmp/err" &
job=$!
if wait_for "over a minute a rep" 30 "$tmp/err"; then
    interrupt "$job" "$job"
    line=$(grep "over a minute a rep" "$tmp/err")
    echo "$line" | grep -Eq "^longca run: run 1 \(cpu causal S=131072 .*\) will take over a minute a rep: ~[0-9.]+ (min|h) a rep \(1.76e\+13 FLOP at [0-9.]+ GFLOP/s, measured here on a [0-9]+-token full mask\); Ctrl-C cancels$" \
        && ok "notice: $line" || fail "notice: $line"
    grep -q '"type":"estimate","run":0,.*"rep_s":' "$tmp/a.lccap" && ok "the capture has the estimate event" \
        || fail "no estimate event in the capture"
    [ "$rc" = 1 ] && [ "$took" -le 10 ] && grep -q "cancelled" "$tmp/out" && ok "Ctrl-C after the notice: exit 1 in ${took} s" \
        || fail "Ctrl-C after the notice: rc $rc after ${took} s $(cat "$tmp/out" "$tmp/err")"
else
    give_up "no notice within 30 s"
fi

# A short run says nothing of the kind.
"$longca" run --kernel cpu --seqlen 256 --iters 1 --warmup 0 --quiet >/dev/null 2>"$tmp/err"
grep -q "over a minute" "$tmp/err" && fail "a short run was announced as long" || ok "a short run: no notice"

# 2. One rep of the reference kernel at S=16K: ~40 s of work a rep on two cores, made in a
# second. Ctrl-C during the first rep stops it between query rows.
timeout 120 "$longca" run --kernel cpu_ref --seqlen 16k --capture "$tmp/b.lccap" >"$tmp/out" 2>"$tmp/err" &
job=$!
if wait_for '"phase":"warmup","iter":0' 30 "$tmp/b.lccap"; then
    sleep 1
    interrupt "$job" "$job"
    [ "$rc" = 1 ] && [ "$took" -le 5 ] && grep -q "cancelled in the forward" "$tmp/out" \
        && ok "Ctrl-C inside a rep: exit 1 in ${took} s: $(grep -o 'cancelled.*' "$tmp/out")" \
        || fail "Ctrl-C inside a rep: rc $rc after ${took} s $(cat "$tmp/out" "$tmp/err")"
else
    give_up "the rep never started"
fi

# 3. Under mpirun: a ring run over two workers, one rep ~40 s; SIGINT to rank 0 in the first
# rep. The workers leave out their remaining kernels, keep the ring's exchange, and agree after
# the rep: one row, cancelled, within seconds.
if ! command -v mpirun >/dev/null; then
    echo "skipped (mpirun not found): the CP cancel"
else
    timeout 120 mpirun --oversubscribe -x OMP_NUM_THREADS=1 -np 3 "$longca" run --kernel cpu_ref --cp ring --gpus 2 \
        --seqlen 16k --capture "$tmp/c.lccap" >"$tmp/out" 2>"$tmp/err" &
    job=$!
    descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
    if wait_for '"phase":"warmup","iter":0' 60 "$tmp/c.lccap"; then
        sleep 1
        front=""
        for p in $(descendants "$job"); do
            tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=0" && front=$p
        done
        interrupt "$front" "$job"
        rows=$(grep -c "ring x2" "$tmp/out")
        [ "$rc" = 1 ] && [ "$took" -le 10 ] && [ "$rows" = 1 ] && grep -q "cancelled" "$tmp/out" \
            && ok "SIGINT to rank 0 inside a ring rep: exit 1 in ${took} s: $(grep -o 'cancelled.*' "$tmp/out")" \
            || fail "SIGINT inside a ring rep: rc $rc after ${took} s $(cat "$tmp/out" "$tmp/err")"
    else
        give_up "the ring rep never started"
    fi
fi
exit $failed
