#!/usr/bin/env python3
"""PyTorch peers for bench/kernels.sh: SDPA (flash, cuDNN, efficient backends) and FlexAttention
on the shapes and masks longca runs, timed like longca (median of CUDA-event timings with the L2
flushed before each rep: triton's do_bench), FLOPs from the same exact mask area (longca mask
--format json), document boundaries taken from longca so causal_document is the same mask.
Block-sparse masks are named block_sparse/B<block>/d<density>; FlexAttention gets a BlockMask of
the same block size with the same number of kept key blocks per (KV head, query block), drawn at
random. --gemm adds a cuBLAS bf16 GEMM (8192^3, torch.matmul) as the practical roof.

Writes CSV rows: peer,mask,seqlen,direction,status,ms_median,tflops,peak_mem_bytes,note
"""
import argparse
import csv
import json
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention
from triton.testing import do_bench

SDPA_BACKENDS = {
    "sdpa_flash": SDPBackend.FLASH_ATTENTION,
    "sdpa_cudnn": SDPBackend.CUDNN_ATTENTION,
    "sdpa_efficient": SDPBackend.EFFICIENT_ATTENTION,
}
# SDPA expresses these masks without materialising them.
SDPA_MASKS = {"full": False, "causal": True}


def mask_args(mask):
    """longca mask arguments for a mask name: block_sparse/B64/d0.25 -> block_sparse --block 64 --density 0.25."""
    if not mask.startswith("block_sparse/"):
        return [mask]
    _, block, density = mask.split("/")
    return ["block_sparse", "--block", block[1:], "--density", density[1:]]


