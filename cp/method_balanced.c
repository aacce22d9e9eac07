/* Mask-aware context parallelism (`--cp balanced`, after MagiAttention's dispatch): query chunks
 * are dealt to ranks so that every rank's exact work is even (cp/balance.h), and each rank
 * receives exactly the KV chunks its queries attend to (cp/plan_balanced.h), in P - 1 pairwise
 * stages. Every stage's exchange is posted before any attention: the KV is all there from the
 * start, and a stage posted only when its buffer frees would chain each rank to its peers'
 * progress, so that every stage waited for the slowest of them (stages carry uneven work). The
 * buffers therefore hold everything a rank receives (at most the sequence's KV) and sends. The
 * local stage runs first, on KV already present, then the stages in posting order. The backward
 * moves KV the same way and sends the partial dK, dV of every received chunk back to its owner
 * in fp32 after the stage's attention; the owner adds them up at the end. Over whole nodes the
 * plan is the solver variant (cp/plan_balanced_choice.c) whose schedule, simulated with per-stage work
 * estimated from the plan and an assumed kernel, ends first: the same on every rank and in the
 * model, since it depends on the spec and the mask alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/event.h"
#include "cp/block_work.h"
#include "cp/fold.h"
#include "cp/methods.h"
#include "cp/plan_balanced.h"
#include "cp/sim.h"
#include "core/mask/mask_view.h"

/* One stage: this rank's rows against the KV of the peer behind it at that stage, and what it
 * sends the peer ahead (cp_balanced_peer). */
struct stage {
    int64_t recv_rows, send_rows;
    int64_t recv_first, send_first; /* its block's first row in the receive / send buffers */
    int *send_at; /* local chunk positions of the chunks sent, ascending */
    int n_send;
    struct longca_mask view;
    void *plan; /* NULL when the block has no visible pair */
};

/* Stage k's KV exchange as post_kv issues it (nothing when neither side has rows). */
static int schedule_post(struct cp_schedule *s, const struct cp_balanced_plan *p, int me, int k, double row_bytes)
{
    const double out = (double)cp_balanced_send_rows(p, me, k) * row_bytes, in = (double)cp_balanced_recv_rows(p, me, k) * row_bytes;
    if (out <= 0 && in <= 0) return 0;
    cp_schedule_copy(s, 2 * out, k); /* pack_kv */
    return cp_schedule_send_recv(s, 1, out > 0 ? cp_balanced_peer(p, me, k, true) : -1, out,
                                 in > 0 ? cp_balanced_peer(p, me, k, false) : -1, in, k);
}

static void schedule_rank(struct cp_schedule *s, const struct run_spec *spec, const struct cp_balanced_plan *p, int me,
                          const struct cp_tile_work *work, int64_t own_rows, int *kv, int *returned)
{
    const int P = p->ranks;
    const double row = 2.0 * spec->batch * spec->heads_kv * spec->head_dim;
    const double row_bytes = row * (double)dtype_size(spec->dtype), grad_row = row * sizeof(float);
    for (int pass = 0; pass < 2; pass++) {
        const bool backward = pass == 1;
        if (!(spec->direction & (backward ? DIR_BWD : DIR_FWD))) continue;
        for (int i = 1; i < P; i++) {
            const int k = cp_balanced_stage_at(p, i, backward);
            kv[k] = schedule_post(s, p, me, k, row_bytes);
        }
        for (int i = 0; i < P; i++) {
            const int k = cp_balanced_stage_at(p, i, backward);
            if (k) cp_schedule_wait(s, kv[k], k);
            if (work[k].area > 0 || P == 1) cp_schedule_compute(s, &work[k], backward, k);
            returned[k] = 0;
            const double in = (double)cp_balanced_recv_rows(p, me, k), out = (double)cp_balanced_send_rows(p, me, k);
            if (backward && k > 0 && (in > 0 || out > 0))
                returned[k] = cp_schedule_send_recv(s, 2, in > 0 ? cp_balanced_peer(p, me, k, false) : -1, in * grad_row,
                                                    out > 0 ? cp_balanced_peer(p, me, k, true) : -1, out * grad_row, k);
        }
        if (!backward || P == 1) continue;
        for (int i = 1; i < P; i++) { /* take_grads */
            const int k = cp_balanced_stage_at(p, i, true);
            cp_schedule_wait(s, returned[k], k);
            cp_schedule_copy(s, 3.0 * (double)cp_balanced_send_rows(p, me, k) * grad_row, k);
        }
        cp_schedule_copy(s, (double)own_rows * row * (sizeof(float) + (double)dtype_size(spec->dtype)), -1);
    }
}

