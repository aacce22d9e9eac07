# The tmux harness of the TUI tests, sourced by them after setting LONGCA (not a test itself):
# skips without tmux; a fresh $WORK with a private tmux server (the user's sessions are never
# touched), both removed on exit; Setup's settings and state in private XDG directories (Setup
# starts from its defaults, nothing is left behind); the window is the tmux session "tui".
command -v tmux >/dev/null || { echo "skipped: tmux is not installed"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
WORK=$(mktemp -d)
SOCK="$WORK/tmux.sock"
tm() { tmux -S "$SOCK" "$@"; }
cleanup() {
    tm kill-server 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
export XDG_CONFIG_HOME=$WORK/config XDG_STATE_HOME=$WORK/state
mkdir -p "$XDG_CONFIG_HOME" "$XDG_STATE_HOME"

screen() { tm capture-pane -p -t tui 2>/dev/null; }
fail() {
    echo "FAIL: $*"
    echo "---- screen ----"
    screen
    exit 1
}
# wait_for SECONDS PATTERN: until the screen shows PATTERN (grep -E).
wait_for() {
    local deadline=$((SECONDS + $1))
    while ((SECONDS < deadline)); do
        screen | grep -Eq -- "$2" && return 0
        sleep 0.2
    done
    fail "no '$2' on screen after $1 s"
}
keys() {
    tm send-keys -t tui "$@"
    sleep 0.2
}
# The row of the Setup field LABEL (the line starting with it).
field() { screen | grep -E "^$1 " | head -1; }
# Moves the Setup cursor onto field number N (0 = Kernels) from the top.
goto_field() {
    keys Home
    for ((i = 0; i < $1; i++)); do keys j; done
}
# Inside a field's choices: moves to the choice labelled LABEL and toggles it.
toggle_choice() {
    keys Home
    local n first
    n=$(screen | grep -nE "(\[[ x]\]|\([ *]\)) $1( |\$)" | head -1 | cut -d: -f1)
    first=$(screen | grep -nE "(\[[ x]\]|\([ *]\)) " | head -1 | cut -d: -f1)
    [ -n "$n" ] && [ -n "$first" ] || fail "no choice '$1'"
    for ((i = first; i < n; i++)); do keys j; done
    keys Space
}
