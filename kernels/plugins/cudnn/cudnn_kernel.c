/* `cudnn`: NVIDIA cuDNN's fused flash attention as a longca kernel plugin (liblongca_cudnn.so),
 * through the backend C API (cudnn_sdpa.c), libcudnn loaded at run time (cudnn_lib.c). Masks
 * come in the documents form: one entry per document (packed, ragged offsets and per-entry
 * lengths) with one diagonal band inside, which covers full, causal, the sliding windows and
 * full and causal documents. Graphs are built in plan, once per shape; forward and backward
 * only bind pointers and execute. LONGCA_CUDNN_ROUTE=composite|fused picks the route (default:
 * fused where it fits, the composite graph otherwise or when the fused one has no plan). */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cudnn_sdpa.h"
#include "longca_kernel.h"

#define ALIGN(x) (((x) + 255) & ~(size_t)255)

struct cudnn_plan {
    const struct cudnn_lib *lib;
    cudnnHandle_t handle;
    struct sdpa_shape shape;
    int batch, n_docs;
    int64_t seqlen_q;
    int64_t *cu_q; /* host copy of the document starts (n_docs + 1), for the stats copies */
    struct cg fwd, bwd;
    bool has_bwd;
    int32_t *device_arrays; /* seq_q | seq_kv | rag_q | rag_kv, packed documents only */
    size_t stats_off, scratch_off[SCRATCH_COUNT];
    int64_t scratch_bytes[SCRATCH_COUNT];
};

static int say(char *message, int status, const char *what, const char *detail)
{
    snprintf(message, LONGCA_MESSAGE_LEN, "%s%s%.200s", what, detail ? ": " : "", detail ? detail : "");
    return status;
}

static int cudnn_supports(const struct longca_problem *p, unsigned directions, char *message)
{
    const struct cudnn_lib *lib = cudnn_lib();
    if (!lib->loaded) return say(message, LONGCA_ERR_UNSUPPORTED, lib->describe, NULL);
    if (p->mask->n_heads != 1 || p->mask->n_docs == 0)
        return say(message, LONGCA_ERR_UNSUPPORTED,
                   "this mask is not documents with one band inside each (what cuDNN's masks express: causal, "
                   "sliding windows, padding and packed documents)",
                   NULL);
    if (p->mask->n_docs > 1) {
        int64_t total = (int64_t)p->batch * (p->seqlen_q > p->seqlen_k ? p->seqlen_q : p->seqlen_k) *
                        (int64_t)p->heads_q * p->head_dim;
        if (total > INT32_MAX)
            return say(message, LONGCA_ERR_UNSUPPORTED, "packed documents past 2^31 elements (32-bit ragged offsets)",
                       NULL);
    }
    return LONGCA_OK;
}

static void destroy(void *plan)
{
    struct cudnn_plan *cp = plan;
    if (!cp) return;
    cg_destroy(&cp->fwd);
    if (cp->has_bwd) cg_destroy(&cp->bwd);
    if (cp->handle) cp->lib->destroy(cp->handle);
    cudaFree(cp->device_arrays);
    free(cp->cu_q);
    free(cp);
}

