#!/bin/bash
# The terminal conventions of the front end, under tmux against real CPU worker ranks:
# Setup's choices persist in $XDG_CONFIG_HOME/longca/longca.conf (chosen, quit, restarted, still
# chosen; its "color = off" holds for view too); Setup's validation message is whole at 100 and
# 160 columns; NO_COLOR draws without colour; TERM=dumb gets one line (view: pointing to
# `view | cat`; the live front end: to longca run); a long capture path in the title ends with
# its file name after "...", the capture's source line and a long device cut with "..."; the
# Timeline axis keeps the run's times after panning; `view --compare` adds the "vs B" column;
# `view | cat` keeps the CP columns and, with --compare, the "vs B" column. Every wait has a
# deadline.
set -u
LONGCA=$(realpath "${1:?usage: tui_conventions_test.sh PATH_TO_LONGCA}")
source "$(dirname "$0")/tui_lib.sh"
# start NAME WIDTH COMMAND: a fresh window running COMMAND, its exit status kept in $WORK/NAME.rc.
# The old window goes after the new one exists: killing the server's last session ends the
# server, and a session started while it shuts down dies with it ("server exited unexpectedly").
start() {
    tm rename-session -t tui old 2>/dev/null
    tm new-session -d -s tui -x "$2" -y 30 "$3; echo \$? > '$WORK/$1.rc'; sleep 600"
    tm kill-session -t old 2>/dev/null
}
quit_and_wait() { # NAME
    keys q
    local deadline=$((SECONDS + 60))
    while [ ! -s "$WORK/$1.rc" ] && ((SECONDS < deadline)); do sleep 0.2; done
    [ -s "$WORK/$1.rc" ] || fail "$1 did not exit after q"
}

# --- a capture to view: a ring run over 2 spawned CPU workers and a plain run.
"$LONGCA" run --workers 2 --cp none,ring --gpus 1,2 --seqlen 512 --warmup 1 --iters 2 --quiet \
    --capture "$WORK/ring.lccap" >"$WORK/run.out" 2>&1 || { cat "$WORK/run.out"; fail "the capture run"; }
grep -q "ring x2" "$WORK/run.out" && grep -Eq "^cpu +causal +512 .* - " "$WORK/run.out" ||
    fail "--cp none,ring --gpus 1,2 did not run none at 1 and ring at 2: $(cat "$WORK/run.out")"
echo "ok: --cp none,ring --gpus 1,2 ran none x1 and ring x2"

# --- 1. Settings persist: choose sliding_window and counters off, quit, restart.
start live1 100 "'$LONGCA' --workers 2"
wait_for 120 "live, 2 workers"
wait_for 5 "^Kernels "
goto_field 1
keys l
toggle_choice sliding_window
keys h
goto_field 16
keys l
toggle_choice off
keys h
field Masks | grep -q "causal,sliding_window" || fail "masks not chosen: $(field Masks)"
# Setup's validation message, whole: GPUs 2 only without a CP method.
goto_field 13
keys l
toggle_choice 2
toggle_choice 1
keys h
wait_for 5 "needs a context-parallel"
msg=$(screen | grep -A3 "needs a context-parallel" | tr -s ' \n' ' ')
echo "$msg" | grep -q -- "--gpus 2 needs a context-parallel method (--cp ring, \.\.\.)" ||
    fail "Setup's message cut at 100 columns: $msg"
tm resize-window -t tui -x 160 -y 30
sleep 0.5
msg=$(screen | grep -A3 "needs a context-parallel" | tr -s ' \n' ' ')
echo "$msg" | grep -q -- "(--cp ring, \.\.\.)" || fail "Setup's message cut at 160 columns: $msg"
echo "ok: Setup's validation message whole at 100 and 160 columns"
goto_field 13
keys l
toggle_choice 1
toggle_choice 2
keys h
quit_and_wait live1
conf=$XDG_CONFIG_HOME/longca/longca.conf
[ -f "$conf" ] || fail "no $conf after quitting"
grep -q "^masks = causal,sliding_window$" "$conf" || fail "masks not saved: $(cat "$conf")"
grep -q "^counters = off$" "$conf" || fail "counter mode not saved: $(cat "$conf")"
[ "$(stat -c %a "$XDG_CONFIG_HOME/longca")" = 700 ] || fail "the settings folder is not private"
ls "$XDG_CONFIG_HOME/longca" | grep -q partial && fail "a temp file left beside the settings"
start live2 100 "'$LONGCA' --workers 2"
wait_for 120 "live, 2 workers"
wait_for 5 "^Kernels "
field Masks | grep -q "causal,sliding_window" || fail "masks not restored: $(field Masks)"
field Counters | grep -q "off" || fail "counter mode not restored: $(field Counters)"
quit_and_wait live2
echo "ok: Setup's choices and counter mode persist in $conf"

# --- 2. NO_COLOR: no colour escapes (with colours: some).
start colour 100 "'$LONGCA' view '$WORK/ring.lccap'"
wait_for 60 "Workers:"
tm capture-pane -e -p -t tui | grep -q $'\e\\[[0-9;]*3[0-7]m\|\e\\[[0-9;]*38;5' || fail "no colour without NO_COLOR"
start nocolour 100 "NO_COLOR=1 '$LONGCA' view '$WORK/ring.lccap'"
wait_for 60 "Workers:"
tm capture-pane -e -p -t tui | grep -q $'\e\\[[0-9;]*3[0-7]m\|\e\\[[0-9;]*38;5\|\e\\[[0-9;]*4[0-7]m' &&
    fail "colour escapes under NO_COLOR"
