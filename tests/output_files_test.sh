#!/usr/bin/env bash
# Outputs (run --capture, export -o) by kind: a regular file is replaced whole with the user's
# umask; a device, FIFO or - is streamed into and stays what it was, its write errors (ENOSPC)
# reported with exit 1; a symlink is followed (a dangling one refused); a directory is refused.
# As root, on mknod copies of /dev/null and /dev/full, devices are never turned into files.
set -u
longca=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok: $*"; }
run() { "$longca" run --seqlen 128 --warmup 0 --iters 1 --quiet "$@"; }

run --capture "$tmp/cap.lccap" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "a plain capture"; }

# Regular files: the umask is respected; a replaced file keeps its mode; no temp file is left.
(umask 077 && run --capture "$tmp/private.lccap" >/dev/null 2>&1)
[ "$(stat -c %a "$tmp/private.lccap")" = 600 ] && ok "umask 077 -> 600" || fail "umask 077 gave $(stat -c %a "$tmp/private.lccap")"
(umask 022 && "$longca" export "$tmp/cap.lccap" -o "$tmp/t.json" >/dev/null)
[ "$(stat -c %a "$tmp/t.json")" = 644 ] || fail "umask 022 gave $(stat -c %a "$tmp/t.json")"
chmod 640 "$tmp/t.json"
"$longca" export "$tmp/cap.lccap" -o "$tmp/t.json" >/dev/null
[ "$(stat -c %a "$tmp/t.json")" = 640 ] && ok "a replaced file keeps mode 640" || fail "replaced file mode $(stat -c %a "$tmp/t.json")"

# Symlinks: followed to their target, which is replaced; the link stays a link.
ln -s t.json "$tmp/link.json"
"$longca" export "$tmp/cap.lccap" -o "$tmp/link.json" >/dev/null 2>"$tmp/err" || fail "export through a symlink: $(cat "$tmp/err")"
[ -L "$tmp/link.json" ] && grep -q traceEvents "$tmp/t.json" && ok "symlink followed, link kept" || fail "symlink replaced"
ln -s "$tmp/nowhere/x.json" "$tmp/dangling.json"
"$longca" export "$tmp/cap.lccap" -o "$tmp/dangling.json" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && [ -L "$tmp/dangling.json" ] && grep -q "symlink to a missing file" "$tmp/err" && ok "dangling symlink refused: $(cat "$tmp/err")" || fail "dangling symlink: rc $rc $(cat "$tmp/err")"
mkdir "$tmp/dir"
"$longca" export "$tmp/cap.lccap" -o "$tmp/dir" >/dev/null 2>"$tmp/err"
[ $? = 2 ] && grep -q "a directory" "$tmp/err" && ok "directory refused" || fail "directory as output: $(cat "$tmp/err")"

# Streams: -, /dev/null, a FIFO; /dev/full reports ENOSPC with exit 1.
"$longca" export "$tmp/cap.lccap" -o - 2>"$tmp/err" | head -c 15 | grep -q '{"traceEvents"' && grep -q "^wrote -" "$tmp/err" \
    && ok "-o - streams the trace to stdout, the summary to stderr" || fail "-o -"
"$longca" export "$tmp/cap.lccap" -o /dev/null >/dev/null 2>&1 && [ -c /dev/null ] && ok "-o /dev/null" || fail "-o /dev/null"
# /dev/stdout (and /dev/fd/N) name the descriptor: a pipe works (the symlink has no file to
# resolve to), and a file the shell opened to append keeps what it held (no rename over it).
"$longca" export "$tmp/cap.lccap" -o /dev/stdout 2>"$tmp/err" | head -c 15 | grep -q '{"traceEvents"' \
    && grep -q "^wrote /dev/stdout" "$tmp/err" && ok "-o /dev/stdout into a pipe" || fail "-o /dev/stdout into a pipe: $(cat "$tmp/err")"
run --capture /dev/stdout 2>"$tmp/err" | grep -q '"type":"result"' && ok "--capture /dev/stdout into a pipe" \
    || fail "--capture /dev/stdout into a pipe: $(cat "$tmp/err")"