struct balanced {
    struct cp_balanced_plan plan;
    struct stage *stages; /* [P]; stage 0 is the local KV */
    int first[2], last[2]; /* per pass (forward, backward): the first and last stage with a plan
                              in its order (cp_balanced_stage_at); -1 when none has one */
    int64_t max_recv, all_recv, all_send; /* rows: the largest stage, and every stage's */
    struct cp_comm *kv, *dkv;
    uint64_t *kv_ticket, *returned;       /* per stage */
    void *send_kv, *recv_kv;              /* per stage a dtype [2][b][rows][hkv d] block */
    float *grad_out, *grad_in, *own_grad; /* fp32, the same blocks; own_grad: this rank's rows */
    float *o_acc, *dq_acc;
    struct cp_fold_scratch scratch;
};

static size_t kv_row(const struct cp_exec *run) { return cp_row_elems(run, run->spec->heads_kv); }

/* Copies chunk rows between this rank's [2][b][N] rows (K then V) and a packed [2][b][n chunks]
 * buffer: packing when `pack`, else adding the packed fp32 rows into `mine` (fp32). */
static enum lc_status move_chunks(struct cp_exec *run, const struct balanced *bal, const struct stage *st, void *packed,
                                  void *mine, bool pack, char *err)
{
    const size_t row = kv_row(run), c = (size_t)bal->plan.chunk, N = (size_t)run->layout.rows;
    const size_t rows = 2 * (size_t)run->spec->batch, packed_ld = (size_t)st->n_send * c * row, mine_ld = N * row;
    const enum lc_dtype mt = pack ? run->spec->dtype : LC_FP32, pt = pack ? run->spec->dtype : LC_FP32;
    const size_t esz = pack ? run->esize : sizeof(float);
    enum lc_status s = LC_OK;
    for (int k = 0; k < st->n_send && !s; ) {
        int len = 1;
        while (k + len < st->n_send && st->send_at[k + len] == st->send_at[k] + len) len++;
        char *p = (char *)packed + (size_t)k * c * row * esz, *m = (char *)mine + (size_t)st->send_at[k] * c * row * esz;
        s = pack ? run->arr->copy2d(p, pt, packed_ld, m, mt, mine_ld, (size_t)len * c * row, rows, false, err)
                 : run->arr->copy2d(m, mt, mine_ld, p, pt, packed_ld, (size_t)len * c * row, rows, true, err);
        k += len;
    }
    return s;
}

