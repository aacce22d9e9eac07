/* Device building blocks shared by the fused kernels (flash on wgmma, flash_mma on mma.sync):
 * the m16n8k16 MMA, ldmatrix, cp.async into swizzled tiles (the ldmatrix layout and wgmma's
 * 128-byte-swizzle layout), the elementwise mask of a partial tile and its transpose, the
 * online-softmax step and the output epilogue. Score and output fragments use the m16n8
 * accumulator layout, which wgmma's m64nN accumulators share warp by warp. */
#ifndef LC_FLASH_COMMON_CUH
#define LC_FLASH_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include <type_traits>

extern "C" {
#include "kernels/cuda/flash.h"
}

#define FLASH_LOG2E 1.4426950408889634f
#define FLASH_LN2 0.6931471805599453f

/* Element types: bf16 or fp16, two packed into one 32-bit register for the MMA. */
struct elem_bf16 {
    typedef __nv_bfloat16 type;
    static __device__ __forceinline__ uint32_t pack(float lo, float hi)
    {
        __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&v);
    }
    static __device__ __forceinline__ float to_float(type x) { return __bfloat162float(x); }
    static __device__ __forceinline__ type from_float(float x) { return __float2bfloat16_rn(x); }
};

struct elem_fp16 {
    typedef __half type;
    static __device__ __forceinline__ uint32_t pack(float lo, float hi)
    {
        __half2 v = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&v);
    }
    static __device__ __forceinline__ float to_float(type x) { return __half2float(x); }
    static __device__ __forceinline__ type from_float(float x) { return __float2half_rn(x); }
};

/* d[4] += a[4] * b[2]: one m16n8k16 MMA with fp32 accumulators. */
template <typename E>
__device__ __forceinline__ void mma_16816(float *d, const uint32_t *a, const uint32_t *b);

template <>
__device__ __forceinline__ void mma_16816<elem_bf16>(float *d, const uint32_t *a, const uint32_t *b)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <>
__device__ __forceinline__ void mma_16816<elem_fp16>(float *d, const uint32_t *a, const uint32_t *b)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t *r, uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t *r, uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

/* 16-byte asynchronous copy global -> shared; zero-fills when !valid (rows past the end). */
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void *src, bool valid)
{
    int bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

/* 4-byte asynchronous copy global -> shared; zero-fills when !valid. For rows of single floats
 * (LSE, Dsum) that need not be 16-byte aligned. */
__device__ __forceinline__ void cp_async_4(uint32_t dst, const void *src, bool valid)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 4 : 0));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

/* Byte offset of 16-byte chunk `chunk` of row `row` in a tile whose rows are `row_chunks`
 * chunks long (>= 8): the low three chunk bits are XORed with the row, so the 8 rows an
 * ldmatrix reads at one logical column fall in 8 different bank groups. */
template <int ROW_CHUNKS>
__device__ __forceinline__ uint32_t swz(int row, int chunk)
{
    return static_cast<uint32_t>((row * ROW_CHUNKS + (chunk ^ (row & 7))) * 16);
}

/* Copies ROWS rows of ROW_CHUNKS 16-byte chunks from global (row stride `stride` elements of
 * 2 bytes) into a swizzled tile; rows at or past `valid_rows` are zero-filled. A thread keeps
 * one chunk column and steps down by THREADS / ROW_CHUNKS rows, a multiple of 8, so its
 * swizzled column never changes and every address is one add away from the last. */
template <int ROWS, int ROW_CHUNKS, int THREADS>
__device__ __forceinline__ void load_tile_async(uint32_t smem, const uint16_t *src, int64_t stride, int valid_rows,
                                                int tid)
{
    constexpr int STEP = THREADS / ROW_CHUNKS;
    static_assert(THREADS % ROW_CHUNKS == 0 && STEP % 8 == 0 && ROWS % STEP == 0, "tile must divide among threads");
    const int row0 = tid / ROW_CHUNKS, chunk = tid % ROW_CHUNKS;
    const uint16_t *g = src + row0 * stride + chunk * 8;
    const uint32_t s = smem + swz<ROW_CHUNKS>(row0, chunk);
#pragma unroll
    for (int i = 0; i < ROWS / STEP; i++) {
        const bool valid = row0 + i * STEP < valid_rows;
        cp_async_16(s + i * STEP * ROW_CHUNKS * 16, valid ? g + i * STEP * stride : src, valid);
    }
}