/* The shape cuDNN sees, and for packed documents the per-entry lengths and offsets on the device. */
static int shape_of(struct cudnn_plan *cp, const struct longca_problem *p, char *message)
{
    const struct longca_mask *m = p->mask;
    struct sdpa_shape *s = &cp->shape;
    *s = (struct sdpa_shape){.b = p->batch, .hq = p->heads_q, .hk = p->heads_kv, .d = p->head_dim,
                             .sq = p->seqlen_q, .skv = p->seqlen_k, .tokens_q = p->seqlen_q, .tokens_k = p->seqlen_k,
                             .ragged = m->n_docs > 1, .io = p->dtype == LONGCA_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF,
                             .scale = p->softmax_scale, .deterministic = p->deterministic,
                             .diag_lo = m->doc_diag_lo == LONGCA_DIAG_NONE_LO ? SDPA_NO_BOUND : m->doc_diag_lo,
                             .diag_hi = m->doc_diag_hi == LONGCA_DIAG_NONE_HI ? SDPA_NO_BOUND : m->doc_diag_hi};
    cp->batch = p->batch, cp->n_docs = m->n_docs, cp->seqlen_q = p->seqlen_q;
    if (!(cp->cu_q = malloc(((size_t)m->n_docs + 1) * sizeof *cp->cu_q)))
        return say(message, LONGCA_ERR_OOM, "out of host memory", NULL);
    memcpy(cp->cu_q, m->cu_seqlens_q, ((size_t)m->n_docs + 1) * sizeof *cp->cu_q);
    if (!s->ragged) return LONGCA_OK;
    const int64_t entries = (int64_t)p->batch * m->n_docs;
    s->b = entries, s->sq = 0, s->skv = 0;
    int32_t *host = malloc((size_t)(4 * entries + 2) * sizeof *host);
    if (!host) return say(message, LONGCA_ERR_OOM, "out of host memory", NULL);
    int32_t *seq_q = host, *seq_kv = host + entries, *rag_q = host + 2 * entries, *rag_kv = host + 3 * entries + 1;
    for (int bi = 0; bi < p->batch; bi++)
        for (int i = 0; i < m->n_docs; i++) {
            int64_t e = (int64_t)bi * m->n_docs + i;
            seq_q[e] = (int32_t)(m->cu_seqlens_q[i + 1] - m->cu_seqlens_q[i]);
            seq_kv[e] = (int32_t)(m->cu_seqlens_k[i + 1] - m->cu_seqlens_k[i]);
            if (seq_q[e] > s->sq) s->sq = seq_q[e];
            if (seq_kv[e] > s->skv) s->skv = seq_kv[e];
            rag_q[e] = (int32_t)((bi * p->seqlen_q + m->cu_seqlens_q[i]) * p->heads_q * p->head_dim);
            rag_kv[e] = (int32_t)((bi * p->seqlen_k + m->cu_seqlens_k[i]) * p->heads_kv * p->head_dim);
        }
    rag_q[entries] = (int32_t)(p->batch * p->seqlen_q * p->heads_q * p->head_dim);
    rag_kv[entries] = (int32_t)(p->batch * p->seqlen_k * p->heads_kv * p->head_dim);
    size_t bytes = (size_t)(4 * entries + 2) * sizeof *host;
    cudaError_t e = cudaMalloc((void **)&cp->device_arrays, bytes);
    if (e == cudaSuccess) e = cudaMemcpy(cp->device_arrays, host, bytes, cudaMemcpyHostToDevice);
    free(host);
    if (e != cudaSuccess) return say(message, LONGCA_ERR_DEVICE, "document offsets", cudaGetErrorString(e));
    return LONGCA_OK;
}

/* Builds one direction's graph by the route asked for or fitting, the composite one as fallback. */
static int build(struct cudnn_plan *cp, struct cg *g, bool backward, int64_t scratch[SCRATCH_COUNT], char *message)
{
    const char *forced = getenv("LONGCA_CUDNN_ROUTE");
    bool fused = forced && *forced ? !strcmp(forced, "fused") : sdpa_fused_fits(&cp->shape, backward, cp->lib->version);
    cg_init(g, cp->lib, cp->handle);
    if (fused && sdpa_build(g, &cp->shape, backward, SDPA_FUSED_OP, scratch)) return LONGCA_OK;
    if (fused && forced && *forced) return say(message, LONGCA_ERR_UNSUPPORTED, "fused SDPA operation", g->err);
    if (fused) {
        if (getenv("LONGCA_CUDNN_VERBOSE")) fprintf(stderr, "cudnn: fused route refused (%s), composite\n", g->err);
        cg_destroy(g);
        cg_init(g, cp->lib, cp->handle);
    }
    if (sdpa_build(g, &cp->shape, backward, SDPA_COMPOSITE, scratch)) return LONGCA_OK;
    return say(message, LONGCA_ERR_UNSUPPORTED, backward ? "backward graph" : "forward graph", g->err);
}

