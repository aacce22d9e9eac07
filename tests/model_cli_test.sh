#!/usr/bin/env bash
# longca model from the command line: predictions in the three formats with run's column names
# and predicted true, a method that refuses a degree reported on its row, the capture of the
# simulated timelines read back by longca export (intervals marked simulated), a calibration
# fitted from a CSV of run results and used by name and found in the state folder, and bad input
# (one line, exit status 2).
set -u
longca=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
export XDG_STATE_HOME=$tmp/state
mkdir -m 700 "$XDG_STATE_HOME"
shape=(--kernel cpu --heads 8:8 --head-dim 64 --dtype fp32 --mask causal,causal_document --seqlen 4k)

"$longca" model "${shape[@]}" --gpus 2,4 --cp ring,ulysses,balanced --kernel-tflops 0.05 --format csv >"$tmp/p.csv" ||
    fail "model csv"
head -1 "$tmp/p.csv" | grep -q '^kernel,mask,seqlen,.*,cp,gpus,status,ms_median,tflops,tflops_mean,flops,imbalance,comm_bytes,.*,predicted,message$' ||
    fail "csv header: $(head -1 "$tmp/p.csv")"
[ "$(grep -c ',ok,.*,true,""$' "$tmp/p.csv")" -eq 12 ] || fail "12 predicted rows expected: $(cat "$tmp/p.csv")"
"$longca" model "${shape[@]}" --gpus 2 --cp usp --kernel-tflops 0.05 --format json >"$tmp/p.json" || fail "model json"
grep -q '"predicted": true, "kernel_cost": "assumed 0.05 TFLOP/s' "$tmp/p.json" || fail "json head: $(head -c 300 "$tmp/p.json")"
[ "$(grep -c '"cp": "usp", "gpus": 2, "status": "ok"' "$tmp/p.json")" -eq 2 ] || fail "json rows"
"$longca" model "${shape[@]}" --heads 8:2 --gpus 16 --cp ulysses --kernel-tflops 0.05 >"$tmp/refused.txt" ||
    fail "a refused degree is a row, not a failure"
grep -q 'ulysses .* invalid: .*heads' "$tmp/refused.txt" || fail "refusal not on its row: $(cat "$tmp/refused.txt")"

# The simulated timeline as a capture: the export shows its intervals marked simulated.
"$longca" model "${shape[@]}" --mask causal --gpus 4 --cp ring --kernel-tflops 0.05 --capture "$tmp/m.lccap" \
    >/dev/null || fail "model --capture"
"$longca" export "$tmp/m.lccap" -o "$tmp/m.json" >/dev/null || fail "export of the model's capture"
[ "$(grep -o '"simulated":true' "$tmp/m.json" | wc -l)" -ge 8 ] || fail "simulated intervals missing from the export"
grep -q '"name":"rank 3' "$tmp/m.json" || grep -q 'rank 3' "$tmp/m.json" || fail "rank 3's simulated timeline missing"

# A calibration fitted from a CSV of run results (times made up here: the fit is what is tested).
{
    echo "kernel,mask,seqlen,batch,heads_q,heads_kv,head_dim,dtype,direction,cp,gpus,status,ms_median,message"
    for mask in full causal sliding_window_causal causal_document; do
        for s in 1024 2048 4096; do
            echo "cpu,$mask,$s,1,8,8,64,fp32,fwd,local,1,ok,$((s / 64)).5,\"\""
            echo "cpu,$mask,$s,1,8,8,64,fp32,bwd,local,1,ok,$((s / 16)).25,\"\""
        done
    done
    # other lengths and heads count too; other kernels, failed runs and numbers out of bounds do not
    echo "cpu,causal,512,2,4,2,64,fp32,fwd,local,1,ok,3.5,\"\""
    echo "cpu,causal,512,2,4,2,64,fp32,bwd,local,1,ok,9.5,\"\""
    echo "cpu_ref,causal,512,1,8,8,64,fp32,fwd,local,1,ok,3.5,\"\""
    echo "cpu,causal,512,1,8,8,64,fp32,fwd,local,1,oom,3.5,\"\""
    echo "cpu,causal,99999999999999,1,8,8,64,fp32,fwd,local,1,ok,3.5,\"\""
    echo "cpu,causal,512,1,8,3,64,fp32,fwd,local,1,ok,3.5,\"\""
} >"$tmp/runs.csv"
"$longca" model --calibrate --kernel cpu --dtype fp32 --head-dim 64 --from "$tmp/runs.csv" --device "test cpu" \
    --from-version t1 >"$tmp/cal.txt" || fail "calibrate --from"
grep -q 'from 26 runs, written to .*/longca/calibration-test_cpu-cpu-t1.txt' "$tmp/cal.txt" || fail "calibration: $(cat "$tmp/cal.txt")"
"$longca" model "${shape[@]}" --gpus 2 --cp ring >"$tmp/found.txt" || fail "model with the state folder's calibration"
grep -q 'kernel: calibration .*calibration-test_cpu-cpu-t1.txt (cpu on test cpu, t1)' "$tmp/found.txt" ||
    fail "the calibration was not found: $(head -2 "$tmp/found.txt")"

# Link bandwidth as CP runs measured it: the best bus bandwidth of a results file's CP runs.
timeout 300 "$longca" run --kernel cpu --cp ring --gpus 2 --workers 2 --mask causal --seqlen 256 --warmup 1 --iters 2 \
    --quiet --format jsonl -o "$tmp/ring.jsonl" 2>/dev/null || fail "a ring run to measure links with"
bw=$(grep -o '"busbw_gbs": [0-9.e+-]*' "$tmp/ring.jsonl" | head -1 | awk '{print $2}')
"$longca" model "${shape[@]}" --gpus 2 --cp ring --kernel-tflops 0.05 --links "$tmp/ring.jsonl" >"$tmp/links.txt" ||
    fail "model --links"
awk -v bw="$bw" 'NR == 2 { split($0, a, " GB/s"); n = split(a[1], b, " "); v = b[n]; exit !(v > 0 && (v - bw) ^ 2 < 1e-6 * bw ^ 2) }' \
    "$tmp/links.txt" || fail "--links did not take the run's bus bandwidth $bw: $(sed -n 2p "$tmp/links.txt")"

bad() { # expected exit status 2 and one line on stderr
    "$longca" model "$@" >/dev/null 2>"$tmp/err.txt"
    local st=$?
    [ $st -eq 2 ] || fail "'$*' exited $st, not 2"
    [ "$(wc -l <"$tmp/err.txt")" -eq 1 ] || fail "'$*': not one line: $(cat "$tmp/err.txt")"
}
bad --gpus 1 --kernel-tflops 1
bad --gpus 2048 --kernel-tflops 1
bad --cp local --kernel-tflops 1
bad --cp nonsense --kernel-tflops 1
bad --intra-gbs 0 --kernel-tflops 1
bad --from "$tmp/runs.csv"
bad --links "$tmp/runs.csv" --kernel-tflops 1
bad --kernel cpu_ref --heads 8:8 --head-dim 64 --dtype fp32 --gpus 2 # no calibration of cpu_ref
XDG_STATE_HOME=$tmp/empty bad --kernel flash --gpus 2 --cp ring   # no calibration, no state folder

[ $failed -eq 0 ] && echo "model_cli_test: ok"
exit $failed
