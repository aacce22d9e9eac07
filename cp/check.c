/* The check every run ends with, on any CP degree: each rank's outputs in its layout go to rank
 * 0, which assembles the global O, LSE (and dQ, dK, dV), runs cpu_ref on the same rounded inputs
 * and compares element by element; the verdict goes back to every rank. The seeded inputs the
 * run and the reference share are made here too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/rng.h"
#include "cp/driver.h"

/* Seeded values in [-1, 1): the same bits on every backend for the same spec. */
static void fill_inputs(float *buf, size_t n, uint64_t seed, uint64_t stream_id)
{
    struct rng r;
    rng_seed(&r, seed, stream_id);
    for (size_t i = 0; i < n; i++) buf[i] = (float)(2.0 * rng_double(&r) - 1.0);
}

static enum lc_status make_input(struct cp_host_tensor *g, size_t n, const struct run_spec *s, uint64_t stream, char *err)
{
    g->f32 = malloc(n * sizeof(float));
    g->packed = malloc(n * dtype_size(s->dtype));
    if (!g->f32 || !g->packed) return lc_fail(err, LC_ERR_OOM, "no host memory for %zu inputs", n);
    fill_inputs(g->f32, n, s->mask_params.seed ? s->mask_params.seed : 42, stream);
    dtype_from_f32(s->dtype, g->packed, g->f32, n);
    dtype_to_f32(s->dtype, g->f32, g->packed, n);
    return LC_OK;
}

static void free_input(struct cp_host_tensor *g)
{
    free(g->f32);
    free(g->packed);
    g->f32 = NULL;
    g->packed = NULL;
}

enum lc_status cp_inputs_make(struct cp_inputs *in, const struct run_spec *s, char *err)
{
    const size_t nq = (size_t)s->batch * (size_t)s->seqlen * (size_t)s->heads_q * (size_t)s->head_dim;
    const size_t nk = (size_t)s->batch * (size_t)s->seqlen * (size_t)s->heads_kv * (size_t)s->head_dim;
    const size_t sizes[4] = {nq, nk, nk, (s->direction & DIR_BWD) ? nq : 0};
    struct cp_host_tensor *tensors[4] = {&in->q, &in->k, &in->v, &in->d_o};
    for (int i = 0; i < 4 && sizes[i]; i++) { /* seconds each at a million tokens: a cancel is seen between */
        if (engine_cancel_requested()) return lc_fail(err, LC_ERR_CANCELLED, "cancelled while making the inputs");
        enum lc_status st = make_input(tensors[i], sizes[i], s, (uint64_t)i + 1, err);
        if (st) return st;
    }
    return LC_OK;
}

void cp_inputs_free(struct cp_inputs *in)
{
    free_input(&in->q), free_input(&in->k), free_input(&in->v), free_input(&in->d_o);
}

/* Compares out (dtype bytes from the device) with ref (fp32): |d| <= atol * max|ref| + rtol * |ref|
 * element by element; NaN anywhere fails. Updates the running maxima. */
static bool compare(const float *out, const float *ref, size_t n, enum lc_dtype dtype, struct run_result *res)
{
    double atol, rtol, ref_max = 0, abs_max = 0;
    dtype_tolerance(dtype, &atol, &rtol);
    for (size_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > ref_max) ref_max = fabs(ref[i]);
    bool pass = true;
    for (size_t i = 0; i < n; i++) {
        if (isinf(ref[i]) && out[i] == ref[i]) continue; /* both -inf: a fully masked row */
        double diff = fabs((double)out[i] - ref[i]);
        if (!(diff <= atol * (ref_max > 1 ? ref_max : 1) + rtol * fabs(ref[i]))) pass = false;
        if (!isfinite(diff)) diff = INFINITY;
        if (diff > abs_max) abs_max = diff;
    }
    if (abs_max > res->max_abs_err) res->max_abs_err = abs_max;
    double rel = ref_max > 0 ? abs_max / ref_max : abs_max;
    if (rel > res->max_rel_err) res->max_rel_err = rel;
    return pass;
}

/* What a rank sends rank 0: its layout, then its outputs in layout order. */
struct check_header {
    int64_t n_segments, rows;
};

