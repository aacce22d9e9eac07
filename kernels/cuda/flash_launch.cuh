/* What the two fused designs share (flash on wgmma, flash_mma on mma.sync): the kernel
 * parameters made from the C arguments and the tile lists, a CTA's tile-list row and the
 * backward's dK/dV store on the device, the launches around the kernels (the backward's
 * D = rowsum(dO * O) before and the fp32-to-dtype GQA sums after), and the launchers' checks and
 * dtype x head-dim dispatch. */
#ifndef LC_FLASH_LAUNCH_CUH
#define LC_FLASH_LAUNCH_CUH

#include "kernels/cuda/flash_common.cuh"
extern "C" {
#include "kernels/cuda/attn_aux.h"
}

struct flash_fwd_params {
    const uint16_t *q, *k, *v;
    flash_out out;
    int64_t seqlen_q, seqlen_k;
    int heads_q, heads_kv, group, mask_heads, n_qtiles;
    float scale_log2;
    const int64_t *row_offsets;
    const gpu_tile_entry *entries;
    const longca_rule *rules;
    const int32_t *row_order;
};

struct flash_bwd_params {
    const uint16_t *q, *k, *v, *d_o;
    const float *lse, *dsum;
    float *dq_acc; /* [b, S, heads_q, D] fp32 */
    /* A work item takes heads_per_item query heads of one GQA group (all of it, or 1, or a part)
     * and writes their dK, dV summed, [b, S_k, heads_out = heads_q / heads_per_item, D]: the
     * final dK, dV when it takes whole groups (fp32 when folding blocks, else the dtype), else
     * fp32 partials that flash_bwd_after sums. */
    void *dk_out, *dv_out;
    bool dkv_f32;
    int heads_per_item, heads_out;
    int *turns;                      /* deterministic: [b, heads_q, n_qtiles] */
    int64_t seqlen_q, seqlen_k;
    int heads_q, heads_kv, group, mask_heads, n_ktiles, n_qtiles;
    float scale, scale_log2;
    bool deterministic;
    const int64_t *row_offsets;
    const gpu_tile_entry *entries;
    const longca_rule *rules;
    const int32_t *row_order;
};

/* The tile-list row a CTA walks: slot `slot` of the mask head's rows in work order. */
struct flash_tile_row {
    int tile;                   /* its query (forward) or key (backward) tile */
    int n;                      /* entries */
    const gpu_tile_entry *ents; /* the tiles it meets */
};

__device__ __forceinline__ flash_tile_row flash_tile_row_at(const int64_t *row_offsets, const gpu_tile_entry *entries,
                                                           const int32_t *row_order, int mask_head, int n_rows,
                                                           int slot)
{
    const int tile = row_order[(int64_t)mask_head * n_rows + slot];
    const int64_t row = (int64_t)mask_head * n_rows + tile;
    const int64_t begin = row_offsets[row];
    return {tile, (int)(row_offsets[row + 1] - begin), entries + begin};
}

/* The backward's dK, dV of this thread's keys (key_base as in mask_partial) for output head
 * `head` (query head h / heads_per_item) into [b, S_k, heads_out, D], fp32 or the dtype. */
template <typename E, int D, int DT>
__device__ __forceinline__ void store_dk_dv(const float (&acc_dk)[DT][4], const float (&acc_dv)[DT][4],
                                            const flash_bwd_params &p, int b, int head, int key_base, int lane)
{
#pragma unroll
    for (int hf = 0; hf < 2; hf++) {
        const int k = key_base + lane / 4 + 8 * hf;
        if (k >= p.seqlen_k) continue;
        const int64_t off = (((int64_t)b * p.seqlen_k + k) * p.heads_out + head) * D + 2 * (lane % 4);
#pragma unroll
        for (int dt = 0; dt < DT; dt++) {
            const float2 dk = make_float2(acc_dk[dt][2 * hf], acc_dk[dt][2 * hf + 1]);
            const float2 dv = make_float2(acc_dv[dt][2 * hf], acc_dv[dt][2 * hf + 1]);
            if (p.dkv_f32) {
                *reinterpret_cast<float2 *>(static_cast<float *>(p.dk_out) + off + dt * 8) = dk;
                *reinterpret_cast<float2 *>(static_cast<float *>(p.dv_out) + off + dt * 8) = dv;
            } else {
                *reinterpret_cast<uint32_t *>(static_cast<uint16_t *>(p.dk_out) + off + dt * 8) = E::pack(dk.x, dk.y);
                *reinterpret_cast<uint32_t *>(static_cast<uint16_t *>(p.dv_out) + off + dt * 8) = E::pack(dv.x, dv.y);
            }
        }
    }
}

