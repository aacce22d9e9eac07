/* The reference attention every kernel and CP method is checked against.
 *
 * Written to be obviously right, not fast: for each query row the visible keys come straight
 * from the mask rules, the softmax takes two passes (max, then sums) in double, and the
 * backward makes one pass over query rows (dQ) and one over key columns (dK, dV), so no two
 * threads ever write the same output and results do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/engine.h"
#include "core/engine/kernel.h"
#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/cpu_kernels.h"

struct ref_plan {
    struct longca_problem p; /* p.mask points at view below */
    struct longca_mask view;
    enum run_direction dir;
    int64_t max_rules;     /* most rules of one view head: bounds the ranges of a row */
};

/* A half-open run of visible positions along a row (keys) or a column (queries). */
struct span {
    int64_t lo, hi;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* The visible positions of row q (by_row) or column k (!by_row) of one view head, as sorted,
 * disjoint spans: each rule contributes one interval, overlapping ones are merged. */
static int64_t visible_spans(const struct longca_mask *v, int head, int64_t at, bool by_row, struct span *out)
{
    int64_t n = 0;
    for (int64_t i = v->rule_offsets[head]; i < v->rule_offsets[head + 1]; i++) {
        const struct longca_rule *r = &v->rules[i];
        int64_t lo, hi;
        if (by_row) { /* keys k with k - at in [diag_lo, diag_hi] */
            if (at < r->q_begin || at >= r->q_end) continue;
            lo = at + r->diag_lo > r->k_begin ? at + r->diag_lo : r->k_begin;
            hi = at + r->diag_hi + 1 < r->k_end ? at + r->diag_hi + 1 : r->k_end;
        } else { /* queries q with at - q in [diag_lo, diag_hi] */
            if (at < r->k_begin || at >= r->k_end) continue;
            lo = at - r->diag_hi > r->q_begin ? at - r->diag_hi : r->q_begin;
            hi = at - r->diag_lo + 1 < r->q_end ? at - r->diag_lo + 1 : r->q_end;
        }
        if (lo < hi) out[n++] = (struct span){lo, hi};
    }
    if (n < 2) return n;
    qsort(out, (size_t)n, sizeof *out, span_cmp);
    int64_t m = 0;
    for (int64_t i = 1; i < n; i++) {
        if (out[i].lo <= out[m].hi) {
            if (out[i].hi > out[m].hi) out[m].hi = out[i].hi;
        } else {
            out[++m] = out[i];
        }
    }
    return m + 1;
}

static double dot(const float *a, const float *b, int d)
{
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int c = 0; c < d; c++) s += (double)a[c] * (double)b[c];
    return s;
}

/* Element offsets of row `pos`, head `h` in a BSHD tensor with `heads` heads. */
static size_t bshd(const struct longca_problem *p, int b, int64_t pos, int64_t seqlen, int heads, int h)
{
    return (((size_t)b * (size_t)seqlen + (size_t)pos) * (size_t)heads + (size_t)h) * (size_t)p->head_dim;
}

static size_t lse_index(const struct longca_problem *p, int b, int h, int64_t q)
{
    return ((size_t)b * (size_t)p->heads_q + (size_t)h) * (size_t)p->seqlen_q + (size_t)q;
}

static int ref_plan_create(const struct longca_problem *p, unsigned dir, void **plan,
                                      size_t *workspace_bytes, char *err)
{
    enum lc_status st = cpu_problem_check(p, err);
    if (st != LC_OK) return st;
    struct ref_plan *rp = calloc(1, sizeof *rp);
    if (!rp) return lc_fail(err, LC_ERR_OOM, "cpu_ref plan: out of host memory");
    st = cpu_view_copy(p->mask, &rp->view, err);
    if (st != LC_OK) {
        free(rp);
        return st;
    }
    rp->p = *p;
    rp->p.mask = &rp->view;
    rp->dir = dir;
    for (int h = 0; h < rp->view.n_heads; h++) {
        int64_t n = rp->view.rule_offsets[h + 1] - rp->view.rule_offsets[h];
        if (n > rp->max_rules) rp->max_rules = n;
    }
    *plan = rp;
    *workspace_bytes = cpu_workspace_bytes(p, dir, sizeof(double));
    return LC_OK;
}