static enum lc_status plan_stages(struct cp_exec *run, struct balanced *bal, char *err)
{
    const struct run_spec *s = run->spec;
    const int P = run->size, me = run->rank;
    int *position = malloc((size_t)bal->plan.n_chunks * sizeof *position);
    if (!position) return lc_fail(err, LC_ERR_OOM, "out of host memory");
    for (int i = 0, n = 0; i < bal->plan.n_chunks; i++) position[i] = bal->plan.owner[i] == me ? n++ : -1;
    /* the KV rows of every stage: its own at stage 0, else the chunks of the peer behind it */
    struct cp_layout *kv_rows = malloc((size_t)P * sizeof *kv_rows);
    struct cp_segment *kv_segs = NULL;
    enum lc_status st = kv_rows ? cp_balanced_stage_rows(&bal->plan, me, kv_rows, &kv_segs, err)
                                : lc_fail(err, LC_ERR_OOM, "out of host memory");
    for (int k = 0; k < P && !st; k++) {
        struct stage *sg = &bal->stages[k];
        int *chunks = NULL, n = 0;
        if (k > 0) {
            st = cp_balanced_needed(&bal->plan, cp_balanced_peer(&bal->plan, me, k, true), me, &chunks, &n, err);
            for (int j = 0; !st && j < n; j++) chunks[j] = position[chunks[j]];
            sg->send_at = chunks;
            sg->n_send = n;
            sg->recv_rows = cp_balanced_recv_rows(&bal->plan, me, k);
            sg->send_rows = cp_balanced_send_rows(&bal->plan, me, k);
            sg->recv_first = bal->all_recv;
            sg->send_first = bal->all_send;
            bal->all_recv += sg->recv_rows;
            bal->all_send += sg->send_rows;
            if (sg->recv_rows > bal->max_recv) bal->max_recv = sg->recv_rows;
        }
        if (!st) st = cp_view_between(&run->view, &run->layout, &kv_rows[k], &sg->view, err);
        if (st) break;
        const double area = (double)cp_view_area(&sg->view);
        run->work += area * s->heads_q * s->batch;
        /* A single rank always runs its one block (it writes the outputs). */
        if (area > 0 || P == 1) st = cp_exec_plan_kernel(run, s->heads_q, s->heads_kv, &sg->view, &sg->plan, err);
    }
    for (int pass = 0; pass < 2 && !st; pass++)
        for (int i = 0; i < P; i++) {
            const int k = cp_balanced_stage_at(&bal->plan, i, pass == 1);
            if (!bal->stages[k].plan) continue;
            if (bal->first[pass] < 0) bal->first[pass] = k;
            bal->last[pass] = k;
        }
    free(kv_segs);
    free(kv_rows);
    free(position);
    return st;
}

static enum lc_status make_buffers(struct cp_exec *run, struct balanced *bal, char *err)
{
    const struct run_spec *s = run->spec;
    const size_t b2 = 2 * (size_t)s->batch * kv_row(run), e = run->esize, N = (size_t)run->layout.rows;
    const size_t q = (size_t)s->batch * N * cp_row_elems(run, s->heads_q);
    const bool bwd = s->direction & DIR_BWD;
    const int64_t kv_max = bal->max_recv > run->layout.rows ? bal->max_recv : run->layout.rows;
    enum lc_status st = cp_fold_prepare(run, &bal->scratch, run->layout.rows, kv_max, s->heads_q, s->heads_kv, err);
    if (!st) st = cp_exec_alloc(run, b2 * (size_t)bal->all_send * e, &bal->send_kv, err);
    if (!st) st = cp_exec_alloc(run, b2 * (size_t)bal->all_recv * e, &bal->recv_kv, err);
    if (!st && bwd) st = cp_exec_alloc(run, b2 * (size_t)bal->all_recv * sizeof(float), (void **)&bal->grad_out, err);
    if (!st && bwd) st = cp_exec_alloc(run, b2 * (size_t)bal->all_send * sizeof(float), (void **)&bal->grad_in, err);
    if (!st) st = cp_exec_alloc(run, q * sizeof(float), (void **)&bal->o_acc, err);
    if (!st && bwd) st = cp_exec_alloc(run, q * sizeof(float), (void **)&bal->dq_acc, err);
    if (!st && bwd) st = cp_exec_alloc(run, b2 * N * sizeof(float), (void **)&bal->own_grad, err);
    return st;
}

