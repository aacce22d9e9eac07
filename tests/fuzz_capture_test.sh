#!/usr/bin/env bash
# Fuzzer of captures: a real capture is made at test time (in-process runs with timelines, and a
# CP run on two spawned workers), then mutated (cut at a random byte, bytes flipped or deleted,
# control characters and NULs inserted, numbers swapped for huge, negative or fractional ones,
# lines duplicated, dropped or swapped, deep nesting, long strings) and read by `longca view`
# (results table) and `longca export` (Chrome trace). Seeded and counted (FUZZ_SEED; FUZZ_CASES
# corrupted captures: 200 in the sanitizer pass, 20 otherwise), so that a seed and a count name the
# same cases on any machine. Each read must end within 20 s with no signal or sanitizer report, exit 0, 1 or
# 2 (2 with one line), and exit 0 only with a well-formed output and no error on stderr.
set -u
longca=$1
cases=${FUZZ_CASES:-$([ -n "${ASAN_OPTIONS:-}" ] && echo 200 || echo 20)}
seed=${FUZZ_SEED:-15}
RANDOM=$seed
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$longca" run --seqlen 64,128 --mask causal,sliding_window --iters 2 --warmup 0 --quiet --capture "$tmp/a.lccap" \
    >/dev/null 2>&1 || { echo "cannot make a capture"; exit 1; }
timeout 120 "$longca" run --cp ring --gpus 2 --seqlen 256 --iters 1 --warmup 0 --quiet --capture "$tmp/b.lccap" \
    >/dev/null 2>&1 || cp "$tmp/a.lccap" "$tmp/b.lccap"
seeds=("$tmp/a.lccap" "$tmp/b.lccap")

# One mutation of file $1 into $2, chosen by $RANDOM; awk does the byte work.
mutate() {
    local in=$1 out=$2 size
    size=$(stat -c %s "$in")
    local at=$((RANDOM * 32768 + RANDOM))
    at=$((at % (size > 0 ? size : 1)))
    case $((RANDOM % 10)) in
    0) head -c "$at" "$in" >"$out" ;;
    1) { head -c "$at" "$in"; printf "\\x$(printf %02x $((RANDOM % 256)))"; tail -c +$((at + 2)) "$in"; } >"$out" ;;
    2) { head -c "$at" "$in"; tail -c +$((at + 1 + RANDOM % 64)) "$in"; } >"$out" ;;
    3) { head -c "$at" "$in"; printf '\000\033[2J\r'; tail -c +$((at + 1)) "$in"; } >"$out" ;;
    4) local big=(99999999999999999999999 -9223372036854775808 9223372036854775807 -1 1e308 -0.5 2147483648 0 NaN)
       awk -v r="$RANDOM" -v v="${big[RANDOM % ${#big[@]}]}" 'BEGIN { srand(r) }
           { n = 0; line = $0
             while (match(line, /:-?[0-9][0-9.e+-]*/)) { n++; pre[n] = substr(line, 1, RSTART); num[n] = substr(line, RSTART + 1, RLENGTH - 1); line = substr(line, RSTART + RLENGTH) }
             if (n == 0 || rand() > 0.3) { print; next }
             k = int(rand() * n) + 1; s = ""
             for (i = 1; i <= n; i++) s = s pre[i] (i == k ? v : num[i])
             print s line }' "$in" >"$out" ;;
    5) awk -v r="$RANDOM" 'BEGIN { srand(r) } { print; if (rand() < 0.2) print }' "$in" >"$out" ;;
    6) awk -v r="$RANDOM" 'BEGIN { srand(r) } rand() > 0.2' "$in" >"$out" ;;
    7) awk -v r="$RANDOM" 'BEGIN { srand(r) } { l[NR] = $0 } END { for (i = 1; i <= NR; i++) { j = int(rand() * NR) + 1; t = l[i]; l[i] = l[j]; l[j] = t } for (i = 1; i <= NR; i++) print l[i] }' "$in" >"$out" ;;
    8) { head -c "$at" "$in"; printf '%*s' $((RANDOM % 5000)) '' | tr ' ' '['; tail -c +$((at + 1)) "$in"; } >"$out" ;;
    9) sed "s/\"name\":\"[^\"]*\"/\"name\":\"$(printf 'y%.0s' {1..90})\"/; s/\"kernel\":\"[^\"]*\"/\"kernel\":\"\\\\u001b[31m\"/" "$in" >"$out" ;;
    esac
}

total=0 crashes=0 hangs=0 bad=0 start=$SECONDS
declare -A by_status
while [ $((total / 2)) -lt "$cases" ]; do
    src=${seeds[RANDOM % 2]}
    cp "$src" "$tmp/m0"
    rounds=$((1 + RANDOM % 3))
    for ((k = 0; k < rounds; k++)); do mutate "$tmp/m$k" "$tmp/m$((k + 1))"; done
    cp "$tmp/m$rounds" "$tmp/case.lccap"
    rm -f "$tmp"/m[0-9]* "$tmp/trace.json"
    for cmd in view export; do
        total=$((total + 1))
        if [ $cmd = view ]; then timeout -k 5 20 "$longca" view "$tmp/case.lccap" </dev/null >"$tmp/out" 2>"$tmp/err"
        else timeout -k 5 20 "$longca" export "$tmp/case.lccap" -o "$tmp/trace.json" </dev/null >"$tmp/out" 2>"$tmp/err"; fi
        rc=$?
        by_status[$rc]=$((${by_status[$rc]:-0} + 1))
        why=""
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then hangs=$((hangs + 1)); why=HANG
        elif [ "$rc" -ge 128 ] || grep -qE "AddressSanitizer|runtime error:|LeakSanitizer" "$tmp/err"; then crashes=$((crashes + 1)); why=CRASH
        elif [ "$rc" -gt 2 ]; then bad=$((bad + 1)); why="EXIT $rc"
        elif [ "$rc" = 2 ] && [ "$(wc -l <"$tmp/err")" != 1 ]; then bad=$((bad + 1)); why="NOT ONE LINE"
        elif [ "$rc" = 0 ] && grep -v "truncated at line" "$tmp/err" | grep -qiE "error|cannot|invalid|out of"; then bad=$((bad + 1)); why="EXIT 0 ON AN ERROR"
        elif [ "$rc" = 0 ] && [ $cmd = export ] && ! { head -c 15 "$tmp/trace.json" | grep -q '{"traceEvents"' && tail -c 3 "$tmp/trace.json" | grep -q '}'; }; then
            bad=$((bad + 1)); why="EXIT 0 WITH A BROKEN TRACE"
        fi
        if [ -n "$why" ]; then
            cp "$tmp/case.lccap" "$tmp/../fuzz-capture-$seed-$total.lccap" 2>/dev/null
            echo "$why ($cmd, rc $rc): kept as fuzz-capture-$seed-$total.lccap"; head -3 "$tmp/err"
        fi
    done
done
echo "fuzz_capture: $total reads of $((total / 2)) corrupted captures (seed $seed) in $((SECONDS - start)) s: $crashes" \
     "crashes, $hangs hangs, $bad wrong statuses; exit statuses: $(for k in "${!by_status[@]}"; do printf '%s:%s ' "$k" "${by_status[$k]}"; done)"
[ $((crashes + hangs + bad)) = 0 ] || { echo "again: FUZZ_SEED=$seed FUZZ_CASES=$((total / 2))"; exit 1; }
