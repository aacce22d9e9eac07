#!/usr/bin/env bash
# What `longca model` predicts for the published CP trend (8K tokens per GPU, 8 to 64 GPUs,
# 64:8 heads, d=128, bf16, forward; full, causal, and causal_document with ProLong-512K
# documents) and for issue 18's target (balanced against ring at 32 GPUs), as CSV, then a
# summary: each method's 64-GPU figure over its 8-GPU one, Ulysses', USP's and balanced's over
# ring's, and the attention work per GPU of causal_document at each scale over causal's (the
# documents are drawn at each sequence length, so how many long ones it holds changes with it).
# DOCLEN picks the document lengths (default prolong512k; prolong64k has no document over 64K).
# Pass the calibration and any topology flag through:
#   LONGCA=build/longca bench/model_trend.sh --calibration calibration-new.txt
set -euo pipefail
LONGCA=${LONGCA:-longca}
methods=${METHODS:-ring,allgather,ulysses,usp,double_ring,balanced}
doclen=${DOCLEN:-prolong512k}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
first=1
for mask in full causal causal_document; do
    for gpus in 8 16 32 64; do
        "$LONGCA" model --kernel flash --mask "$mask" --doclen "$doclen" --seqlen $((8192 * gpus)) --gpus "$gpus" \
            --heads 64:8 --cp "$methods" --format csv "$@" | if ((first)); then cat; else tail -n +2; fi
        first=0
    done
done | tee "$tmp"
echo
awk -F, 'NR > 1 && $12 == "ok" { t[$2 "," $10 "," $11] = $14; w[$2 "," $11] = $16 / $11 }
END {
    split("full causal causal_document", masks, " ")
    split("ring allgather ulysses usp double_ring balanced", ms, " ")
    for (i = 1; i <= 3; i++) {
        printf "%s, 64 GPUs over 8 GPUs (per-GPU TFLOP/s):", masks[i]
        for (j = 1; j <= 6; j++) {
            a = t[masks[i] "," ms[j] ",8"]; b = t[masks[i] "," ms[j] ",64"]
            if (a > 0 && b > 0) printf " %s %.0f%%", ms[j], 100 * b / a
        }
        printf "\n"
    }
    printf "causal_document attention work per GPU, over causal'"'"'s (TFLOP):"
    for (g = 8; g <= 64; g *= 2)
        if (w["causal," g] > 0) printf " %d GPUs %.3g (%.1f%%)", g, w["causal_document," g] / 1e12, 100 * w["causal_document," g] / w["causal," g]
    printf "\n"
    for (g = 8; g <= 64; g *= 2) {
        r = t["causal_document,ring," g]
        if (r <= 0) continue
        printf "causal_document at %d GPUs, over ring (%.1f TFLOP/s):", g, r
        for (j = 2; j <= 6; j++) { x = t["causal_document," ms[j] "," g]; if (x > 0) printf " %s %.2fx", ms[j], x / r }
        printf "\n"
    }
}' "$tmp"
