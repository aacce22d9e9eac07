#!/usr/bin/env python3
"""Side-by-side table for bench/kernels.sh: longca's CSV (longca run --format csv) beside the
PyTorch peers' CSV (bench/peers.py), TFLOP/s with flash's ratios to SDPA cuDNN, FlexAttention and
the cuBLAS GEMM roof (when the peers measured it), block-sparse B=64 against B=128, then the peak
device memory of every run. Markdown, so it pastes into RESULTS.md."""
import csv
import sys

PEERS = ["sdpa_flash", "sdpa_cudnn", "sdpa_efficient", "flex"]
OURS = ["flash", "flash_mma", "naive"]


def load(longca_csvs, peers_csv):
    runs = {}  # (mask, seqlen, direction) -> {name: (status, tflops, peak, message)}
    for path in longca_csvs:
        with open(path) as f:
            for r in csv.DictReader(f):
                key = (r["mask"], int(r["seqlen"]), r["direction"])
                ok = r["status"] == "ok"
                runs.setdefault(key, {})[r["kernel"]] = (r["status"], float(r["tflops"]) if ok else None,
                                                         int(r["peak_mem_bytes"]) if ok else None, r["message"])
    with open(peers_csv) as f:
        for r in csv.DictReader(f):
            key = (r["mask"], int(r["seqlen"]), r["direction"])
            ok = r["status"] == "ok"
            runs.setdefault(key, {})[r["peer"]] = (r["status"], float(r["tflops"]) if ok else None,
                                                   int(r["peak_mem_bytes"]) if ok else None, r["note"])
    return runs


def cell(entry, what):
    if entry is None:
        return "-"
    status, tflops, peak, _ = entry
    if status != "ok":
        return status.lower()
    return f"{tflops:.1f}" if what == "tflops" else f"{peak / 2**30:.2f}"


def ratio(a, b):
    if not a or not b or a[1] is None or b[1] is None:
        return "-"
    return f"{a[1] / b[1]:.2f}x"


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: table.py LONGCA_CSV [LONGCA_CSV...] PEERS_CSV")
    runs = load(sys.argv[1:-1], sys.argv[-1])
    roof = runs.pop(("gemm_8192", 8192, "fwd"), {}).get("cublas_gemm")
    present = {n for row in runs.values() for n in row}
    names = [n for n in OURS + PEERS if n in present]
    masks = ["full", "causal", "sliding_window_causal", "causal_document"]
    order = sorted(runs, key=lambda k: (k[2] != "fwd", masks.index(k[0]) if k[0] in masks else len(masks), k[0], k[1]))
    roof_note = f"; roof: cuBLAS bf16 GEMM 8192^3 at {cell(roof, 'tflops')} in the same run" if roof else ""
    print(f"TFLOP/s (fwd 4*area*h_q*d, bwd 2.5x; area from the mask{roof_note})\n")
    print("| dir | mask | S | " + " | ".join(names) + " | flash/sdpa_cudnn | flash/flex | flash/roof |")
    print("|" + "---|" * (len(names) + 6))
    for key in order:
        row = runs[key]
        cells = [cell(row.get(n), "tflops") for n in names]
        print(f"| {key[2]} | {key[0]} | {key[1] // 1024}K | " + " | ".join(cells) +
              f" | {ratio(row.get('flash'), row.get('sdpa_cudnn'))} | {ratio(row.get('flash'), row.get('flex'))}"
              f" | {ratio(row.get('flash'), roof)} |")
    sparse = sorted(k for k in runs if k[0].startswith("block_sparse/B64/"))
    if sparse:
        print("\nBlock-sparse: flash at B=64 against flash at B=128, same density and S\n")
        print("| dir | density | S | B=64 | B=128 | B=64/B=128 |")
        print("|---|---|---|---|---|---|")
        for key in sparse:
            wide = runs.get((key[0].replace("/B64/", "/B128/"), key[1], key[2]), {}).get("flash")
            narrow = runs[key].get("flash")
            print(f"| {key[2]} | {key[0].split('/d')[1]} | {key[1] // 1024}K | {cell(narrow, 'tflops')} |"
                  f" {cell(wide, 'tflops')} | {ratio(narrow, wide)} |")
    print("\nPeak device memory, GiB (inputs, outputs and workspace of the run)\n")
    print("| dir | mask | S | " + " | ".join(names) + " |")
    print("|" + "---|" * (len(names) + 3))
    for key in order:
        row = runs[key]
        print(f"| {key[2]} | {key[0]} | {key[1] // 1024}K | " + " | ".join(cell(row.get(n), "mem") for n in names) + " |")
    notes = {}
    for key in order:
        for n, e in runs[key].items():
            if e[3]:
                notes.setdefault((n, e[3].split(":")[0][:60]), (key, e[3]))
    if notes:
        print("\nNotes (first occurrence of each)")
        for (n, _), (key, msg) in sorted(notes.items()):
            print(f"- {n} {key[2]} {key[0]} {key[1] // 1024}K: {msg}")


if __name__ == "__main__":
    main()
