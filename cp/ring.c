/* Ring and double-ring attention (cp/ring.h). */
#include "cp/ring.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/event.h"
#include "core/mask/mask_view.h"

/* Sizes in elements: Q-like [b, rows, hq, d], one of K / V [b, rows, hkv, d], LSE [b, hq, rows]. */
static size_t q_elems(const struct cp_exec *run, const struct cp_ring *ring)
{
    return (size_t)run->spec->batch * (size_t)ring->rows * cp_row_elems(run, ring->cfg.heads_q);
}
static size_t k_elems(const struct cp_exec *run, const struct cp_ring *ring)
{
    return (size_t)run->spec->batch * (size_t)ring->rows * cp_row_elems(run, ring->cfg.heads_kv);
}
static size_t lse_elems(const struct cp_exec *run, const struct cp_ring *ring)
{
    return (size_t)run->spec->batch * (size_t)ring->cfg.heads_q * (size_t)ring->rows;
}

static int windows(const struct cp_ring *r) { return r->cfg.size / r->cfg.window; }

int cp_ring_member_at(const struct cp_ring_config *cfg, int step)
{
    const int w = cfg->window, nw = cfg->size / w, wi = cfg->rank / w, wp = cfg->rank % w;
    const int o = step / w, i = step % w;
    return ((wi - o % nw + nw) % nw) * w + (wp - i % w + w) % w;
}

static enum lc_status make_comms(struct cp_exec *run, struct cp_ring *r, char *err)
{
    const int w = r->cfg.window, nw = windows(r), wi = r->cfg.rank / w, wp = r->cfg.rank % w;
    const bool bwd = run->spec->direction & DIR_BWD, plain = nw == 1;
    enum lc_status st = LC_OK;
    /* Every rank of the CP group makes the same splits in the same order (they are collective). */
    if (w > 1) {
        int color = r->cfg.ring_id * nw + wi;
        st = cp_exec_split(run, color, wp, plain ? "ring kv" : "inner kv", &r->kv_inner, err);
        if (!st && bwd) st = cp_exec_split(run, color, wp, plain ? "ring dkv" : "inner dkv", &r->dkv_inner, err);
    }
    if (!st && nw > 1) {
        int color = r->cfg.ring_id * w + wp;
        st = cp_exec_split(run, color, wi, "outer kv", &r->kv_outer, err);
        if (!st && bwd) st = cp_exec_split(run, color, wi, "outer dkv", &r->dkv_outer, err);
    }
    return st;
}

static enum lc_status make_buffers(struct cp_exec *run, struct cp_ring *r, char *err)
{
    const int w = r->cfg.window, nw = windows(r);
    const size_t e = run->esize, qn = q_elems(run, r), kvn = 2 * k_elems(run, r);
    const bool bwd = run->spec->direction & DIR_BWD;
    enum lc_status st = cp_fold_prepare(run, &r->scratch, r->rows, r->rows, r->cfg.heads_q, r->cfg.heads_kv, err);
    /* A second receive buffer only where a ring has three or more steps to alternate over. */
    if (!st && w > 1) st = cp_exec_alloc(run, kvn * e, &r->kv_in[0], err);
    if (!st && w > 2) st = cp_exec_alloc(run, kvn * e, &r->kv_in[1], err);
    if (!st && nw > 1) st = cp_exec_alloc(run, kvn * e, &r->kv_out[0], err);
    if (!st && nw > 2) st = cp_exec_alloc(run, kvn * e, &r->kv_out[1], err);
    if (!st) st = cp_exec_alloc(run, qn * sizeof(float), (void **)&r->o_acc, err);
    if (!bwd) return st;
    const size_t kv_f32 = kvn * sizeof(float);
    if (!st) st = cp_exec_alloc(run, qn * sizeof(float), (void **)&r->dq_acc, err);
    if (!st) st = cp_exec_alloc(run, kv_f32, (void **)&r->in_send[0], err);
    if (!st && w > 1) st = cp_exec_alloc(run, kv_f32, (void **)&r->in_send[1], err);
    if (!st && w > 1) st = cp_exec_alloc(run, kv_f32, (void **)&r->in_recv, err);
    if (!st && nw > 1) st = cp_exec_alloc(run, kv_f32, (void **)&r->out_send, err);
    if (!st && nw > 1) st = cp_exec_alloc(run, kv_f32, (void **)&r->out_recv, err);
    return st;
}