static void ref_plan_destroy(void *plan)
{
    struct ref_plan *rp = plan;
    if (!rp) return;
    cpu_view_release(&rp->view);
    free(rp);
}

/* One thread's buffers: the spans of a row or column, head_dim doubles of acc, n_extra doubles
 * of extra (none when 0) and a row of head_dim floats for the output. Out of memory, the thread
 * sets the team's *failed and skips its share of the work. */
struct thread_buffers {
    struct span *spans;
    double *acc, *extra;
    float *out;
};

static bool thread_buffers_alloc(const struct ref_plan *rp, size_t n_extra, struct thread_buffers *b, int *failed)
{
    const size_t d = (size_t)rp->p.head_dim;
    b->spans = malloc((size_t)(rp->max_rules + 1) * sizeof *b->spans);
    b->acc = malloc(d * sizeof *b->acc);
    b->extra = n_extra ? malloc(n_extra * sizeof *b->extra) : NULL;
    b->out = malloc(d * sizeof *b->out);
    const bool ok = b->spans && b->acc && (b->extra || !n_extra) && b->out;
    if (!ok) {
#pragma omp atomic write
        *failed = 1;
    }
    return ok;
}

static void thread_buffers_free(struct thread_buffers *b)
{
    free(b->spans);
    free(b->acc);
    free(b->extra);
    free(b->out);
}

static int ref_forward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *err)
{
    const struct ref_plan *rp = plan;
    const struct longca_problem *p = &rp->p;
    const int d = p->head_dim, group = p->heads_q / p->heads_kv;
    const int64_t sq = p->seqlen_q, sk = p->seqlen_k;
    char *cursor = workspace;
    const float *q = cpu_stage_f32(p->dtype, t->q, cpu_q_elems(p), &cursor);
    const float *k = cpu_stage_f32(p->dtype, t->k, cpu_kv_elems(p), &cursor);
    const float *v = cpu_stage_f32(p->dtype, t->v, cpu_kv_elems(p), &cursor);
    const int64_t rows = (int64_t)p->batch * p->heads_q * sq;
    int failed = 0;

#pragma omp parallel
    {
        struct thread_buffers buf;
        const bool ok = thread_buffers_alloc(rp, (size_t)sk, &buf, &failed);
        struct span *spans = buf.spans;
        double *score = buf.extra, *acc = buf.acc;
        float *out = buf.out;
#pragma omp for schedule(dynamic, 16)
        for (int64_t row = 0; row < rows; row++) {
            if (!ok || engine_cancel_requested()) continue; /* the driver reports the cancel */
            const int64_t i = row % sq;
            const int h = (int)(row / sq % p->heads_q), b = (int)(row / sq / p->heads_q);
            const int hk = h / group;
            const float *qi = q + bshd(p, b, i, sq, p->heads_q, h);
            int64_t n = visible_spans(&rp->view, cpu_view_head(&rp->view, hk), i, true, spans);

            double m = -INFINITY;
            for (int64_t s = 0; s < n; s++)
                for (int64_t j = spans[s].lo; j < spans[s].hi; j++) {
                    score[j] = p->softmax_scale * dot(qi, k + bshd(p, b, j, sk, p->heads_kv, hk), d);
                    if (score[j] > m) m = score[j];
                }
            memset(acc, 0, (size_t)d * sizeof *acc);
            double l = 0;
            for (int64_t s = 0; s < n; s++)
                for (int64_t j = spans[s].lo; j < spans[s].hi; j++) {
                    double e = exp(score[j] - m);
                    const float *vj = v + bshd(p, b, j, sk, p->heads_kv, hk);
                    l += e;
                    for (int c = 0; c < d; c++) acc[c] += e * vj[c];
                }
            for (int c = 0; c < d; c++) out[c] = l > 0 ? (float)(acc[c] / l) : 0.0f;
            cpu_store(p->dtype, t->o, bshd(p, b, i, sq, p->heads_q, h), out, (size_t)d);
            t->lse[lse_index(p, b, h, i)] = l > 0 ? (float)(m + log(l)) : -INFINITY;
        }
        thread_buffers_free(&buf);
    }
    if (failed) return lc_fail(err, LC_ERR_OOM, "cpu_ref forward: out of host memory for row buffers");
    return LC_OK;
}

