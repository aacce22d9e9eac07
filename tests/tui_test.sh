#!/bin/bash
# End to end: the live TUI under tmux, with `longca` spawning 2 real CPU worker ranks.
# Chooses causal and sliding-window masks at 1K and 2K, runs the sweep and checks the results
# table (TFLOP/s cells are numbers), the Timeline breakdown (percentages sum to 100 +- 0.1) and
# that the Timeline shows the run picked on Runs;
# resizes mid-run; opens help; loads the example kernel plugin on Setup's Kernel libs and runs it
# (reloaded from the settings at the next start; a second copy and a vanished file listed there are
# passed over); cancels a sweep; makes a run fail on a worker and checks its rank and reason show;
# quits with status 0 and no process left; then `longca view` of the capture shows the same results
# table; and under mpirun rank 0 draws. Every wait has a deadline.
set -u
LONGCA=$(realpath "${1:?usage: tui_test.sh PATH_TO_LONGCA}")
source "$(dirname "$0")/tui_lib.sh"
"$LONGCA" --help >/dev/null 2>&1 || { echo "FAIL: $LONGCA does not run"; exit 1; }

cd "$WORK" || exit 1
tm new-session -d -s tui -x 100 -y 30 \
    "'$LONGCA' --capture '$WORK/session.lccap'; echo \$? > '$WORK/exit_status'; sleep 600"

# 1. Setup appears once both workers said hello.
wait_for 60 "live, 2 workers"
wait_for 5 "^Kernels "

# 2. Masks: causal (the default) and sliding_window; sequence lengths 1K and 2K.
goto_field 1
keys l
toggle_choice sliding_window
keys h
field Masks | grep -q "causal,sliding_window" || fail "masks not chosen: $(field Masks)"
goto_field 7
keys l
toggle_choice 2K
keys h
field "Seq lengths" | grep -q "1K,2K" || fail "sequence lengths not chosen: $(field 'Seq lengths')"
# One timed iteration keeps the sweep short under the sanitizers too.
goto_field 14
keys l
toggle_choice 1
keys h
field Iterations | grep -Eq "^Iterations +1 " || fail "iterations not chosen: $(field Iterations)"
wait_for 5 "Start 4 runs"

# 3. Start; resize while it runs; wait for the four result rows.
keys F5
wait_for 10 "Running [0-9]+ of 4"
tm resize-window -t tui -x 80 -y 24
sleep 0.5
wait_for 5 "F1Help"
screen | head -1 | grep -q "runs" || fail "title lost after resizing to 80x24"
tm resize-window -t tui -x 100 -y 30
wait_for 600 "Sweep finished: 4 done"

rows=$(screen | grep -E "^ +[0-3] (cpu|cpu_ref) ")
[ "$(echo "$rows" | wc -l)" -eq 4 ] || fail "expected 4 result rows, got: $rows"
# Columns at 100 wide: ... ms TFLOP/s memory(2 words) check: TFLOP/s is the 4th field from the end.
echo "$rows" | awk '{ t = $(NF-3); if (t !~ /^[0-9]+(\.[0-9]+)?$/) { print "bad TFLOP/s cell: " t " in: " $0; bad = 1 } }
                    END { exit bad }' || fail "TFLOP/s cells are not numbers"
echo "$rows" | grep -q "pass" || fail "no check passed"

# 4. Timeline: per-rank breakdown percentages sum to 100 +- 0.1.
keys 3
wait_for 5 "comp-only"
pct=$(screen | grep -E "^ +% ")
[ -n "$pct" ] || fail "no breakdown percentages"
echo "$pct" | awk '{ s = $2 + $3 + $4 + $5 + $6; if (s < 99.9 || s > 100.1) { print "sum " s ": " $0; bad = 1 } }
                   END { exit bad }' || fail "breakdown percentages do not sum to 100"