/* Copies ROWS rows of D 2-byte elements into the layout wgmma's 128-byte-swizzle descriptors
 * read: column blocks of 64 elements (block b at b * ROWS * 128 bytes), rows 128 bytes apart,
 * the 16-byte chunk index XORed with row % 8. The tile must start on a 1024-byte boundary.
 * Rows at or past valid_rows are zero-filled. */
template <int ROWS, int D, int THREADS>
__device__ __forceinline__ void load_tile_sw128(uint32_t smem, const uint16_t *src, int64_t stride, int valid_rows,
                                                int tid)
{
    constexpr int CH = D / 8, STEP = THREADS / CH;
    static_assert(THREADS % CH == 0 && STEP % 8 == 0 && ROWS % STEP == 0, "tile must divide among threads");
    const int row0 = tid / CH, c = tid % CH;
    const uint16_t *g = src + row0 * stride + c * 8;
    const uint32_t s = smem + (c / 8) * ROWS * 128 + row0 * 128 + (((c % 8) ^ (row0 & 7)) * 16);
#pragma unroll
    for (int i = 0; i < ROWS / STEP; i++) {
        const bool valid = row0 + i * STEP < valid_rows;
        cp_async_16(s + i * STEP * 128, valid ? g + i * STEP * stride : src, valid);
    }
}

/* dst[0..1] += (a, b) in global memory, no value returned (a reduction, not an atomic exchange). */
__device__ __forceinline__ void red_add_f32x2(float *dst, float a, float b)
{
    asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(dst), "f"(a), "f"(b) : "memory");
}

/* Makes this thread's completed cp.async writes visible to the tensor cores' (async proxy)
 * reads; a barrier must follow before another thread's wgmma reads them. */
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

/* The visible keys of query row q under rule r, as an inclusive interval [lo, hi] (empty when
 * lo > hi). Rules here are already clipped to one tile, so the bounds fit in 32 bits. */
__device__ __forceinline__ void rule_row_span(const longca_rule &r, int q, int &lo, int &hi)
{
    if (q < r.q_begin || q >= r.q_end) {
        lo = 1;
        hi = 0;
        return;
    }
    long long a = (long long)q + r.diag_lo, b = (long long)q + r.diag_hi;
    lo = a > r.k_begin ? (int)a : r.k_begin;
    hi = b < r.k_end - 1 ? (int)(b < -1 ? -1 : b) : r.k_end - 1;
}

/* A thread's visible columns of one row as bits (2 per 8-column tile): 64 of them where a tile
 * is wider than 128 columns. */
template <int NT>
struct column_bits {
    typedef typename std::conditional<(2 * NT > 32), uint64_t, uint32_t>::type type;
};

/* Sets the scores of pairs no rule of a partial tile covers to -inf. Row r of this thread is
 * q_base + mt*16 + lane/4 + 8*hf; column (j, e) is k0 + 8*j + 2*(lane%4) + e. */
template <int MT, int NT>
__device__ __forceinline__ void mask_partial(float (&s)[MT][NT][4], const longca_rule *rules, int count, int q_base,
                                             int k0, int lane)
{
    const int c0 = k0 + 2 * (lane % 4); /* this thread's first column */
    if (count == 1) { /* the common case (a diagonal, a window edge): one interval per row */
        const longca_rule rule = rules[0];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                int lo, hi;
                rule_row_span(rule, q_base + mt * 16 + lane / 4 + 8 * hf, lo, hi);
                lo -= c0;
                hi -= c0;
#pragma unroll
                for (int j = 0; j < NT; j++)
#pragma unroll
                    for (int e = 0; e < 2; e++)
                        if (8 * j + e < lo || 8 * j + e > hi) s[mt][j][2 * hf + e] = -INFINITY;
            }
        return;
    }
    typedef typename column_bits<NT>::type bits;
    static_assert(2 * NT <= 64, "a tile of at most 256 columns");
    bits vis[MT][2] = {};
    for (int r = 0; r < count; r++) {
        const longca_rule rule = rules[r];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                int lo, hi;
                rule_row_span(rule, q_base + mt * 16 + lane / 4 + 8 * hf, lo, hi);
#pragma unroll
                for (int j = 0; j < NT; j++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int o = 8 * j + e;
                        if (o >= lo - c0 && o <= hi - c0) vis[mt][hf] |= (bits)1 << (2 * j + e);
                    }
            }
    }
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int hf = 0; hf < 2; hf++)
#pragma unroll
            for (int j = 0; j < NT; j++)
