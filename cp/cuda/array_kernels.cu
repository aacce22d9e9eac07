/* CP's elementwise work on the GPU (cp/array.h): strided copies with dtype conversion or fp32
 * accumulation, fills, and the fp32 LSE merge with the same guards as the host one.
 * All memory-bound; plain coalesced grid-stride loops. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>

#include "cp/cuda/array_kernels.h"

namespace {

__device__ __forceinline__ float load_as_f32(const void *p, int type, size_t i)
{
    switch (type) {
    case LC_BF16: return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
    case LC_FP16: return __half2float(static_cast<const __half *>(p)[i]);
    default: return static_cast<const float *>(p)[i];
    }
}

__device__ __forceinline__ void store_from_f32(void *p, int type, size_t i, float v)
{
    switch (type) {
    case LC_BF16: static_cast<__nv_bfloat16 *>(p)[i] = __float2bfloat16_rn(v); break;
    case LC_FP16: static_cast<__half *>(p)[i] = __float2half_rn(v); break;
    default: static_cast<float *>(p)[i] = v; break;
    }
}

__global__ void copy2d_kernel(void *dst, int dst_type, size_t dst_ld, const void *src, int src_type, size_t src_ld,
                              size_t cols, size_t n, int accumulate)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const size_t r = i / cols, c = i % cols;
        const float v = load_as_f32(src, src_type, r * src_ld + c);
        if (accumulate) static_cast<float *>(dst)[r * dst_ld + c] += v;
        else store_from_f32(dst, dst_type, r * dst_ld + c, v);
    }
}

__global__ void fill_kernel(float *dst, size_t n, float value)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = value;
}

/* One warp per (batch, row, head) line: lanes over head_dim. */
__global__ void lse_merge_kernel(float *acc_o, float *acc_lse, const void *part_o, int part_type, const float *part_lse,
                                 int64_t lines, int64_t rows, int heads, int head_dim)
{
    const int64_t line = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (line >= lines) return;
    const int h = (int)(line % heads);
    const int64_t i = line / heads % rows, b = line / heads / rows;
    const size_t lse_at = ((size_t)b * heads + h) * (size_t)rows + (size_t)i;
    float l2 = part_lse[lse_at];
    if (!isfinite(l2)) return; /* saw nothing: -inf, or +inf as FlashAttention writes it */
    const float l1 = acc_lse[lse_at];
    float *o1 = acc_o + (size_t)line * head_dim;
    const size_t part_at = (size_t)line * head_dim;
    if (l1 == -INFINITY) {
        for (int c = lane; c < head_dim; c += 32) o1[c] = load_as_f32(part_o, part_type, part_at + c);
    } else {
        const float hi = fmaxf(l1, l2), lo = fminf(l1, l2);
        const float lse = hi + log1pf(expf(lo - hi));
        const float w1 = expf(l1 - lse), w2 = expf(l2 - lse);
        for (int c = lane; c < head_dim; c += 32) o1[c] = w1 * o1[c] + w2 * load_as_f32(part_o, part_type, part_at + c);
        l2 = lse;
    }
    __syncwarp();
    if (lane == 0) acc_lse[lse_at] = l2;
}

unsigned blocks_for(size_t n, unsigned threads)
{
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 65535 * 16 ? (b ? b : 1) : 65535 * 16);
}

}  // namespace

extern "C" int cp_cuda_copy2d(void *dst, enum lc_dtype dst_type, size_t dst_ld, const void *src, enum lc_dtype src_type,
                              size_t src_ld, size_t cols, size_t rows, int accumulate, void *stream)
{
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    if (!cols || !rows) return 0;
    if (!accumulate && dst_type == src_type) {
        const size_t e = dst_type == LC_FP32 ? 4 : 2;
        return (int)cudaMemcpy2DAsync(dst, dst_ld * e, src, src_ld * e, cols * e, rows, cudaMemcpyDeviceToDevice, s);
    }
    const size_t n = cols * rows;
    copy2d_kernel<<<blocks_for(n, 256), 256, 0, s>>>(dst, dst_type, dst_ld, src, src_type, src_ld, cols, n, accumulate);
    return (int)cudaGetLastError();
}

extern "C" int cp_cuda_fill_f32(float *dst, size_t n, float value, void *stream)
{
    if (!n) return 0;
    fill_kernel<<<blocks_for(n, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(dst, n, value);
    return (int)cudaGetLastError();
}

extern "C" int cp_cuda_lse_merge(float *acc_o, float *acc_lse, const void *part_o, enum lc_dtype part_type,
                                 const float *part_lse, int batch, int64_t rows, int heads, int head_dim, void *stream)
{
    const int64_t lines = (int64_t)batch * rows * heads;
    if (!lines) return 0;
    lse_merge_kernel<<<(unsigned)((lines + 7) / 8), 256, 0, static_cast<cudaStream_t>(stream)>>>(
        acc_o, acc_lse, part_o, part_type, part_lse, lines, rows, heads, head_dim);
    return (int)cudaGetLastError();
}