/* dQ per query row, and D = rowsum(dO * O) which the key-column pass needs. */
static int backward_rows(const struct ref_plan *rp, const struct longca_tensors *t, const float *q, const float *k,
                         const float *v, const float *o, const float *d_o, double *dsum)
{
    const struct longca_problem *p = &rp->p;
    const int d = p->head_dim, group = p->heads_q / p->heads_kv;
    const int64_t sq = p->seqlen_q, sk = p->seqlen_k;
    const int64_t rows = (int64_t)p->batch * p->heads_q * sq;
    int failed = 0;

#pragma omp parallel
    {
        struct thread_buffers buf;
        const bool ok = thread_buffers_alloc(rp, 0, &buf, &failed);
        struct span *spans = buf.spans;
        double *acc = buf.acc;
        float *out = buf.out;
#pragma omp for schedule(dynamic, 16)
        for (int64_t row = 0; row < rows; row++) {
            if (!ok || engine_cancel_requested()) continue; /* the driver reports the cancel */
            const int64_t i = row % sq;
            const int h = (int)(row / sq % p->heads_q), b = (int)(row / sq / p->heads_q);
            const int hk = h / group;
            const size_t qo = bshd(p, b, i, sq, p->heads_q, h);
            const double lse = t->lse[lse_index(p, b, h, i)];
            const double di = dot(d_o + qo, o + qo, d);
            dsum[lse_index(p, b, h, i)] = di;
            memset(acc, 0, (size_t)d * sizeof *acc);
            int64_t n = visible_spans(&rp->view, cpu_view_head(&rp->view, hk), i, true, spans);
            for (int64_t s = 0; s < n; s++)
                for (int64_t j = spans[s].lo; j < spans[s].hi; j++) {
                    const size_t ko = bshd(p, b, j, sk, p->heads_kv, hk);
                    double pr = exp(p->softmax_scale * dot(q + qo, k + ko, d) - lse);
                    double ds = pr * (dot(d_o + qo, v + ko, d) - di);
                    for (int c = 0; c < d; c++) acc[c] += ds * k[ko + (size_t)c];
                }
            for (int c = 0; c < d; c++) out[c] = (float)(p->softmax_scale * acc[c]);
            cpu_store(p->dtype, t->dq, qo, out, (size_t)d);
        }
        thread_buffers_free(&buf);
    }
    return failed;
}

