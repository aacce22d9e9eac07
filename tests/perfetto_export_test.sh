#!/usr/bin/env bash
# `longca export --format perfetto` read back with Perfetto's own protos (the `perfetto` Python
# package ships them): every packet parses, interned names are defined once and used after,
# each track's begins and ends nest, and the slices (track, name, start, duration), the tracks
# and the counters are exactly the JSON export's. Runs where `from perfetto.protos...` imports
# in $LONGCA_PYTHON or python3; skips with the reason otherwise.
set -u
longca=$1
py=python3
for candidate in ${LONGCA_PYTHON:-} python3; do # the first that has the module
    "$candidate" -c 'from perfetto.protos.perfetto.trace import perfetto_trace_pb2' 2>/dev/null && { py=$candidate; break; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! mpirun -np 3 "$longca" run --cp ring --gpus 2 --mask causal --seqlen 256,512 --warmup 1 --iters 2 \
    --capture "$tmp/cap.lccap" --quiet >"$tmp/run.out" 2>&1; then
    echo "FAIL: the 2-rank ring capture:"; cat "$tmp/run.out"; exit 1
fi
# Counter samples as a GPU run records them (a CPU run has none): two series on rank 1.
t=$(grep -m1 '"type":"run_started"' "$tmp/cap.lccap" | sed 's/.*"t_ns":\([0-9]*\).*/\1/')
for k in 1 2 3; do
    printf '{"type":"counters","run":0,"rank":1,"t_ns":%s,"samples":[{"t_ns":%s,"metric":"sm__throughput.avg.pct_of_peak_sustained_elapsed","value":%s.5},{"t_ns":%s,"metric":"dram__throughput.avg.pct_of_peak_sustained_elapsed","value":%s.25}]}\n' \
        "$((t + k * 1000000))" "$((t + k * 1000000))" "$((40 + k))" "$((t + k * 1000000))" "$((10 + k))" >>"$tmp/cap.lccap"
done
"$longca" export "$tmp/cap.lccap" -o "$tmp/trace.json" >"$tmp/out" 2>&1 &&
    "$longca" export "$tmp/cap.lccap" --format perfetto >>"$tmp/out" 2>&1 ||
    { echo "FAIL: export:"; cat "$tmp/out"; exit 1; }
cat "$tmp/out"
[ -s "$tmp/cap.lccap.perfetto-trace" ] || { echo "FAIL: no CAPTURE.perfetto-trace by default"; exit 1; }
"$longca" export "$tmp/cap.lccap" --format pftrace >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: --format pftrace accepted"; exit 1; }

if ! "$py" -c 'from perfetto.protos.perfetto.trace import perfetto_trace_pb2' 2>/dev/null; then
    echo "skipped: Perfetto's protos do not import in $py (pip install perfetto; set LONGCA_PYTHON)"
    exit 77
fi
"$py" - "$tmp/cap.lccap.perfetto-trace" "$tmp/trace.json" <<'PYEOF' || { echo "perfetto_export_test: FAILED"; exit 1; }
import collections, json, sys
from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

trace = pb.Trace()
trace.ParseFromString(open(sys.argv[1], "rb").read())
tracks, pids, names, annotation_names, categories = {}, {}, {}, {}, {}
slices, counters, open_on = collections.Counter(), collections.Counter(), collections.defaultdict(list)
inline = collections.Counter()  # names of one slice each (runs, ProfilerStep#N), not interned
assert trace.packet[0].sequence_flags & 1, "the first packet does not clear the sequence's state"
for p in trace.packet:
    assert p.trusted_packet_sequence_id == 1
    for table, entries in ((names, p.interned_data.event_names), (categories, p.interned_data.event_categories),
                           (annotation_names, p.interned_data.debug_annotation_names)):
        for e in entries:
            assert e.iid not in table, f"iid {e.iid} ({e.name}) interned twice"
            table[e.iid] = e.name
    if p.HasField("track_descriptor"):
        d = p.track_descriptor
        assert d.uuid not in tracks and d.uuid not in pids, f"track uuid {d.uuid} described twice"
        if d.HasField("process"): pids[d.uuid] = d.process.pid
        else: tracks[d.uuid] = (pids[d.parent_uuid], d.name, d.HasField("counter"))
    if p.HasField("track_event"):
        e = p.track_event
        pid, track, is_counter = tracks[e.track_uuid]
        for a in e.debug_annotations: assert a.name_iid in annotation_names
        if e.type == pb.TrackEvent.TYPE_SLICE_BEGIN:
            assert (e.name_iid in names) != e.HasField("name") and all(c in categories for c in e.category_iids)
            if e.HasField("name"): inline[e.name] += 1
            open_on[e.track_uuid].append((names[e.name_iid] if e.name_iid else e.name, p.timestamp))
        elif e.type == pb.TrackEvent.TYPE_SLICE_END:
            name, start = open_on[e.track_uuid].pop()
            assert p.timestamp >= start, f"{name} ends before it begins on {track}"
            slices[(pid, track, name, start, p.timestamp - start)] += 1
        elif e.type == pb.TrackEvent.TYPE_COUNTER:
            assert is_counter
            counters[(pid, track, p.timestamp, e.double_counter_value)] += 1
assert not any(open_on.values()), "slices left open"

doc = json.load(open(sys.argv[2]))
thread_names = {(e["pid"], e["tid"]): e["args"]["name"] for e in doc["traceEvents"] if e.get("name") == "thread_name"}
ns = lambda us: round(us * 1000)
json_slices = collections.Counter((e["pid"], thread_names[(e["pid"], e["tid"])], e["name"], ns(e["ts"]), ns(e["dur"]))
                                  for e in doc["traceEvents"] if e["ph"] == "X")
json_counters = collections.Counter((e["pid"], e["name"], ns(e["ts"]), e["args"]["value"])
                                    for e in doc["traceEvents"] if e["ph"] == "C")
json_tracks = {(pid, name) for (pid, _), name in thread_names.items()}
assert slices == json_slices, f"slices differ: {list((slices - json_slices).items())[:3]} / {list((json_slices - slices).items())[:3]}"
assert {(pid, name) for pid, name, c in tracks.values() if not c} == json_tracks, "tracks differ"
assert counters == json_counters and len(counters) == 6, f"counters differ: {counters} / {json_counters}"
assert inline and all(n.startswith(("run ", "ProfilerStep#")) for n in inline), f"inline names: {list(inline)[:5]}"
assert all(names.values()) and not any(n.startswith("ProfilerStep#") for n in names.values()), "one-off names interned"
print(f"perfetto protos: {len(trace.packet)} packets, {sum(slices.values())} slices on {len(json_tracks)} tracks "
      f"of {len(pids)} processes, {sum(counters.values())} counter values, {len(names)} interned names: "
      "the same as the JSON export")
PYEOF
echo "perfetto_export_test: all checks passed"