static enum lc_status pack_outputs(struct cp_exec *run, char **out, size_t *bytes, char *err)
{
    const struct run_spec *s = run->spec;
    const bool bwd = s->direction & DIR_BWD;
    const size_t N = (size_t)run->layout.rows, b = (size_t)s->batch;
    const size_t q_bytes = b * N * cp_row_elems(run, s->heads_q) * run->esize;
    const size_t kv_bytes = 2 * b * N * cp_row_elems(run, s->heads_kv) * run->esize;
    const size_t lse_bytes = b * (size_t)s->heads_q * N * sizeof(float);
    const size_t seg_bytes = (size_t)run->layout.n * sizeof(struct cp_segment);
    *bytes = sizeof(struct check_header) + seg_bytes + q_bytes + lse_bytes + (bwd ? q_bytes + kv_bytes : 0);
    char *buf = malloc(*bytes), *at = buf;
    *out = buf;
    if (!buf) return lc_fail(err, LC_ERR_OOM, "no host memory for the check");
    struct check_header h = {run->layout.n, run->layout.rows};
    memcpy(at, &h, sizeof h), at += sizeof h;
    memcpy(at, run->layout.seg, seg_bytes), at += seg_bytes;
    enum lc_status st = run->dev->download(at, run->shard.o, q_bytes, err);
    at += q_bytes;
    if (!st) st = run->dev->download(at, run->shard.lse, lse_bytes, err);
    at += lse_bytes;
    if (!st && bwd) st = run->dev->download(at, run->shard.dq, q_bytes, err);
    at += bwd ? q_bytes : 0;
    if (!st && bwd) st = run->dev->download(at, run->shard.dkv, kv_bytes, err);
    return st;
}

/* Global fp32 outputs assembled from every rank's rows; rows nobody sent stay NaN. */
struct assembled {
    float *o, *lse, *dq, *dk, *dv;
};

static void scatter_f32(const struct cp_layout *l, float *dst, const char *src, enum lc_dtype dtype, int64_t batch,
                        int64_t dst_rows, size_t row_elems)
{
    size_t n = (size_t)batch * (size_t)l->rows * row_elems;
    float *tmp = malloc(n * sizeof *tmp);
    if (!tmp) return; /* leaves NaN: the check fails rather than passes */
    dtype_to_f32(dtype, tmp, src, n);
    cp_layout_scatter(l, dst, tmp, batch, dst_rows, row_elems * sizeof(float));
    free(tmp);
}

static void assemble(struct cp_exec *run, const char *all, const size_t *offsets, struct assembled *a)
{
    const struct run_spec *s = run->spec;
    const bool bwd = s->direction & DIR_BWD;
    const size_t qe = cp_row_elems(run, s->heads_q), ke = cp_row_elems(run, s->heads_kv);
    for (int r = 0; r < run->size; r++) {
        const char *at = all + offsets[r];
        struct check_header h;
        memcpy(&h, at, sizeof h), at += sizeof h;
        struct cp_layout l = {malloc((size_t)h.n_segments * sizeof(struct cp_segment)), (int)h.n_segments, h.rows};
        if (!l.seg) continue;
        memcpy(l.seg, at, (size_t)h.n_segments * sizeof *l.seg), at += (size_t)h.n_segments * sizeof *l.seg;
        const size_t N = (size_t)h.rows, b = (size_t)s->batch;
        const size_t q_bytes = b * N * qe * run->esize, k_bytes = b * N * ke * run->esize;
        scatter_f32(&l, a->o, at, s->dtype, s->batch, s->seqlen, qe), at += q_bytes;
        cp_layout_scatter(&l, a->lse, at, (int64_t)s->batch * s->heads_q, s->seqlen, sizeof(float));
        at += b * (size_t)s->heads_q * N * sizeof(float);
        if (bwd) {
            scatter_f32(&l, a->dq, at, s->dtype, s->batch, s->seqlen, qe), at += q_bytes;
            scatter_f32(&l, a->dk, at, s->dtype, s->batch, s->seqlen, ke), at += k_bytes;
            scatter_f32(&l, a->dv, at, s->dtype, s->batch, s->seqlen, ke);
        }
        free(l.seg);
    }
}

static float *nan_array(size_t n)
{
    float *a = malloc(n * sizeof *a);
    for (size_t i = 0; a && i < n; i++) a[i] = NAN;
    return a;
}

