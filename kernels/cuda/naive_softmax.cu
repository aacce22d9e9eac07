/* Masked softmax and its derivative over materialised S x S score rows: one CTA per row. The
 * row's tile list is unpacked into a per-key-tile state in shared memory (not visible, fully
 * visible, or the entry whose clipped rules decide element by element). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>

extern "C" {
#include "kernels/cuda/naive_softmax.h"
}

namespace {

constexpr int THREADS = 256;
constexpr int HIDDEN = -1, FULL = -2;

template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ __half from_f32<__half>(float x) { return __float2half_rn(x); }

struct row_params {
    int64_t seqlen_q, seqlen_k;
    int heads_q, group, mask_heads, n_rows, n_cols;
    float scale;
    const int64_t *row_offsets;
    const gpu_tile_entry *entries;
    const longca_rule *rules;
};

/* Fills state[n_cols] for query row q of head h; returns after a barrier. */
__device__ void row_state(const row_params &p, int h, int64_t q, int *state)
{
    const int mh = p.mask_heads == 1 ? 0 : h / p.group;
    const int64_t row = (int64_t)mh * p.n_rows + q / NAIVE_TILE;
    for (int i = threadIdx.x; i < p.n_cols; i += blockDim.x) state[i] = HIDDEN;
    __syncthreads();
    for (int64_t e = p.row_offsets[row] + threadIdx.x; e < p.row_offsets[row + 1]; e += blockDim.x)
        state[p.entries[e].tile] = p.entries[e].rule_count ? (int)e : FULL;
    __syncthreads();
}

__device__ __forceinline__ bool visible(const row_params &p, const int *state, int64_t q, int64_t k)
{
    const int s = state[k / NAIVE_TILE];
    if (s == FULL) return true;
    if (s == HIDDEN) return false;
    const gpu_tile_entry e = p.entries[s];
    for (int r = 0; r < e.rule_count; r++) {
        const longca_rule &m = p.rules[e.rule_begin + r];
        const int64_t d = k - q;
        if (q >= m.q_begin && q < m.q_end && k >= m.k_begin && k < m.k_end && d >= m.diag_lo && d <= m.diag_hi)
            return true;
    }
    return false;
}

__device__ float block_reduce(float v, bool is_max, float *scratch)
{
    for (int off = 16; off; off /= 2) {
        float o = __shfl_xor_sync(0xffffffffu, v, off);
        v = is_max ? fmaxf(v, o) : v + o;
    }
    __syncthreads();
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    v = scratch[0];
    for (int w = 1; w < THREADS / 32; w++) v = is_max ? fmaxf(v, scratch[w]) : v + scratch[w];
    return v;
}

/* grid: (seqlen_q, heads_q, batch) */
template <typename T>
__global__ void __launch_bounds__(THREADS) softmax_kernel(row_params p, const float *scores, T *probs, float *lse,
                                                          bool lse_known)
{
    extern __shared__ int state[];
    __shared__ float scratch[THREADS / 32];
    const int64_t q = blockIdx.x;
    const int h = blockIdx.y, b = blockIdx.z;
    const int64_t row = ((int64_t)b * p.heads_q + h) * p.seqlen_q + q;
    const float *s = scores + row * p.seqlen_k;
    T *out = probs + row * p.seqlen_k;
    row_state(p, h, q, state);

    float row_lse;
    if (lse_known) {
        row_lse = lse[row];
    } else {
        float mx = -INFINITY;
        for (int64_t k = threadIdx.x; k < p.seqlen_k; k += THREADS)
            if (visible(p, state, q, k)) mx = fmaxf(mx, s[k]);
        mx = block_reduce(mx, true, scratch);
        float sum = 0.f;
        if (mx != -INFINITY)
            for (int64_t k = threadIdx.x; k < p.seqlen_k; k += THREADS)
                if (visible(p, state, q, k)) sum += expf((s[k] - mx) * p.scale);
        sum = block_reduce(sum, false, scratch);
        row_lse = sum > 0.f ? mx * p.scale + logf(sum) : -INFINITY;
        if (threadIdx.x == 0) lse[row] = row_lse;
    }
    for (int64_t k = threadIdx.x; k < p.seqlen_k; k += THREADS) {
        const bool vis = row_lse != -INFINITY && visible(p, state, q, k);
        out[k] = from_f32<T>(vis ? expf(s[k] * p.scale - row_lse) : 0.f);
    }
}

