/* Ring and double-ring attention (cp/ring.h). */
#include "cp/ring.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"

/* Sizes in elements: Q-like [b, rows, hq, d], one of K / V [b, rows, hkv, d], LSE [b, hq, rows]. */
static size_t q_elems(const struct cp_run *run, const struct cp_ring *ring)
{
    return (size_t)run->spec->batch * (size_t)ring->rows * cp_row_elems(run, ring->cfg.heads_q);
}
static size_t k_elems(const struct cp_run *run, const struct cp_ring *ring)
{
    return (size_t)run->spec->batch * (size_t)ring->rows * cp_row_elems(run, ring->cfg.heads_kv);
}
static size_t lse_elems(const struct cp_run *run, const struct cp_ring *ring)
{
    return (size_t)run->spec->batch * (size_t)ring->cfg.heads_q * (size_t)ring->rows;
}

static int windows(const struct cp_ring *r) { return r->cfg.size / r->cfg.window; }

/* The member whose KV this rank holds at inner step i of outer step o. */
static int member_at(const struct cp_ring *r, int o, int i)
{
    const int w = r->cfg.window, nw = windows(r), wi = r->cfg.rank / w, wp = r->cfg.rank % w;
    return ((wi - o % nw + nw) % nw) * w + (wp - i % w + w) % w;
}

static enum lc_status make_comms(struct cp_run *run, struct cp_ring *r, char *err)
{
    const int w = r->cfg.window, nw = windows(r), wi = r->cfg.rank / w, wp = r->cfg.rank % w;
    const bool bwd = run->spec->direction & DIR_BWD, plain = nw == 1;
    enum lc_status st = LC_OK;
    /* Every rank of the CP group makes the same splits in the same order (they are collective). */
    if (w > 1) {
        int color = r->cfg.ring_id * nw + wi;
        st = cp_run_split(run, color, wp, plain ? "ring kv" : "inner kv", &r->kv_inner, err);
        if (!st && bwd) st = cp_run_split(run, color, wp, plain ? "ring dkv" : "inner dkv", &r->dkv_inner, err);
    }
    if (!st && nw > 1) {
        int color = r->cfg.ring_id * w + wp;
        st = cp_run_split(run, color, wi, "outer kv", &r->kv_outer, err);
        if (!st && bwd) st = cp_run_split(run, color, wi, "outer dkv", &r->dkv_outer, err);
    }
    return st;
}

static enum lc_status make_buffers(struct cp_run *run, struct cp_ring *r, char *err)
{
    const int w = r->cfg.window, nw = windows(r);
    const size_t e = run->esize, qn = q_elems(run, r), kvn = 2 * k_elems(run, r), ln = lse_elems(run, r);
    const bool bwd = run->spec->direction & DIR_BWD;
    enum lc_status st = LC_OK;
    /* A second receive buffer only where a ring has three or more steps to alternate over. */
    if (w > 1) st = cp_run_alloc(run, kvn * e, &r->kv_in[0], err);
    if (!st && w > 2) st = cp_run_alloc(run, kvn * e, &r->kv_in[1], err);
    if (!st && nw > 1) st = cp_run_alloc(run, kvn * e, &r->kv_out[0], err);
    if (!st && nw > 2) st = cp_run_alloc(run, kvn * e, &r->kv_out[1], err);
    if (!st) st = cp_run_alloc(run, qn * sizeof(float), (void **)&r->o_acc, err);
    if (!st) st = cp_run_alloc(run, qn * e, &r->o_part, err);
    if (!st) st = cp_run_alloc(run, ln * sizeof(float), (void **)&r->lse_part, err);
    if (!bwd) return st;
    if (!st) st = cp_run_alloc(run, qn * sizeof(float), (void **)&r->dq_acc, err);
    if (!st) st = cp_run_alloc(run, qn * e, &r->dq_part, err);
    if (!st) st = cp_run_alloc(run, kvn * e, &r->dkv_part, err);
    for (int i = 0; i < 4 && !st; i++) {
        bool needed = i == 0 || (i == 1 && w > 1) || (i >= 2 && nw > 1);
        if (needed) st = cp_run_alloc(run, kvn * sizeof(float), (void **)&r->dkv_sum[i], err);
    }
    return st;
}

