#!/usr/bin/env bash
# The per-rank export read by Holistic Trace Analysis as its users run it: a 2-rank CPU ring
# capture with two runs, `longca export --run 1 --per-rank DIR` (and --run 0,1 / 0-1: both runs), then HTA's five analyses on
# TraceAnalysis(trace_dir=DIR) with their defaults, and again over every iteration
# (include_last_profiler_step=True, HTA's default leaves the last ProfilerStep out) to compare
# with longca's own breakdown of the same run. The file checks run always; the HTA part where
# `import hta` works in $LONGCA_PYTHON or python3, else it skips with the reason. CI's HTA comes
# without Jupyter (tests/run_all.sh): there its figures are not drawn, its tables are checked.
set -u
longca=$1
py=python3
for candidate in ${LONGCA_PYTHON:-} python3; do # the first that has the module
    "$candidate" -c 'import hta' 2>/dev/null && { py=$candidate; break; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

if ! mpirun -np 3 "$longca" run --cp ring --gpus 2 --mask causal --seqlen 256,512 --warmup 1 --iters 3 \
    --capture "$tmp/cap.lccap" --quiet >"$tmp/run.out" 2>&1; then
    echo "FAIL: the 2-rank ring capture:"; cat "$tmp/run.out"; exit 1
fi
"$longca" export "$tmp/cap.lccap" --run 1 -o "$tmp/trace.json" --per-rank "$tmp/ranks" >"$tmp/out" 2>&1 ||
    { echo "FAIL: export:"; cat "$tmp/out"; exit 1; }
cat "$tmp/out"
for r in 0 1; do
    f=$tmp/ranks/rank$r.json
    [ -f "$f" ] || { fail "no $f (ranks are numbered from 0 for HTA)"; continue; }
    grep -q "\"rank\": $r," "$f" || fail "$f: distributedInfo.rank is not $r"
    grep -q '"name":"ProfilerStep#0"' "$f" || fail "$f: no ProfilerStep#0"
    grep -q '"cat":"cuda_runtime","name":"cudaLaunchKernel"' "$f" || fail "$f: no launch events"
    grep -q '"name":"run 0:' "$f" && fail "$f: run 0 exported though --run 1 asked for run 1 only"
done
[ -f "$tmp/ranks/rank2.json" ] && fail "a third rank file for a 2-rank run"
grep -q '"name":"process_labels","args":{"labels":"rank 1,MPI rank 2"}' "$tmp/trace.json" ||
    fail "the combined trace does not label rank 1 (MPI rank 2)"
# A list (and a range) of runs: both runs exported, numbered ProfilerStep#0.. across them.
for runs in 0,1 0-1; do
    "$longca" export "$tmp/cap.lccap" --run $runs -o "$tmp/both.json" --per-rank "$tmp/both" >/dev/null 2>&1 ||
        fail "export --run $runs"
    for r in 0 1; do
        grep -q '"name":"run 0:' "$tmp/both/rank$r.json" && grep -q '"name":"run 1:' "$tmp/both/rank$r.json" ||
            fail "--run $runs: rank$r.json lacks run 0 or run 1"
    done
    [ "$(grep -o '"name":"ProfilerStep#[0-9]*"' "$tmp/both/rank0.json" | sort -u | wc -l)" -eq 6 ] ||
        fail "--run $runs: not 6 distinct ProfilerSteps (2 runs x 3 timed iterations)"
    rm -rf "$tmp/both"
done
"$longca" export "$tmp/cap.lccap" --run 7 -o "$tmp/t.json" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "no run 7" "$tmp/err" || fail "--run 7 of a 2-run capture: $(cat "$tmp/err")"
"$longca" export "$tmp/cap.lccap" --run 1-x -o "$tmp/t.json" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] || fail "--run 1-x accepted"

if ! "$py" -c 'import hta' 2>/dev/null; then
    [ "$failed" -eq 0 ] || exit 1
    echo "skipped: HTA checks: 'import hta' fails in $py (pip install HolisticTraceAnalysis; set LONGCA_PYTHON)"
    exit 77
fi
PLOTLY_RENDERER=json "$py" - "$tmp/ranks" "$tmp/trace.json" <<'PYEOF' || failed=1
import contextlib, importlib.util, io, json, logging, sys
logging.disable(logging.WARNING)
from hta.trace_analysis import TraceAnalysis
if importlib.util.find_spec("IPython") is None:  # CI's HTA without Jupyter: plotly can only draw there
    import plotly.basedatatypes
    plotly.basedatatypes.BaseFigure.show = lambda figure, *args, **kwargs: None

def five(analysis):
    with contextlib.redirect_stdout(io.StringIO()):  # the figures' JSON
        return {name: getattr(analysis, name)() for name in
                ["get_temporal_breakdown", "get_idle_time_breakdown", "get_comm_comp_overlap",
                 "get_gpu_kernel_breakdown", "get_cuda_kernel_launch_stats"]}

with contextlib.redirect_stdout(io.StringIO()):
    default, every = TraceAnalysis(trace_dir=sys.argv[1]), TraceAnalysis(trace_dir=sys.argv[1], include_last_profiler_step=True)
d = five(default)
assert len(d["get_temporal_breakdown"]) == 2 and len(d["get_comm_comp_overlap"]) == 2
assert len(d["get_idle_time_breakdown"][0]) > 0 and len(d["get_cuda_kernel_launch_stats"][0]) > 0
print("HTA defaults: temporal\n" + d["get_temporal_breakdown"].to_string())
print("HTA defaults: comm/comp overlap\n" + d["get_comm_comp_overlap"].to_string())

e = five(every)
ours = {b["rank"]: b for b in json.load(open(sys.argv[2]))["longca"]["breakdown"] if b["run"] == 1}
temporal = e["get_temporal_breakdown"].set_index("rank")
overlap = e["get_comm_comp_overlap"].set_index("rank")
kinds = e["get_gpu_kernel_breakdown"][0].set_index("kernel_type")["sum"]
for rank, b in sorted(ours.items()):
    tol = 2 * b["n_intervals"]  # HTA rounds each event to whole microseconds
    pairs = [("span", temporal.loc[rank, "kernel_time(us)"], b["span_ns"] / 1e3),
             ("idle", temporal.loc[rank, "idle_time(us)"], b["idle_ns"] / 1e3),
             ("compute", temporal.loc[rank, "compute_time(us)"], b["compute_ns"] / 1e3)]
    for what, theirs, mine in pairs:
        print(f"rank {rank} {what:8s} HTA {theirs:12.0f} us   longca {mine:14.3f} us")
        assert abs(theirs - mine) <= tol, f"rank {rank} {what}: HTA {theirs} vs longca {mine}"
    h = overlap.loc[rank, "comp_comm_overlap_pctg"]
    print(f"rank {rank} overlap  HTA {h:12.2f} %    longca {b['hta_overlap_pct']:14.2f} %")
    assert abs(h - b["hta_overlap_pct"]) <= 1.0
    launches = e["get_cuda_kernel_launch_stats"] if rank == 0 else {}
    if launches: assert len(launches[0]) == b["n_intervals"], (len(launches[0]), b["n_intervals"])
both = sum(b["overlapped_ns"] for b in ours.values()) / 1e3
print(f"both ranks: COMPUTATION overlapping COMMUNICATION HTA {kinds['COMPUTATION overlapping COMMUNICATION']:.0f} us, longca {both:.3f} us")
assert abs(kinds["COMPUTATION overlapping COMMUNICATION"] - both) <= 2 * sum(b["n_intervals"] for b in ours.values())
print("HTA agrees with longca's breakdown")
PYEOF
[ "$failed" -eq 0 ] || { echo "hta_export_test: FAILED"; exit 1; }
echo "hta_export_test: all checks passed"
