#!/usr/bin/env bash
# Builds longca and runs the whole test suite twice: a Release build (CUDA kernels compiled for
# sm_90a where nvcc exists; GPU tests skip visibly without a GPU) and a C-only build under
# AddressSanitizer + UndefinedBehaviorSanitizer, each with ctest -j$(nproc). Installs missing
# Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v mpicc >/dev/null || need+=(libopenmpi-dev openmpi-bin)
command -v tmux >/dev/null || need+=(tmux)
command -v gcc >/dev/null || need+=(build-essential)
[ -e /usr/include/ncurses.h ] || need+=(libncurses-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

jobs=$(nproc)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export NCCL_NVLS_ENABLE=0

# A venv made once for the tests that read our exports with the tools users run: Perfetto's protos
# (tests/perfetto_export_test.sh, about 30 MB) and Holistic Trace Analysis
# (tests/hta_export_test.sh) without its Jupyter dependencies: HTA with --no-deps and only what
# `from hta.trace_analysis import TraceAnalysis` imports (about 260 MB, 25 s). Where PyPI cannot
# be reached those tests skip with the reason.
py_ready() { build-py/bin/python -c 'import hta.trace_analysis, perfetto.protos.perfetto.trace.perfetto_trace_pb2'; }
make_venv() {
  py_ready 2>/dev/null || ({ [ -x build-py/bin/python ] || python3 -m venv build-py; } &&
    timeout 180 build-py/bin/pip install -q perfetto &&
    timeout 180 build-py/bin/pip install -q --no-deps HolisticTraceAnalysis==0.5.0 &&
    timeout 300 build-py/bin/pip install -q pandas plotly networkx psutil pyyaml) >/dev/null 2>&1
}
# Made while the Release build compiles (pip mostly waits on the network).
make_venv &
venv=$!

echo "== Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
if ! wait "$venv"; then
  echo "no venv with Perfetto's protos and HTA (python3 -m venv or pip failed): their tests will skip"
  rm -rf build-py
fi
[ -x build-py/bin/python ] && export LONGCA_PYTHON=$PWD/build-py/bin/python

# The sanitizer build: C only, at -O2 (the checks are the same at any level; -O0 made the CPU
# kernels' runs in the TUI and MPI tests several times slower), without NDEBUG. It compiles at
# the lowest priority while the Release tests run, so it takes only the cores they leave idle.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O2" -DLONGCA_SANITIZE=ON \
  -DLONGCA_CUDA=OFF >/dev/null
nice -n 19 cmake --build build-asan -j"$jobs" >build-asan/build.log 2>&1 &
asan_build=$!

release=0
(cd build && ctest -j"$jobs" --output-on-failure --timeout 900) || release=$?
echo "== AddressSanitizer + UndefinedBehaviorSanitizer build (C only)"
wait "$asan_build" || { cat build-asan/build.log; exit 1; }
tail -1 build-asan/build.log
[ "$release" = 0 ] || exit "$release"
# Open MPI's own allocations are not ours to chase; UBSan findings fail the run.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The slowest MPI matrices run smaller here: the same code paths, a fraction of the time.
export LONGCA_TEST_QUICK=1
(cd build-asan && ctest -j"$jobs" --output-on-failure --timeout 900 -LE gpu)