static int cudnn_plan_create(const struct longca_problem *p, unsigned directions, void **out, size_t *workspace_bytes,
                             char *message)
{
    int st = cudnn_supports(p, directions, message);
    if (st) return st;
    struct cudnn_plan *cp = calloc(1, sizeof *cp);
    if (!cp) return say(message, LONGCA_ERR_OOM, "out of host memory", NULL);
    cp->lib = cudnn_lib();
    cudnnStatus_t cs = cp->lib->create(&cp->handle);
    if (cs != CUDNN_STATUS_SUCCESS) {
        destroy(cp);
        return say(message, LONGCA_ERR_DEVICE, "cudnnCreate", cudnn_lib()->get_error_string(cs));
    }
    int64_t fwd_scratch[SCRATCH_COUNT], bwd_scratch[SCRATCH_COUNT] = {0};
    if ((st = shape_of(cp, p, message)) || (st = build(cp, &cp->fwd, false, fwd_scratch, message))) {
        destroy(cp);
        return st;
    }
    cp->has_bwd = directions & LONGCA_BWD;
    if (cp->has_bwd && (st = build(cp, &cp->bwd, true, bwd_scratch, message))) {
        cp->has_bwd = false;
        destroy(cp);
        return st;
    }
    int64_t ws = cp->fwd.workspace_bytes;
    if (cp->has_bwd && cp->bwd.workspace_bytes > ws) ws = cp->bwd.workspace_bytes;
    size_t at = ALIGN((size_t)ws);
    cp->stats_off = at;
    if (cp->shape.ragged) at += ALIGN((size_t)(cp->shape.b * cp->shape.hq * cp->shape.sq) * sizeof(float));
    for (int i = 0; i < SCRATCH_COUNT; i++) {
        cp->scratch_off[i] = at;
        cp->scratch_bytes[i] = bwd_scratch[i];
        at += ALIGN((size_t)bwd_scratch[i]);
    }
    *workspace_bytes = at;
    *out = cp;
    return LONGCA_OK;
}

static int failed(const struct cudnn_plan *cp, cudnnStatus_t st, const char *what, char *message)
{
    char last[160] = "";
    cp->lib->get_last_error_string(last, sizeof last);
    snprintf(message, LONGCA_MESSAGE_LEN, "%s: %s%s%.150s", what, cp->lib->get_error_string(st), last[0] ? ": " : "",
             last);
    return LONGCA_ERR_DEVICE;
}

/* Packed documents keep the stats per entry ([entries, h, longest]); longca's lse is [b, h, S].
 * One strided copy per (batch entry, document) moves them either way. */
static int copy_stats(const struct cudnn_plan *cp, float *lse, float *entries, bool to_lse, void *stream,
                      char *message)
{
    const size_t sq = (size_t)cp->shape.sq, h = (size_t)cp->shape.hq, S = (size_t)cp->seqlen_q;
    for (int bi = 0; bi < cp->batch; bi++)
        for (int i = 0; i < cp->n_docs; i++) {
            float *ours = lse + (size_t)bi * h * S + (size_t)cp->cu_q[i];
            float *theirs = entries + ((size_t)bi * cp->n_docs + i) * h * sq;
            size_t width = (size_t)(cp->cu_q[i + 1] - cp->cu_q[i]) * sizeof(float);
            cudaError_t e = to_lse ? cudaMemcpy2DAsync(ours, S * 4, theirs, sq * 4, width, h, cudaMemcpyDeviceToDevice,
                                                       (cudaStream_t)stream)
                                   : cudaMemcpy2DAsync(theirs, sq * 4, ours, S * 4, width, h, cudaMemcpyDeviceToDevice,
                                                       (cudaStream_t)stream);
            if (e != cudaSuccess) return say(message, LONGCA_ERR_DEVICE, "stats copy", cudaGetErrorString(e));
        }
    return LONGCA_OK;
}

