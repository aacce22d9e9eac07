#!/bin/bash
# Long reps in the live TUI (tmux, 2 spawned CPU workers): F7 stops a rep in the middle (one rep
# of the CPU kernel at S=32K is about half a minute of work on a worker's core; cancelled within
# seconds of F7), and a run estimated at over a minute a rep says so on Runs before its reps
# start (S=256K), then F7 cancels it too. The sanitizer pass leaves it to the release pass (CI
# time; tests/long_rep_test.sh runs the same cancel path headless in both).
set -u
LONGCA=$(realpath "${1:?usage: tui_long_rep_test.sh PATH_TO_LONGCA}")
[ -n "${LONGCA_TEST_QUICK:-}" ] && { echo "skipped: sanitizer pass (LONGCA_TEST_QUICK), run in the release pass"; exit 77; }
source "$(dirname "$0")/tui_lib.sh"
cd "$WORK" || exit 1
mkdir -p "$XDG_CONFIG_HOME/longca" # Setup starts at S=32K (no keys to choose it)
echo "seq_lengths=32K" >"$XDG_CONFIG_HOME/longca/longca.conf"
tm new-session -d -s tui -x 120 -y 30 \
    "'$LONGCA' --capture '$WORK/session.lccap'; echo \$? > '$WORK/exit_status'; sleep 600"
wait_for 60 "live, 2 workers"
wait_for 5 "^Kernels "

# Setup: sequence length $1 instead of $2.
choose() {
    keys 1
    goto_field 7
    keys l
    toggle_choice "$1"
    toggle_choice "$2"
    keys h
    field "Seq lengths" | grep -Eq "^Seq lengths +$1 " || fail "length not chosen: $(field 'Seq lengths')"
}

# 1. F7 in the middle of a rep.
field "Seq lengths" | grep -Eq "^Seq lengths +32K " || fail "Setup did not start at 32K: $(field 'Seq lengths')"
keys F5
wait_for 30 "warmup 0/1"
sleep 1
start=$SECONDS
keys F7
wait_for 20 "Sweep finished: 0 done, 0 failed, 1 cancelled"
took=$((SECONDS - start))
((took <= 5)) || fail "F7 took ${took} s to cancel a rep"
echo "ok: F7 in a rep at S=32K: cancelled in ${took} s"

# 2. The estimate on Runs before the reps, then F7.
choose 256K 32K
keys F5
wait_for 30 "over a minute a rep: ~[0-9.]+ (min|h) a rep \("
echo "ok: Runs says: $(screen | grep -o 'over a minute a rep.*' | head -1)"
keys F7
wait_for 30 "Sweep finished: 0 done, 0 failed, 2 cancelled"
grep -q '"type":"estimate"' "$WORK/session.lccap" || fail "no estimate event in the capture"
echo "ok: cancelled after the estimate; the capture has it"

keys q
for _ in $(seq 100); do [ -s "$WORK/exit_status" ] && break; sleep 0.2; done
[ "$(cat "$WORK/exit_status" 2>/dev/null)" = 0 ] || fail "quit with status $(cat "$WORK/exit_status" 2>/dev/null)"
exit 0