# Before any pick it shows the latest run to send intervals (the two workers finish in either
# order: the capture, written as the events arrive, says which); then the run picked on Runs (2).
latest=$(grep '^{"type":"intervals"' "$WORK/session.lccap" | tail -1 | sed 's/^{"type":"intervals","run":\([0-9]*\),.*/\1/')
screen | grep -Eq "^Run $latest \[" || fail "Timeline does not show the latest run timed ($latest) before any pick"
keys 2
keys Home
keys 3
wait_for 5 "^Run 0 \["
wait_for 5 "comp-only"

# 5. Help opens (F1), and ? too.
keys F1
wait_for 5 "Breakdown: Holistic Trace Analysis"
keys 1
keys '?'
wait_for 5 "^Keys"

# 6. Kernel libs (--kernel-lib on Setup): a file that is no plugin gets one line; the example
#    plugin loads, its kernel joins Kernels and runs, checked, on the workers spawned before it
#    was loaded; then it is deselected again.
example=$(dirname "$LONGCA")/plugins/liblongca_example.so
if [ -f "$example" ]; then
    keys 1
    goto_field 17
    field "Kernel libs" | grep -q "liblongca_example" && fail "example loaded at start: $(field 'Kernel libs')"
    keys l
    keys End
    keys Space
    wait_for 5 "File: _"
    tm send-keys -t tui -l "$WORK/session.lccap"
    keys Enter
    wait_for 5 "not loaded: .*session.lccap"
    keys Space
    tm send-keys -t tui -l "$example"
    keys Enter
    wait_for 5 "loaded .*liblongca_example.so: 1 kernel added"
    wait_for 5 "\[x\] liblongca_example.so"
    keys h
    goto_field 0
    keys l
    toggle_choice example
    keys h
    field Kernels | grep -q "cpu,example" || fail "example not chosen: $(field Kernels)"
    keys F5
    wait_for 600 "Sweep finished: 12 done, 0 failed"
    screen | grep -Eq "^ +[0-9]+ example .*pass" || fail "no checked example run on the Runs screen"
    keys 1
    goto_field 0
    keys l
    toggle_choice example
    keys h
else
    echo "note: no example plugin beside $LONGCA"
fi

# 7. Cancel a sweep: 8 runs of 4K, cancelled at once.
keys 1
goto_field 7
keys l
toggle_choice 4K
keys h
keys F5
wait_for 10 "Running [0-9]+ of (1[0-9]|[0-9])"
keys F7
wait_for 120 "Sweep finished: [0-9]+ done, [0-9]+ failed, [1-9][0-9]* cancelled"

# 8. A run that fails on a worker. If this build has a kernel that needs a CUDA device, the CPU
#    workers refuse it (rank and reason in the message); in any build, killing the worker of a
#    running run fails it with that rank.
keys 1
goto_field 7
keys l
toggle_choice 4K
toggle_choice 2K
keys h
goto_field 0
keys l
wait_for 5 "Kernels \(any\)"
gpu_kernel=$(screen | grep -Eo "\[[ x]\] [a-z0-9_]+" | awk '{print $NF}' | grep -vE "^(cpu|cpu_ref|example)$" | head -1)
if [ -n "$gpu_kernel" ]; then
    toggle_choice "$gpu_kernel"
    toggle_choice cpu
    keys h
    goto_field 10 # Dtype: bf16, which the GPU kernel takes, so the device is what it lacks
    keys l
    toggle_choice bf16
    toggle_choice fp32
    keys h
    keys F5
    wait_for 120 "Sweep finished"
    keys End
    wait_for 10 "needs a CUDA device; rank [12]"
    keys 1
    goto_field 10
    keys l
    toggle_choice fp32
    toggle_choice bf16
    keys h
    goto_field 0
    keys l
    toggle_choice cpu
    toggle_choice "$gpu_kernel"
else
    echo "note: no CUDA kernel in this build"
