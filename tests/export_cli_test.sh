#!/usr/bin/env bash
# longca export from the command line: bad input gets one line on stderr and exit status 2; a
# capture of a CPU run exports end to end (capture -> Chrome trace and per-rank HTA files).
set -u
longca=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

expect_usage_error() { # what, then the arguments after "export"
    local what=$1
    shift
    "$longca" export "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ]; then
        echo "FAIL: $what: exit $rc with $lines line(s) on stderr:"
        cat "$tmp/err"
        failed=1
    else
        echo "ok: $what -> $(cat "$tmp/err")"
    fi
}

# --- a real capture from the CPU backend
if ! "$longca" run --seqlen 256 --warmup 1 --iters 3 --capture "$tmp/cap.jsonl" --quiet >"$tmp/run.out" 2>&1; then
    echo "FAIL: longca run could not make a capture:"
    cat "$tmp/run.out"
    exit 1
fi

expect_usage_error "no capture given"
expect_usage_error "missing capture" "$tmp/none.jsonl" -o "$tmp/t.json"
printf 'this is not a capture\n' >"$tmp/garbage.jsonl"
expect_usage_error "not a capture" "$tmp/garbage.jsonl" -o "$tmp/t.json"
head -c "$(($(stat -c %s "$tmp/cap.jsonl") - 20))" "$tmp/cap.jsonl" >"$tmp/cut.jsonl"
expect_usage_error "unreadable capture (a directory)" "$tmp" -o "$tmp/t.json"
expect_usage_error "unknown flag" "$tmp/cap.jsonl" --bogus
expect_usage_error "a format with a newline" "$tmp/cap.jsonl" --format $'a\nb'
expect_usage_error "-o without a path" "$tmp/cap.jsonl" -o
expect_usage_error "two captures" "$tmp/cap.jsonl" "$tmp/cap.jsonl"
expect_usage_error "output directory missing" "$tmp/cap.jsonl" -o "$tmp/no/such/dir/t.json"
if ls "$tmp"/*.partial-* >/dev/null 2>&1; then
    echo "FAIL: a failed export left a temp file behind"
    failed=1
fi

# A capture cut mid-line (its writer killed): what precedes loads, the cut is named, exit 0.
"$longca" export "$tmp/cut.jsonl" -o "$tmp/cut.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -ne 0 ] || ! grep -q "truncated at line [0-9]" "$tmp/err" || ! grep -q traceEvents "$tmp/cut.json"; then
    echo "FAIL: truncated capture: exit $rc"; cat "$tmp/err"; failed=1
else
    echo "ok: truncated capture -> $(cat "$tmp/err")"
fi

# --- end to end
if ! "$longca" export "$tmp/cap.jsonl" -o "$tmp/trace.json" --per-rank "$tmp/ranks" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: export of a good capture:"
    cat "$tmp/err"
    exit 1
fi
cat "$tmp/out"
grep -q '^{"traceEvents":\[' "$tmp/trace.json" || { echo "FAIL: trace.json does not start with traceEvents"; failed=1; }
grep -q '"cat":"kernel"' "$tmp/trace.json" || { echo "FAIL: no kernel events in trace.json"; failed=1; }
grep -q '"rank": 0,' "$tmp/ranks/rank0.json" || { echo "FAIL: ranks/rank0.json lacks distributedInfo.rank 0"; failed=1; }

# A strict reader, where one is installed: valid JSON, every X event nests on its track.
if command -v python3 >/dev/null 2>&1; then
    python3 - "$tmp/trace.json" <<'EOF' || failed=1
import json, sys
d = json.load(open(sys.argv[1]))
tracks = {}
for e in d["traceEvents"]:
    assert "ph" in e and "pid" in e and "name" in e, e
    if e["ph"] == "X":
        s = round(e["ts"] * 1000); tracks.setdefault((e["pid"], e["tid"]), []).append((s, s + round(e["dur"] * 1000)))
kernels = sum(1 for e in d["traceEvents"] if e.get("cat") == "kernel")
assert kernels > 0, "no kernels"
for key, iv in tracks.items():
    iv.sort(key=lambda x: (x[0], -x[1])); stack = []
    for s, e in iv:
        while stack and stack[-1] <= s: stack.pop()
        assert not stack or e <= stack[-1], f"events on track {key} do not nest"
        stack.append(e)
print(f"python json: {len(d['traceEvents'])} events, {kernels} kernels, {len(tracks)} tracks, all nested")
EOF
fi

if [ "$failed" -ne 0 ]; then
    echo "export_cli_test: FAILED"
    exit 1
fi
echo "export_cli_test: all checks passed"
