#!/usr/bin/env python3
"""longca model's predictions beside the 2 x H200 CP rows of bench/RESULTS.md.

Reads the tables of the section named by --section (default: the runs at commit 0180123), predicts
every (direction, heads, mask, S) row for ring, allgather, ulysses and usp on 2 GPUs with the given
calibration and link figures, and prints a markdown table: measured, predicted, error.

    bench/model_vs_results.py --longca build/longca --calibration calibration-old.txt -- --intra-gbs 358

With --one-gpu-csv F it writes instead the section's single-GPU `flash` figures (the "flash 1 GPU
@S/P" column, measured in the same calls by the same build) as a `longca run` CSV that
`longca model --calibrate --from F` fits: forward rows as measured, backward rows as the
fwd+bwd time less the forward time of the same shape.
"""
import argparse
import csv
import io
import json
import re
import subprocess
import sys

METHODS = ["ring", "allgather", "ulysses", "usp"]


def rows_of(results, section):
    text = open(results).read()
    start = text.index(section)
    end = text.index("\n## ", start + 1)
    for line in text[start:end].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 9 or cells[0] not in ("fwd", "fwd+bwd"):
            continue
        measured = {}
        one_gpu = re.match(r"([0-9.]+)", cells[4])
        if one_gpu:
            measured["one_gpu"] = float(one_gpu.group(1))
        for i, m in enumerate(METHODS):
            number = re.match(r"([0-9.]+)", cells[5 + i])
            if number:
                measured[m] = float(number.group(1))
        yield cells[0], cells[1], cells[2], cells[3], measured


def predict(longca, calibration, direction, heads, mask, seqlen, extra):
    cmd = [longca, "model", "--kernel", "flash", "--calibration", calibration, "--cp", ",".join(METHODS),
           "--gpus", "2", "--mask", mask, "--seqlen", seqlen.lower(), "--heads", heads, "--direction", direction,
           "--format", "csv"] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {r["cp"]: float(r["tflops"]) for r in csv.DictReader(io.StringIO(out)) if r["status"] == "ok"}


def tokens(seqlen):
    return int(seqlen[:-1]) * 1024 if seqlen[-1] in "kK" else int(seqlen)


def write_one_gpu_csv(longca, rows, path):
    """Times of the single-GPU rows at the per-GPU length (S / 2) from their TFLOP/s and the mask's
    exact area (longca mask), as longca run writes them."""
    times = {}
    for direction, heads, mask, seqlen, measured in rows:
        if "one_gpu" not in measured:
            continue
        s = tokens(seqlen) // 2
        info = json.loads(subprocess.run([longca, "mask", mask, "--seqlen", str(s), "--format", "json"], check=True,
                                         capture_output=True, text=True).stdout)
        hq, hkv = heads.split(":")
        flops = 4.0 * info["area"] * int(hq) * 128 * (3.5 if direction == "fwd+bwd" else 1.0)
        times[(direction, heads, mask, s)] = flops / (measured["one_gpu"] * 1e12) * 1e3
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kernel", "mask", "seqlen", "batch", "heads_q", "heads_kv", "head_dim", "dtype", "direction", "cp",
                    "gpus", "status", "ms_median", "message"])
        for (direction, heads, mask, s), ms in sorted(times.items()):
            if direction == "fwd+bwd":
                fwd = times.get(("fwd", heads, mask, s))
                if fwd is None:
                    continue
                direction, ms = "bwd", ms - fwd
            hq, hkv = heads.split(":")
            w.writerow(["flash", mask, s, 1, hq, hkv, 128, "bf16", direction, "local", 1, "ok", f"{ms:.4f}", ""])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--longca", default="longca")
    p.add_argument("--calibration")
    p.add_argument("--results", default="bench/RESULTS.md")
    p.add_argument("--section", default="## Runs of 2026-11-23, 04:05-04:27 UTC")
    p.add_argument("--one-gpu-csv", help="write the section's single-GPU runs as a longca run CSV, and stop")
    p.add_argument("extra", nargs="*", help="topology flags passed to longca model")
    a = p.parse_args()
    if a.one_gpu_csv:
        write_one_gpu_csv(a.longca, rows_of(a.results, a.section), a.one_gpu_csv)
        return 0
    print("| dir | heads | mask | S | " + " | ".join(f"{m} measured / predicted (error)" for m in METHODS) + " |")
    print("|---|---|---|---|" + "---|" * len(METHODS))
    errors = []
    for direction, heads, mask, seqlen, measured in rows_of(a.results, a.section):
        pred = predict(a.longca, a.calibration, direction, heads, mask, seqlen, a.extra)
        cells = []
        for m in METHODS:
            if m not in measured or m not in pred:
                cells.append("-")
                continue
            err = 100.0 * (pred[m] / measured[m] - 1)
            errors.append(abs(err))
            cells.append(f"{measured[m]:.1f} / {pred[m]:.1f} ({err:+.1f} %)")
        print(f"| {direction} | {heads} | {mask} | {seqlen} | " + " | ".join(cells) + " |")
    if errors:
        within = sum(e <= 10 for e in errors)
        print(f"\n{within} of {len(errors)} predictions within 10 %; largest error {max(errors):.1f} %, "
              f"median {sorted(errors)[len(errors) // 2]:.1f} %")


if __name__ == "__main__":
    sys.exit(main())