inline flash_fwd_params flash_fwd_params_make(const flash_fwd_args *a)
{
    const flash_shape &s = a->shape;
    const gpu_tiles *t = a->tiles;
    flash_fwd_params p;
    p.q = static_cast<const uint16_t *>(a->q);
    p.k = static_cast<const uint16_t *>(a->k);
    p.v = static_cast<const uint16_t *>(a->v);
    p.out.o = static_cast<uint16_t *>(a->o);
    p.out.lse = a->lse;
    p.out.o_acc = a->o_acc;
    p.out.first = a->first_block;
    p.seqlen_q = s.seqlen_q;
    p.seqlen_k = s.seqlen_k;
    p.heads_q = s.heads_q;
    p.heads_kv = s.heads_kv;
    p.group = s.heads_q / s.heads_kv;
    p.mask_heads = t->n_heads;
    p.n_qtiles = t->n_rows;
    p.scale_log2 = s.scale * FLASH_LOG2E;
    p.row_offsets = t->row_offsets;
    p.entries = t->entries;
    p.rules = t->rules;
    p.row_order = t->row_order;
    return p;
}

inline flash_bwd_params flash_bwd_params_make(const flash_bwd_args *a)
{
    const flash_shape &s = a->shape;
    const gpu_tiles *t = a->tiles;
    flash_bwd_params p;
    p.q = static_cast<const uint16_t *>(a->q);
    p.k = static_cast<const uint16_t *>(a->k);
    p.v = static_cast<const uint16_t *>(a->v);
    p.d_o = static_cast<const uint16_t *>(a->d_o);
    p.lse = a->lse;
    p.dsum = a->buf.dsum;
    p.dq_acc = a->buf.dq_acc;
    p.turns = a->buf.turns;
    p.seqlen_q = s.seqlen_q;
    p.seqlen_k = s.seqlen_k;
    p.heads_q = s.heads_q;
    p.heads_kv = s.heads_kv;
    p.group = s.heads_q / s.heads_kv;
    p.mask_heads = t->n_heads;
    p.n_ktiles = t->n_rows;
    p.n_qtiles = t->n_cols;
    p.scale = s.scale;
    p.scale_log2 = s.scale * FLASH_LOG2E;
    p.deterministic = a->deterministic;
    p.row_offsets = t->row_offsets;
    p.entries = t->entries;
    p.rules = t->rules;
    p.row_order = t->row_order;
    return p;
}

/* A forward kernel over (query head, query tile, batch). */
inline cudaError_t flash_fwd_run(void (*kernel)(flash_fwd_params), int threads, int smem, const flash_fwd_args *a,
                                 cudaStream_t stream)
{
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) return e;
    dim3 grid(a->shape.heads_q, a->tiles->n_rows, a->shape.batch);
    kernel<<<grid, threads, smem, stream>>>(flash_fwd_params_make(a));
    return cudaGetLastError();
}

/* The passes around a backward kernel: before, dQ's accumulator started (unless folding into
 * a running one), the deterministic turns cleared and D = rowsum(dO * O); the kernel's params,
 * with dK, dV pointed at their final place (the caller's fp32 buffer when folding blocks) when
 * an item takes whole GQA groups, else at the fp32 partials in the workspace. */
template <int D>
cudaError_t flash_bwd_before(const flash_bwd_args *a, int heads_per_item, flash_bwd_params &p, cudaStream_t stream)
{
    const flash_shape &s = a->shape;
    p = flash_bwd_params_make(a);
    p.heads_per_item = heads_per_item;
    p.heads_out = s.heads_q / heads_per_item;
    if (heads_per_item == p.group) {
        p.dkv_f32 = a->folding;
        p.dk_out = a->folding ? static_cast<void *>(a->dkv_f32) : a->dk;
        p.dv_out = a->folding ? static_cast<void *>(a->dkv_f32 + (int64_t)s.batch * s.seqlen_k * s.heads_kv * D) : a->dv;
    } else {
        p.dkv_f32 = true;
        p.dk_out = a->buf.dk_acc;
        p.dv_out = a->buf.dv_acc;
    }
    cudaError_t e;
    if (a->dq_first && (e = cudaMemsetAsync(p.dq_acc, 0, (size_t)s.batch * s.seqlen_q * s.heads_q * D * 4, stream)))
        return e;
    if (p.deterministic && (e = cudaMemsetAsync(p.turns, 0, a->buf.turns_bytes, stream))) return e;
    return (cudaError_t)attn_dsum_launch(s.dtype, D, a->o, p.d_o, a->buf.dsum, s.batch, s.seqlen_q, s.heads_q, stream);
}

