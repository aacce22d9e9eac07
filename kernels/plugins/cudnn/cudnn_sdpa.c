/* The SDPA graphs (see cudnn_sdpa.h). Layouts: longca's tensors are [b, S, h, d] (BSHD), so a
 * row of one head is d contiguous elements and rows are h * d apart; cuDNN sees [B, h, s, d]
 * with those strides, K and V transposed by strides only. Packed documents are entries of a
 * larger batch located by ragged offsets (in elements), with per-entry sequence lengths. */
#include "cudnn_sdpa.h"

#include <cudnn_version.h>
#include <math.h>
#include <string.h>

/* Headers older than the fused operations (forward 9.13, backward 9.17; the GPU machine's system
 * cuDNN is 9.14) lack their names: the same numbers, which the library checks at run time. */
#if CUDNN_VERSION < 91300
#define CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR ((cudnnBackendDescriptorType_t)41)
#define CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC ((cudnnBackendAttributeName_t)2800)
#define CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC ((cudnnBackendAttributeName_t)2801)
#define CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC ((cudnnBackendAttributeName_t)2802)
#define CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC ((cudnnBackendAttributeName_t)2803)
#define CUDNN_ATTR_OPERATION_SDPA_FWD_STATSDESC ((cudnnBackendAttributeName_t)2804)
#define CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC ((cudnnBackendAttributeName_t)2805)
#endif
#if CUDNN_VERSION < 91700
#define CUDNN_BACKEND_OPERATION_SDPA_BWD_DESCRIPTOR ((cudnnBackendDescriptorType_t)43)
#define CUDNN_ATTR_OPERATION_SDPA_BWD_QDESC ((cudnnBackendAttributeName_t)2851)
#define CUDNN_ATTR_OPERATION_SDPA_BWD_KDESC ((cudnnBackendAttributeName_t)2852)
#define CUDNN_ATTR_OPERATION_SDPA_BWD_VDESC ((cudnnBackendAttributeName_t)2853)
#define CUDNN_ATTR_OPERATION_SDPA_BWD_ODESC ((cudnnBackendAttributeName_t)2854)
#define CUDNN_ATTR_OPERATION_SDPA_BWD_STATSDESC ((cudnnBackendAttributeName_t)2855)
#define CUDNN_ATTR_OPERATION_SDPA_BWD_SCALEDESC ((cudnnBackendAttributeName_t)2856)
#define CUDNN_ATTR_OPERATION_SDPA_BWD_DQDESC ((cudnnBackendAttributeName_t)2859)
#define CUDNN_ATTR_OPERATION_SDPA_BWD_DKDESC ((cudnnBackendAttributeName_t)2860)
#define CUDNN_ATTR_OPERATION_SDPA_BWD_DVDESC ((cudnnBackendAttributeName_t)2861)
#define CUDNN_ATTR_OPERATION_SDPA_BWD_DODDESC ((cudnnBackendAttributeName_t)2862)
#endif

#define F32 CUDNN_DATA_FLOAT
#define I32 CUDNN_DATA_INT32
#define BOOL CUDNN_DATA_BOOLEAN

/* The tensors both directions start from. */
struct io {
    struct cg_tensor *q, *kt, *v, *vt, *o, *stats, *seq_q, *seq_kv, *rag_q, *rag_kv;
};

static struct cg_tensor *bshd(struct cg *g, int64_t uid, const struct sdpa_shape *s, int64_t h, int64_t rows,
                              int64_t tokens, bool transposed, cudnnDataType_t type, const struct cg_tensor *rag)
{
    int64_t batch_stride = tokens * h * s->d;
    int64_t dims[4] = {s->b, h, rows, s->d}, strides[4] = {batch_stride, s->d, h * s->d, 1};
    if (transposed) {
        dims[2] = s->d, dims[3] = rows;
        strides[2] = 1, strides[3] = h * s->d;
    }
    return cg_tensor(g, uid, dims, strides, type, rag);
}