/* The pointers every graph may name; cuDNN takes the ones its graph has. */
static int bind(const struct cudnn_plan *cp, const struct longca_tensors *t, void *workspace, int64_t *uids,
                void **ptrs, bool backward)
{
    char *ws = workspace;
    float *stats = cp->shape.ragged ? (float *)(ws + cp->stats_off) : t->lse;
    int n = 0;
#define BIND(u, p) (uids[n] = (u), ptrs[n++] = (void *)(p))
    BIND(UID_Q, t->q), BIND(UID_K, t->k), BIND(UID_V, t->v), BIND(UID_O, t->o), BIND(UID_STATS, stats);
    if (backward) {
        BIND(UID_DO, t->d_o), BIND(UID_DQ, t->dq), BIND(UID_DK, t->dk), BIND(UID_DV, t->dv);
        for (int i = 0; i < SCRATCH_COUNT; i++)
            if (cp->scratch_bytes[i]) BIND(sdpa_scratch_uid[i], ws + cp->scratch_off[i]);
    }
    if (cp->shape.ragged) {
        const int64_t e = cp->shape.b;
        BIND(UID_SEQ_Q, cp->device_arrays), BIND(UID_SEQ_KV, cp->device_arrays + e);
        BIND(UID_RAG_Q, cp->device_arrays + 2 * e), BIND(UID_RAG_KV, cp->device_arrays + 3 * e + 1);
    }
#undef BIND
    return n;
}

static int run(struct cudnn_plan *cp, struct cg *g, const struct longca_tensors *t, void *workspace, void *stream,
               bool backward, char *message)
{
    if (t->fold) return say(message, LONGCA_ERR_INVALID, "cudnn does not fold CP blocks itself", NULL);
    cudnnStatus_t st = cp->lib->set_stream(cp->handle, (cudaStream_t)stream);
    if (st != CUDNN_STATUS_SUCCESS) return failed(cp, st, "cudnnSetStream", message);
    float *entries = (float *)((char *)workspace + cp->stats_off);
    int rc;
    if (backward && cp->shape.ragged && (rc = copy_stats(cp, t->lse, entries, false, stream, message))) return rc;
    int64_t uids[CG_MAX_BOUND];
    void *ptrs[CG_MAX_BOUND];
    int n = bind(cp, t, workspace, uids, ptrs, backward);
    if ((st = cg_execute(g, uids, ptrs, n, workspace)) != CUDNN_STATUS_SUCCESS)
        return failed(cp, st, backward ? "backward" : "forward", message);
    if (!backward && cp->shape.ragged) return copy_stats(cp, t->lse, entries, true, stream, message);
    return LONGCA_OK;
}

static int cudnn_forward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *message)
{
    struct cudnn_plan *cp = plan;
    return run(cp, &cp->fwd, t, workspace, stream, false, message);
}

static int cudnn_backward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *message)
{
    struct cudnn_plan *cp = plan;
    if (!cp->has_bwd) return say(message, LONGCA_ERR_INVALID, "backward on a plan made for the forward only", NULL);
    return run(cp, &cp->bwd, t, workspace, stream, true, message);
}

static const int head_dims[] = {64, 128, 0};

static struct longca_kernel kernel = {
    .abi_version = LONGCA_KERNEL_ABI_VERSION,
    .name = "cudnn",
    .summary = "NVIDIA cuDNN fused flash attention (backend API: fused SDPA operation or composite graph), "
               "masks as documents",
    .device = LONGCA_DEVICE_CUDA,
    .dtypes = LONGCA_DTYPE_BIT(LONGCA_BF16) | LONGCA_DTYPE_BIT(LONGCA_FP16),
    .directions = LONGCA_FWD | LONGCA_BWD,
    .head_dims = head_dims,
    .mask_forms = LONGCA_FORM_DOCUMENTS,
    .writes_lse = true,
    .folds_blocks = false,
    .supports = cudnn_supports,
    .plan = cudnn_plan_create,
    .forward = cudnn_forward,
    .backward = cudnn_backward,
    .destroy = destroy,
};

unsigned longca_kernel_abi(void) { return LONGCA_KERNEL_ABI_VERSION; }

const struct longca_kernel *longca_kernel_get(int index)
{
    if (index != 0) return NULL;
    kernel.version = cudnn_lib()->describe; /* which cuDNN this process runs, or why none */
    return &kernel;
}
