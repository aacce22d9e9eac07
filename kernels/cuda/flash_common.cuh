/* Device building blocks shared by the fused kernels: the m16n8k16 tensor-core MMA, ldmatrix,
 * cp.async, the shared-memory swizzle, and the elementwise mask of a partial tile. */
#ifndef LC_FLASH_COMMON_CUH
#define LC_FLASH_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

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

/* The visible keys of query row q under rule r, as an inclusive interval [lo, hi] (empty when
 * lo > hi). Rules here are already clipped to one tile, so the bounds fit in 32 bits. */
__device__ __forceinline__ void rule_row_span(const mask_rule &r, int q, int &lo, int &hi)
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

#endif
