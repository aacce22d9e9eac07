#!/usr/bin/env bash
# A sweep of single-device CPU runs spread over idle workers (issue 12): the same 8 runs with
# --workers 1 (one after another, all the host's cores each), with --workers $WORKERS at once
# (each worker pinned to its own slice of the cores), and one after another on one slice's
# cores (taskset), the baseline at equal cores per run. Prints each sweep's wall time and the
# runs' own medians and cores; CSVs go to $OUT.
#
#   OUT=/tmp/w bench/workers.sh
#   WORKERS=2 SWEEP="--kernel cpu --mask full,causal --seqlen 1k" bench/workers.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out}
BUILD=${BUILD:-$ROOT/build-bench}
WORKERS=${WORKERS:-4}
SWEEP=${SWEEP:---kernel cpu --mask full,causal,full_document,causal_document --seqlen 4k,6k --direction fwd}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"
source "$ROOT/bench/build.sh"

cores=$(nproc)
share=$((cores / WORKERS))
[ "$share" -ge 1 ] || { echo "workers.sh: $WORKERS workers on $cores cores"; exit 2; }

# name, workers, then a prefix for the command (taskset ...): runs the sweep, prints its wall
# time and its runs.
sweep() {
    local name=$1 workers=$2 start end
    shift 2
    start=$(date +%s%N)
    # shellcheck disable=SC2086 # SWEEP is a list of flags
    "$@" "$LONGCA" run $SWEEP --workers "$workers" --format csv --quiet >"$OUT/workers_$name.csv" 2>"$OUT/workers_$name.log"
    end=$(date +%s%N)
    printf '%-28s %2d worker(s): wall %6.2f s; each run, ms median / cores:' "$name" "$workers" \
        "$(((end - start) / 1000000))e-3"
    awk -F, 'NR > 1 { printf " %.0f/%s", $13, $28 } END { print "" }' "$OUT/workers_$name.csv"
}

echo "$cores cores; sweep: longca run $SWEEP"
sweep all_cores 1
sweep "concurrent" "$WORKERS"
sweep "one_slice_$share"_cores 1 taskset -c "0-$((share - 1))"