enum lc_status cp_ring_plan(struct cp_run *run, struct cp_ring *r, const struct cp_ring_config *cfg,
                            const struct cp_layout *layouts, char *err)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->rows = layouts[cfg->rank].rows;
    r->steps = cfg->size;
    if (cfg->window < 1 || cfg->size % cfg->window)
        return lc_fail(err, LC_ERR_INTERNAL, "ring of %d with windows of %d", cfg->size, cfg->window);
    enum lc_status st = make_comms(run, r, err);
    if (st) return st;
    r->views = calloc((size_t)r->steps, sizeof *r->views);
    r->plans = calloc((size_t)r->steps, sizeof *r->plans);
    if (!r->views || !r->plans) return lc_fail(err, LC_ERR_OOM, "out of host memory for ring plans");
    for (int step = 0; step < r->steps && !st; step++) {
        int src = member_at(r, step / cfg->window, step % cfg->window);
        st = cp_view_between(&run->view, &layouts[cfg->rank], &layouts[src], &r->views[step], err);
        if (st) break;
        double area = (double)cp_view_area(&r->views[step]);
        r->work += area * cfg->heads_q * run->spec->batch;
        /* A block nobody in it sees is skipped; a single step always runs (it writes the outputs). */
        if (area > 0 || r->steps == 1)
            st = cp_run_plan_kernel(run, cfg->heads_q, cfg->heads_kv, &r->views[step], &r->plans[step], err);
    }
    if (!st && r->steps > 1) st = make_buffers(run, r, err);
    return st;
}

void cp_ring_release(struct cp_run *run, struct cp_ring *r)
{
    for (int s = 0; r->plans && s < r->steps; s++)
        if (r->plans[s]) run->kernel->plan_destroy(r->plans[s]);
    for (int s = 0; r->views && s < r->steps; s++) mask_view_free(&r->views[s]);
    free(r->plans);
    free(r->views);
    r->plans = NULL;
    r->views = NULL;
}

/* Sends to the next member of ring c and receives from the previous one, tagged for the timeline. */
static enum lc_status post_next(struct cp_comm *c, int step, const char *what, const void *send, void *recv,
                                size_t bytes, uint64_t *ticket, char *err)
{
    cp_comm_tag(c, step, what);
    return c->ops->send_recv(c, send, (c->rank + 1) % c->size, recv, (c->rank - 1 + c->size) % c->size, bytes, ticket,
                             err);
}

/* Before position i of the n a KV ring takes: passes the current block on while the next one
 * arrives in recv[i & 1] (nothing after the last). */
static enum lc_status kv_post(struct cp_comm *c, int step, int i, int n, const void *cur, void *const recv[2],
                              size_t bytes, uint64_t *ticket, char *err)
{
    if (i + 1 >= n) return LC_OK;
    return post_next(c, step, "kv", cur, recv[i & 1], bytes, ticket, err);
}

/* After position i: waits for the block kv_post asked for and makes it the current one. */
static enum lc_status kv_advance(struct cp_comm *c, int i, int n, uint64_t ticket, void *const recv[2],
                                 const void **cur, char *err)
{
    if (i + 1 >= n) return LC_OK;
    enum lc_status st = c->ops->wait(c, ticket, err);
    if (!st) *cur = recv[i & 1];
    return st;
}