enum lc_status cp_ring_plan(struct cp_exec *run, struct cp_ring *r, const struct cp_ring_config *cfg,
                            const struct cp_layout *layouts, char *err)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->rows = layouts[cfg->rank].rows;
    r->steps = cfg->size;
    r->first = r->last = -1;
    if (cfg->window < 1 || cfg->size % cfg->window)
        return lc_fail(err, LC_ERR_INTERNAL, "ring of %d with windows of %d", cfg->size, cfg->window);
    enum lc_status st = make_comms(run, r, err);
    if (st) return st;
    r->views = calloc((size_t)r->steps, sizeof *r->views);
    r->plans = calloc((size_t)r->steps, sizeof *r->plans);
    if (!r->views || !r->plans) return lc_fail(err, LC_ERR_OOM, "out of host memory for ring plans");
    struct cp_view_index index = {0};
    st = cp_view_index_build(&run->view, &index, err);
    for (int step = 0; step < r->steps && !st; step++) {
        int src = cp_ring_member_at(cfg, step);
        st = cp_view_cut_rows(&index, &layouts[cfg->rank], &layouts[src], &r->views[step], err);
        if (st) break;
        double area = (double)cp_view_area(&r->views[step]);
        r->work += area * cfg->heads_q * run->spec->batch;
        /* A block nobody in it sees is skipped; a single step always runs (it writes the outputs). */
        if (area > 0 || r->steps == 1) {
            st = cp_exec_plan_kernel(run, cfg->heads_q, cfg->heads_kv, &r->views[step], &r->plans[step], err);
            if (r->first < 0) r->first = step;
            r->last = step;
        }
    }
    cp_view_index_free(&index);
    if (!st && r->steps > 1) st = make_buffers(run, r, err);
    return st;
}

void cp_ring_release(struct cp_exec *run, struct cp_ring *r)
{
    for (int s = 0; r->plans && s < r->steps; s++)
        if (r->plans[s]) kernel_destroy(run->kernel, r->plans[s]);
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
    return c->ops->send_recv(c, send, bytes, (c->rank + 1) % c->size, recv, bytes, (c->rank - 1 + c->size) % c->size,
                             ticket, err);
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

/* The fold of step `step` into the running results. */
static struct longca_fold fold_at(const struct cp_ring *r, int step, float *dkv_acc)
{
    return (struct longca_fold){.first = step == r->first, .last = step == r->last, .o_acc = r->o_acc,
                              .dq_acc = r->dq_acc, .dkv_acc = dkv_acc};
}

enum lc_status cp_ring_forward(struct cp_exec *run, struct cp_ring *r, const void *q, const void *kv, void *o, float *lse,
                               char *err)
{
    const size_t e = run->esize, half = k_elems(run, r) * e, kv_bytes = 2 * half, qn = q_elems(run, r);
    const struct cp_array_ops *a = run->arr;
    if (r->steps == 1) {
        struct longca_tensors t = {.q = q, .k = kv, .v = (const char *)kv + half, .o = o, .lse = lse};
        return cp_exec_attention(run, r->plans[0], false, &t, 0, err);
    }
    const int w = r->cfg.window, nw = windows(r);
    enum lc_status st;
    /* No row of this rank sees a key: O = 0, LSE = -inf, and it still passes the KV blocks on,
     * since its neighbours wait for them. */
    if (r->first < 0 && ((st = a->fill_f32(r->o_acc, qn, 0.0f, err)) ||
                         (st = a->fill_f32(lse, lse_elems(run, r), -INFINITY, err)) ||
                         (st = a->copy2d(o, run->spec->dtype, qn, r->o_acc, LC_FP32, qn, qn, 1, false, err))))
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
                const struct longca_fold f = fold_at(r, step, NULL);
                struct longca_tensors t = {.q = q, .k = cur, .v = (const char *)cur + half, .o = o, .lse = lse, .fold = &f};
                if ((st = cp_fold_attention(run, r->plans[step], false, &t, &r->scratch, step, err))) return st;
            }
            if ((st = kv_advance(r->kv_inner, ii, w, t_in, r->kv_in, &cur, err))) return st;
        }
        if ((st = kv_advance(r->kv_outer, oi, nw, t_outer, r->kv_out, &outer_cur, err))) return st;
    }
    return LC_OK;
}