echo "ok: NO_COLOR draws without colour"
# The settings' "color = off" (kept by the live front end) holds for view too.
cp "$conf" "$WORK/conf.saved"
sed -i 's/^color = .*/color = off/' "$conf"
grep -q "^color = off$" "$conf" || echo "color = off" >>"$conf"
start setoff 100 "'$LONGCA' view '$WORK/ring.lccap'"
wait_for 60 "Workers:"
tm capture-pane -e -p -t tui | grep -q $'\e\\[[0-9;]*3[0-7]m\|\e\\[[0-9;]*38;5\|\e\\[[0-9;]*4[0-7]m' &&
    fail "colour escapes in view with color = off in $conf"
cp "$WORK/conf.saved" "$conf"
echo "ok: color = off in the settings draws view without colour"

# --- 3. A terminal that cannot place the cursor: one line, exit status 2.
# window name, command, the line expected, what passed
dumb_terminal() {
    start "$1" 100 "$2"
    wait_for 60 "cannot place the cursor"
    sleep 0.3
    [ "$(cat "$WORK/$1.rc")" = 2 ] || fail "$4: exit status $(cat "$WORK/$1.rc")"
    screen | tr -d '\n' | grep -qF "$3" || fail "$4: $(screen | tr -d '\n')"
    echo "ok: $4"
}
dumb_terminal dumb "TERM=dumb '$LONGCA' view '$WORK/ring.lccap'" \
    "TERM=dumb cannot place the cursor (the results table: longca view FILE | cat)" \
    "TERM=dumb gets one line and exit status 2"
# The live front end: one line pointing to longca run, before any worker starts.
dumb_terminal dumblive "TERM=dumb '$LONGCA' --workers 2" \
    "longca: TERM=dumb cannot place the cursor (the same sweep headless: longca run)" \
    "the live front end under TERM=dumb points to longca run"

# --- 4. The title at 80 columns: a long path ends with its file name after "...".
deep=$WORK/a-rather-long-folder-name-for-captures/another-level-of-folders-here/and-one-more
mkdir -p "$deep"
cp "$WORK/ring.lccap" "$deep/ring-2026-session.lccap"
start title 80 "'$LONGCA' view '$deep/ring-2026-session.lccap' --compare '$WORK/ring.lccap'"
wait_for 60 "Workers:"
screen | head -1 | grep -q "longca view  \.\.\..*/ring-2026-session.lccap " || fail "title: $(screen | head -1)"
echo "ok: title at 80 columns: $(screen | head -1 | sed 's/  */ /g')"
# What wrote the capture (version, host, command line) beside Workers: cut at 80 columns, marked so.
screen | grep "^Workers: " | grep -q "longca [0-9.]* (.*) on .*\.\.\.$" || fail "the capture's source line: $(screen | grep "^Workers: ")"
echo "ok: the capture's source at 80 columns: $(screen | grep "^Workers: " | sed 's/  */ /g')"
# A worker's device in its 34-column cell: whole, or its start and "...".
device=$(grep -m1 '"type":"hello"' "$WORK/ring.lccap" | sed 's/.*"device":"\([^"]*\)".*/\1/')
[ ${#device} -gt 34 ] && device="${device:0:31}..."
screen | grep -E "^  rank 1 " | grep -qF "$device" || fail "rank 1's device is not '$device': $(screen | grep -E "^  rank 1 ")"
echo "ok: rank 1's device cell: $device"

# --- 5. view --compare: the vs B column (a capture against itself: +0.0%).
tm resize-window -t tui -x 140 -y 30
sleep 0.5
screen | grep -q "vs B" || fail "no vs B column"
[ "$(screen | grep -cE '^ +[01] cpu .* \+0\.0%$')" -eq 2 ] || fail "vs B cells against the same capture are not +0.0%"
echo "ok: view --compare shows vs B"

# --- 6. Timeline: after zooming and panning right the axis keeps the run's times.
keys 3
wait_for 30 "comp-only"
axis0=$(screen | grep -A1 -E "^ +-*\+" | tail -1)
keys +
keys +
keys Right
keys Right
sleep 0.3
first=$(screen | grep -E "t \(ms\)" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { print $i; exit } }')
[ -n "$first" ] || fail "no axis labels after panning"
awk -v f="$first" 'BEGIN { exit !(f > 0) }' || fail "the axis restarts at $first after panning"
echo "ok: the Timeline axis starts at $first ms after panning (not 0)"
quit_and_wait title

# --- 7. view | cat prints the CP columns too.
"$LONGCA" view "$WORK/ring.lccap" | cat >"$WORK/cat.out"
grep -q "busbw" "$WORK/cat.out" && grep -q "ring x2" "$WORK/cat.out" || fail "view | cat lost the CP columns: $(cat "$WORK/cat.out")"
echo "ok: view | cat keeps the CP columns"
# --- 8. view --compare | cat keeps Runs' "vs B" column (against itself: +0.0% same).
"$LONGCA" view "$WORK/ring.lccap" --compare "$WORK/ring.lccap" | cat >"$WORK/cat_vs.out"
head -1 "$WORK/cat_vs.out" | grep -q "busbw .* vs B$" || fail "view --compare | cat has no vs B column: $(head -1 "$WORK/cat_vs.out")"
[ "$(grep -cE '^cpu .* \+0\.0% same$' "$WORK/cat_vs.out")" -eq 2 ] || fail "vs B cells in view --compare | cat: $(cat "$WORK/cat_vs.out")"
echo "ok: view --compare | cat keeps the vs B column"
echo "tui_conventions_test: all passed"
