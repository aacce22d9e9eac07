#!/usr/bin/env python3
"""Side-by-side table of bench/cp.sh: longca's CP methods (per-GPU TFLOP/s of the slowest rank, the mean
rank in brackets), longca's single-GPU flash at the per-GPU length, torch context_parallel, and the
ratios the targets are stated in (ring and allgather vs single-GPU flash; ring vs torch's flash ring).

usage: cp_table.py longca_cp.csv longca_single.csv cp_peers.csv GPUS
"""
import csv
import sys


def read(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return []


def num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def main():
    cp_rows, single_rows, peer_rows, gpus = read(sys.argv[1]), read(sys.argv[2]), read(sys.argv[3]), int(sys.argv[4])
    methods = []
    cp = {}
    for r in cp_rows:
        if r["cp"] not in methods:
            methods.append(r["cp"])
        key = (r["direction"], r["mask"], int(r["seqlen"]), f'{r["heads_q"]}:{r["heads_kv"]}')
        cp[key + (r["cp"],)] = (num(r["tflops"]), num(r["tflops_mean"]), r["status"], r["message"])
    single = {(r["direction"], r["mask"], int(r["seqlen"]), f'{r["heads_q"]}:{r["heads_kv"]}'): num(r["tflops"])
              for r in single_rows if r["status"] == "ok"}
    peers = {}
    for r in peer_rows:
        key = (r["direction"], r["mask"], int(r["seqlen"]), f'{r["heads_q"]}:{r["heads_kv"]}', r["peer"])
        peers[key] = num(r["tflops_per_gpu"]) if r["status"] == "ok" else None
    keys = sorted({k[:4] for k in cp}, key=lambda k: (k[0], k[3], k[1], k[2]))

    head = ["dir", "heads", "mask", "S total", "flash 1 GPU @S/P"] + methods + ["cp_flash", "cp_cudnn",
                                                                                "ring/1GPU", "allgather/1GPU",
                                                                                "ring/cp_flash"]
    print("TFLOP/s per GPU on %d GPUs (slowest rank; mean rank in brackets)\n" % gpus)
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    notes = []
    for k in keys:
        base = single.get((k[0], k[1], k[2] // gpus, k[3]))
        cells = [k[0], k[3], k[1], f"{k[2] // 1024}K", f"{base:.1f}" if base else "-"]
        for m in methods:
            t, mean, status, msg = cp.get(k + (m,), (None, None, "missing", ""))
            if t and status == "ok":
                cells.append(f"{t:.1f} ({mean:.1f})")
            else:
                cells.append(status)
                if msg:
                    notes.append(f"{m} {k[0]} {k[1]} {k[2] // 1024}K {k[3]}: {msg}")
        pf, pc = peers.get(k + ("cp_flash",)), peers.get(k + ("cp_cudnn",))
        cells += [f"{pf:.1f}" if pf else "-", f"{pc:.1f}" if pc else "-"]
        ring, ag = cp.get(k + ("ring",), (None,))[0], cp.get(k + ("allgather",), (None,))[0]
        cells.append(f"{ring / base:.2f}x" if ring and base else "-")
        cells.append(f"{ag / base:.2f}x" if ag and base else "-")
        cells.append(f"{ring / pf:.2f}x" if ring and pf else "-")
        print("| " + " | ".join(cells) + " |")
    for n in notes[:20]:
        print("- " + n)


if __name__ == "__main__":
    main()
