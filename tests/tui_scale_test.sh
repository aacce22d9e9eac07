#!/bin/bash
# The Scale screen under tmux: `longca view` of a capture with a ring run on 2 CPU workers
# shows, for that run's spec, a row of predicted TFLOP/s per GPU count for every CP method (filled
# in between frames), the measured run in brackets at 2 GPUs, and the chart; R predicts again.
set -u
LONGCA=$(realpath "${1:?usage: tui_scale_test.sh PATH_TO_LONGCA}")
source "$(dirname "$0")/tui_lib.sh"

timeout 300 "$LONGCA" run --kernel cpu --cp ring --gpus 2 --workers 2 --mask causal --seqlen 1k --heads 8:8 \
    --head-dim 64 --warmup 1 --iters 3 --quiet --capture "$WORK/ring.lccap" >/dev/null || fail "the ring run"
tm new-session -d -s tui -x 120 -y 34 "'$LONGCA' view '$WORK/ring.lccap'; sleep 600"
wait_for 10 "runs 1/1"
tm send-keys -t tui 5
wait_for 10 "^Scale: predicted TFLOP/s per GPU .* cp=ring x2"
wait_for 10 "assumed 0.05 TFLOP/s: no calibration"
# Every method's row filled in (no "..." left), ring's 2-GPU cell with the measured run beside it.
wait_for 30 "^f balanced "
deadline=$((SECONDS + 60))
while screen | grep -q '\.\.\.' && ((SECONDS < deadline)); do sleep 0.5; done
screen | grep -q '\.\.\.' && fail "predictions not all computed"
for m in allgather ring ulysses usp double_ring balanced; do
    screen | grep -Eq "^[a-f] $m +[0-9]" || fail "no predicted row for $m"
done
screen | grep -Eq "^b ring +[0-9.]+ \([0-9.]+\)" || fail "the measured ring run is not beside its prediction"
screen | grep -Eq "^ +[0-9.]+ \| .*B" || fail "the measured point is not on the chart"
tm send-keys -t tui R
wait_for 10 "^a allgather"
tm send-keys -t tui q
echo "tui_scale_test: ok"