enum lc_status cp_ring_backward(struct cp_exec *run, struct cp_ring *r, const void *q, const void *kv, const void *o,
                                const float *lse, const void *d_o, void *dq, void *dkv, char *err)
{
    const struct run_spec *s = run->spec;
    const struct cp_array_ops *a = run->arr;
    const size_t e = run->esize, half = k_elems(run, r) * e, kv_bytes = 2 * half, kvn = 2 * k_elems(run, r);
    const size_t qn = q_elems(run, r);
    if (r->steps == 1) {
        struct longca_tensors t = {.q = q, .k = kv, .v = (const char *)kv + half, .o = (void *)o, .lse = (float *)lse,
                                 .d_o = d_o, .dq = dq, .dk = dkv, .dv = (char *)dkv + half};
        return cp_exec_attention(run, r->plans[0], true, &t, 0, err);
    }
    const int w = r->cfg.window, nw = windows(r);
    enum lc_status st;
    if (r->first < 0 && ((st = a->fill_f32(r->dq_acc, qn, 0.0f, err)) ||
                         (st = a->copy2d(dq, s->dtype, qn, r->dq_acc, LC_FP32, qn, qn, 1, false, err))))
        return st;
    const void *outer_cur = kv;
    const float *full = NULL; /* this rank's whole dK/dV in fp32, once the rings are done */
    uint64_t t_dkv_out = 0;
    for (int oi = 0; oi < nw; oi++) {
        uint64_t t_outer = 0, t_dkv_in = 0;
        if ((st = kv_post(r->kv_outer, oi * w, oi, nw, outer_cur, r->kv_out, kv_bytes, &t_outer, err))) return st;
        const void *cur = outer_cur;
        float *sum = NULL; /* the inner ring's sum this step passes on */
        for (int ii = 0; ii < w; ii++) {
            const int step = oi * w + ii;
            uint64_t t_in = 0;
            if ((st = kv_post(r->kv_inner, step, ii, w, cur, r->kv_in, kv_bytes, &t_in, err))) return st;
            sum = r->in_send[w > 1 ? step & 1 : 0];
            if (r->plans[step]) {
                const struct longca_fold f = fold_at(r, step, sum);
                struct longca_tensors t = {.q = q, .k = cur, .v = (const char *)cur + half, .o = (void *)o,
                                         .lse = (float *)lse, .d_o = d_o, .dq = dq, .fold = &f};
                if ((st = cp_fold_attention(run, r->plans[step], true, &t, &r->scratch, step, err))) return st;
            }
            /* The inner dK/dV ring, one step behind the KV ring: add what the previous member
             * accumulated for this block, pass the sum on. */
            const bool add = w > 1 && ii > 0;
            if (add && (st = r->dkv_inner->ops->wait(r->dkv_inner, t_dkv_in, err))) return st;
            int64_t t0 = lc_now_ns();
            if (r->plans[step])
                st = add ? a->copy2d(sum, LC_FP32, kvn, r->in_recv, LC_FP32, kvn, kvn, 1, true, err) : LC_OK;
            else
                st = add ? a->copy2d(sum, LC_FP32, kvn, r->in_recv, LC_FP32, kvn, kvn, 1, false, err)
                         : a->fill_f32(sum, kvn, 0.0f, err);
            cp_exec_stamp(run, "grad_sum", t0, step);
            if (st) return st;
            if (w > 1 && (st = post_next(r->dkv_inner, step, "dkv", sum, r->in_recv, kvn * sizeof(float), &t_dkv_in, err)))
                return st;
            if ((st = kv_advance(r->kv_inner, ii, w, t_in, r->kv_in, &cur, err))) return st;
        }
        /* The window's sum for the block this rank held at this outer step. */
        if (w > 1 && (st = r->dkv_inner->ops->wait(r->dkv_inner, t_dkv_in, err))) return st;
        const float *window_sum = w > 1 ? r->in_recv : sum;
        if (nw == 1) {
            full = window_sum;
        } else {
            if (oi > 0 && (st = r->dkv_outer->ops->wait(r->dkv_outer, t_dkv_out, err))) return st;
            int64_t t0 = lc_now_ns();
            st = a->copy2d(r->out_send, LC_FP32, kvn, window_sum, LC_FP32, kvn, kvn, 1, false, err);
            if (!st && oi > 0) st = a->copy2d(r->out_send, LC_FP32, kvn, r->out_recv, LC_FP32, kvn, kvn, 1, true, err);
            cp_exec_stamp(run, "grad_sum", t0, oi * w + w - 1);
            if (st) return st;
            st = post_next(r->dkv_outer, oi * w + w - 1, "dkv", r->out_send, r->out_recv, kvn * sizeof(float),
                           &t_dkv_out, err);
            if (st) return st;
        }
        if ((st = kv_advance(r->kv_outer, oi, nw, t_outer, r->kv_out, &outer_cur, err))) return st;
    }
    if (nw > 1) {
        if ((st = r->dkv_outer->ops->wait(r->dkv_outer, t_dkv_out, err))) return st;
        full = r->out_recv;
    }
    return a->copy2d(dkv, s->dtype, kvn, full, LC_FP32, kvn, kvn, 1, false, err);
}