echo "before" >"$tmp/appended"
"$longca" export "$tmp/cap.lccap" -o /dev/fd/3 3>>"$tmp/appended" >/dev/null 2>"$tmp/err"
[ "$(head -1 "$tmp/appended")" = before ] && grep -q traceEvents "$tmp/appended" && ok "-o /dev/fd/3 appends to the shell's file" \
    || fail "-o /dev/fd/3: $(cat "$tmp/err")"
mkfifo "$tmp/fifo"
cat "$tmp/fifo" >"$tmp/from_fifo" &
reader=$!
run --capture "$tmp/fifo" >/dev/null 2>&1 || fail "capture into a FIFO"
wait "$reader"
[ -p "$tmp/fifo" ] && grep -q '"type":"result"' "$tmp/from_fifo" && ok "capture streamed through a FIFO" || fail "FIFO capture"
# A FIFO nobody reads: a bounded wait for a reader, then one line and exit 1 (never a hang).
start=$SECONDS
timeout -k 5 30 "$longca" run --seqlen 64 --iters 1 --warmup 0 --quiet --capture "$tmp/fifo" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "no reader opened the FIFO" "$tmp/err" && [ -p "$tmp/fifo" ] \
    && ok "FIFO without a reader -> exit 1 after $((SECONDS - start)) s: $(cat "$tmp/err")" || fail "FIFO without a reader: rc $rc $(cat "$tmp/err")"
if [ -w /dev/full ]; then
    "$longca" export "$tmp/cap.lccap" -o /dev/full >/dev/null 2>"$tmp/err"
    rc=$?
    [ "$rc" = 1 ] && grep -q "No space left" "$tmp/err" && ok "-o /dev/full -> exit 1: $(cat "$tmp/err")" || fail "-o /dev/full: rc $rc $(cat "$tmp/err")"
    run --capture /dev/full >/dev/null 2>"$tmp/err"
    rc=$?
    [ "$rc" = 1 ] && grep -q "No space left" "$tmp/err" && grep -q "0 of 1 run failed; not written: the capture" "$tmp/err" \
        && ok "--capture /dev/full -> exit 1, the summary says the capture was not written" || fail "--capture /dev/full: rc $rc $(cat "$tmp/err")"
    run -o /dev/full >/dev/null 2>"$tmp/err" # the results file: a buffered write's errno survives
    rc=$?
    [ "$rc" = 1 ] && grep -q "cannot write /dev/full: No space left" "$tmp/err" \
        && ok "run -o /dev/full -> exit 1, ENOSPC named" || fail "run -o /dev/full: rc $rc $(cat "$tmp/err")"
fi

# As root, on device nodes of our own: they stay devices.
if [ "$(id -u)" = 0 ] && mknod "$tmp/null" c 1 3 2>/dev/null && mknod "$tmp/full" c 1 7 2>/dev/null; then
    run --capture "$tmp/null" >/dev/null 2>"$tmp/err" || fail "--capture on a mknod /dev/null copy: $(cat "$tmp/err")"
    [ -c "$tmp/null" ] && ok "root: --capture \$tmp/null (mknod c 1 3) stays a character device" || fail "root: the null device was replaced"
    "$longca" export "$tmp/cap.lccap" -o "$tmp/full" >/dev/null 2>"$tmp/err"
    rc=$?
    [ "$rc" = 1 ] && [ -c "$tmp/full" ] && ok "root: -o \$tmp/full (mknod c 1 7) -> exit 1, still a device: $(cat "$tmp/err")" \
        || fail "root: -o on a mknod /dev/full copy: rc $rc"
else
    echo "note: not root or mknod not allowed: the mknod copies were not tried"
fi
ls "$tmp" | grep -q partial && fail "a temp file was left: $(ls "$tmp")"

[ "$failed" = 0 ] && echo "output_files_test: all checks passed" || { echo "output_files_test: FAILED"; exit 1; }
