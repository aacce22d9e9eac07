#!/usr/bin/env bash
# Checks the GPU profiling path on a machine with NVIDIA GPUs (nothing here runs in CI):
#   1. builds longca with CUDA;
#   2. tests/test_gpu_profiling: CUPTI tracing of a flash run (named, classified, on the host
#      clock, nothing dropped), mark() tags, tracing overhead on/off, range-profiler counters on
#      one flash forward, PM samples, and with 2 GPUs an NCCL all-reduce beside the forward
#      (communication kernels recognised, overlap breakdown);
#   3. the same forward under ncu with the same metric names, to compare with step 2;
#   4. `longca run --capture` then `longca export` end to end (CP ring over 2 GPUs when there are 2).
# Usage: profiling/gpu_check.sh [build-dir]    (run from anywhere; prints what to verify)
set -u
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
out=$(mktemp -d)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 NCCL_NVLS_ENABLE=0

step() { printf '\n==== %s\n' "$*"; }

step "build ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLONGCA_TUI=OFF >"$out/cmake.log" 2>&1 || { tail -20 "$out/cmake.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target longca test_gpu_profiling >"$out/build.log" 2>&1 || { grep -E "error" "$out/build.log" | head -20; exit 1; }
nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader
gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)

step "test_gpu_profiling"
"$build/tests/test_gpu_profiling" | tee "$out/profiling.txt"
status=${PIPESTATUS[0]}

step "ncu on the same flash forward (same metric names as the range profiler above)"
metrics=sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed,\
sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active,\
sm__cycles_active.avg.pct_of_peak_sustained_elapsed,gpu__time_duration.sum
if command -v ncu >/dev/null 2>&1; then
    ncu --clock-control none --metrics "$metrics" -k regex:flash --launch-skip 1 --launch-count 1 \
        "$build/tests/test_gpu_profiling" --kernel-only 2>&1 | grep -E "flash|__" | tee "$out/ncu.txt"
else
    echo "ncu not on PATH: compare by hand with: ncu --clock-control none --metrics $metrics -k regex:flash $build/tests/test_gpu_profiling --kernel-only"
fi

step "longca run --capture, then longca export"
if "$build/longca" run --kernel flash --seqlen 16384 --iters 10 --capture "$out/single.jsonl" --quiet >"$out/run1.txt" 2>&1; then
    cat "$out/run1.txt"
    echo "intervals in the capture: $(grep -o '"kind":"compute"' "$out/single.jsonl" | wc -l) compute," \
        "$(grep -o '"kind":"memory"' "$out/single.jsonl" | wc -l) memory"
    "$build/longca" export "$out/single.jsonl" -o "$out/single.trace.json" --per-rank "$out/single-ranks"
else
    echo "longca run failed:"; cat "$out/run1.txt"
fi
if [ "$gpus" -ge 2 ]; then
    if "$build/longca" run --kernel flash --cp ring --gpus 2 --seqlen 32768 --iters 10 --workers 2 \
        --capture "$out/ring.jsonl" --quiet >"$out/run2.txt" 2>&1; then
        cat "$out/run2.txt"
        echo "communication intervals in the capture: $(grep -o '"kind":"comm"' "$out/ring.jsonl" | wc -l)" \
            "(NCCL kernels: $(grep -o '"name":"nccl[A-Za-z_]*' "$out/ring.jsonl" | sort | uniq -c | tr '\n' ' '))"
        "$build/longca" export "$out/ring.jsonl" -o "$out/ring.trace.json" --per-rank "$out/ring-ranks"
    else
        echo "CP run failed:"; cat "$out/run2.txt"
    fi
fi

cat <<EOF

==== what to verify (outputs kept in $out)
 1. test_gpu_profiling ends with "all checks passed"; CUPTI dropped 0 records.
 2. Overhead line: on/off within +2 %.
 3. Range-profiler values vs ncu above: DRAM %, tensor pipe %, warps active % within ncu's own
    run-to-run spread (a user range covers one forward plus the ~µs around it; ncu covers the
    kernel alone). If counters were refused, the CUPTI reason is printed and everything else ran.
 4. PM sampling: values present, few or no NaN marks (lost data) at a 1 ms interval.
 5. With 2 GPUs: the communication kernels are ncclDevKernel_* and classified comm; overlap > 0.
 6. longca export: the trace opens in https://ui.perfetto.dev (one process per rank, one track per
    stream, runs and iterations on the host track); a CUPTI capture holds compute intervals named
    after the flash kernels. No intervals there means the recorder is not yet installed by the
    worker (core/session/worker.c) or started by the driver (cp/driver.c): see the profiling report.
 7. Optional: Holistic Trace Analysis on the per-rank files agrees with the "HTA overlap" printed
    by longca export once its own rounding of ts/dur to whole microseconds is applied:
      python -c 'from hta.trace_analysis import TraceAnalysis as T; print(T(trace_dir="$out/ring-ranks").get_comm_comp_overlap(visualize=False))'
EOF
exit "$status"
