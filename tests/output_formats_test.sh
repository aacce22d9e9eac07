#!/usr/bin/env bash
# Machine output of `longca run`: JSON Lines (a header naming the build, host, CPU, workers and
# command line, then one object per run), JSON as one complete document with the same "meta"
# (also when Ctrl-C stops the sweep), -o written whole, CSV integers printed whole, and the
# capture's first line naming what wrote it; the table's dtype column where dtypes mix.
set -u
longca=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
common=(--seqlen 128,256 --warmup 1 --iters 2 --quiet)

"$longca" run "${common[@]}" --format jsonl --capture "$tmp/cap.lccap" >"$tmp/out.jsonl" || fail "jsonl run"
"$longca" run "${common[@]}" --format json -o "$tmp/out.json" >"$tmp/stdout" || fail "json -o run"
[ -s "$tmp/stdout" ] && fail "-o still printed results on stdout"
"$longca" run "${common[@]}" --format csv >"$tmp/out.csv" || fail "csv run"
"$longca" run --seqlen 256,512,1k,2k,4k,8k --warmup 1 --iters 3 --quiet --format json -o "$tmp/cut.json" &
pid=$!
sleep 1.5
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 1 ] || fail "Ctrl-C mid-sweep exited $rc, not 1"
"$longca" run "${common[@]}" --format jsonl -o "$tmp/no/such/dir/x.jsonl" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "-o into a missing directory: $(cat "$tmp/err")"

# The table names each run's dtype where a sweep mixes them (rows otherwise look the same, in
# `longca run` and `longca view FILE | cat`); a one-dtype table keeps its columns.
"$longca" run --dtype fp32,bf16 --seqlen 128 --warmup 1 --iters 2 --quiet --capture "$tmp/dt.lccap" >"$tmp/dt.txt" 2>/dev/null
head -1 "$tmp/dt.txt" | grep -q " d dtype dir " && grep -Eq "^cpu .* 64 fp32 +fwd " "$tmp/dt.txt" &&
    grep -Eq "^cpu .* 64 bf16 +fwd " "$tmp/dt.txt" || fail "mixed dtypes without a dtype column: $(cat "$tmp/dt.txt")"
if "$longca" view "$tmp/dt.lccap" >"$tmp/dt_view.txt" 2>/dev/null; then
    cmp -s "$tmp/dt.txt" "$tmp/dt_view.txt" || fail "view | cat differs from the run's table: $(cat "$tmp/dt_view.txt")"
fi
"$longca" run --seqlen 128 --warmup 1 --iters 2 --quiet | head -1 | grep -q "dtype" && fail "a dtype column for one dtype"
grep -q 'e+' "$tmp/out.csv" && fail "CSV has an integer in exponent form: $(grep 'e+' "$tmp/out.csv" | head -1)"
head -1 "$tmp/cap.lccap" | grep -q '^{"type":"session","run":-1,"rank":0,.*"schema":2,"version":"[^"]*","commit":"' ||
    fail "the capture's first line is not the session: $(head -c 200 "$tmp/cap.lccap")"

if command -v python3 >/dev/null 2>&1; then
    python3 - "$tmp" <<'PYEOF' || failed=1
import json, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(f"{d}/out.jsonl")]
head, runs = lines[0], lines[1:]
for key in ["schema", "longca", "host", "cpu", "command", "workers"]: assert key in head, f"header lacks {key}"
assert head["schema"] == 2 and head["longca"]["version"] and head["longca"]["commit"]
assert "--format jsonl" in head["command"], head["command"]
w = head["workers"][0]
assert {"rank", "host", "device", "backend", "driver", "cuda", "nccl", "cudnn"} <= set(w), w
assert [r["seqlen"] for r in runs] == [128, 256] and all(r["status"] == "ok" for r in runs)
doc = json.load(open(f"{d}/out.json"))
assert doc["schema"] == 2 and len(doc["runs"]) == 2 and doc["meta"]["workers"][0]["backend"] == "cpu"
cut = json.load(open(f"{d}/cut.json"))  # complete although interrupted
assert len(cut["runs"]) <= 6 and "meta" in cut, cut  # 0 when Ctrl-C came before the first run
rows = [l.split(",") for l in open(f"{d}/out.csv").read().splitlines()]
col = rows[0].index("flops")
assert all(r[col].isdigit() for r in rows[1:]), [r[col] for r in rows[1:]]
print(f"jsonl: header + {len(runs)} runs; json: {len(doc['runs'])} runs + meta; interrupted json: "
      f"{len(cut['runs'])} runs, statuses {[r['status'] for r in cut['runs']]}; csv flops {[r[col] for r in rows[1:]]}")
PYEOF
fi
[ "$failed" -eq 0 ] || { echo "output_formats_test: FAILED"; exit 1; }
echo "output_formats_test: all checks passed"