template <typename T>
__global__ void __launch_bounds__(THREADS) dsoftmax_kernel(row_params p, const float *scores, const float *dprobs,
                                                           const float *lse, const float *dsum, T *dscores)
{
    extern __shared__ int state[];
    const int64_t q = blockIdx.x;
    const int h = blockIdx.y, b = blockIdx.z;
    const int64_t row = ((int64_t)b * p.heads_q + h) * p.seqlen_q + q;
    const float *s = scores + row * p.seqlen_k, *dp = dprobs + row * p.seqlen_k;
    T *out = dscores + row * p.seqlen_k;
    row_state(p, h, q, state);
    const float row_lse = lse[row], d = dsum[row];
    for (int64_t k = threadIdx.x; k < p.seqlen_k; k += THREADS) {
        float v = 0.f;
        if (row_lse != -INFINITY && visible(p, state, q, k)) v = expf(s[k] * p.scale - row_lse) * (dp[k] - d) * p.scale;
        out[k] = from_f32<T>(v);
    }
}

row_params params_of(const naive_rows *r)
{
    row_params p;
    p.seqlen_q = r->seqlen_q;
    p.seqlen_k = r->seqlen_k;
    p.heads_q = r->heads_q;
    p.group = r->heads_q / r->heads_kv;
    p.mask_heads = r->tiles->n_heads;
    p.n_rows = r->tiles->n_rows;
    p.n_cols = r->tiles->n_cols;
    p.scale = r->scale;
    p.row_offsets = r->tiles->row_offsets;
    p.entries = r->tiles->entries;
    p.rules = r->tiles->rules;
    return p;
}

dim3 grid_of(const naive_rows *r) { return dim3((unsigned)r->seqlen_q, (unsigned)r->heads_q, (unsigned)r->batch); }
size_t state_bytes(const naive_rows *r) { return (size_t)r->tiles->n_cols * sizeof(int); }

template <typename T>
int softmax_as(const naive_rows *r, const float *scores, void *probs, float *lse, bool lse_known, cudaStream_t st)
{
    softmax_kernel<T><<<grid_of(r), THREADS, state_bytes(r), st>>>(params_of(r), scores, static_cast<T *>(probs), lse,
                                                                   lse_known);
    return (int)cudaGetLastError();
}

template <typename T>
int dsoftmax_as(const naive_rows *r, const float *scores, const float *dprobs, const float *lse, const float *dsum,
                void *dscores, cudaStream_t st)
{
    dsoftmax_kernel<T><<<grid_of(r), THREADS, state_bytes(r), st>>>(params_of(r), scores, dprobs, lse, dsum,
                                                                    static_cast<T *>(dscores));
    return (int)cudaGetLastError();
}

} // namespace

extern "C" int naive_softmax_launch(const struct naive_rows *r, const float *scores, void *probs, float *lse,
                                    bool lse_known, void *stream)
{
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    switch (r->dtype) {
    case LC_BF16: return softmax_as<__nv_bfloat16>(r, scores, probs, lse, lse_known, st);
    case LC_FP16: return softmax_as<__half>(r, scores, probs, lse, lse_known, st);
    default: return softmax_as<float>(r, scores, probs, lse, lse_known, st);
    }
}

extern "C" int naive_dsoftmax_launch(const struct naive_rows *r, const float *scores, const float *dprobs,
                                     const float *lse, const float *dsum, void *dscores, void *stream)
{
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    switch (r->dtype) {
    case LC_BF16: return dsoftmax_as<__nv_bfloat16>(r, scores, dprobs, lse, dsum, dscores, st);
    case LC_FP16: return dsoftmax_as<__half>(r, scores, dprobs, lse, dsum, dscores, st);
    default: return dsoftmax_as<float>(r, scores, dprobs, lse, dsum, dscores, st);
    }
}