/* dK and dV per key column: every query head of the group, every query that sees the key. */
static int backward_columns(const struct ref_plan *rp, const struct longca_tensors *t, const float *q,
                            const float *k, const float *v, const float *d_o, const double *dsum)
{
    const struct longca_problem *p = &rp->p;
    const int d = p->head_dim, group = p->heads_q / p->heads_kv;
    const int64_t sq = p->seqlen_q, sk = p->seqlen_k;
    const int64_t cols = (int64_t)p->batch * p->heads_kv * sk;
    int failed = 0;

#pragma omp parallel
    {
        struct thread_buffers buf;
        const bool ok = thread_buffers_alloc(rp, (size_t)d, &buf, &failed);
        struct span *spans = buf.spans;
        double *dk = buf.acc, *dv = buf.extra;
        float *out = buf.out;
#pragma omp for schedule(dynamic, 16)
        for (int64_t col = 0; col < cols; col++) {
            if (!ok || engine_cancel_requested()) continue; /* the driver reports the cancel */
            const int64_t j = col % sk;
            const int hk = (int)(col / sk % p->heads_kv), b = (int)(col / sk / p->heads_kv);
            const size_t ko = bshd(p, b, j, sk, p->heads_kv, hk);
            memset(dk, 0, (size_t)d * sizeof *dk);
            memset(dv, 0, (size_t)d * sizeof *dv);
            int64_t n = visible_spans(&rp->view, cpu_view_head(&rp->view, hk), j, false, spans);
            for (int h = hk * group; h < (hk + 1) * group; h++)
                for (int64_t s = 0; s < n; s++)
                    for (int64_t i = spans[s].lo; i < spans[s].hi; i++) {
                        const size_t qo = bshd(p, b, i, sq, p->heads_q, h);
                        const size_t li = lse_index(p, b, h, i);
                        double pr = exp(p->softmax_scale * dot(q + qo, k + ko, d) - (double)t->lse[li]);
                        double ds = pr * (dot(d_o + qo, v + ko, d) - dsum[li]);
                        for (int c = 0; c < d; c++) {
                            dv[c] += pr * d_o[qo + (size_t)c];
                            dk[c] += ds * q[qo + (size_t)c];
                        }
                    }
            for (int c = 0; c < d; c++) out[c] = (float)dv[c];
            cpu_store(p->dtype, t->dv, ko, out, (size_t)d);
            for (int c = 0; c < d; c++) out[c] = (float)(p->softmax_scale * dk[c]);
            cpu_store(p->dtype, t->dk, ko, out, (size_t)d);
        }
        thread_buffers_free(&buf);
    }
    return failed;
}

static int ref_backward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *err)
{
    const struct ref_plan *rp = plan;
    const struct longca_problem *p = &rp->p;
    if (!(rp->dir & DIR_BWD)) return lc_fail(err, LC_ERR_INVALID, "cpu_ref: backward on a plan made for the forward only");
    double *dsum = workspace;
    char *cursor = (char *)workspace + (size_t)p->batch * (size_t)p->heads_q * (size_t)p->seqlen_q * sizeof(double);
    const float *q = cpu_stage_f32(p->dtype, t->q, cpu_q_elems(p), &cursor);
    const float *k = cpu_stage_f32(p->dtype, t->k, cpu_kv_elems(p), &cursor);
    const float *v = cpu_stage_f32(p->dtype, t->v, cpu_kv_elems(p), &cursor);
    const float *o = cpu_stage_f32(p->dtype, t->o, cpu_q_elems(p), &cursor);
    const float *d_o = cpu_stage_f32(p->dtype, t->d_o, cpu_q_elems(p), &cursor);
    if (backward_rows(rp, t, q, k, v, o, d_o, dsum) || backward_columns(rp, t, q, k, v, d_o, dsum))
        return lc_fail(err, LC_ERR_OOM, "cpu_ref backward: out of host memory for row buffers");
    return LC_OK;
}

const struct longca_kernel kernel_cpu_ref = {
    .abi_version = LONGCA_KERNEL_ABI_VERSION,
    .name = KERNEL_REFERENCE_NAME,
    .summary = "CPU reference: per-row softmax from the mask rules, double accumulation",
    .device = DEVICE_CPU,
    .dtypes = (1u << LC_FP32) | (1u << LC_BF16) | (1u << LC_FP16),
    .directions = DIR_FWD | DIR_BWD,
    .head_dims = NULL,
    .mask_forms = LONGCA_FORM_RULES | LONGCA_FORM_HEAD_RULES,
    .writes_lse = true,
    .tile_q = 1,
    .supports = NULL,
    .plan = ref_plan_create,
    .forward = ref_forward,
    .backward = ref_backward,
    .destroy = ref_plan_destroy,
};