static enum lc_status balanced_plan(struct cp_exec *run, char *err)
{
    const struct run_spec *s = run->spec;
    struct balanced *bal = calloc(1, sizeof *bal);
    if (!bal) return lc_fail(err, LC_ERR_OOM, "out of host memory");
    run->state = bal;
    bal->first[0] = bal->first[1] = bal->last[0] = bal->last[1] = -1;
    enum lc_status st = cp_balanced_plan_choose(run->spec, &run->mask, &run->view, run->kernel->tile_q, &bal->plan, err);
    if (!st) st = cp_balanced_layout(&bal->plan, run->rank, &run->layout, err);
    if (!st && (!(bal->stages = calloc((size_t)run->size, sizeof *bal->stages)) ||
                !(bal->kv_ticket = calloc((size_t)run->size, sizeof *bal->kv_ticket)) ||
                !(bal->returned = calloc((size_t)run->size, sizeof *bal->returned))))
        st = lc_fail(err, LC_ERR_OOM, "out of host memory");
    if (!st) st = plan_stages(run, bal, err);
    if (st || run->size == 1) return st;
    if ((st = cp_exec_split(run, 0, run->rank, "balanced kv", &bal->kv, err))) return st;
    if ((s->direction & DIR_BWD) && (st = cp_exec_split(run, 0, run->rank, "balanced dkv", &bal->dkv, err))) return st;
    return make_buffers(run, bal, err);
}

static void balanced_release(struct cp_exec *run)
{
    struct balanced *bal = run->state;
    if (!bal) return;
    for (int k = 0; bal->stages && k < run->size; k++) {
        if (bal->stages[k].plan) kernel_destroy(run->kernel, bal->stages[k].plan);
        mask_view_free(&bal->stages[k].view);
        free(bal->stages[k].send_at);
    }
    free(bal->stages);
    free(bal->kv_ticket);
    free(bal->returned);
    cp_balanced_plan_free(&bal->plan);
    free(bal);
    run->state = NULL;
}

/* Row r of a stage buffer of rows of `esize`-byte elements. */
static void *buffer_row(const struct cp_exec *run, void *base, int64_t r, size_t esize)
{
    return (char *)base + (size_t)r * 2 * (size_t)run->spec->batch * kv_row(run) * esize;
}

/* Posts every stage's KV exchange in the pass's order: packs what the peer ahead needs, receives
 * from the one behind. */
static enum lc_status post_kv(struct cp_exec *run, struct balanced *bal, bool backward, char *err)
{
    const size_t row_bytes = 2 * (size_t)run->spec->batch * kv_row(run) * run->esize;
    const int P = run->size;
    for (int i = 1; i < P; i++) {
        const int k = cp_balanced_stage_at(&bal->plan, i, backward);
        const struct stage *sg = &bal->stages[k];
        bal->kv_ticket[k] = 0;
        if (!sg->send_rows && !sg->recv_rows) continue;
        void *out = buffer_row(run, bal->send_kv, sg->send_first, run->esize);
        int64_t t0 = lc_now_ns();
        enum lc_status st = move_chunks(run, bal, sg, out, run->shard.kv, true, err);
        cp_exec_stamp(run, "pack_kv", t0, k);
        if (st) return st;
        cp_comm_tag(bal->kv, k, "kv");
        const int ahead = cp_balanced_peer(&bal->plan, run->rank, k, true);
        const int behind = cp_balanced_peer(&bal->plan, run->rank, k, false);
        st = bal->kv->ops->send_recv(bal->kv, out, (size_t)sg->send_rows * row_bytes, ahead,
                                     buffer_row(run, bal->recv_kv, sg->recv_first, run->esize),
                                     (size_t)sg->recv_rows * row_bytes, behind, &bal->kv_ticket[k], err);
        if (st) return st;
    }
    return LC_OK;
}

/* The K and V of stage k: this rank's own, or what arrived. */
static void stage_kv(const struct cp_exec *run, const struct balanced *bal, int k, const void **key, const void **value)
{
    const int64_t rows = k ? bal->stages[k].recv_rows : run->layout.rows;
    const char *kv = k ? buffer_row(run, bal->recv_kv, bal->stages[k].recv_first, run->esize) : run->shard.kv;
    *key = kv;
    *value = kv + (size_t)run->spec->batch * (size_t)rows * kv_row(run) * run->esize;
}

