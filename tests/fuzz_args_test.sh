#!/usr/bin/env bash
# Fuzzer of argument vectors: random commands, flags and values (valid, huge, negative, empty,
# control characters, odd paths: devices, FIFOs, directories, missing files), seeded and counted
# (FUZZ_SEED; FUZZ_CASES vectors: 400 in the sanitizer pass, 50 otherwise), so that a seed and a
# count name the same vectors on any machine, however fast. Every vector must end within 20 s
# without a signal or a sanitizer report; a vector built bad (an unknown flag, a garbage number)
# must exit 2 with one line on stderr; no vector may exit 0 with an error on stderr. Real runs
# are kept tiny; sweeps of any size are only validated (--dry-run).
set -u
longca=$1
cases=${FUZZ_CASES:-$([ -n "${ASAN_OPTIONS:-}" ] && echo 400 || echo 50)}
seed=${FUZZ_SEED:-15}
RANDOM=$seed
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkfifo "$tmp/fifo"
mkdir "$tmp/dir"
"$longca" run --seqlen 64 --iters 1 --warmup 0 --quiet --capture "$tmp/cap.lccap" >/dev/null 2>&1

pick() { local -n a=$1; echo "${a[RANDOM % ${#a[@]}]}"; }
commands=(run run run run mask export view list diff help bogus "")
run_flags=(--kernel --mask --seqlen --batch --heads --head-dim --dtype --direction --cp --gpus --cp-inner --warmup
           --iters --window --global --prefix --block --density --doclen --seed --format --capture -o --workers
           --check --deterministic --counters --strict --quiet --dry-run --help)
mask_flags=(--seqlen --window --global --prefix --block --density --doclen --seed --help --picture --width)
export_flags=(-o --per-rank --format --run --help)
values=(causal full causal_document block_sparse sliding_window cpu cpu_ref flash 64 128 256 1k 4k 1m 1g 0 -1 -64
        99999999999999999999 2:1 8:2 64:8 0:0 1k:4k:x2 1k:1:x2 4k:1k:+1k 1:1e9:x1 fp32 bf16 fwd bwd fwd+bwd ring
        ulysses usp allgather none 0.5 1.5 nan inf table csv json jsonl pm range off auto "" " " ","
        $'a\nb' $'\033[31m' '%s%n%x' "$(printf 'x%.0s' {1..300})")
paths=(/dev/null /dev/full /dev/zero "$tmp/fifo" "$tmp/dir" "$tmp/missing/x" "$tmp/out.json" "$tmp/cap.lccap" - "")
bad_values=(garbage -5 1x2 99999999999999999999 "")

declare -A by_status
total=0 crashes=0 hangs=0 silent=0 multiline=0 start=$SECONDS
while [ "$total" -lt "$cases" ]; do
    cmd=$(pick commands)
    args=()
    [ -n "$cmd" ] && args+=("$cmd")
    bad=0
    n=$((RANDOM % 7))
    case $cmd in
    run)
        real=$((RANDOM % 5 == 0))
        for ((k = 0; k < n; k++)); do
            f=$(pick run_flags)
            case $f in
            --capture | -o) args+=("$f" "$(pick paths)") ;;
            --seqlen) if [ "$real" = 1 ]; then args+=(--seqlen 64); else args+=(--seqlen "$(pick values)"); fi ;;
            --iters | --warmup | --workers | --gpus | --batch) if [ "$real" = 1 ]; then args+=("$f" 1); else args+=("$f" "$(pick values)"); fi ;;
            --check | --deterministic | --strict | --quiet | --dry-run | --help) args+=("$f") ;;
            *) args+=("$f" "$(pick values)") ;;
            esac
        done
        if [ "$real" = 1 ]; then args+=(--seqlen 64 --iters 1 --warmup 0 --heads 2:1 --head-dim 16 --quiet)
        else args+=(--dry-run); fi
        case $((RANDOM % 4)) in
        0) args+=(--bogus-flag) bad=1 ;;
        1) args+=(--iters "$(pick bad_values)") bad=1 ;;
        esac
        ;;
    mask)
        args+=("$(pick values)")
        for ((k = 0; k < n; k++)); do args+=("$(pick mask_flags)" "$(pick values)"); done
        # A mask of any size is built: keep it small so the fuzzer stays in its time and memory.
        args+=(--seqlen 1k)
        ;;
    export | view | diff)
        args+=("$(pick paths)")
        for ((k = 0; k < n; k++)); do
            f=$(pick export_flags)
            case $f in -o | --per-rank) args+=("$f" "$(pick paths)") ;; *) args+=("$f" "$(pick values)") ;; esac
        done
        ;;
    *) for ((k = 0; k < n; k++)); do args+=("$(pick values)"); done ;;
    esac
    total=$((total + 1))
    timeout -k 5 20 "$longca" "${args[@]}" </dev/null >"$tmp/out" 2>"$tmp/err"
    rc=$?
    by_status[$rc]=$((${by_status[$rc]:-0} + 1))
    what=$(printf '%q ' "${args[@]}")
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        hangs=$((hangs + 1)); echo "HANG ($rc): longca $what"
    elif [ "$rc" -ge 128 ] || grep -qE "AddressSanitizer|runtime error:|LeakSanitizer" "$tmp/err"; then
        crashes=$((crashes + 1)); echo "CRASH ($rc): longca $what"; head -5 "$tmp/err"
    elif [ "$bad" = 1 ] && [ "$rc" != 2 ] && ! grep -q -- "--help" <<<"${args[*]}"; then
        silent=$((silent + 1)); echo "NOT REFUSED ($rc): longca $what"
    elif [ "$rc" = 0 ] && grep -qiE "unknown|invalid|cannot|refused|out of range|error" "$tmp/err"; then
        silent=$((silent + 1)); echo "EXIT 0 ON AN ERROR: longca $what"; head -3 "$tmp/err"
    elif [ "$rc" = 2 ] && [ "$(wc -l <"$tmp/err")" != 1 ]; then
        multiline=$((multiline + 1)); echo "NOT ONE LINE ($(wc -l <"$tmp/err")): longca $what"; head -3 "$tmp/err"
    fi
    [ -c /dev/null ] || { echo "FATAL: /dev/null is no longer a device"; exit 1; }
done
echo "fuzz_args: $total vectors (seed $seed) in $((SECONDS - start)) s: $crashes crashes, $hangs hangs," \
     "$silent exit-0-on-error, $multiline multi-line refusals; exit statuses: $(for k in "${!by_status[@]}"; do printf '%s:%s ' "$k" "${by_status[$k]}"; done)"
[ $((crashes + hangs + silent + multiline)) = 0 ] || { echo "again: FUZZ_SEED=$seed FUZZ_CASES=$total"; exit 1; }
