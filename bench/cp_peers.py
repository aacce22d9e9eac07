#!/usr/bin/env python3
"""torch's context_parallel (ring attention over SDPA) as the peer of longca's CP methods, on the
same total lengths, masks (full, causal), heads and GPUs. Run under torchrun, one process a GPU:

  torchrun --nproc-per-node 2 bench/cp_peers.py --seqlens 65536,131072 --heads 8:8,64:8 --out cp_peers.csv

Per-GPU TFLOP/s = FLOPs of the whole sequence (fwd 4*area*h_q*d, bwd 2.5x; area S^2 or S(S+1)/2)
over (GPUs x the slowest rank's median time), as longca reports it. GQA: torch's ring path has no
GQA, so K/V are expanded to the query heads before the timed region (the exchanged KV is then
h_q/h_kv times larger than longca's). Rows: peer,mask,seqlen,heads_q,heads_kv,direction,status,ms,tflops_per_gpu,note
"""
import argparse
import csv
import os

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor.experimental import context_parallel
from torch.distributed.tensor.experimental._attention import _cp_options, set_rotate_method  # torch >= 2.6
from torch.nn.attention import SDPBackend, sdpa_kernel

BACKENDS = {"cp_flash": SDPBackend.FLASH_ATTENTION, "cp_cudnn": SDPBackend.CUDNN_ATTENTION}


def area(mask, s):
    return s * s if mask == "full" else s * (s + 1) // 2


def time_ms(fn, warmup, iters):
    flush = torch.empty(256 << 20, dtype=torch.int8, device="cuda")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        flush.zero_()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def run_case(mesh, peer, mask, seqlen, hq, hk, direction, args):
    world = mesh.size()
    gen = torch.Generator(device="cuda").manual_seed(seqlen)
    q = torch.randn((1, hq, seqlen, args.head_dim), device="cuda", dtype=torch.bfloat16, generator=gen)
    k = torch.randn((1, hk, seqlen, args.head_dim), device="cuda", dtype=torch.bfloat16, generator=gen)
    v = torch.randn_like(k)
    if hk != hq:
        k = k.repeat_interleave(hq // hk, dim=1)
        v = v.repeat_interleave(hq // hk, dim=1)
    need_grad = direction == "fwd+bwd"
    causal = mask == "causal"
    # torch balances the causal ring by reordering chunks, and refuses to for other masks.
    _cp_options.enable_load_balance = causal
    # The buffers are sharded in place; they are not restored afterwards (a tensor that requires
    # grad cannot be resized back).
    with context_parallel(mesh, buffers=[q, k, v], buffer_seq_dims=[2, 2, 2], no_restore_buffers={q, k, v}):
        # Gradients are switched on after the buffers are sharded in place.
        for t in (q, k, v):
            t.requires_grad_(need_grad)
        with sdpa_kernel(BACKENDS[peer]):
            grad = []

            def step():
                out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                if need_grad:
                    if not grad:
                        grad.append(torch.randn_like(out))
                    out.backward(grad[0])
                    q.grad = k.grad = v.grad = None
            with torch.enable_grad() if need_grad else torch.no_grad():
                ms = time_ms(step, args.warmup, args.iters)
    slowest = torch.tensor([ms], device="cuda")
    dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
    flops = 4.0 * area(mask, seqlen) * hq * args.head_dim * (3.5 if need_grad else 1.0)
    return slowest.item(), flops / (world * slowest.item() * 1e-3) / 1e12


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seqlens", default="65536,131072,262144")
    ap.add_argument("--heads", default="8:8,64:8")
    ap.add_argument("--masks", default="full,causal")
    ap.add_argument("--directions", default="fwd,fwd+bwd")
    ap.add_argument("--peers", default="cp_flash,cp_cudnn")
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    dist.init_process_group("nccl")
    rank = dist.get_rank()
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    mesh = init_device_mesh("cuda", (dist.get_world_size(),))
    set_rotate_method(os.environ.get("CP_ROTATE", "alltoall"))  # alltoall = the ring schedule
    rows = []
    for heads in args.heads.split(","):
        hq, hk = (int(x) for x in heads.split(":"))
        for seqlen in (int(s) for s in args.seqlens.split(",")):
            for mask in args.masks.split(","):
                for direction in args.directions.split(","):
                    for peer in args.peers.split(","):
                        try:
                            ms, tflops = run_case(mesh, peer, mask, seqlen, hq, hk, direction, args)
                            row = [peer, mask, seqlen, hq, hk, direction, "ok", f"{ms:.3f}", f"{tflops:.1f}",
                                   "KV expanded" if hq != hk else ""]
                        except Exception as e:  # unsupported backend/shape: recorded, never fatal
                            torch.cuda.empty_cache()
                            row = [peer, mask, seqlen, hq, hk, direction, "error", "", "",
                                   str(e).splitlines()[0][:120] if str(e) else type(e).__name__]
                        rows.append(row)
                        if rank == 0:
                            print(",".join(str(x) for x in row), flush=True)
    if rank == 0:
        with open(args.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["peer", "mask", "seqlen", "heads_q", "heads_kv", "direction", "status", "ms",
                        "tflops_per_gpu", "note"])
            w.writerows(rows)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