/* The fold scratch shaped for stage k's block (its buffers fit the largest). */
static struct cp_fold_scratch scratch_for(const struct cp_exec *run, const struct balanced *bal, int k)
{
    struct cp_fold_scratch s = bal->scratch;
    s.kv_rows = k ? bal->stages[k].recv_rows : run->layout.rows;
    return s;
}

static enum lc_status balanced_forward(struct cp_exec *run, char *err)
{
    struct balanced *bal = run->state;
    struct cp_shard *sh = &run->shard;
    const void *key, *value;
    if (run->size == 1) {
        stage_kv(run, bal, 0, &key, &value);
        struct longca_tensors t = {.q = sh->q, .k = key, .v = value, .o = sh->o, .lse = sh->lse};
        return cp_exec_attention(run, bal->stages[0].plan, false, &t, 0, err);
    }
    const struct cp_array_ops *a = run->arr;
    const size_t qn = (size_t)run->spec->batch * (size_t)run->layout.rows * cp_row_elems(run, run->spec->heads_q);
    enum lc_status st;
    if (bal->first[0] < 0) { /* no row of this rank sees a key: O = 0, LSE = -inf */
        const size_t lse_n = (size_t)run->spec->batch * (size_t)run->spec->heads_q * (size_t)run->layout.rows;
        if ((st = a->fill_f32(bal->o_acc, qn, 0.0f, err)) || (st = a->fill_f32(sh->lse, lse_n, -INFINITY, err)) ||
            (st = a->copy2d(sh->o, run->spec->dtype, qn, bal->o_acc, LC_FP32, qn, qn, 1, false, err)))
            return st;
    }
    if ((st = post_kv(run, bal, false, err))) return st;
    for (int k = 0; k < run->size; k++) {
        if (k && (st = bal->kv->ops->wait(bal->kv, bal->kv_ticket[k], err))) return st;
        if (!bal->stages[k].plan) continue;
        stage_kv(run, bal, k, &key, &value);
        const struct longca_fold f = {.first = k == bal->first[0], .last = k == bal->last[0], .o_acc = bal->o_acc};
        struct longca_tensors t = {.q = sh->q, .k = key, .v = value, .o = sh->o, .lse = sh->lse, .fold = &f};
        const struct cp_fold_scratch sc = scratch_for(run, bal, k);
        if ((st = cp_fold_attention(run, bal->stages[k].plan, false, &t, &sc, k, err))) return st;
    }
    return LC_OK;
}

/* Waits for stage k's return of dK, dV and adds what came back to this rank's rows. */
static enum lc_status take_grads(struct cp_exec *run, struct balanced *bal, int k, char *err)
{
    enum lc_status st = bal->dkv->ops->wait(bal->dkv, bal->returned[k], err);
    const struct stage *sg = &bal->stages[k];
    if (st || !sg->send_rows) return st;
    int64_t t0 = lc_now_ns();
    st = move_chunks(run, bal, sg, buffer_row(run, bal->grad_in, sg->send_first, sizeof(float)), bal->own_grad, false,
                     err);
    cp_exec_stamp(run, "grad_sum", t0, k);
    return st;
}