fi
keys h
# 8K with 100 iterations keeps the run busy while its worker (rank 1) is killed.
goto_field 7
keys l
toggle_choice 8K
toggle_choice 1K
keys h
goto_field 14
keys l
toggle_choice 100
keys h
keys F5
wait_for 20 "Running [0-9]+ of"
pid=$(screen | grep -Eo "rank 1 .*pid [0-9]+" | grep -Eo "pid [0-9]+" | awk '{print $2}')
[ -n "$pid" ] || fail "no pid shown for rank 1"
kill -9 "$pid"
wait_for 60 "LOST"
wait_for 60 "FAIL r1"
# The TUI keeps working: screens switch and help opens.
keys Tab
keys F1
wait_for 5 "^Keys"

# 9. Quit: exit status 0, no process left behind.
keys q
deadline=$((SECONDS + 60))
while [ ! -f "$WORK/exit_status" ] && ((SECONDS < deadline)); do sleep 0.2; done
[ -f "$WORK/exit_status" ] || fail "longca did not exit within 60 s of q"
status=$(cat "$WORK/exit_status")
[ "$status" = 0 ] || fail "exit status $status"
# The tmux server's own command line names the binary: stop it before looking.
last_screen=$(screen)
tm kill-server 2>/dev/null
sleep 1
left=$(pgrep -f "^$LONGCA") # the front end and its workers (not this script, which names it too)
[ -z "$left" ] || { echo "$last_screen"; fail "processes left: $(ps -o pid,args -p "$(echo $left | tr ' ' ,)")"; }

# 10. `longca view` of the capture shows the same results table.
[ -f "$WORK/session.lccap" ] || fail "no capture written"
tm new-session -d -s tui -x 100 -y 30 "'$LONGCA' view '$WORK/session.lccap'; echo \$? > '$WORK/view_status'; sleep 600"
wait_for 10 "longca view"
view_rows=$(screen | grep -E "^ +[0-3] (cpu|cpu_ref) ")
[ "$view_rows" = "$rows" ] || fail "view shows a different table:
live:
$rows
view:
$view_rows"
keys q
deadline=$((SECONDS + 10))
while [ ! -f "$WORK/view_status" ] && ((SECONDS < deadline)); do sleep 0.2; done
[ "$(cat "$WORK/view_status" 2>/dev/null)" = 0 ] || fail "longca view did not quit with status 0"
# 11. Under mpirun: rank 0 draws (keys from the terminal, though mpirun holds stdin), ranks 1-2 work.
# kill-server returns before the server has gone; a session started meanwhile dies with it.
tm kill-server 2>/dev/null
sleep 1
# The settings may remember plugin files another build folder made (the same plugin, a second copy)
# or that are gone since: passed over without a word.
conf=$XDG_CONFIG_HOME/longca/longca.conf
if [ -f "$example" ]; then
    grep -q "^kernel_libs = \(.*:\)\?$(realpath "$example")\(:\|$\)" "$conf" ||
        fail "settings saved: $(grep kernel_libs "$conf")"
    mkdir -p "$WORK/other_build"
    cp "$example" "$WORK/other_build/"
    sed -i "s|^kernel_libs = .*|&:$WORK/other_build/liblongca_example.so:$WORK/gone/liblongca_gone.so|" "$conf"
fi
tm new-session -d -s tui -x 100 -y 30 \
    "mpirun -np 3 '$LONGCA' --capture '$WORK/mpirun.lccap'; echo \$? > '$WORK/mpirun_status'; sleep 600"
wait_for 60 "live, 2 workers"
screen | grep -q "settings" && fail "settings' plugins: $(screen | grep settings)"
keys 2
wait_for 5 "rank 2 .*cpu ready"
# The settings file saved at the last quit loads the plugin again.
if [ -f "$example" ]; then
    keys 1
    goto_field 17
    keys l
    screen | grep -q "\[x\] liblongca_example.so" || fail "plugin not loaded again from the settings"
fi
keys q
deadline=$((SECONDS + 60))
while [ ! -f "$WORK/mpirun_status" ] && ((SECONDS < deadline)); do sleep 0.2; done
[ "$(cat "$WORK/mpirun_status" 2>/dev/null)" = 0 ] || fail "mpirun -np 3 longca did not quit with status 0"
echo "tui_test: all passed"