void cp_ring_messages(const struct cp_ring_config *cfg, bool backward, int *kv, int *dkv)
{
    const int w = cfg->window, nw = cfg->size / cfg->window;
    *kv = *dkv = 0;
    if (cfg->size == 1) return;
    /* kv_post sends before every position but the last of each ring; post_next sends every
     * inner step's dK/dV sum, and every outer step's. */
    *kv = (w > 1 ? nw * (w - 1) : 0) + (nw > 1 ? nw - 1 : 0);
    if (backward) *dkv = (w > 1 ? nw * w : 0) + (nw > 1 ? nw : 0);
}

/* The rank of the member `ahead` places away within the window (inner) or across windows (outer). */
static int inner_peer(const struct cp_ring_sched *rs, int ahead)
{
    const int w = rs->cfg->window, wi = rs->cfg->rank / w, wp = rs->cfg->rank % w;
    return rs->rank_base + (wi * w + ((wp + ahead) % w + w) % w) * rs->rank_stride;
}
static int outer_peer(const struct cp_ring_sched *rs, int ahead)
{
    const int w = rs->cfg->window, nw = rs->cfg->size / w, wi = rs->cfg->rank / w, wp = rs->cfg->rank % w;
    return rs->rank_base + ((((wi + ahead) % nw + nw) % nw) * w + wp) * rs->rank_stride;
}

static int post_pair(struct cp_schedule *s, const struct cp_ring_sched *rs, int lane, bool outer, double bytes, int step)
{
    const int to = outer ? outer_peer(rs, 1) : inner_peer(rs, 1), from = outer ? outer_peer(rs, -1) : inner_peer(rs, -1);
    return cp_schedule_send_recv(s, lane, to, bytes, from, bytes, step);
}

static bool has_plan(const struct cp_ring_sched *rs, int step) { return rs->work[step].area > 0 || rs->cfg->size == 1; }

void cp_ring_schedule(struct cp_schedule *s, const struct cp_ring_sched *rs, bool backward)
{
    const int w = rs->cfg->window, nw = rs->cfg->size / w;
    const double kv = rs->kv_bytes, g = rs->dkv_bytes;
    if (rs->cfg->size == 1) {
        cp_schedule_compute(s, &rs->work[0], backward, 0);
        return;
    }
    int t_dkv_out = 0;
    for (int oi = 0; oi < nw; oi++) {
        const int last = oi * w + w - 1;
        const int t_outer = oi + 1 < nw ? post_pair(s, rs, CP_LANE_KV_OUTER, true, kv, oi * w) : 0;
        int t_dkv_in = 0;
        for (int ii = 0; ii < w; ii++) {
            const int step = oi * w + ii;
            const int t_in = ii + 1 < w ? post_pair(s, rs, CP_LANE_KV_INNER, false, kv, step) : 0;
            if (has_plan(rs, step)) cp_schedule_compute(s, &rs->work[step], backward, step);
            if (backward) {
                const bool add = w > 1 && ii > 0;
                if (add) cp_schedule_wait(s, t_dkv_in, step);
                /* grad_sum: adds the received sum (two reads, a write), copies it, or zeroes a block */
                cp_schedule_copy(s, has_plan(rs, step) ? (add ? 3 * g : 0) : (add ? 2 * g : g), step);
                if (w > 1) t_dkv_in = post_pair(s, rs, CP_LANE_DKV_INNER, false, g, step);
            }
            cp_schedule_wait(s, t_in, step);
        }
        if (backward && w > 1) cp_schedule_wait(s, t_dkv_in, last);
        if (backward && nw > 1) {
            if (oi > 0) cp_schedule_wait(s, t_dkv_out, last);
            cp_schedule_copy(s, 2 * g + (oi > 0 ? 3 * g : 0), last);
            t_dkv_out = post_pair(s, rs, CP_LANE_DKV_OUTER, true, g, last);
        }
        cp_schedule_wait(s, t_outer, last);
    }
    if (!backward) return;
    cp_schedule_wait(s, t_dkv_out, -1);
    cp_schedule_copy(s, g + kv, -1); /* dK, dV from fp32 to the dtype: read g, write kv */
}
