#!/usr/bin/env python3
"""Where the time of one cuDNN attention call goes, in longca and in PyTorch: the GPU work of a
call of `longca run --kernel cudnn` (CUPTI, from its capture) beside PyTorch's SDPA cuDNN
(torch.profiler) on the same shape, per kernel name: calls and mean microseconds per call. It
tells whether a gap between the two is cuDNN's own kernel or the work around it. PyTorch runs
twice: Q, K, V contiguous as [b, h, s, d] (what bench/peers.py times) and as [b, s, h, d]
tensors seen through transpose(1, 2) (longca's layout, the one most models hand to SDPA). The sides
run in one order and then in the reverse one, since sustained attention at the power limit slows
whichever runs later.

  bench/cudnn_kernels.py --longca build/longca --seqlens 8192 --heads 64:64 --out kernels.md
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import ProfilerActivity, profile

REPS = 5


def longca_kernels(binary, mask, seqlen, heads, direction):
    """{name: (calls per rep, mean us per rep)} of longca's timed reps, the L2 flush left out."""
    with tempfile.TemporaryDirectory() as tmp:
        cap = os.path.join(tmp, "run.lccap")
        subprocess.run([binary, "run", "--kernel", "cudnn", "--mask", mask, "--seqlen", str(seqlen), "--heads", heads,
                        "--head-dim", "128", "--dtype", "bf16", "--direction", direction, "--warmup", "3", "--iters",
                        str(REPS), "--counters", "off", "--capture", cap, "--quiet", "--format", "csv"],
                       check=True, stdout=subprocess.DEVNULL)
        per_name = defaultdict(lambda: [0, 0.0])
        iters = set()
        with open(cap) as f:
            for line in f:
                ev = json.loads(line)
                if ev.get("type") != "intervals":
                    continue
                for iv in ev["intervals"]:
                    if iv["iter"] < 0 or iv.get("simulated") or iv["kind"] == "memory":
                        continue
                    iters.add(iv["iter"])
                    per_name[iv["name"]][0] += 1
                    per_name[iv["name"]][1] += (iv["end_ns"] - iv["start_ns"]) / 1e3
    n = max(len(iters), 1)
    return {k: (c / n, us / n) for k, (c, us) in per_name.items()}


def torch_kernels(mask, seqlen, heads, direction, layout):
    hq, hkv = (int(x) for x in heads.split(":"))
    need_grad = direction == "bwd"

    def tensor(h):
        shape = (1, seqlen, h, 128) if layout == "bshd" else (1, h, seqlen, 128)
        t = (torch.rand(shape, device="cuda") * 2 - 1).to(torch.bfloat16)
        t = t.transpose(1, 2) if layout == "bshd" else t
        return t.detach().requires_grad_(need_grad)
    q, k, v = tensor(hq), tensor(hkv), tensor(hkv)
    causal = mask == "causal"

    def fwd():
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=hq != hkv)
    if direction == "fwd":
        def step():
            with torch.no_grad():
                fwd()
    else:
        out = fwd()
        grad = torch.randn_like(out)

        def step():
            for t in (q, k, v):
                t.grad = None
            out.backward(grad, retain_graph=True)
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(REPS):
            step()
        torch.cuda.synchronize()
    result = {}
    for e in prof.key_averages():
        us = getattr(e, "device_time_total", None)
        if us is None:
            us = e.cuda_time_total
        if e.device_type == torch.autograd.DeviceType.CUDA and us > 0:
            result[e.key] = (e.count / REPS, us / REPS)
    return result


def table(title, kernels):
    lines = [f"{title}: {sum(us for _, us in kernels.values()):.1f} us a call in all"]
    for name, (calls, us) in sorted(kernels.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"  {us:10.1f} us  x{calls:g}  {name[:110]}")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--longca", required=True)
    ap.add_argument("--masks", default="full,causal")
    ap.add_argument("--seqlens", default="8192")
    ap.add_argument("--heads", default="64:64")
    ap.add_argument("--directions", default="fwd,bwd")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = [f"torch {torch.__version__}, its cuDNN {torch.backends.cudnn.version()}, "
           f"LONGCA_CUDNN_LIB={os.environ.get('LONGCA_CUDNN_LIB', '(newest found)')}"]
    for seqlen in (int(s) for s in args.seqlens.split(",")):
        for mask in args.masks.split(","):
            for direction in args.directions.split(","):
                first = len(out)
                out.append(f"\n## {mask} S={seqlen} heads {args.heads} d=128 bf16 {direction}")
                # Long runs at the power limit slow whoever comes later: the sides run in one order,
                # then in the reverse one, and each is listed twice.
                sides = [("longca cudnn", lambda: longca_kernels(args.longca, mask, seqlen, args.heads, direction))]
                for layout in ("bhsd", "bshd"):
                    sides.append((f"SDPA cuDNN, {layout}",
                                  lambda layout=layout: torch_kernels(mask, seqlen, args.heads, direction, layout)))
                for n, (name, run) in enumerate(sides + sides[::-1]):
                    out += table(f"{name} ({'first' if n < len(sides) else 'reversed'} order)", run())
                print("\n".join(out[first:]), file=sys.stderr, flush=True)
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