static enum lc_status balanced_backward(struct cp_exec *run, char *err)
{
    struct balanced *bal = run->state;
    struct cp_shard *sh = &run->shard;
    const struct run_spec *s = run->spec;
    const void *key, *value;
    if (run->size == 1) {
        stage_kv(run, bal, 0, &key, &value);
        const size_t half = (size_t)s->batch * (size_t)run->layout.rows * kv_row(run) * run->esize;
        struct longca_tensors t = {.q = sh->q, .k = key, .v = value, .o = sh->o, .lse = sh->lse, .d_o = sh->d_o,
                                 .dq = sh->dq, .dk = sh->dkv, .dv = (char *)sh->dkv + half};
        return cp_exec_attention(run, bal->stages[0].plan, true, &t, 0, err);
    }
    const struct cp_array_ops *a = run->arr;
    const size_t qn = (size_t)s->batch * (size_t)run->layout.rows * cp_row_elems(run, s->heads_q);
    const size_t own = 2 * (size_t)s->batch * (size_t)run->layout.rows * kv_row(run);
    const size_t grad_row = 2 * (size_t)s->batch * kv_row(run) * sizeof(float);
    const int P = run->size;
    enum lc_status st = LC_OK;
    if (bal->first[1] < 0 && ((st = a->fill_f32(bal->dq_acc, qn, 0.0f, err)) ||
                           (st = a->copy2d(sh->dq, s->dtype, qn, bal->dq_acc, LC_FP32, qn, qn, 1, false, err))))
        return st;
    if (!bal->stages[0].plan && (st = a->fill_f32(bal->own_grad, own, 0.0f, err))) return st;
    if ((st = post_kv(run, bal, true, err))) return st;
    for (int i = 0; i < P; i++) {
        const int k = cp_balanced_stage_at(&bal->plan, i, true);
        if (k && (st = bal->kv->ops->wait(bal->kv, bal->kv_ticket[k], err))) return st;
        const struct stage *sg = &bal->stages[k];
        float *grads = k ? buffer_row(run, bal->grad_out, sg->recv_first, sizeof(float)) : bal->own_grad;
        if (sg->plan) {
            stage_kv(run, bal, k, &key, &value);
            const struct longca_fold f = {.first = k == bal->first[1], .last = k == bal->last[1], .dq_acc = bal->dq_acc,
                                        .dkv_acc = grads};
            struct longca_tensors t = {.q = sh->q, .k = key, .v = value, .o = sh->o, .lse = sh->lse, .d_o = sh->d_o,
                                     .dq = sh->dq, .fold = &f};
            const struct cp_fold_scratch sc = scratch_for(run, bal, k);
            if ((st = cp_fold_attention(run, sg->plan, true, &t, &sc, k, err))) return st;
        }
        bal->returned[k] = 0;
        if (k > 0 && (sg->recv_rows || sg->send_rows)) {
            cp_comm_tag(bal->dkv, k, "dkv");
            const int ahead = cp_balanced_peer(&bal->plan, run->rank, k, true);
            const int behind = cp_balanced_peer(&bal->plan, run->rank, k, false);
            st = bal->dkv->ops->send_recv(bal->dkv, grads, (size_t)sg->recv_rows * grad_row, behind,
                                          buffer_row(run, bal->grad_in, sg->send_first, sizeof(float)),
                                          (size_t)sg->send_rows * grad_row, ahead, &bal->returned[k], err);
            if (st) return st;
        }
    }
    for (int i = 1; i < P && !st; i++) st = take_grads(run, bal, cp_balanced_stage_at(&bal->plan, i, true), err);
    if (st) return st;
    return a->copy2d(sh->dkv, s->dtype, own, bal->own_grad, LC_FP32, own, own, 1, false, err);
}

static const struct cp_algo cp_balanced_algo = {
    .plan = balanced_plan,
    .forward = balanced_forward,
    .backward = balanced_backward,
    .release = balanced_release,
};

static enum lc_status balanced_validate(const struct run_spec *spec, char *err)
{
    const struct longca_kernel *k = kernel_find(spec->kernel);
    const int64_t tile = k && k->tile_q > 0 ? k->tile_q : 1;
    return cp_validate_common(spec, spec->cp_degree * tile, "chunks: GPUs x the kernel's query tile", err);
}

static enum lc_status balanced_execute(const struct engine_env *env, const struct run_spec *spec, int run_id,
                                       struct run_result *out)
{
    const struct cp_degrees degrees = {1, spec->cp_degree};
    return cp_execute(env, spec, run_id, out, &cp_balanced_algo, &degrees);
}

/* The plan's prediction: each rank's work and bytes. */
static void plan_predict(const struct run_spec *spec, const struct cp_balanced_plan *p, double *work, double *bytes)
{
    const double row = 2.0 * spec->batch * spec->heads_kv * spec->head_dim;
    for (int r = 0; r < spec->cp_degree; r++) {
        work[r] = p->area[r] * spec->heads_q * spec->batch;
        bytes[r] = cp_balanced_rank_bytes(p, r, row * (double)dtype_size(spec->dtype), row * sizeof(float),
                                          spec->direction & DIR_FWD, spec->direction & DIR_BWD);
    }
}

