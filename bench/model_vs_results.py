#!/usr/bin/env python3
"""longca model's predictions beside the 2 x H200 CP rows of bench/RESULTS.md.

Reads the tables of the section named by --section (default: the runs at commit 0180123), predicts
every (direction, heads, mask, S) row for ring, allgather, ulysses and usp on 2 GPUs with the given
calibration and link figures, and prints a markdown table: measured, predicted, error.

    bench/model_vs_results.py --longca build/longca --calibration calibration-old.txt -- --intra-gbs 358
"""
import argparse
import csv
import io
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--longca", default="longca")
    p.add_argument("--calibration", required=True)
    p.add_argument("--results", default="bench/RESULTS.md")
    p.add_argument("--section", default="## Runs of 2026-11-23, 04:05-04:27 UTC")
    p.add_argument("extra", nargs="*", help="topology flags passed to longca model")
    a = p.parse_args()
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