static void inputs(struct cg *g, const struct sdpa_shape *s, struct io *io, bool k_transposed)
{
    memset(io, 0, sizeof *io);
    if (s->ragged) {
        const int64_t one[4] = {1, 1, 1, 1}, lens[4] = {s->b, 1, 1, 1}, offs[4] = {s->b + 1, 1, 1, 1};
        io->seq_q = cg_tensor(g, UID_SEQ_Q, lens, one, I32, NULL);
        io->seq_kv = cg_tensor(g, UID_SEQ_KV, lens, one, I32, NULL);
        io->rag_q = cg_tensor(g, UID_RAG_Q, offs, one, I32, NULL);
        io->rag_kv = cg_tensor(g, UID_RAG_KV, offs, one, I32, NULL);
    }
    io->q = bshd(g, UID_Q, s, s->hq, s->sq, s->tokens_q, false, s->io, io->rag_q);
    io->kt = bshd(g, UID_K, s, s->hk, s->skv, s->tokens_k, k_transposed, s->io, io->rag_kv);
    io->v = bshd(g, UID_V, s, s->hk, s->skv, s->tokens_k, false, s->io, io->rag_kv);
    io->o = bshd(g, UID_O, s, s->hq, s->sq, s->tokens_q, false, s->io, io->rag_q);
    const int64_t sd[4] = {s->b, s->hq, s->sq, 1}, ss[4] = {s->hq * s->sq, s->sq, 1, 1};
    io->stats = cg_tensor(g, UID_STATS, sd, ss, F32, NULL);
}

/* [B, h, rows, cols] fp32 scores of one entry, virtual. */
static struct cg_tensor *scores(struct cg *g, const struct sdpa_shape *s, int64_t rows, int64_t cols,
                                cudnnDataType_t type)
{
    const int64_t dims[4] = {s->b, s->hq, rows, cols}, strides[4] = {s->hq * rows * cols, rows * cols, cols, 1};
    return cg_tensor(g, 0, dims, strides, type, NULL);
}

/* Scores past an entry's own lengths (packed documents) set to -inf. */
static struct cg_tensor *padding_mask(struct cg *g, const struct io *io, struct cg_tensor *x, struct cg_tensor *neg)
{
    struct cg_tensor *row = cg_pointwise(g, CUDNN_POINTWISE_GEN_INDEX, x, NULL, NULL, NULL, I32, I32, 2);
    struct cg_tensor *col = cg_pointwise(g, CUDNN_POINTWISE_GEN_INDEX, x, NULL, NULL, NULL, I32, I32, 3);
    struct cg_tensor *row_in = cg_pointwise(g, CUDNN_POINTWISE_CMP_LT, row, io->seq_q, NULL, NULL, BOOL, BOOL, -1);
    struct cg_tensor *col_in = cg_pointwise(g, CUDNN_POINTWISE_CMP_LT, col, io->seq_kv, NULL, NULL, BOOL, BOOL, -1);
    struct cg_tensor *in = cg_pointwise(g, CUDNN_POINTWISE_LOGICAL_AND, row_in, col_in, NULL, NULL, BOOL, BOOL, -1);
    return cg_pointwise(g, CUDNN_POINTWISE_BINARY_SELECT, x, neg, in, NULL, F32, F32, -1);
}

/* The band lo <= k - q <= hi, counted from each entry's top-left corner: the right bound as
 * row + hi >= col, the left one as col + (1 - lo) > row (cuDNN's sliding-window form). */
static struct cg_tensor *band_mask(struct cg *g, const struct sdpa_shape *s, struct cg_tensor *x,
                                   struct cg_tensor *neg)
{
    if (s->diag_hi != SDPA_NO_BOUND) {
        struct cg_tensor *row = cg_pointwise(g, CUDNN_POINTWISE_GEN_INDEX, x, NULL, NULL, NULL, I32, F32, 2);
        struct cg_tensor *col = cg_pointwise(g, CUDNN_POINTWISE_GEN_INDEX, x, NULL, NULL, NULL, I32, F32, 3);
        if (s->diag_hi != 0)
            row = cg_pointwise(g, CUDNN_POINTWISE_ADD, row, cg_int(g, s->diag_hi), NULL, NULL, I32, I32, 3);
        struct cg_tensor *keep = cg_pointwise(g, CUDNN_POINTWISE_CMP_GE, row, col, NULL, NULL, BOOL, BOOL, -1);
        x = cg_pointwise(g, CUDNN_POINTWISE_BINARY_SELECT, x, neg, keep, NULL, F32, F32, -1);
    }
    if (s->diag_lo != SDPA_NO_BOUND) {
        struct cg_tensor *row = cg_pointwise(g, CUDNN_POINTWISE_GEN_INDEX, x, NULL, NULL, NULL, I32, F32, 2);
        struct cg_tensor *col = cg_pointwise(g, CUDNN_POINTWISE_GEN_INDEX, x, NULL, NULL, NULL, I32, F32, 3);
        col = cg_pointwise(g, CUDNN_POINTWISE_ADD, col, cg_float(g, (float)(1 - (int64_t)s->diag_lo)), NULL, NULL, F32,
                           F32, 3);
        struct cg_tensor *keep = cg_pointwise(g, CUDNN_POINTWISE_CMP_GT, col, row, NULL, NULL, BOOL, BOOL, -1);
        x = cg_pointwise(g, CUDNN_POINTWISE_BINARY_SELECT, x, neg, keep, NULL, F32, F32, -1);
    }
    return x;
}

