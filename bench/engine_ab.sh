#!/usr/bin/env bash
# The run engine against an older build, on a kernel both builds share (issue 12's +-2 % gate):
# builds OLD_SRC (a source tree, e.g. `git archive <commit> | tar -x -C old`) beside this tree,
# then times the same `longca run` sweep with each binary in turns (ROUNDS rounds, old then new,
# so drift of clocks or temperature falls on both), and prints, per row, each build's median of
# its rounds' medians and new / old. KERNEL must be compiled the same way in both trees.
#
#   OUT=/tmp/ab OLD_SRC=/tmp/old bench/engine_ab.sh
#   KERNEL=flash_mma MASKS=full,causal SEQLENS=8k ROUNDS=3 OUT=/tmp/ab OLD_SRC=/tmp/old bench/engine_ab.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${OUT:?set OUT to a folder for the logs and CSVs}"
: "${OLD_SRC:?set OLD_SRC to the older source tree}"
BUILD=${BUILD:-/tmp/ab-new}
OLD_BUILD=${OLD_BUILD:-/tmp/ab-old}
KERNEL=${KERNEL:-flash_mma}
MASKS=${MASKS:-full,causal,sliding_window_causal,causal_document}
SEQLENS=${SEQLENS:-8k,32k}
DIRECTIONS=${DIRECTIONS:-fwd,bwd}
ROUNDS=${ROUNDS:-2}
export NCCL_NVLS_ENABLE=0
mkdir -p "$OUT"
gen=$(command -v ninja >/dev/null && echo Ninja || echo "Unix Makefiles")

build() { # source, build folder, log name
    cmake -S "$1" -B "$2" -G "$gen" -DCMAKE_BUILD_TYPE=Release -DLONGCA_TUI=OFF >"$OUT/$3-cmake.log" 2>&1 &&
        cmake --build "$2" -j"$(nproc)" --target longca >"$OUT/$3-build.log" 2>&1 || {
        tail -20 "$OUT/$3-build.log"
        echo "engine_ab.sh: the $3 build failed"
        return 1
    }
}
build "$ROOT" "$BUILD" new &
new_pid=$!
build "$OLD_SRC" "$OLD_BUILD" old &
old_pid=$!
wait $new_pid && wait $old_pid
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"

for round in $(seq "$ROUNDS"); do
    for which in old new; do
        bin=$BUILD/longca
        [ "$which" = old ] && bin=$OLD_BUILD/longca
        "$bin" run --kernel "$KERNEL" --mask "$MASKS" --seqlen "$SEQLENS" --heads 64:8 --head-dim 128 --dtype bf16 \
            --direction "$DIRECTIONS" --format csv --quiet >"$OUT/${which}_$round.csv"
    done
done

# Rows keyed by kernel, mask, S, heads, d, dtype and direction, read by column name (the two
# builds' CSVs may order or add columns differently).
awk -F, '
    FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; which = (FILENAME ~ /\/old_[0-9]+\.csv$/) ? "old" : "new"; next }
    $col["status"] != "ok" { bad[$col["mask"] " " $col["seqlen"] " " $col["direction"] " " which] = $col["status"]; next }
    {
        key = $col["mask"] " " $col["seqlen"] " " $col["direction"]
        if (!(key in seen)) { seen[key] = 1; order[++n] = key }
        ms[key, which, ++count[key, which]] = $col["ms_median"]
    }
    function median(key, which,    c, i, j, t, v) {
        c = count[key, which]
        for (i = 1; i <= c; i++) v[i] = ms[key, which, i]
        for (i = 2; i <= c; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
    }
    END {
        printf "| mask | S | dir | old ms | new ms | new / old time |\n|---|---|---|---|---|---|\n"
        worst = 0
        for (i = 1; i <= n; i++) {
            k = order[i]
            if (!count[k, "old"] || !count[k, "new"]) { printf "| %s | missing in one build |\n", k; continue }
            o = median(k, "old"); w = median(k, "new"); r = w / o
            split(k, f, " ")
            printf "| %s | %s | %s | %.3f | %.3f | %.3f |\n", f[1], f[2], f[3], o, w, r
            d = r > 1 ? r - 1 : 1 - r
            if (d > worst) worst = d
        }
        for (b in bad) printf "not ok: %s (%s)\n", b, bad[b]
        printf "largest difference: %.1f %%\n", worst * 100
    }' "$OUT"/old_*.csv "$OUT"/new_*.csv | tee "$OUT/engine_ab.md"