/* The plan's schedule: each rank's tiles against every stage's KV, counted at once. */
static enum lc_status plan_schedule(const struct run_spec *spec, const struct cp_balanced_plan *p,
                                    const struct longca_mask *view, struct cp_schedule *out, char *err)
{
    const int P = spec->cp_degree;
    enum lc_status st = LC_OK;
    struct cp_tile_work *work = malloc((size_t)P * sizeof *work);
    int *tickets = malloc(2 * (size_t)P * sizeof *tickets);
    struct cp_layout *kv_rows = malloc((size_t)P * sizeof *kv_rows);
    if (!work || !tickets || !kv_rows) st = lc_fail(err, LC_ERR_OOM, "out of host memory");
    struct cp_view_index index = {0};
    if (!st) st = cp_view_index_build(view, &index, err);
    for (int me = 0; me < P && !st; me++) {
        struct cp_segment *kv_segs;
        if ((st = cp_balanced_stage_rows(p, me, kv_rows, &kv_segs, err))) break;
        const struct cp_layout *own = &kv_rows[0];
        struct cp_view_keys keys;
        struct cp_block_work counter;
        st = cp_view_keys_build(kv_rows, P, &keys, err);
        if (!st && !(st = cp_block_work_init(&counter, &index, &keys, out->tile, err))) {
            cp_block_work_count(&counter, own, spec->heads_q * spec->batch, work);
            cp_block_work_free(&counter);
        }
        cp_view_keys_free(&keys);
        if (!st) {
            cp_schedule_rank(out, me);
            schedule_rank(out, spec, p, me, work, own->rows, tickets, tickets + P);
        }
        free(kv_segs);
    }
    free(kv_rows);
    cp_view_index_free(&index);
    free(work);
    free(tickets);
    return st;
}

/* The plan its runs would take (the kernel's query tile sizes the chunks). */
static enum lc_status plan_for(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                               struct cp_balanced_plan *p, char *err)
{
    const struct longca_kernel *k = kernel_find(spec->kernel);
    if (!k) return lc_fail(err, LC_ERR_INVALID, "unknown kernel '%s'", spec->kernel);
    return cp_balanced_plan_choose(spec, m, view, k->tile_q, p, err);
}

static enum lc_status balanced_predict(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                       double *work, double *bytes, char *err)
{
    struct cp_balanced_plan p;
    enum lc_status st = plan_for(spec, m, view, &p, err);
    if (st) return st;
    plan_predict(spec, &p, work, bytes);
    cp_balanced_plan_free(&p);
    return LC_OK;
}

static enum lc_status balanced_schedule(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                        struct cp_schedule *out, char *err)
{
    struct cp_balanced_plan p;
    enum lc_status st = plan_for(spec, m, view, &p, err);
    if (st) return st;
    st = plan_schedule(spec, &p, view, out, err);
    cp_balanced_plan_free(&p);
    return st;
}

/* Choosing the plan costs more than both answers at a thousand ranks: once for the two. */
static enum lc_status balanced_model(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                     double *work, double *bytes, struct cp_schedule *out, char *err)
{
    struct cp_balanced_plan p;
    enum lc_status st = plan_for(spec, m, view, &p, err);
    if (st) return st;
    plan_predict(spec, &p, work, bytes);
    st = plan_schedule(spec, &p, view, out, err);
    cp_balanced_plan_free(&p);
    return st;
}

const struct cp_method_ops cp_method_balanced = {
    .name = "balanced",
    .summary = "mask-aware: chunks dealt for even exact work, each rank receives only the KV its queries see, "
               "dK/dV sent home",
    .validate = balanced_validate,
    .execute = balanced_execute,
    .predict = balanced_predict,
    .schedule = balanced_schedule,
    .model = balanced_model,
};
