#!/bin/bash
# Regenerates screenshots/{setup,runs,timeline,counters,help}.png from a real session: `longca`
# with 2 CPU workers in a private tmux server at 100x30, driven by keys; each screen is taken
# with `tmux capture-pane -e` (ANSI colours), turned into HTML by aha and into a PNG by
# wkhtmltoimage. Both come from Debian packages, installed with apt-get when missing.
# usage: screenshots/make_screenshots.sh [PATH_TO_LONGCA]   (default: build/longca)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
LONGCA=$(realpath "${1:-$HERE/../build/longca}")
[ -x "$LONGCA" ] || { echo "make_screenshots: no longca binary at $LONGCA" >&2; exit 2; }

need() { command -v "$1" >/dev/null || { apt-get install -y --no-install-recommends "$2" >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "$2" >/dev/null; }; }; }
need tmux tmux
need aha aha
need wkhtmltoimage wkhtmltopdf
need optipng optipng
fc-list | grep -q "DejaVu Sans Mono" || need fc-list fonts-dejavu-core

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
WORK=$(mktemp -d)
SOCK="$WORK/tmux.sock"
tm() { tmux -S "$SOCK" "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$WORK"' EXIT
export XDG_CONFIG_HOME=$WORK/config # Setup from its defaults, whatever the user saved
mkdir -p "$XDG_CONFIG_HOME"

screen() { tm capture-pane -p -t shot; }
wait_for() { # SECONDS PATTERN
    local deadline=$((SECONDS + $1))
    until screen | grep -Eq -- "$2"; do
        ((SECONDS < deadline)) || { echo "make_screenshots: no '$2' on screen" >&2; screen >&2; exit 1; }
        sleep 0.2
    done
}
keys() { tm send-keys -t shot "$@"; sleep 0.2; }
goto_field() { keys Home; for ((i = 0; i < $1; i++)); do keys j; done; }
toggle_choice() { # inside a field's choices: the choice labelled $1
    keys Home
    local n first
    n=$(screen | grep -nE "(\[[ x]\]|\([ *]\)) $1( |\$)" | head -1 | cut -d: -f1)
    first=$(screen | grep -nE "(\[[ x]\]|\([ *]\)) " | head -1 | cut -d: -f1)
    for ((i = first; i < n; i++)); do keys j; done
    keys Space
}
shoot() { # NAME: the screen as it is now
    sleep 0.3
    tm capture-pane -e -p -t shot > "$WORK/$1.ans"
    # Black text on coloured bars reads better than aha's dim grey; a monospace font.
    aha --black --title "longca $1" < "$WORK/$1.ans" |
        sed -e 's/color:dimgray;/color:black;/g' \
            -e 's|<pre>|<pre style="font-family: DejaVu Sans Mono, monospace; font-size: 14px; line-height: 17px; margin: 8px;">|' \
            > "$WORK/$1.html"
    wkhtmltoimage --quiet --width 860 "$WORK/$1.html" "$HERE/$1.png" 2>/dev/null
    optipng -quiet -o2 "$HERE/$1.png" # wkhtmltoimage writes them uncompressed (1.8 MB each)
    echo "wrote $HERE/$1.png"
}

cd "$WORK"
tm new-session -d -s shot -x 100 -y 30 "'$LONGCA' --capture '$WORK/session.lccap'; sleep 600"
wait_for 60 "live, 2 workers"

# The sweep: causal and sliding_window at 1K and 2K, ring attention over both workers.
goto_field 1
keys l
toggle_choice sliding_window
keys h
goto_field 7
keys l
toggle_choice 2K
keys h
goto_field 12
keys l
toggle_choice ring
toggle_choice local
keys h
goto_field 13
keys l
toggle_choice 2
toggle_choice 1
keys h
# Setup, browsing the masks: the picture follows the cursor (causal_document here).
goto_field 1
keys l
keys Home
for i in 1 2 3; do keys j; done
shoot setup
keys h

keys F5
wait_for 20 "Running [0-9]+ of 4"
wait_for 300 "Sweep finished: 4 done"
keys Down
shoot runs
keys 3
wait_for 5 "comp-only"
shoot timeline
keys 4
shoot counters
keys 6
shoot help
keys q