#pragma unroll
                for (int e = 0; e < 2; e++)
                    if (!(vis[mt][hf] >> (2 * j + e) & 1u)) s[mt][j][2 * hf + e] = -INFINITY;
}

/* The transpose of mask_partial for the backward: rows are keys, columns queries. Row (mt, hf)
 * of this thread is key k_base + mt*16 + lane/4 + 8*hf; column (j, e) is query
 * q0 + 8*j + 2*(lane%4) + e. */
template <int MT, int NT>
__device__ __forceinline__ void mask_partial_t(float (&s)[MT][NT][4], const longca_rule *rules, int count, int k_base,
                                               int q0, int lane)
{
    const int c0 = q0 + 2 * (lane % 4); /* this thread's first column */
    uint32_t vis[MT][2] = {};
    for (int r = 0; r < count; r++) {
        const longca_rule rule = rules[r];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                const int k = k_base + mt * 16 + lane / 4 + 8 * hf;
                int lo = 1, hi = 0;
                if (k >= rule.k_begin && k < rule.k_end) {
                    /* queries q with k - q in [diag_lo, diag_hi] */
                    const long long a = (long long)k - rule.diag_hi, b = (long long)k - rule.diag_lo;
                    lo = a > rule.q_begin ? (int)a : rule.q_begin;
                    hi = b < rule.q_end - 1 ? (int)(b < -1 ? -1 : b) : rule.q_end - 1;
                }
                lo -= c0;
                hi -= c0;
                if (count == 1) { /* one interval per row: mask directly */
#pragma unroll
                    for (int j = 0; j < NT; j++)
#pragma unroll
                        for (int e = 0; e < 2; e++)
                            if (8 * j + e < lo || 8 * j + e > hi) s[mt][j][2 * hf + e] = -INFINITY;
                    continue;
                }
#pragma unroll
                for (int j = 0; j < NT; j++)
#pragma unroll
                    for (int e = 0; e < 2; e++)
                        if (8 * j + e >= lo && 8 * j + e <= hi) vis[mt][hf] |= 1u << (2 * j + e);
            }
    }
    if (count == 1) return;
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int hf = 0; hf < 2; hf++)
#pragma unroll
            for (int j = 0; j < NT; j++)
#pragma unroll
                for (int e = 0; e < 2; e++)
                    if (!(vis[mt][hf] >> (2 * j + e) & 1u)) s[mt][j][2 * hf + e] = -INFINITY;
}

/* One key tile of the online softmax, base 2: s becomes p = 2^(s*scale*log2e - m*scale*log2e)
 * with m the running row max, the running sums move to the new max, and alpha is the factor O
 * must be rescaled by (softmax_rescale), left to the caller so that it can wait for a P V still
 * accumulating into O. Rows as in mask_partial; each row's four threads (lane / 4 equal) reduce
 * with two shuffles. */