enum lc_status cp_ring_forward(struct cp_run *run, struct cp_ring *r, const void *q, const void *kv, void *o, float *lse,
                               char *err)
{
    const size_t e = run->esize, half = k_elems(run, r) * e, kv_bytes = 2 * half;
    const struct cp_array_ops *a = run->arr;
    const struct run_spec *s = run->spec;
    if (r->steps == 1) {
        struct attn_tensors t = {.q = q, .k = kv, .v = (const char *)kv + half, .o = o, .lse = lse};
        return cp_run_attention(run, r->plans[0], false, &t, 0, err);
    }
    const int w = r->cfg.window, nw = windows(r);
    enum lc_status st;
    if ((st = a->fill_f32(r->o_acc, q_elems(run, r), 0.0f, err)) || (st = a->fill_f32(lse, lse_elems(run, r), -INFINITY, err)))
        return st;
    const void *outer_cur = kv;
    for (int oi = 0; oi < nw; oi++) {
        uint64_t t_outer = 0;
        if ((st = kv_post(r->kv_outer, oi * w, oi, nw, outer_cur, r->kv_out, kv_bytes, &t_outer, err))) return st;
        const void *cur = outer_cur;
        for (int ii = 0; ii < w; ii++) {
            const int step = oi * w + ii;
            uint64_t t_in = 0;
            if ((st = kv_post(r->kv_inner, step, ii, w, cur, r->kv_in, kv_bytes, &t_in, err))) return st;
            if (r->plans[step]) {
                struct attn_tensors t = {.q = q, .k = cur, .v = (const char *)cur + half, .o = r->o_part, .lse = r->lse_part};
                if ((st = cp_run_attention(run, r->plans[step], false, &t, step, err))) return st;
                int64_t t0 = lc_now_ns();
                st = a->lse_merge(r->o_acc, lse, r->o_part, s->dtype, r->lse_part, s->batch, r->rows, r->cfg.heads_q,
                                  s->head_dim, err);
                cp_run_stamp(run, "lse_merge", t0, step);
                if (st) return st;
            }
            if ((st = kv_advance(r->kv_inner, ii, w, t_in, r->kv_in, &cur, err))) return st;
        }
        if ((st = kv_advance(r->kv_outer, oi, nw, t_outer, r->kv_out, &outer_cur, err))) return st;
    }
    const size_t qn = q_elems(run, r);
    return a->copy2d(o, s->dtype, qn, r->o_acc, LC_FP32, qn, qn, 1, false, err);
}

/* dst = src (fp32 from the step's dtype gradients, or 0 when the step had nothing) [+ add]. */
static enum lc_status sum_into(const struct cp_array_ops *a, float *dst, const void *part, enum lc_dtype part_type,
                               const float *add, size_t n, char *err)
{
    enum lc_status st = part ? a->copy2d(dst, LC_FP32, n, part, part_type, n, n, 1, false, err)
                             : a->fill_f32(dst, n, 0.0f, err);
    if (!st && add) st = a->copy2d(dst, LC_FP32, n, add, LC_FP32, n, n, 1, true, err);
    return st;
}

