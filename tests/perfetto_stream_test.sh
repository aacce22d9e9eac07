#!/usr/bin/env bash
# `longca export --format perfetto` streams: its peak memory does not grow with the capture. Two
# synthetic captures of the same runs (2000 intervals each, with launches and iterations), one
# 8 times longer than the other, are exported from the file (streamed) and from stdin (a pipe
# cannot be read twice, so that path gathers the trace in memory: the control that shows this
# test sees growth). Peak RSS from getrusage of the child (python3); under AddressSanitizer its
# quarantine of freed memory is kept small so that freed runs are not counted.
set -u
longca=$1
command -v python3 >/dev/null || { echo "skipped: python3 measures the peak memory and is missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=2
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# capture RUNS: one worker, RUNS runs of 2000 intervals (compute on stream 7, comm on stream 9,
# 10 per iteration), each with its result and the front end's run_done.
capture() {
    awk -v runs="$1" 'function n(x) { return sprintf("%.0f", x) }
    BEGIN {
      t = 1000000000000
      result = "\"result\":{\"status\":\"ok\",\"message\":\"\",\"ms_median\":1,\"ms_p20\":1,\"ms_p80\":1,\"ms_mean_ranks\":0,\"flops\":1,\"tflops\":0,\"tflops_mean\":0,\"area\":1,\"density\":1,\"peak_mem_bytes\":1,\"check_ran\":false,\"check_pass\":false,\"max_abs_err\":0,\"max_rel_err\":0,\"work\":1,\"work_imbalance\":0,\"comm_bytes\":0,\"algbw_gbs\":0,\"busbw_gbs\":0,\"cores\":1,\"ranks\":1}"
      print "{\"type\":\"hello\",\"run\":-1,\"rank\":1,\"t_ns\":" n(t) ",\"host\":\"h\",\"device\":\"cpu\",\"backend\":\"cpu\",\"local_index\":0,\"clock_offset_ns\":0,\"clock_residual_ns\":0,\"driver\":\"\",\"cuda\":\"\",\"nccl\":\"\",\"cudnn\":\"\"}"
      for (r = 0; r < runs; r++) {
        print "{\"type\":\"run_started\",\"run\":" r ",\"rank\":1,\"t_ns\":" n(t) "}"
        for (k = 0; k < 2000; k += 100) {
          line = "{\"type\":\"intervals\",\"run\":" r ",\"rank\":1,\"t_ns\":" n(t) ",\"intervals\":["
          for (j = k; j < k + 100; j++) {
            s = t + 1000 * j
            line = line (j > k ? "," : "") "{\"start_ns\":" n(s) ",\"end_ns\":" n(s + 800) ",\"kind\":\"" (j % 2 ? "comm" : "compute") \
                   "\",\"stream\":" (j % 2 ? 9 : 7) ",\"cp_step\":0,\"iter\":" int(j / 10) ",\"correlation\":0,\"grid\":[1,1,1],\"block\":[1,1,1]," \
                   "\"bytes\":0,\"launch_ns\":" n(s - 100) ",\"launch_end_ns\":" n(s - 50) ",\"name\":\"k" j % 2 "\"}"
          }
          print line "]}"
        }
        t += 1000 * 2000 + 5000
        print "{\"type\":\"result\",\"run\":" r ",\"rank\":1,\"t_ns\":" n(t) "," result "}"
        print "{\"type\":\"run_done\",\"run\":" r ",\"rank\":-1,\"t_ns\":" n(t) "," result "}"
      }
    }'
}

# peak_kb CAPTURE|- OUT [STDIN]: the export's peak resident set in KB; its summary in OUT.say
peak_kb() {
    python3 -c 'import resource, subprocess, sys
with open(sys.argv[3]) as stdin, open(sys.argv[2] + ".say", "w") as say:
    subprocess.run(sys.argv[4:], stdin=stdin, stdout=say, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$1" "$2" "$3" "$longca" export "$1" --format perfetto -o "$2"
}

capture 5 >"$tmp/small.lccap"
capture 40 >"$tmp/large.lccap"
small_stream=$(peak_kb "$tmp/small.lccap" "$tmp/s.pt" /dev/null) || { echo "FAIL: streamed export"; cat "$tmp/s.pt.say"; exit 1; }
large_stream=$(peak_kb "$tmp/large.lccap" "$tmp/l.pt" /dev/null) || { echo "FAIL: streamed export"; cat "$tmp/l.pt.say"; exit 1; }
small_memory=$(peak_kb - "$tmp/sm.pt" "$tmp/small.lccap") || { echo "FAIL: export from stdin"; exit 1; }
large_memory=$(peak_kb - "$tmp/lm.pt" "$tmp/large.lccap") || { echo "FAIL: export from stdin"; exit 1; }
cat "$tmp/l.pt.say"
grep -q "80000 interval(s), 80000 launch(es)" "$tmp/l.pt.say" || fail "the streamed export lost intervals"
head -1 "$tmp/l.pt.say" | sed 's/.*: //; s/ in .*//' >"$tmp/a"
head -1 "$tmp/lm.pt.say" | sed 's/.*: //; s/ in .*//' >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "streamed and in-memory exports differ: $(cat "$tmp/a") / $(cat "$tmp/b")"
[ "$(stat -c %s "$tmp/l.pt")" = "$(stat -c %s "$tmp/lm.pt")" ] || fail "streamed and in-memory traces differ in size"
stream_growth=$((large_stream - small_stream))
memory_growth=$((large_memory - small_memory))
echo "peak RSS, 10000 -> 80000 intervals: streamed $small_stream -> $large_stream KB (+$stream_growth), in memory $small_memory -> $large_memory KB (+$memory_growth)"
[ "$memory_growth" -gt 8192 ] || fail "the in-memory control grew only $memory_growth KB: the captures are too small to show anything"
[ "$stream_growth" -lt 2048 ] || fail "the streamed export grew by $stream_growth KB with the capture"
[ "$failed" -eq 0 ] || { echo "perfetto_stream_test: FAILED"; exit 1; }
echo "perfetto_stream_test: all checks passed"