def mask_info(longca, mask, seqlen):
    out = subprocess.run([longca, "mask", *mask_args(mask), "--seqlen", str(seqlen), "--format", "json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def block_sparse_mask(info, seqlen, args, device):
    """A BlockMask keeping, for each KV head and query block, as many key blocks as longca's mask
    keeps, chosen at random; every query head of a KV head's group shares its layout."""
    block = info["params"]["block"]
    n = seqlen // block
    keep = int(info["params"]["density"] * n)
    gen = torch.Generator(device=device).manual_seed(42)
    scores = torch.rand((args.batch, args.heads_kv, n, n), generator=gen, device=device)
    # the kept blocks first, in order; index rows are n long whatever the count
    idx = torch.zeros_like(scores, dtype=torch.int32)
    idx[..., :keep] = scores.topk(keep, dim=-1).indices.sort(dim=-1).values.to(torch.int32)
    idx = idx.repeat_interleave(args.heads_q // args.heads_kv, dim=1).contiguous()
    counts = torch.full(idx.shape[:-1], keep, dtype=torch.int32, device=device)
    none = torch.zeros_like(counts)
    return BlockMask.from_kv_blocks(none, torch.zeros_like(idx), counts, idx, BLOCK_SIZE=block)


def head_area(info):
    """Visible (query, key) pairs of one head: masks drawn per KV head (block_sparse) list one
    area each, and longca counts their mean, as it does for the FLOPs of its own runs."""
    per_head = info.get("area_per_head")
    return sum(per_head) / len(per_head) if per_head else info["area"]


def gemm_roof(device="cuda", n=8192):
    """TFLOP/s of a bf16 n^3 GEMM through cuBLAS (torch.matmul)."""
    gen = torch.Generator(device=device).manual_seed(n)
    a = torch.rand((n, n), generator=gen, device=device).to(torch.bfloat16)
    b = torch.rand((n, n), generator=gen, device=device).to(torch.bfloat16)
    ms = do_bench(lambda: torch.matmul(a, b), warmup=25, rep=200, return_mode="median")
    return ms, 2.0 * n ** 3 / ms / 1e9


def mask_mod_for(info, seqlen, device):
    """The mask as a FlexAttention mask_mod; one generic form (document id, band of q - k) so that
    one compiled kernel serves every mask: band [lo, hi] on q - k, documents by id."""
    name = info["mask"]
    doc = torch.zeros(seqlen, dtype=torch.int32, device=device)
    if "documents" in info:
        lens = torch.tensor(info["documents"], device=device)
        doc = torch.repeat_interleave(torch.arange(len(lens), device=device, dtype=torch.int32), lens)
    lo, hi = -seqlen, seqlen
    if name in ("causal", "causal_document", "sliding_window_causal"):
        lo = 0
    if name == "sliding_window_causal":
        hi = info["params"]["window"]
    lo_t = torch.tensor(lo, device=device)
    hi_t = torch.tensor(hi, device=device)

    def mask_mod(b, h, q_idx, kv_idx):
        d = q_idx - kv_idx
        return (doc[q_idx] == doc[kv_idx]) & (d >= lo_t) & (d <= hi_t)

    return mask_mod


def measure(fn, direction, inputs):
    """Median ms of the forward, or of the backward alone (graph kept), and the peak memory."""
    torch.cuda.synchronize()
    if direction == "fwd":
        with torch.no_grad():
            ms = do_bench(fn, warmup=25, rep=200, return_mode="median")
    else:
        out = fn()
        grad = torch.randn_like(out)
        ms = do_bench(lambda: out.backward(grad, retain_graph=True), warmup=25, rep=200, grad_to_none=inputs,
                      return_mode="median")
        del out, grad
    torch.cuda.synchronize()
    return ms


def run_peer(peer, info, seqlen, direction, args, flex_compiled):
    device = "cuda"
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    gen = torch.Generator(device=device).manual_seed(seqlen)
    need_grad = direction == "bwd"
    shape_q = (args.batch, args.heads_q, seqlen, args.head_dim)
    shape_kv = (args.batch, args.heads_kv, seqlen, args.head_dim)
    q = (torch.rand(shape_q, generator=gen, device=device) * 2 - 1).to(torch.bfloat16).requires_grad_(need_grad)
    k = (torch.rand(shape_kv, generator=gen, device=device) * 2 - 1).to(torch.bfloat16).requires_grad_(need_grad)
    v = (torch.rand(shape_kv, generator=gen, device=device) * 2 - 1).to(torch.bfloat16).requires_grad_(need_grad)
    note = ""
    if peer in SDPA_BACKENDS:
        causal = SDPA_MASKS[info["mask"]]

        def fn():
            with sdpa_kernel(SDPA_BACKENDS[peer]):
                return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        try:
            fn()
        except RuntimeError:
            # This backend has no GQA path: give it K and V expanded to every query head.
            g = args.heads_q // args.heads_kv
            k2 = k.detach().repeat_interleave(g, dim=1).requires_grad_(need_grad)
            v2 = v.detach().repeat_interleave(g, dim=1).requires_grad_(need_grad)

            def fn():
                with sdpa_kernel(SDPA_BACKENDS[peer]):
                    return F.scaled_dot_product_attention(q, k2, v2, is_causal=causal)
            fn()
            note = "K/V expanded (no GQA path)"
        inputs = [q, k, v]
    else:
        if info["mask"] == "block_sparse":
            block_mask = block_sparse_mask(info, seqlen, args, device)
        else:
            block_mask = create_block_mask(mask_mod_for(info, seqlen, device), None, None, seqlen, seqlen,
                                           device=device)

        def fn():
            return flex_compiled(q, k, v, block_mask=block_mask, enable_gqa=True)
        inputs = [q, k, v]
    ms = measure(fn, direction, inputs)
    return ms, torch.cuda.max_memory_allocated(), note


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--longca", required=True, help="longca binary (for the masks' areas and documents)")
    ap.add_argument("--masks", default="full,causal,sliding_window_causal,causal_document")
    ap.add_argument("--seqlens", default="4096,8192,16384,32768")
    ap.add_argument("--directions", default="fwd,bwd")
    ap.add_argument("--peers", default="sdpa_flash,sdpa_cudnn,sdpa_efficient,flex")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--heads-q", type=int, default=64)
    ap.add_argument("--heads-kv", type=int, default=8)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--gemm", action="store_true", help="also time a cuBLAS bf16 GEMM 8192^3 (the roof)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    # One compiled FlexAttention per shape and direction; keep Dynamo from giving up and falling
    # back to the (materialising) eager path after its default number of recompiles.
    for knob in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit", "accumulated_recompile_limit"):
        if hasattr(torch._dynamo.config, knob):
            setattr(torch._dynamo.config, knob, 256)
    flex_compiled = torch.compile(flex_attention, dynamic=False)
    rows = []
    if args.gemm:
        ms, tflops = gemm_roof()
        rows.append(["cublas_gemm", "gemm_8192", 8192, "fwd", "ok", f"{ms:.4f}", f"{tflops:.1f}", 0, ""])
        print(",".join(str(x) for x in rows[-1]), file=sys.stderr, flush=True)
    for seqlen in [int(s) for s in args.seqlens.split(",")]:
        for mask in args.masks.split(","):
            info = mask_info(args.longca, mask, seqlen)
            fwd_flops = 4.0 * head_area(info) * args.heads_q * args.head_dim * args.batch
            for direction in args.directions.split(","):
                flops = fwd_flops * (2.5 if direction == "bwd" else 1.0)
                for peer in args.peers.split(","):
                    if peer in SDPA_BACKENDS and mask not in SDPA_MASKS:
                        continue
                    try:
                        ms, peak, note = run_peer(peer, info, seqlen, direction, args, flex_compiled)
                        rows.append([peer, mask, seqlen, direction, "ok", f"{ms:.4f}", f"{flops / ms / 1e9:.1f}", peak, note])
                    except torch.cuda.OutOfMemoryError as e:
                        rows.append([peer, mask, seqlen, direction, "oom", "", "", "", str(e).split("\n")[0][:120]])
                    except Exception as e:  # a peer that cannot run this case is recorded, not fatal
                        rows.append([peer, mask, seqlen, direction, "unsupported", "", "", "",
                                     f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"])
                    print(",".join(str(x) for x in rows[-1]), file=sys.stderr, flush=True)
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["peer", "mask", "seqlen", "direction", "status", "ms_median", "tflops", "peak_mem_bytes", "note"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