enum lc_status cp_ring_backward(struct cp_run *run, struct cp_ring *r, const void *q, const void *kv, const void *o,
                                const float *lse, const void *d_o, void *dq, void *dkv, char *err)
{
    const struct run_spec *s = run->spec;
    const struct cp_array_ops *a = run->arr;
    const size_t e = run->esize, half = k_elems(run, r) * e, kv_bytes = 2 * half, kvn = 2 * k_elems(run, r);
    const size_t qn = q_elems(run, r);
    if (r->steps == 1) {
        struct attn_tensors t = {.q = q, .k = kv, .v = (const char *)kv + half, .o = (void *)o, .lse = (float *)lse,
                                 .d_o = d_o, .dq = dq, .dk = dkv, .dv = (char *)dkv + half};
        return cp_run_attention(run, r->plans[0], true, &t, 0, err);
    }
    const int w = r->cfg.window, nw = windows(r);
    float *in_send = r->dkv_sum[0], *in_recv = r->dkv_sum[1], *out_send = r->dkv_sum[2], *out_recv = r->dkv_sum[3];
    enum lc_status st;
    if ((st = a->fill_f32(r->dq_acc, qn, 0.0f, err))) return st;
    const void *outer_cur = kv;
    const float *full = NULL; /* this rank's whole dK/dV in fp32, once the rings are done */
    uint64_t t_dkv_out = 0;
    for (int oi = 0; oi < nw; oi++) {
        uint64_t t_outer = 0, t_dkv_in = 0;
        if ((st = kv_post(r->kv_outer, oi * w, oi, nw, outer_cur, r->kv_out, kv_bytes, &t_outer, err))) return st;
        const void *cur = outer_cur;
        for (int ii = 0; ii < w; ii++) {
            const int step = oi * w + ii;
            uint64_t t_in = 0;
            if ((st = kv_post(r->kv_inner, step, ii, w, cur, r->kv_in, kv_bytes, &t_in, err))) return st;
            const void *part = NULL;
            if (r->plans[step]) {
                struct attn_tensors t = {.q = q, .k = cur, .v = (const char *)cur + half, .o = (void *)o,
                                         .lse = (float *)lse, .d_o = d_o, .dq = r->dq_part, .dk = r->dkv_part,
                                         .dv = (char *)r->dkv_part + half};
                if ((st = cp_run_attention(run, r->plans[step], true, &t, step, err))) return st;
                part = r->dkv_part;
            }
            int64_t t0 = lc_now_ns();
            if (part && (st = a->copy2d(r->dq_acc, LC_FP32, qn, r->dq_part, s->dtype, qn, qn, 1, true, err))) return st;
            /* The inner dK/dV ring, one step behind the KV ring: add what the previous member
             * accumulated for this block, pass the sum on. */
            if (w > 1 && ii > 0 && (st = r->dkv_inner->ops->wait(r->dkv_inner, t_dkv_in, err))) return st;
            if ((st = sum_into(a, in_send, part, s->dtype, w > 1 && ii > 0 ? in_recv : NULL, kvn, err))) return st;
            cp_run_stamp(run, "grad_sum", t0, step);
            if (w > 1 &&
                (st = post_next(r->dkv_inner, step, "dkv", in_send, in_recv, kvn * sizeof(float), &t_dkv_in, err)))
                return st;
            if ((st = kv_advance(r->kv_inner, ii, w, t_in, r->kv_in, &cur, err))) return st;
        }
        /* The window's sum for the block this rank held at this outer step. */
        if (w > 1 && (st = r->dkv_inner->ops->wait(r->dkv_inner, t_dkv_in, err))) return st;
        const float *window_sum = w > 1 ? in_recv : in_send;
        if (nw == 1) {
            full = window_sum;
        } else {
            if (oi > 0 && (st = r->dkv_outer->ops->wait(r->dkv_outer, t_dkv_out, err))) return st;
            int64_t t0 = lc_now_ns();
            st = a->copy2d(out_send, LC_FP32, kvn, window_sum, LC_FP32, kvn, kvn, 1, false, err);
            if (!st && oi > 0) st = a->copy2d(out_send, LC_FP32, kvn, out_recv, LC_FP32, kvn, kvn, 1, true, err);
            cp_run_stamp(run, "grad_sum", t0, oi * w + w - 1);
            if (st) return st;
            st = post_next(r->dkv_outer, oi * w + w - 1, "dkv", out_send, out_recv, kvn * sizeof(float), &t_dkv_out,
                           err);
            if (st) return st;
        }
        if ((st = kv_advance(r->kv_outer, oi, nw, t_outer, r->kv_out, &outer_cur, err))) return st;
    }
    if (nw > 1) {
        if ((st = r->dkv_outer->ops->wait(r->dkv_outer, t_dkv_out, err))) return st;
        full = out_recv;
    }
    if ((st = a->copy2d(dkv, s->dtype, kvn, full, LC_FP32, kvn, kvn, 1, false, err))) return st;
    return a->copy2d(dq, s->dtype, qn, r->dq_acc, LC_FP32, qn, qn, 1, false, err);
}
