/* Element-wise passes of the backwards: the Dsum row dot product and the GQA group sum. Both
 * are memory-bound and tiny next to the attention itself; they favour plain coalesced code. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/attn_aux.h"

namespace {

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ __half from_f32<__half>(float x) { return __float2half_rn(x); }

/* One warp per (b, q, h) row of head_dim values. */
template <typename T>
__global__ void dsum_kernel(const T *o, const T *d_o, float *dsum, int64_t rows, int64_t seqlen_q, int heads_q,
                            int head_dim)
{
    const int64_t r = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= rows) return;
    float s = 0.f;
    for (int c = lane; c < head_dim; c += 32) s += to_f32(o[r * head_dim + c]) * to_f32(d_o[r * head_dim + c]);
#pragma unroll
    for (int off = 16; off; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
    if (lane == 0) {
        const int64_t bq = r / heads_q, b = bq / seqlen_q, q = bq % seqlen_q;
        const int h = (int)(r % heads_q);
        dsum[(b * heads_q + h) * seqlen_q + q] = s;
    }
}

template <typename T>
__global__ void group_sum_kernel(const float *src, T *dst, int64_t n, int group, int width)
{
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const int64_t row = i / width, c = i % width;
        const float *s = src + row * group * width + c;
        float acc = 0.f;
        for (int j = 0; j < group; j++) acc += s[(int64_t)j * width];
        dst[i] = from_f32<T>(acc);
    }
}

template <typename T>
int dsum_as(const void *o, const void *d_o, float *dsum, int batch, int64_t seqlen_q, int heads_q, int head_dim,
            cudaStream_t st)
{
    const int64_t rows = (int64_t)batch * seqlen_q * heads_q;
    if (rows == 0) return 0;
    dsum_kernel<T><<<(unsigned)((rows + 7) / 8), 256, 0, st>>>(static_cast<const T *>(o), static_cast<const T *>(d_o),
                                                               dsum, rows, seqlen_q, heads_q, head_dim);
    return (int)cudaGetLastError();
}

template <typename T>
int group_sum_as(const float *src, void *dst, int64_t rows, int group, int width, cudaStream_t st)
{
    const int64_t n = rows * width;
    if (n == 0) return 0;
    const int64_t blocks = (n + 255) / 256;
    group_sum_kernel<T><<<(unsigned)(blocks < 4096 ? blocks : 4096), 256, 0, st>>>(src, static_cast<T *>(dst), n,
                                                                                    group, width);
    return (int)cudaGetLastError();
}

} // namespace

extern "C" int attn_dsum_launch(enum lc_dtype dtype, int head_dim, const void *o, const void *d_o, float *dsum,
                                int batch, int64_t seqlen_q, int heads_q, void *stream)
{
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    switch (dtype) {
    case LC_BF16: return dsum_as<__nv_bfloat16>(o, d_o, dsum, batch, seqlen_q, heads_q, head_dim, st);
    case LC_FP16: return dsum_as<__half>(o, d_o, dsum, batch, seqlen_q, heads_q, head_dim, st);
    default: return dsum_as<float>(o, d_o, dsum, batch, seqlen_q, heads_q, head_dim, st);
    }
}

extern "C" int attn_group_sum_launch(enum lc_dtype dtype, const float *src, void *dst, int64_t rows, int group,
                                     int width, void *stream)
{
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    switch (dtype) {
    case LC_BF16: return group_sum_as<__nv_bfloat16>(src, dst, rows, group, width, st);
    case LC_FP16: return group_sum_as<__half>(src, dst, rows, group, width, st);
    default: return group_sum_as<float>(src, dst, rows, group, width, st);
    }
}