/* After: dQ converted when it is complete; dK and dV summed over the partials of each GQA
 * group where an item took part of one. Folding blocks, dQ keeps adding up in the caller's fp32
 * buffer across calls, and dK, dV stay fp32 in the caller's buffer. */
template <int D>
cudaError_t flash_bwd_after(const flash_bwd_args *a, const flash_bwd_params &p, cudaStream_t stream)
{
    const flash_shape &s = a->shape;
    const int64_t q_rows = (int64_t)s.batch * s.seqlen_q * s.heads_q;
    const int64_t kv_rows = (int64_t)s.batch * s.seqlen_k * s.heads_kv;
    cudaError_t e;
    if (a->dq_last && (e = (cudaError_t)attn_group_sum_launch(s.dtype, p.dq_acc, a->dq, q_rows, 1, D, stream)))
        return e;
    if (p.heads_per_item == p.group) return cudaGetLastError();
    const int parts = p.group / p.heads_per_item;
    const lc_dtype to = a->folding ? LC_FP32 : s.dtype;
    void *dk = a->folding ? static_cast<void *>(a->dkv_f32) : a->dk;
    void *dv = a->folding ? static_cast<void *>(a->dkv_f32 + kv_rows * D) : a->dv;
    if ((e = (cudaError_t)attn_group_sum_launch(to, a->buf.dk_acc, dk, kv_rows, parts, D, stream)) ||
        (e = (cudaError_t)attn_group_sum_launch(to, a->buf.dv_acc, dv, kv_rows, parts, D, stream)))
        return e;
    return cudaGetLastError();
}

/* A backward kernel over (key tile, query head, batch), between the passes above. */
template <int D>
cudaError_t flash_bwd_run(void (*kernel)(flash_bwd_params), int threads, int smem, const flash_bwd_args *a,
                          cudaStream_t stream)
{
    flash_bwd_params p;
    cudaError_t e;
    if ((e = flash_bwd_before<D>(a, 1, p, stream)) ||
        (e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem)))
        return e;
    dim3 grid(p.n_ktiles, a->shape.heads_q, a->shape.batch);
    kernel<<<grid, threads, smem, stream>>>(p);
    if ((e = cudaGetLastError())) return e;
    return flash_bwd_after<D>(a, p, stream);
}

/* A design's launcher: checks the tile lists were built for its tiles (and, forward, that the
 * query tiles fit the grid), then Launch<E, D>::run(a, stream) for the dtype and head dim. */
template <template <typename, int> class Launch, typename Args>
lc_status flash_launch_checked(const Args *a, int row_tile, int col_tile, bool by_key, const char *what, void *stream,
                               char *err)
{
    const gpu_tiles *t = a->tiles;
    if (t->row_tile != row_tile || t->col_tile != col_tile || t->by_key != by_key)
        return lc_fail(err, LC_ERR_INTERNAL, "%s given tile lists of the wrong shape", what);
    if (!by_key && t->n_rows > 65535)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "%s: %d query tiles exceed the grid", what, t->n_rows);
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    const bool d64 = a->shape.head_dim == 64;
    cudaError_t e;
    if (a->shape.dtype == LC_BF16)
        e = d64 ? Launch<elem_bf16, 64>::run(a, st) : Launch<elem_bf16, 128>::run(a, st);
    else
        e = d64 ? Launch<elem_fp16, 64>::run(a, st) : Launch<elem_fp16, 128>::run(a, st);
    if (e != cudaSuccess) return lc_fail(err, LC_ERR_DEVICE, "%s launch: %s", what, cudaGetErrorString(e));
    return LC_OK;
}

#endif
