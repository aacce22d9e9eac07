#!/usr/bin/env python3
"""Where the simulated ranks of a `longca model --capture` file wait: per run, the ranks that
end last, with their attention time, the time their compute stream stands idle (waiting for
communication) and the CP steps it waits longest before; and the sum over steps of the longest
attention any traced rank has at that step (what a run takes if every step waits for all ranks).

    longca model ... --capture m.lccap --trace-ranks 64 && bench/model_idle.py m.lccap
"""
import json
import sys
from collections import defaultdict


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: model_idle.py CAPTURE [RANKS_SHOWN]")
    shown = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    specs, streams = {}, defaultdict(lambda: defaultdict(list))
    with open(sys.argv[1]) as f:
        for line in f:
            e = json.loads(line)
            if e["type"] == "run_queued":
                s = e["spec"]
                specs[e["run"]] = f'{s["cp_method"]} {s["cp_degree"]} GPUs {s["mask"]} S={s["seqlen"]} {s["direction"]}'
            elif e["type"] == "intervals":
                for i in e["intervals"]:
                    if i["stream"] == 0:  # the compute stream: attention and memory passes
                        streams[e["run"]][e["rank"] - 1].append((i["start_ns"], i["end_ns"], i["kind"], i["cp_step"]))
    for run, ranks in sorted(streams.items()):
        rows, step_max = [], defaultdict(int)
        for rank, iv in ranks.items():
            per_step = defaultdict(int)
            for start, end, kind, step in iv:
                if kind == "compute":
                    per_step[step] += end - start
            for step, v in per_step.items():
                step_max[step] = max(step_max[step], v)
            iv.sort()
            t, idle, compute, by_step = 0, 0, 0, defaultdict(int)
            for start, end, kind, step in iv:
                if start > t:
                    idle += start - t
                    by_step[step] += start - t
                if kind == "compute":
                    compute += end - start
                t = max(t, end)
            rows.append((t, rank, compute, idle, by_step))
        print(f"{specs.get(run, run)}: {len(rows)} ranks traced; the longest attention of each step, "
              f"summed over steps: {sum(step_max.values()) / 1e6:.2f} ms")
        for t, rank, compute, idle, by_step in sorted(rows, reverse=True)[:shown]:
            worst = sorted(by_step.items(), key=lambda kv: -kv[1])[:6]
            steps = " ".join(f"s{s}:{v / 1e6:.2f}" for s, v in worst)
            print(f"  rank {rank}: ends {t / 1e6:.2f} ms, attention {compute / 1e6:.2f} ms, "
                  f"idle {idle / 1e6:.2f} ms (longest before steps {steps})")


if __name__ == "__main__":
    main()
