/* "naive": the unfused baseline. Scores S = Q K^T for every head go to device memory through
 * cuBLAS, a masked softmax turns them into P, and cuBLAS forms O = P V; the backward
 * recomputes S and P, and forms dV = P^T dO, dP = dO V^T, dS = P (dP - Dsum) and dQ = dS K,
 * dK = dS^T Q with the same GEMMs. It needs batch * heads_q * S_q * S_k scores at once, so
 * long sequences end in an out-of-memory result naming the bytes, as the driver allocates the
 * workspace this plan asks for.
 *
 * Layouts in cuBLAS's column-major terms: a BSHD head is a (head_dim x S) matrix with leading
 * dimension heads * head_dim, and a row-major S_q x S_k score block is (S_k x S_q), ld S_k.
 * GQA: each KV head's GEMM is batched over its query heads with a zero stride on K or V. */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/attn_aux.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/naive_softmax.h"

#define NAIVE_CUBLAS_WORKSPACE ((size_t)32 << 20)

struct naive_plan {
    struct longca_problem p;
    bool has_bwd;
    struct gpu_tiles tiles;
    cublasHandle_t blas;
    void *blas_workspace;
    /* workspace layout (byte offsets) */
    size_t scores, probs, dprobs, dsum, dk_acc, dv_acc, total;
};

static size_t align_up(size_t x) { return (x + 255) & ~(size_t)255; }

static cudaDataType cuda_type(enum lc_dtype t)
{
    return t == LC_BF16 ? CUDA_R_16BF : t == LC_FP16 ? CUDA_R_16F : CUDA_R_32F;
}

static enum lc_status blas_status(cublasStatus_t s, char *err, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS) return LC_OK;
    return lc_fail(err, s == CUBLAS_STATUS_ALLOC_FAILED ? LC_ERR_OOM : LC_ERR_DEVICE, "naive: cuBLAS %s failed (%d)",
                   what, (int)s);
}

static enum lc_status cuda_check(int e, char *err, const char *what)
{
    if (e == 0) return LC_OK;
    return lc_fail(err, LC_ERR_DEVICE, "naive: %s: %s", what, cudaGetErrorString((cudaError_t)e));
}

static void naive_plan_destroy(void *plan)
{
    struct naive_plan *np = plan;
    if (!np) return;
    if (np->blas) cublasDestroy(np->blas);
    device_cuda.free(np->blas_workspace);
    gpu_tiles_free(&np->tiles);
    free(np);
}

static int naive_supports(const struct longca_problem *p, unsigned dir, char *why)
{
    if (p->heads_kv < 1 || p->heads_q % p->heads_kv)
        return lc_fail(why, LC_ERR_INVALID, "query heads %d not divisible by KV heads %d", p->heads_q, p->heads_kv);
    if (p->mask->n_heads != 1 && p->mask->n_heads != p->heads_kv)
        return lc_fail(why, LC_ERR_INVALID, "mask has %d heads; naive needs 1 or one per KV head (%d)",
                       p->mask->n_heads, p->heads_kv);
    if (p->seqlen_k > INT32_MAX / 2 || p->seqlen_q > INT32_MAX / 2)
        return lc_fail(why, LC_ERR_UNSUPPORTED, "naive: sequence too long for cuBLAS's 32-bit sizes");
    return LC_OK;
}

static int naive_plan_create(const struct longca_problem *p, unsigned dir, void **plan,
                                        size_t *workspace_bytes, char *err)
{
    enum lc_status st = naive_supports(p, dir, err);
    if (st) return st;
    struct naive_plan *np = calloc(1, sizeof *np);
    if (!np) return lc_fail(err, LC_ERR_OOM, "out of host memory for the naive plan");
    np->p = *p;
    np->has_bwd = (dir & DIR_BWD) != 0;
    const size_t es = dtype_size(p->dtype);
    const size_t n_scores = (size_t)p->batch * p->heads_q * p->seqlen_q * p->seqlen_k;
    const size_t n_kx = (size_t)p->batch * p->seqlen_k * p->heads_q * p->head_dim;
    size_t at = 0;
    np->scores = at, at += align_up(n_scores * 4);
    np->probs = at, at += align_up(n_scores * es);
    if (np->has_bwd) {
        np->dprobs = at, at += align_up(n_scores * 4);
        np->dsum = at, at += align_up((size_t)p->batch * p->heads_q * p->seqlen_q * 4);
        np->dk_acc = at, at += align_up(n_kx * 4);
        np->dv_acc = at, at += align_up(n_kx * 4);
    }
    np->total = at;

    if ((st = gpu_tiles_build(p->mask, NAIVE_TILE, NAIVE_TILE, false, true, &np->tiles, err))) goto fail;
    if ((st = blas_status(cublasCreate(&np->blas), err, "create"))) goto fail;
    if ((st = device_cuda.alloc(NAIVE_CUBLAS_WORKSPACE, &np->blas_workspace, err))) goto fail;
    if ((st = blas_status(cublasSetWorkspace(np->blas, np->blas_workspace, NAIVE_CUBLAS_WORKSPACE), err, "workspace")))
        goto fail;
    *workspace_bytes = np->total;
    *plan = np;
    return LC_OK;
fail:
    naive_plan_destroy(np);
    return st;
}