template <int MT, int NT>
__device__ __forceinline__ void softmax_scores(float (&acc_s)[MT][NT][4], float (&row_max)[MT][2],
                                               float (&row_sum)[MT][2], float scale_log2, float (&alpha)[MT][2])
{
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            float mx = -INFINITY;
#pragma unroll
            for (int j = 0; j < NT; j++) mx = fmaxf(mx, fmaxf(acc_s[mt][j][2 * hf], acc_s[mt][j][2 * hf + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float m_new = fmaxf(row_max[mt][hf], mx);
            const float m_scaled = m_new == -INFINITY ? 0.f : m_new * scale_log2;
            alpha[mt][hf] = exp2f(row_max[mt][hf] * scale_log2 - m_scaled);
            row_max[mt][hf] = m_new;
            float sum = 0.f;
#pragma unroll
            for (int j = 0; j < NT; j++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    float pv = exp2f(fmaf(acc_s[mt][j][2 * hf + e], scale_log2, -m_scaled));
                    acc_s[mt][j][2 * hf + e] = pv;
                    sum += pv;
                }
            row_sum[mt][hf] = row_sum[mt][hf] * alpha[mt][hf] + sum;
        }
}

template <int MT, int DT>
__device__ __forceinline__ void softmax_rescale(float (&acc_o)[MT][DT][4], const float (&alpha)[MT][2])
{
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int dt = 0; dt < DT; dt++) {
            acc_o[mt][dt][0] *= alpha[mt][0];
            acc_o[mt][dt][1] *= alpha[mt][0];
            acc_o[mt][dt][2] *= alpha[mt][1];
            acc_o[mt][dt][3] *= alpha[mt][1];
        }
}

/* Both steps at once, for kernels whose O is not in flight during the softmax. */
template <int MT, int NT, int DT>
__device__ __forceinline__ void online_softmax(float (&acc_s)[MT][NT][4], float (&acc_o)[MT][DT][4],
                                               float (&row_max)[MT][2], float (&row_sum)[MT][2], float scale_log2)
{
    float alpha[MT][2];
    softmax_scores<MT, NT>(acc_s, row_max, row_sum, scale_log2, alpha);
    softmax_rescale<MT, DT>(acc_o, alpha);
}

/* Where a forward's rows go: O in the dtype and the LSE, or, folding blocks (core/engine/kernel.h),
 * into the running fp32 (o_acc, lse), kept there or written out as O (enum flash_store). */
struct flash_out {
    uint16_t *o;
    float *lse;
    float *o_acc;
    bool first; /* merging into nothing yet: (o_acc, lse) are not read */
};

/* O / l and the natural-log LSE of this thread's rows (q_base as in mask_partial); a row that
 * saw nothing gets O = 0, LSE = -inf. Merging, the running pair (O_a, LSE_a) and this block's
 * (O_b, LSE_b) become (w_a O_a + w_b O_b, LSE) with LSE = log(e^LSE_a + e^LSE_b), w_x =
 * e^(LSE_x - LSE); O_a is not read where LSE_a = -inf. O is [b, S, heads, D], LSE [b, heads, S]. */
template <typename E, int MT, int DT, flash_store STORE>
__device__ __forceinline__ void store_output(const float (&acc_o)[MT][DT][4], const float (&row_max)[MT][2],
                                             const float (&row_sum)[MT][2], const flash_out &out, int b, int h,
                                             int q_base, int64_t seqlen_q, int heads_q, int d, float scale_log2,
                                             int lane)
{
    constexpr bool merge = STORE != STORE_PLAIN;
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            float l = row_sum[mt][hf];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            const int q = q_base + mt * 16 + lane / 4 + 8 * hf;
            const int64_t lse_at = ((int64_t)b * heads_q + h) * seqlen_q + q;
            /* base 2 until the store */
            float lse2 = l > 0.f ? row_max[mt][hf] * scale_log2 + log2f(l) : -INFINITY;
            float w_new = l > 0.f ? 1.f / l : 0.f, w_old = 0.f;
            if (merge) {
                /* one lane of the quad reads the running LSE (its lane 0 overwrites it below) */
                float old2 = !out.first && lane % 4 == 0 && q < seqlen_q ? out.lse[lse_at] * FLASH_LOG2E : -INFINITY;
                old2 = __shfl_sync(0xffffffffu, old2, lane & ~3);
                if (old2 != -INFINITY) {
                    const float top = fmaxf(old2, lse2);
                    const float e_old = exp2f(old2 - top), e_new = exp2f(lse2 - top), sum = e_old + e_new;
                    w_old = e_old / sum;
                    w_new *= e_new / sum;
                    lse2 = top + log2f(sum);
                }
            }
            if (q >= seqlen_q) continue;
            const int64_t o_at = (((int64_t)b * seqlen_q + q) * heads_q + h) * d + 2 * (lane % 4);
#pragma unroll
            for (int dt = 0; dt < DT; dt++) {
                float x = acc_o[mt][dt][2 * hf] * w_new, y = acc_o[mt][dt][2 * hf + 1] * w_new;
                if (merge && w_old != 0.f) {
                    const float2 old = *reinterpret_cast<const float2 *>(out.o_acc + o_at + dt * 8);
                    x = fmaf(old.x, w_old, x);
                    y = fmaf(old.y, w_old, y);
                }
                if (STORE == STORE_MERGE_KEEP)
                    *reinterpret_cast<float2 *>(out.o_acc + o_at + dt * 8) = make_float2(x, y);
                else
                    *reinterpret_cast<uint32_t *>(out.o + o_at + dt * 8) = E::pack(x, y);
            }
            if (lane % 4 == 0) out.lse[lse_at] = lse2 * FLASH_LN2;
        }
}

#endif