/* The -inf that masked scores take, only where a mask uses it: a by-value scalar the graph does
 * not name makes the variant pack name a tensor the plan lacks, which cuDNN refuses
 * (BAD_PARAM_NULL_POINTER in isCompatibleVariantPack) — the full mask's composite graphs. */
static struct cg_tensor *minus_infinity(struct cg *g, const struct sdpa_shape *s)
{
    bool masked = s->ragged || s->diag_lo != SDPA_NO_BOUND || s->diag_hi != SDPA_NO_BOUND;
    return masked ? cg_float(g, -INFINITY) : NULL;
}

/* Scaled scores S = scale * Q K^T of every entry, -inf past packed entries' lengths. */
static struct cg_tensor *scaled_scores(struct cg *g, const struct sdpa_shape *s, const struct io *io,
                                       struct cg_tensor *neg)
{
    struct cg_tensor *qk = scores(g, s, s->sq, s->skv, F32);
    cg_matmul(g, io->q, io->kt, qk, io->seq_q, io->seq_kv, NULL, s->ragged);
    struct cg_tensor *x = cg_pointwise(g, CUDNN_POINTWISE_MUL, qk, cg_float(g, s->scale), NULL, NULL, F32, F32, -1);
    return s->ragged ? padding_mask(g, io, x, neg) : x;
}

static void forward_composite(struct cg *g, const struct sdpa_shape *s)
{
    struct io io;
    inputs(g, s, &io, true);
    struct cg_tensor *neg = minus_infinity(g, s);
    struct cg_tensor *x = band_mask(g, s, scaled_scores(g, s, &io, neg), neg);
    /* softmax with its stats: max, exp(x - max), sum; stats = max + log(sum) */
    struct cg_tensor *max = cg_like(g, io.stats, F32), *sum = cg_like(g, io.stats, F32);
    cg_reduction(g, CUDNN_REDUCE_TENSOR_MAX, x, max);
    struct cg_tensor *shifted = cg_pointwise(g, CUDNN_POINTWISE_SUB, x, max, NULL, NULL, F32, F32, -1);
    struct cg_tensor *e = cg_pointwise(g, CUDNN_POINTWISE_EXP, shifted, NULL, NULL, NULL, F32, F32, -1);
    cg_reduction(g, CUDNN_REDUCE_TENSOR_ADD, e, sum);
    struct cg_tensor *log_sum = cg_pointwise(g, CUDNN_POINTWISE_LOG, sum, NULL, NULL, NULL, F32, F32, -1);
    cg_pointwise(g, CUDNN_POINTWISE_ADD, max, log_sum, NULL, io.stats, F32, F32, -1);
    struct cg_tensor *p = cg_pointwise(g, CUDNN_POINTWISE_DIV, e, sum, NULL, NULL, s->io, F32, -1);
    cg_matmul(g, p, io.v, io.o, io.seq_q, NULL, io.seq_kv, false);
}

/* dK or dV: from the transposed probabilities (or dS) times Q (or dO); GQA sums the query heads
 * of a group into their KV head. */
static void key_side_grad(struct cg *g, const struct sdpa_shape *s, const struct io *io, struct cg_tensor *t_scores,
                          const struct cg_tensor *rows, int64_t uid, int64_t full_uid, int64_t scratch[],
                          int which)
{
    struct cg_tensor *out = bshd(g, uid, s, s->hk, s->skv, s->tokens_k, false, s->io, io->rag_kv);
    if (s->hq == s->hk) {
        cg_matmul(g, t_scores, rows, out, io->seq_kv, NULL, io->seq_q, false);
        return;
    }
    struct cg_tensor *full;
    if (s->ragged) { /* packed: the per-query-head partials live in scratch, located like dK */
        const int64_t group = s->hq / s->hk;
        int64_t dims[4] = {s->b, s->hq, s->skv, s->d};
        int64_t strides[4] = {out->strides[0] * group, s->d, out->strides[2] * group, 1};
        full = cg_tensor(g, full_uid, dims, strides, s->io, io->rag_kv);
        scratch[which] = s->b * s->skv * s->hq * s->d * (int64_t)sizeof(float);
    } else {
        const int64_t dims[4] = {s->b, s->hq, s->skv, s->d};
        const int64_t strides[4] = {s->hq * s->skv * s->d, s->skv * s->d, s->d, 1};
        full = cg_tensor(g, 0, dims, strides, s->io, NULL);
    }
    cg_matmul(g, t_scores, rows, full, io->seq_kv, NULL, io->seq_q, false);
    cg_reduction(g, CUDNN_REDUCE_TENSOR_ADD, full, out);
}