/* Rank 0: the single-device reference on the same inputs against the assembled outputs. */
static enum lc_status reference_check(struct cp_exec *run, const struct cp_inputs *in, const char *all, const size_t *offsets,
                                      struct run_result *res, char *err)
{
    const struct run_spec *s = run->spec;
    const bool bwd = s->direction & DIR_BWD;
    const struct longca_kernel *ref = kernel_find(KERNEL_REFERENCE_NAME);
    if (!ref) return lc_fail(err, LC_ERR_INTERNAL, "the reference kernel is not registered");
    const size_t nq = (size_t)s->batch * (size_t)s->seqlen * cp_row_elems(run, s->heads_q);
    const size_t nk = (size_t)s->batch * (size_t)s->seqlen * cp_row_elems(run, s->heads_kv);
    const size_t nl = (size_t)s->batch * (size_t)s->heads_q * (size_t)s->seqlen;
    struct assembled got = {nan_array(nq), nan_array(nl), NULL, NULL, NULL};
    struct assembled want = {malloc(nq * 4), malloc(nl * 4), NULL, NULL, NULL};
    if (bwd) {
        got.dq = nan_array(nq), got.dk = nan_array(nk), got.dv = nan_array(nk);
        want.dq = malloc(nq * 4), want.dk = malloc(nk * 4), want.dv = malloc(nk * 4);
    }
    enum lc_status st = LC_OK;
    if (!got.o || !got.lse || !want.o || !want.lse ||
        (bwd && (!got.dq || !got.dk || !got.dv || !want.dq || !want.dk || !want.dv)))
        st = lc_fail(err, LC_ERR_OOM, "no host memory for the reference");
    void *plan = NULL, *ws = NULL;
    size_t ws_bytes = 0;
    struct longca_problem p = {.batch = s->batch, .heads_q = s->heads_q, .heads_kv = s->heads_kv, .head_dim = s->head_dim,
                             .seqlen_q = s->seqlen, .seqlen_k = s->seqlen, .dtype = LC_FP32,
                             .softmax_scale = run->softmax_scale, .mask = &run->view, .deterministic = true};
    if (!st) st = kernel_plan(ref, &p, s->direction, &plan, &ws_bytes, err);
    if (!st && ws_bytes && !(ws = malloc(ws_bytes))) st = lc_fail(err, LC_ERR_OOM, "no host memory for the reference");
    struct longca_tensors t = {.q = in->q.f32, .k = in->k.f32, .v = in->v.f32, .o = want.o, .lse = want.lse,
                             .d_o = in->d_o.f32, .dq = want.dq, .dk = want.dk, .dv = want.dv};
    if (!st) st = kernel_forward(ref, plan, &t, ws, NULL, err);
    if (!st && bwd) st = kernel_backward(ref, plan, &t, ws, NULL, err);
    if (!st) {
        assemble(run, all, offsets, &got);
        bool pass = compare(got.o, want.o, nq, s->dtype, res);
        pass &= compare(got.lse, want.lse, nl, LC_FP32, res);
        if (bwd) {
            pass &= compare(got.dq, want.dq, nq, s->dtype, res);
            pass &= compare(got.dk, want.dk, nk, s->dtype, res);
            pass &= compare(got.dv, want.dv, nk, s->dtype, res);
        }
        res->check_ran = true;
        res->check_pass = pass;
    }
    if (plan) kernel_destroy(ref, plan);
    free(ws);
    float *bufs[] = {got.o, got.lse, got.dq, got.dk, got.dv, want.o, want.lse, want.dq, want.dk, want.dv};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    return st;
}

/* The verdict every rank reports. */
struct check_verdict {
    int status, ran, pass;
    double max_abs, max_rel;
    char message[LC_ERRMSG_LEN];
};

enum lc_status cp_check(struct cp_exec *run, const struct cp_inputs *in, struct run_result *res, char *err)
{
    char *mine = NULL, *all = NULL;
    size_t bytes = 0, *offsets = NULL;
    char local_err[LC_ERRMSG_LEN] = "";
    enum lc_status st = pack_outputs(run, &mine, &bytes, local_err);
    /* A rank that could not pack still takes part, sending nothing, so the others can go on. */
    enum lc_status gathered = cp_group_gather(run->group, mine, st ? 0 : bytes, CP_CHECK_TIMEOUT_S, &all, &offsets, err);
    free(mine);
    if (gathered) return gathered;
    struct check_verdict v;
    memset(&v, 0, sizeof v);
    if (run->rank == 0) {
        bool complete = st == LC_OK;
        for (int r = 0; r < run->size && complete; r++) complete = offsets[r + 1] > offsets[r];
        if (!complete) v.status = lc_fail(v.message, LC_ERR_INTERNAL, "check: a rank could not send its outputs");
        else v.status = reference_check(run, in, all, offsets, res, v.message);
        v.ran = res->check_ran, v.pass = res->check_pass;
        v.max_abs = res->max_abs_err, v.max_rel = res->max_rel_err;
    }
    free(all);
    free(offsets);
    if ((st = cp_group_bcast(run->group, &v, sizeof v, CP_CHECK_TIMEOUT_S, err))) return st;
    res->check_ran = v.ran;
    res->check_pass = v.pass;
    res->max_abs_err = v.max_abs;
    res->max_rel_err = v.max_rel;
    if (v.status) return lc_fail(err, (enum lc_status)v.status, "%s", v.message);
    return LC_OK;
}
