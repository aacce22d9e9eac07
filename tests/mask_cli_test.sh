#!/bin/bash
# `longca mask`: exact JSON for known masks, the text form, and exit status 2 with one line on
# stderr (nothing on stdout) for bad input. $1 = the longca binary.
longca=$1
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect_json() { # expected-json args...
    local want=$1
    shift
    local got
    got=$("$longca" mask "$@" --format json 2>"$tmp/err")
    local rc=$?
    if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
        echo "FAIL: longca mask $* --format json (rc $rc)"
        echo "  want: $want"
        echo "  got:  $got $(cat "$tmp/err")"
        fail=1
    fi
}

expect_usage_error() { # args...
    "$longca" mask "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    local lines
    lines=$(wc -l <"$tmp/err")
    if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || [ -s "$tmp/out" ]; then
        echo "FAIL: longca mask $* exited $rc with $lines stderr lines: $(cat "$tmp/err")"
        fail=1
    fi
}

expect_json '{"mask":"causal","seqlen":1024,"params":{},"slices":[[0,1024,0,1024,"causal"]],"area":524800,"density":0.50048828125}' \
    causal --seqlen 1k
expect_json '{"mask":"full","seqlen":7,"params":{},"slices":[[0,7,0,7,"full"]],"area":49,"density":1}' full --seqlen 7
# sum over q of min(q, W) + 1: 1024 * 1025 / 2 + 3072 * 1025
expect_json '{"mask":"sliding_window_causal","seqlen":4096,"params":{"window":1024},"slices":[[0,1025,0,1025,"causal"],[1025,4096,1,4096,"bicausal"]],"area":3673600,"density":0.218963623046875}' \
    sliding_window_causal --seqlen 4k --window 1k
# prefix 3 of 10: 3 rows see keys 0..2, row q >= 3 sees q + 1 keys: 9 + (4 + ... + 10) = 58
expect_json '{"mask":"prefix_lm_causal","seqlen":10,"params":{"prefix":3,"seed":42},"slices":[[0,10,0,3,"full"],[3,10,3,10,"causal"]],"area":58,"density":0.58}' \
    prefix_lm_causal --seqlen 10 --prefix 3

text=$("$longca" mask causal --seqlen 1k --rows 4 --cols 8 --ascii)
if [ $? -ne 0 ] || ! grep -q "area: 524800 of 1048576 pairs" <<<"$text" || ! grep -qx '##\*\.    ' <<<"$text"; then
    echo "FAIL: text form of causal:"
    echo "$text"
    fail=1
fi
if ! "$longca" mask block_sparse --seqlen 2k --heads-kv 2 --format json | grep -q '"blocks":\[512,512\]'; then
    echo "FAIL: block_sparse 2K (32 x 32 blocks of 64, density 0.5) does not keep 512 blocks per head"
    fail=1
fi
"$longca" mask --help >/dev/null || { echo "FAIL: longca mask --help"; fail=1; }

expect_usage_error causual --seqlen 1k
expect_usage_error causal
expect_usage_error causal --seqlen 0
expect_usage_error causal --seqlen -4
expect_usage_error causal --seqlen 1099511627776
expect_usage_error causal --seqlen 4q
expect_usage_error causal --seqlen
expect_usage_error sliding_window --seqlen 1k --window -3
expect_usage_error block_sparse --seqlen 1k --block 32
expect_usage_error block_sparse --seqlen 1k --density 0
expect_usage_error block_sparse --seqlen 1k --density 1.5
expect_usage_error prefix_lm_causal --seqlen 100 --prefix 101
expect_usage_error full_document --seqlen 1k --doclen wiki
expect_usage_error causal --seqlen 1k --format xml
expect_usage_error causal --seqlen 1k --bogus 1

# A mask that cannot be laid out in memory is refused by its estimate at once (exit 1), not
# built until the OOM killer comes (S = 1G, B = 1: about 56 GiB). The address-space limit only
# guards the machine should the estimate break: the build would then fail later, otherwise.
if [ -z "${ASAN_OPTIONS:-}" ]; then
  start=$SECONDS
  err=$( (ulimit -v 8000000 && timeout 60 "$longca" mask block_causal_document --seqlen 1g --block 1) 2>&1 >/dev/null)
  rc=$?
  if [ $rc -eq 1 ] && [ $((SECONDS - start)) -le 30 ] && [[ $err == *"to lay out, more than the"* ]]; then
    echo "ok: refused by its estimate: $err"
  else
    echo "FAIL: block_causal_document S=1G B=1: exit $rc after $((SECONDS - start)) s: $err"
    fail=1
  fi
fi

# block_sparse draws a block grid per KV head: at S = 4M it is refused at once (it ran over 60 s
# at 14 GB).
start=$SECONDS
err=$(timeout 60 "$longca" mask block_sparse --seqlen 4m 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 2 ] && [ $((SECONDS - start)) -le 10 ] && [[ $err == *"too many to draw"* ]] && [ "$(echo "$err" | wc -l)" = 1 ]; then
  echo "ok: block_sparse S=4M refused: $err"
else
  echo "FAIL: block_sparse S=4M: exit $rc after $((SECONDS - start)) s: $err"
  fail=1
fi

[ $fail -eq 0 ] && echo "longca mask: all checks passed"
exit $fail