/* C[h] = op(A[h]) op(B[h]) for the query heads h of each (batch, KV head); element offsets of
 * the group's first matrices come from the callbacks' arithmetic below. */
struct gemm {
    cublasOperation_t ta, tb;
    int m, n, k;
    const void *a;
    enum lc_dtype a_type;
    int lda;
    long long a_head, a_batch, a_group; /* element strides: per query head, per batch, per KV head */
    const void *b;
    int ldb;
    long long b_head, b_batch, b_group;
    void *c;
    enum lc_dtype c_type;
    int ldc;
    long long c_head, c_batch, c_group;
};

static enum lc_status run_gemm(const struct naive_plan *np, const struct gemm *g, char *err)
{
    const struct longca_problem *p = &np->p;
    const int group = p->heads_q / p->heads_kv;
    const float one = 1.f, zero = 0.f;
    const size_t es_a = dtype_size(g->a_type), es_c = dtype_size(g->c_type);
    for (int b = 0; b < p->batch; b++)
        for (int hk = 0; hk < p->heads_kv; hk++) {
            const char *a = (const char *)g->a + (size_t)(b * g->a_batch + hk * g->a_group) * es_a;
            const char *bb = (const char *)g->b + (size_t)(b * g->b_batch + hk * g->b_group) * es_a;
            char *c = (char *)g->c + (size_t)(b * g->c_batch + hk * g->c_group) * es_c;
            cublasStatus_t s = cublasGemmStridedBatchedEx(
                np->blas, g->ta, g->tb, g->m, g->n, g->k, &one, a, cuda_type(g->a_type), g->lda, g->a_head, bb,
                cuda_type(g->a_type), g->ldb, g->b_head, &zero, c, cuda_type(g->c_type), g->ldc, g->c_head, group,
                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            enum lc_status st = blas_status(s, err, "GEMM");
            if (st) return st;
        }
    return LC_OK;
}

/* S^T (S_k x S_q per head) = K^T' Q: with x = K gives scores, with x = V and y = dO gives dP. */
static enum lc_status gemm_scores(const struct naive_plan *np, const void *x_kv, const void *y_q, float *out, char *err)
{
    const struct longca_problem *p = &np->p;
    const long long d = p->head_dim, sq = p->seqlen_q, sk = p->seqlen_k, hq = p->heads_q, hkv = p->heads_kv;
    const long long group = hq / hkv;
    struct gemm g = {CUBLAS_OP_T, CUBLAS_OP_N, (int)sk, (int)sq, (int)d,
                     x_kv, p->dtype, (int)(hkv * d), 0, sk * hkv * d, d,
                     y_q, (int)(hq * d), d, sq * hq * d, group * d,
                     out, LC_FP32, (int)sk, sq * sk, hq * sq * sk, group * sq * sk};
    return run_gemm(np, &g, err);
}

/* O^T (d x S_q) = X^T (d x S_k) P^T: with X = V gives O, with X = K and P = dS gives dQ. */
static enum lc_status gemm_rows_out(const struct naive_plan *np, const void *x_kv, const void *probs, void *out,
                                    char *err)
{
    const struct longca_problem *p = &np->p;
    const long long d = p->head_dim, sq = p->seqlen_q, sk = p->seqlen_k, hq = p->heads_q, hkv = p->heads_kv;
    const long long group = hq / hkv;
    struct gemm g = {CUBLAS_OP_N, CUBLAS_OP_N, (int)d, (int)sq, (int)sk,
                     x_kv, p->dtype, (int)(hkv * d), 0, sk * hkv * d, d,
                     probs, (int)sk, sq * sk, hq * sq * sk, group * sq * sk,
                     out, p->dtype, (int)(hq * d), d, sq * hq * d, group * d};
    return run_gemm(np, &g, err);
}

/* Per query head, (d x S_k) = Y^T (d x S_q) P: with Y = dO, P = probs gives dV; with Y = Q,
 * P = dS gives dK; written fp32 into [b, S_k, heads_q, d] for the group sum. */
static enum lc_status gemm_cols_out(const struct naive_plan *np, const void *y_q, const void *probs, float *out,
                                    char *err)
{
    const struct longca_problem *p = &np->p;
    const long long d = p->head_dim, sq = p->seqlen_q, sk = p->seqlen_k, hq = p->heads_q, hkv = p->heads_kv;
    const long long group = hq / hkv;
    struct gemm g = {CUBLAS_OP_N, CUBLAS_OP_T, (int)d, (int)sk, (int)sq,
                     y_q, p->dtype, (int)(hq * d), d, sq * hq * d, group * d,
                     probs, (int)sk, sq * sk, hq * sq * sk, group * sq * sk,
                     out, LC_FP32, (int)(hq * d), d, sk * hq * d, group * d};
    return run_gemm(np, &g, err);
}

static struct naive_rows rows_of(const struct naive_plan *np)
{
    const struct longca_problem *p = &np->p;
    return (struct naive_rows){p->dtype, p->batch, p->heads_q, p->heads_kv, p->seqlen_q, p->seqlen_k,
                               p->softmax_scale, &np->tiles};
}

/* cuBLAS works on the stream the caller passed (it may differ between calls). */
static enum lc_status blas_on(const struct naive_plan *np, void *stream, char *err)
{
    return blas_status(cublasSetStream(np->blas, (cudaStream_t)stream), err, "stream");
}

static int naive_forward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *err)
{
    const struct naive_plan *np = plan;
    char *ws = workspace;
    float *scores = (float *)(ws + np->scores);
    void *probs = ws + np->probs;
    struct naive_rows r = rows_of(np);
    enum lc_status st;
    if ((st = blas_on(np, stream, err)) || (st = gemm_scores(np, t->k, t->q, scores, err))) return st;
    if ((st = cuda_check(naive_softmax_launch(&r, scores, probs, t->lse, false, stream), err, "softmax")))
        return st;
    return gemm_rows_out(np, t->v, probs, t->o, err);
}