/* [B, h, cols, rows] view of x, transposed by strides (virtual, of the io type). */
static struct cg_tensor *transposed(struct cg *g, const struct sdpa_shape *s, struct cg_tensor *x)
{
    const int64_t dims[4] = {s->b, s->hq, s->skv, s->sq}, strides[4] = {s->hq * s->sq * s->skv, s->sq * s->skv, 1, s->skv};
    struct cg_tensor *t = cg_tensor(g, 0, dims, strides, s->io, NULL);
    cg_reshape(g, x, t);
    return t;
}

static void backward_composite(struct cg *g, const struct sdpa_shape *s, int64_t scratch[])
{
    struct io io;
    inputs(g, s, &io, true);
    struct cg_tensor *d_o = bshd(g, UID_DO, s, s->hq, s->sq, s->tokens_q, false, s->io, io.rag_q);
    struct cg_tensor *dq = bshd(g, UID_DQ, s, s->hq, s->sq, s->tokens_q, false, s->io, io.rag_q);
    io.vt = bshd(g, UID_V, s, s->hk, s->skv, s->tokens_k, true, s->io, io.rag_kv);
    /* D = rowsum(dO * O), kept in scratch for the engine */
    const int64_t od[4] = {s->b, s->hq, s->sq, s->d}, os[4] = {s->hq * s->sq * s->d, s->sq * s->d, s->hq * s->d, 1};
    struct cg_tensor *prod = cg_tensor(g, 0, od, os, F32, NULL);
    cg_pointwise(g, CUDNN_POINTWISE_MUL, d_o, io.o, NULL, prod, F32, F32, -1);
    struct cg_tensor *rowsum = cg_like(g, io.stats, F32);
    cg_reduction(g, CUDNN_REDUCE_TENSOR_ADD, prod, rowsum);
    struct cg_tensor *sum = cg_tensor(g, UID_SUM, io.stats->dims, io.stats->strides, F32, NULL);
    cg_pointwise(g, CUDNN_POINTWISE_MUL, rowsum, cg_float(g, 1.0f), NULL, sum, F32, F32, -1);
    scratch[SCRATCH_SUM] = s->b * s->hq * s->sq * (int64_t)sizeof(float);
    /* P = exp(S - stats), the band applied after the subtraction (the order cuDNN's matcher knows) */
    struct cg_tensor *neg = minus_infinity(g, s);
    struct cg_tensor *x = scaled_scores(g, s, &io, neg);
    x = band_mask(g, s, cg_pointwise(g, CUDNN_POINTWISE_SUB, x, io.stats, NULL, NULL, F32, F32, -1), neg);
    struct cg_tensor *p = cg_pointwise(g, CUDNN_POINTWISE_EXP, x, NULL, NULL, NULL, F32, F32, -1);
    key_side_grad(g, s, &io, transposed(g, s, p), d_o, UID_DV, UID_DV_FULL, scratch, SCRATCH_DV_FULL);
    /* dS = scale * P * (dO V^T - D) */
    struct cg_tensor *dp = scores(g, s, s->sq, s->skv, F32);
    cg_matmul(g, d_o, io.vt, dp, io.seq_q, io.seq_kv, NULL, false);
    struct cg_tensor *ds = cg_pointwise(g, CUDNN_POINTWISE_SUB, dp, sum, NULL, NULL, F32, F32, -1);
    ds = cg_pointwise(g, CUDNN_POINTWISE_MUL, ds, p, NULL, NULL, F32, F32, -1);
    ds = cg_pointwise(g, CUDNN_POINTWISE_MUL, ds, cg_float(g, s->scale), NULL, NULL, F32, F32, -1);
    key_side_grad(g, s, &io, transposed(g, s, ds), io.q, UID_DK, UID_DK_FULL, scratch, SCRATCH_DK_FULL);
    /* dQ = dS K, accumulated in fp32 unless deterministic */
    struct cg_tensor *k = bshd(g, 0, s, s->hk, s->skv, s->tokens_k, false, s->io, io.rag_kv);
    cg_reshape(g, io.kt, k);
    if (s->deterministic) {
        cg_matmul(g, ds, k, dq, io.seq_q, NULL, io.seq_kv, false);
        return;
    }
    struct cg_tensor *acc;
    if (s->ragged) {
        acc = cg_tensor(g, UID_DQ_ACC, dq->dims, dq->strides, F32, io.rag_q);
        scratch[SCRATCH_DQ_ACC] = s->b * s->sq * s->hq * s->d * (int64_t)sizeof(float);
    } else {
        const int64_t as[4] = {s->hq * s->sq * s->d, s->sq * s->d, s->d, 1};
        acc = cg_tensor(g, UID_DQ_ACC, dq->dims, as, F32, NULL);
        scratch[SCRATCH_DQ_ACC] = s->b * s->hq * s->sq * s->d * (int64_t)sizeof(float);
    }
    cg_matmul(g, ds, k, acc, io.seq_q, NULL, io.seq_kv, false);
    cg_pointwise(g, CUDNN_POINTWISE_IDENTITY, acc, NULL, NULL, dq, s->io, F32, -1);
}

