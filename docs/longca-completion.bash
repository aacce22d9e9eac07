# bash completion for longca: sub-commands, their flags, and the kernel, mask and CP method
# names this build has (asked of `longca list` as you type, so plugins and CUDA builds count).
# Installed by `cmake --install` into share/bash-completion/completions/longca.

_longca_names() { # kernels | masks | cp: the first word of each entry of `longca list WHAT`
    "${COMP_WORDS[0]}" list "$1" 2>/dev/null | awk '/^  [a-z]/ { print $1 }'
}

# Completes a comma-separated list: only the item after the last comma is completed.
_longca_list() {
    local cur=$1
    shift
    local head="" item=$cur
    if [[ $cur == *,* ]]; then
        head=${cur%,*},
        item=${cur##*,}
    fi
    local IFS=$'\n'
    COMPREPLY=($(compgen -P "$head" -W "$*" -- "$item"))
    compopt -o nospace 2>/dev/null
}

_longca() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cmd="" k
    for ((k = 1; k < COMP_CWORD; k++)); do
        case ${COMP_WORDS[k]} in
        run | mask | list | view | export | diff | model | help) cmd=${COMP_WORDS[k]}; break ;;
        esac
    done

    case $prev in
    --kernel) _longca_list "$cur" "$(_longca_names kernels)"; return ;;
    --mask) _longca_list "$cur" "$(_longca_names masks)"; return ;;
    --cp) _longca_list "$cur" "none" "$(_longca_names cp)"; return ;;
    --dtype) _longca_list "$cur" bf16 fp16 fp32; return ;;
    --direction) _longca_list "$cur" fwd bwd fwd+bwd; return ;;
    --counters) COMPREPLY=($(compgen -W "pm range off" -- "$cur")); return ;;
    --doclen) COMPREPLY=($(compgen -W "auto pile prolong64k prolong512k long" -- "$cur")); return ;;
    --ignore) COMPREPLY=($(compgen -W "kernel" -- "$cur")); return ;;
    --format)
        case $cmd in
        run) COMPREPLY=($(compgen -W "table csv json jsonl" -- "$cur")) ;;
        export) COMPREPLY=($(compgen -W "json perfetto" -- "$cur")) ;;
        diff | model) COMPREPLY=($(compgen -W "table csv json" -- "$cur")) ;;
        mask) COMPREPLY=($(compgen -W "text json" -- "$cur")) ;;
        esac
        return
        ;;
    -o | --output | --capture | --compare | --calibration | --from | --links) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --per-rank) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --seqlen | --batch | --heads | --head-dim | --gpus | --cp-inner | --warmup | --iters | --window | --global | \
        --prefix | --block | --density | --seed | --workers | --run | --heads-kv | --head | --rows | --cols | \
        --gpus-per-node | --intra-gbs | --intra-us | --inter-gbs | --inter-us | --memory-gbs | --kernel-tflops | \
        --trace-ranks | --from-version | --device)
        return ;;
    esac

    local flags
    case $cmd in
    "") flags="run mask list view export diff model help --workers --capture --no-color --no-mouse --version --help" ;;
    run) flags="--kernel --mask --seqlen --batch --heads --head-dim --dtype --direction --cp --gpus --cp-inner
        --warmup --iters --check --deterministic --counters --window --global --prefix --block --density --doclen
        --seed --format --output --capture --workers --dry-run --quiet --help" ;;
    model) flags="--kernel --mask --seqlen --batch --heads --head-dim --dtype --direction --cp --gpus --cp-inner
        --window --global --prefix --block --density --doclen --seed --gpus-per-node --intra-gbs --intra-us
        --inter-gbs --inter-us --memory-gbs --links --calibration --kernel-tflops --calibrate --from --from-version --device
        --format --output --capture --trace-ranks --help" ;;
    mask)
        if [[ $cur != -* ]] && ((COMP_CWORD == k + 1)); then
            COMPREPLY=($(compgen -W "$(_longca_names masks)" -- "$cur"))
            return
        fi
        flags="--seqlen --window --global --prefix --block --density --doclen --seed --heads-kv --head --format
            --ascii --rows --cols --help" ;;
    list) flags="kernels masks cp" ;;
    view) flags="--compare --no-color --no-mouse --help" ;;
    export) flags="--format --output --per-rank --run --help" ;;
    diff) flags="--format --ignore --help" ;;
    esac
    if [[ $cur == -* || $cmd == "" || $cmd == list ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur")) # captures and results files
    fi
}
complete -F _longca longca