static int naive_backward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *err)
{
    const struct naive_plan *np = plan;
    const struct longca_problem *p = &np->p;
    if (!np->has_bwd) return lc_fail(err, LC_ERR_INTERNAL, "naive plan was made without the backward");
    char *ws = workspace;
    float *scores = (float *)(ws + np->scores), *dprobs = (float *)(ws + np->dprobs);
    float *dsum = (float *)(ws + np->dsum), *dk_acc = (float *)(ws + np->dk_acc), *dv_acc = (float *)(ws + np->dv_acc);
    void *probs = ws + np->probs;
    struct naive_rows r = rows_of(np);
    const int group = p->heads_q / p->heads_kv;
    const int64_t kv_rows = (int64_t)p->batch * p->seqlen_k * p->heads_kv;
    enum lc_status st;
    if ((st = blas_on(np, stream, err)) ||
        (st = cuda_check(attn_dsum_launch(p->dtype, p->head_dim, t->o, t->d_o, dsum, p->batch, p->seqlen_q,
                                          p->heads_q, stream),
                         err, "dsum")) ||
        (st = gemm_scores(np, t->k, t->q, scores, err)) ||
        (st = cuda_check(naive_softmax_launch(&r, scores, probs, t->lse, true, stream), err, "softmax")) ||
        (st = gemm_cols_out(np, t->d_o, probs, dv_acc, err)) || (st = gemm_scores(np, t->v, t->d_o, dprobs, err)) ||
        (st = cuda_check(naive_dsoftmax_launch(&r, scores, dprobs, t->lse, dsum, probs, stream), err, "dsoftmax")) ||
        (st = gemm_rows_out(np, t->k, probs, t->dq, err)) || (st = gemm_cols_out(np, t->q, probs, dk_acc, err)) ||
        (st = cuda_check(attn_group_sum_launch(p->dtype, dk_acc, t->dk, kv_rows, group, p->head_dim, stream), err,
                         "dK group sum")) ||
        (st = cuda_check(attn_group_sum_launch(p->dtype, dv_acc, t->dv, kv_rows, group, p->head_dim, stream), err,
                         "dV group sum")))
        return st;
    return LC_OK;
}

const struct longca_kernel kernel_naive = {
    .abi_version = LONGCA_KERNEL_ABI_VERSION,
    .name = "naive",
    .summary = "unfused baseline: cuBLAS QK^T, masked softmax over S x S scores, cuBLAS PV (runs out of memory "
               "at long S)",
    .device = DEVICE_CUDA,
    .dtypes = (1u << LC_FP32) | (1u << LC_BF16) | (1u << LC_FP16),
    .directions = DIR_FWD | DIR_BWD,
    .head_dims = NULL,
    .mask_forms = LONGCA_FORM_RULES | LONGCA_FORM_HEAD_RULES,
    .writes_lse = true,
    .tile_q = NAIVE_TILE,
    .supports = naive_supports,
    .plan = naive_plan_create,
    .forward = naive_forward,
    .backward = naive_backward,
    .destroy = naive_plan_destroy,
};