/* The fused operations: K untransposed, the scale a by-value scalar. */
static void fused(struct cg *g, const struct sdpa_shape *s, bool backward)
{
    struct io io;
    inputs(g, s, &io, false);
    struct cg_tensor *scale = cg_float(g, s->scale);
    if (!backward) {
        const cudnnBackendAttributeName_t names[] = {
            CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC,
            CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC,
            CUDNN_ATTR_OPERATION_SDPA_FWD_STATSDESC, CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC};
        struct cg_tensor *const tensors[] = {io.q, io.kt, io.v, io.o, io.stats, scale};
        cg_operation(g, CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, names, tensors, 6, "fused SDPA forward");
        return;
    }
    const cudnnBackendAttributeName_t names[] = {
        CUDNN_ATTR_OPERATION_SDPA_BWD_QDESC,     CUDNN_ATTR_OPERATION_SDPA_BWD_KDESC,
        CUDNN_ATTR_OPERATION_SDPA_BWD_VDESC,     CUDNN_ATTR_OPERATION_SDPA_BWD_ODESC,
        CUDNN_ATTR_OPERATION_SDPA_BWD_STATSDESC, CUDNN_ATTR_OPERATION_SDPA_BWD_SCALEDESC,
        CUDNN_ATTR_OPERATION_SDPA_BWD_DODDESC,   CUDNN_ATTR_OPERATION_SDPA_BWD_DQDESC,
        CUDNN_ATTR_OPERATION_SDPA_BWD_DKDESC,    CUDNN_ATTR_OPERATION_SDPA_BWD_DVDESC};
    struct cg_tensor *const tensors[] = {
        io.q, io.kt, io.v, io.o, io.stats, scale,
        bshd(g, UID_DO, s, s->hq, s->sq, s->tokens_q, false, s->io, NULL),
        bshd(g, UID_DQ, s, s->hq, s->sq, s->tokens_q, false, s->io, NULL),
        bshd(g, UID_DK, s, s->hk, s->skv, s->tokens_k, false, s->io, NULL),
        bshd(g, UID_DV, s, s->hk, s->skv, s->tokens_k, false, s->io, NULL)};
    cg_operation(g, CUDNN_BACKEND_OPERATION_SDPA_BWD_DESCRIPTOR, names, tensors, 10, "fused SDPA backward");
}

bool sdpa_fused_fits(const struct sdpa_shape *s, bool backward, size_t version)
{
    /* The fused operations of these versions take no diagonal band and no packed documents. */
    if (s->ragged || s->diag_lo != SDPA_NO_BOUND || s->diag_hi != SDPA_NO_BOUND || s->deterministic) return false;
    return backward ? version >= 91700 : version >= 91301;
}

bool sdpa_build(struct cg *g, const struct sdpa_shape *s, bool backward, enum sdpa_route route,
                int64_t scratch[SCRATCH_COUNT])
{
    memset(scratch, 0, SCRATCH_COUNT * sizeof *scratch);
    if (route == SDPA_FUSED_OP) fused(g, s, backward);
    else if (backward) backward_composite(g, s, scratch);
    else forward_composite(g, s);
    return !g->failed && cg_build(g);
}
