/* The driver every CP method runs under (cp/run.h). */
#include "cp/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/event.h"
#include "core/model/timeline.h"

/* ------------------------------------------------------------ resources */

enum lc_status cp_run_alloc(struct cp_run *run, size_t bytes, void **out, char *err)
{
    *out = NULL;
    if (run->n_allocs == CP_MAX_ALLOCS) return lc_fail(err, LC_ERR_INTERNAL, "CP run: more than %d buffers", CP_MAX_ALLOCS);
    enum lc_status st = run->dev->alloc(bytes ? bytes : 16, out, err);
    if (st == LC_OK) run->allocs[run->n_allocs++] = *out;
    return st;
}

enum lc_status cp_run_split(struct cp_run *run, int color, int key, const char *name, struct cp_comm **out, char *err)
{
    *out = NULL;
    if (run->n_comms == CP_MAX_COMMS) return lc_fail(err, LC_ERR_INTERNAL, "CP run: more than %d communicators", CP_MAX_COMMS);
    struct cp_comm *all = run->group->all;
    enum lc_status st = all->ops->split(all, color, key, name, out, err);
    if (st != LC_OK) return st;
    run->comms[run->n_comms++] = *out;
    (*out)->stream = run->n_comms; /* stream 0 is the computation */
    return LC_OK;
}

enum lc_status cp_run_plan_kernel(struct cp_run *run, int heads_q, int heads_kv, const struct mask_view *view,
                                  void **plan, char *err)
{
    const struct run_spec *s = run->spec;
    struct attn_problem p = {.batch = s->batch, .heads_q = heads_q, .heads_kv = heads_kv, .head_dim = s->head_dim,
                             .seqlen_q = view->seqlen_q, .seqlen_k = view->seqlen_k, .dtype = s->dtype,
                             .softmax_scale = run->softmax_scale, .mask = view, .deterministic = s->deterministic};
    enum lc_status st;
    if (run->kernel->supports && (st = run->kernel->supports(&p, run->plan_dir, err))) return st;
    size_t ws = 0;
    if ((st = run->kernel->plan_create(&p, run->plan_dir, plan, &ws, err))) return st;
    if (ws > run->workspace_bytes) run->workspace_bytes = ws;
    return LC_OK;
}

void cp_run_stamp(struct cp_run *run, const char *name, int64_t t0, int step)
{
    if (!run->stamp) return;
    struct timeline *tl = run->env->timeline;
    tl->cp_step = step;
    timeline_add(tl, IV_COMPUTE, name, t0, lc_now_ns(), 0);
    tl->cp_step = -1;
}

enum lc_status cp_run_attention(struct cp_run *run, void *plan, bool backward, const struct attn_tensors *t, int step,
                                char *err)
{
    int iter = run->env->timeline->iter;
    runner_recorder_mark(run->env, run->run_id, iter, step); /* CUPTI tags and NVTX range of this step */
    int64_t t0 = lc_now_ns();
    enum lc_status st = backward ? run->kernel->backward(plan, t, run->workspace, err)
                                 : run->kernel->forward(plan, t, run->workspace, err);
    cp_run_stamp(run, backward ? "attn_bwd" : "attn_fwd", t0, step);
    runner_recorder_mark(run->env, run->run_id, iter, -1);
    return st;
}

/* ------------------------------------------------------------ events */

static void emit_progress(const struct cp_run *run, int run_id, enum run_phase phase, int iter, int total)
{
    struct event ev;
    event_init(&ev, EV_PROGRESS, run_id, run->env->rank);
    ev.u.progress = (struct ev_progress){phase, iter, total};
    runner_emit(run->env, &ev);
}

/* Timed reps send their intervals; warm-up ones are dropped. The device recorder delivers its
 * completed records first, so setup and warm-up work never lands in a timed rep. */
static void flush_intervals(const struct cp_run *run, int run_id, bool send)
{
    runner_recorder_flush(run->env);
    runner_emit_counters(run->env, run->spec, run_id);
    struct event ev;
    event_init(&ev, EV_INTERVALS, run_id, run->env->rank);
    ev.n_intervals = timeline_take(run->env->timeline, &ev.intervals);
    if (send && ev.n_intervals) runner_emit(run->env, &ev);
    event_free(&ev);
}

/* ------------------------------------------------------------ setup */

static enum lc_status setup_problem(struct cp_run *run, char *err)
{
    const struct run_spec *s = run->spec;
    enum lc_status st;
    if (run->size != s->gpus)
        return lc_fail(err, LC_ERR_INVALID, "the CP group has %d ranks but the run asks for %d GPUs", run->size, s->gpus);
    if (mask_pattern_is_block_sparse(s->mask))
        return lc_fail(err, LC_ERR_UNSUPPORTED, "CP method %s supports the 12 static masks, not %s", s->cp_method,
                       mask_pattern_name(s->mask));
    run->kernel = kernel_find(s->kernel);
    if (!run->kernel) return lc_fail(err, LC_ERR_INVALID, "unknown kernel '%s'", s->kernel);
    if ((st = kernel_check_spec(run->kernel, s, err))) return st;
    if (run->kernel->device != run->dev->kind)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "kernel %s needs a %s device; rank %d runs on %s", s->kernel,
                       run->kernel->device == DEVICE_CUDA ? "CUDA" : "CPU", run->env->rank, run->dev->name);
    if ((st = cp_array_ops_for(run->dev, &run->arr, err))) return st;
    if ((st = mask_build(s->mask, &s->mask_params, s->seqlen, s->heads_kv, &run->mask, err))) return st;
    if ((st = mask_view_build(&run->mask, &run->view, err))) return st;
    run->softmax_scale = 1.0f / sqrtf((float)s->head_dim);
    run->esize = dtype_size(s->dtype);
    run->plan_dir = (enum run_direction)(s->direction | DIR_FWD);
    run->stamp = run->dev->kind == DEVICE_CPU && !run->env->recorder;
    return LC_OK;
}

/* Global inputs as the single-device runner makes them (seed, streams 1..4), rounded to dtype. */
struct global_input {
    float *f32;   /* rounded values: what the reference reads */
    void *packed; /* dtype bytes */
};

static enum lc_status make_global(struct global_input *g, size_t n, const struct run_spec *s, uint64_t stream, char *err)
{
    g->f32 = malloc(n * sizeof(float));
    g->packed = malloc(n * dtype_size(s->dtype));
    if (!g->f32 || !g->packed) return lc_fail(err, LC_ERR_OOM, "no host memory for %zu inputs", n);
    runner_fill_inputs(g->f32, n, s->mask_params.seed ? s->mask_params.seed : 42, stream);
    dtype_from_f32(s->dtype, g->packed, g->f32, n);
    dtype_to_f32(s->dtype, g->f32, g->packed, n);
    return LC_OK;
}

static void free_global(struct global_input *g)
{
    free(g->f32);
    free(g->packed);
    g->f32 = NULL;
    g->packed = NULL;
}

struct run_inputs {
    struct global_input q, k, v, d_o;
};

/* This rank's rows of the global inputs onto the device; outputs poisoned with NaN. */
static enum lc_status place_inputs(struct cp_run *run, struct run_inputs *in, char *err)
{
    const struct run_spec *s = run->spec;
    const bool bwd = s->direction & DIR_BWD;
    const int64_t S = s->seqlen, N = run->layout.rows;
    const size_t qrow = cp_row_elems(run, s->heads_q) * run->esize, kvrow = cp_row_elems(run, s->heads_kv) * run->esize;
    const size_t nq = (size_t)s->batch * (size_t)S * cp_row_elems(run, s->heads_q);
    const size_t nk = (size_t)s->batch * (size_t)S * cp_row_elems(run, s->heads_kv);
    const size_t q_bytes = (size_t)s->batch * (size_t)N * qrow, kv_bytes = 2 * (size_t)s->batch * (size_t)N * kvrow;
    const size_t lse_bytes = (size_t)s->batch * (size_t)s->heads_q * (size_t)N * sizeof(float);
    enum lc_status st;
    if ((st = make_global(&in->q, nq, s, 1, err)) || (st = make_global(&in->k, nk, s, 2, err)) ||
        (st = make_global(&in->v, nk, s, 3, err)) || (bwd && (st = make_global(&in->d_o, nq, s, 4, err))))
        return st;
    struct cp_shard *sh = &run->shard;
    if ((st = cp_run_alloc(run, q_bytes, &sh->q, err)) || (st = cp_run_alloc(run, kv_bytes, &sh->kv, err)) ||
        (st = cp_run_alloc(run, q_bytes, &sh->o, err)) || (st = cp_run_alloc(run, lse_bytes, (void **)&sh->lse, err)))
        return st;
    if (bwd && ((st = cp_run_alloc(run, q_bytes, &sh->d_o, err)) || (st = cp_run_alloc(run, q_bytes, &sh->dq, err)) ||
                (st = cp_run_alloc(run, kv_bytes, &sh->dkv, err))))
        return st;
    char *host = malloc(kv_bytes > q_bytes ? kv_bytes : q_bytes);
    if (!host) return lc_fail(err, LC_ERR_OOM, "no host memory to place inputs");
    cp_layout_gather(&run->layout, host, in->q.packed, s->batch, S, qrow);
    st = run->dev->upload(sh->q, host, q_bytes, err);
    if (!st) {
        cp_layout_gather(&run->layout, host, in->k.packed, s->batch, S, kvrow);
        cp_layout_gather(&run->layout, host + kv_bytes / 2, in->v.packed, s->batch, S, kvrow);
        st = run->dev->upload(sh->kv, host, kv_bytes, err);
    }
    if (!st && bwd) {
        cp_layout_gather(&run->layout, host, in->d_o.packed, s->batch, S, qrow);
        st = run->dev->upload(sh->d_o, host, q_bytes, err);
    }
    free(host);
    if (!st) st = run->dev->fill_nan(sh->o, q_bytes, err);
    if (!st) st = run->dev->fill_nan(sh->lse, lse_bytes, err);
    if (!st && bwd) st = run->dev->fill_nan(sh->dq, q_bytes, err);
    if (!st && bwd) st = run->dev->fill_nan(sh->dkv, kv_bytes, err);
    return st ? st : run->dev->sync(err);
}

/* ------------------------------------------------------------ timed reps */

struct comm_totals {
    double alg_bytes, bus_bytes, busy_s;
};

static int by_start(const void *a, const void *b)
{
    const struct cp_comm_record *x = a, *y = b;
    return (x->start_ns > y->start_ns) - (x->start_ns < y->start_ns);
}

/* Drains every communicator's records of one rep: timeline bars, and bytes over the time some
 * communication was in flight (the union of the operations' spans). */
static void collect_comm(struct cp_run *run, bool timed, struct comm_totals *tot)
{
    struct cp_comm_record *all = NULL;
    int n_all = 0;
    for (int c = 0; c < run->n_comms; c++) {
        struct cp_comm_record *recs = NULL;
        int n = run->comms[c]->ops->take_records(run->comms[c], &recs);
        if (n > 0 && !run->env->recorder) {
            struct timeline *tl = run->env->timeline;
            for (int i = 0; i < n; i++) {
                struct interval iv;
                memset(&iv, 0, sizeof iv);
                iv.start_ns = iv.launch_ns = iv.launch_end_ns = recs[i].start_ns; /* the host runs it */
                iv.end_ns = recs[i].end_ns;
                iv.kind = IV_COMM;
                iv.stream = (int16_t)run->comms[c]->stream;
                iv.cp_step = recs[i].step;
                iv.iter = tl->iter;
                iv.bytes = (uint64_t)recs[i].bus_bytes;
                snprintf(iv.name, sizeof iv.name, "%s %s", cp_op_kind_name(recs[i].kind), recs[i].label);
                timeline_add_interval(tl, &iv);
            }
        }
        if (timed && n > 0) {
            struct cp_comm_record *grown = realloc(all, (size_t)(n_all + n) * sizeof *grown);
            if (grown) {
                all = grown;
                memcpy(all + n_all, recs, (size_t)n * sizeof *recs);
                n_all += n;
            }
        }
        free(recs);
    }
    if (!timed) return;
    if (n_all) qsort(all, (size_t)n_all, sizeof *all, by_start);
    int64_t busy = 0, open_from = 0, open_to = -1;
    for (int i = 0; i < n_all; i++) {
        tot->alg_bytes += all[i].alg_bytes;
        tot->bus_bytes += all[i].bus_bytes;
        if (all[i].start_ns > open_to) {
            if (open_to >= open_from) busy += open_to - open_from;
            open_from = all[i].start_ns;
            open_to = all[i].end_ns;
        } else if (all[i].end_ns > open_to) {
            open_to = all[i].end_ns;
        }
    }
    if (n_all && open_to >= open_from) busy += open_to - open_from;
    tot->busy_s += (double)busy * 1e-9;
    free(all);
}

static enum lc_status one_rep(struct cp_run *run, const struct cp_algo *algo, enum run_direction dir, char *err)
{
    enum lc_status st = LC_OK;
    if (dir & DIR_FWD) st = algo->forward(run, err);
    if (!st && (dir & DIR_BWD)) st = algo->backward(run, err);
    return st;
}

/* Range-profiler counters over CP profiling iterations apart from the timed ones: one user range
 * per rank around a whole rep, replayed in lock-step (NCCL's kernels cannot be replayed one by
 * one, and every rank must launch the same collectives as often). A refusal or failure on any
 * rank ends it on all; the run still counts and its result says why. */
static void profile_counters(struct cp_run *run, const struct cp_algo *algo, int run_id, struct run_result *res,
                             struct comm_totals *comm)
{
    const struct timeline_recorder *rec = run->env->recorder;
    if (run->spec->counters != COUNTERS_RANGE || !rec || !rec->counters_begin) return;
    emit_progress(run, run_id, PHASE_PROFILE, 0, 1);
    char why[LC_ERRMSG_LEN] = "";
    bool done = false;
    for (int pass = 0; pass < 64 && !done; pass++) {
        int refused = rec->counters_begin("cp_rep", why) != LC_OK, any = 0;
        if (cp_group_agree(run->group, refused, &any, NULL, why) || any) {
            bool ignored;
            if (!refused) rec->counters_end(&ignored, NULL);
            if (!refused) snprintf(why, sizeof why, "counters refused on another rank");
            break;
        }
        enum lc_status st = one_rep(run, algo, run->spec->direction, why);
        if (!st) st = run->dev->sync(why);
        bool replay = false;
        enum lc_status end = rec->counters_end(&replay, st ? NULL : why);
        int again = 0;
        if (cp_group_agree(run->group, st || end, &any, NULL, why) || any) {
            if (!st && !end) snprintf(why, sizeof why, "counters failed on another rank");
            break;
        }
        if (cp_group_agree(run->group, replay, &again, NULL, why)) break;
        done = !again;
    }
    collect_comm(run, false, comm); /* replayed traffic is not the run's volume */
    flush_intervals(run, run_id, false); /* nor its timeline; the counter samples go out */
    if (!done) snprintf(res->message, sizeof res->message, "counters unavailable: %.200s", why);
}

static enum lc_status timed_reps(struct cp_run *run, const struct cp_algo *algo, int run_id, struct run_result *res,
                                 struct comm_totals *comm, char *err)
{
    const struct run_spec *s = run->spec;
    const struct device_ops *d = run->dev;
    struct timeline *tl = run->env->timeline;
    enum lc_status st = LC_OK;
    /* A backward needs O and LSE: one untimed forward first. */
    if (s->direction == DIR_BWD && (st = algo->forward(run, err))) return st;
    if ((st = d->sync(err))) return st;
    collect_comm(run, false, comm);
    flush_intervals(run, run_id, false);

    struct device_event *from = d->event_create(), *to = d->event_create();
    double *ms = calloc((size_t)s->iters, sizeof *ms);
    if (!from || !to || !ms) st = lc_fail(err, LC_ERR_OOM, "no host memory for timers");
    const int total = s->warmup + s->iters;
    for (int i = 0; i < total && !st; i++) {
        const bool timed = i >= s->warmup;
        tl->iter = timed ? i - s->warmup : -1;
        if (timed) d->flush_cache();
        /* Every rank starts the rep together, and a cancel seen by any rank stops them all here. */
        int cancel = 0;
        if ((st = cp_group_agree(run->group, run->env->cancel && *run->env->cancel, &cancel, NULL, err))) break;
        if (cancel) {
            st = lc_fail(err, LC_ERR_CANCELLED, "cancelled at iteration %d of %d", i, total);
            break;
        }
        runner_recorder_mark(run->env, run_id, tl->iter, -1);
        d->event_record(from);
        st = one_rep(run, algo, s->direction, err);
        d->event_record(to);
        if (!st) st = d->sync(err);
        if (st) break;
        collect_comm(run, timed, comm);
        if (timed) ms[i - s->warmup] = d->event_elapsed_ms(from, to);
        flush_intervals(run, run_id, timed);
        emit_progress(run, run_id, timed ? PHASE_TIMED : PHASE_WARMUP, timed ? i - s->warmup + 1 : i + 1,
                      timed ? s->iters : s->warmup);
    }
    runner_recorder_mark(run->env, -1, -1, -1);
    if (!st) stats_percentiles(ms, s->iters, &res->ms_median, &res->ms_p20, &res->ms_p80);
    free(ms);
    if (from) d->event_destroy(from);
    if (to) d->event_destroy(to);
    return st;
}

/* ------------------------------------------------------------ the check */

/* What a rank sends rank 0: its layout, then its outputs in layout order. */
struct check_header {
    int64_t n_segments, rows;
};

static enum lc_status pack_outputs(struct cp_run *run, char **out, size_t *bytes, char *err)
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

static void assemble(struct cp_run *run, const char *all, const size_t *offsets, struct assembled *a)
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
static enum lc_status reference_check(struct cp_run *run, struct run_inputs *in, const char *all, const size_t *offsets,
                                      struct run_result *res, char *err)
{
    const struct run_spec *s = run->spec;
    const bool bwd = s->direction & DIR_BWD;
    const struct kernel_ops *ref = kernel_find(KERNEL_REFERENCE_NAME);
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
    struct attn_problem p = {.batch = s->batch, .heads_q = s->heads_q, .heads_kv = s->heads_kv, .head_dim = s->head_dim,
                             .seqlen_q = s->seqlen, .seqlen_k = s->seqlen, .dtype = LC_FP32,
                             .softmax_scale = run->softmax_scale, .mask = &run->view, .deterministic = true};
    if (!st) st = ref->plan_create(&p, s->direction, &plan, &ws_bytes, err);
    if (!st && ws_bytes && !(ws = malloc(ws_bytes))) st = lc_fail(err, LC_ERR_OOM, "no host memory for the reference");
    struct attn_tensors t = {.q = in->q.f32, .k = in->k.f32, .v = in->v.f32, .o = want.o, .lse = want.lse,
                             .d_o = in->d_o.f32, .dq = want.dq, .dk = want.dk, .dv = want.dv};
    if (!st) st = ref->forward(plan, &t, ws, err);
    if (!st && bwd) st = ref->backward(plan, &t, ws, err);
    if (!st) {
        assemble(run, all, offsets, &got);
        bool pass = runner_compare(got.o, want.o, nq, s->dtype, res);
        pass &= runner_compare(got.lse, want.lse, nl, LC_FP32, res);
        if (bwd) {
            pass &= runner_compare(got.dq, want.dq, nq, s->dtype, res);
            pass &= runner_compare(got.dk, want.dk, nk, s->dtype, res);
            pass &= runner_compare(got.dv, want.dv, nk, s->dtype, res);
        }
        res->check_ran = true;
        res->check_pass = pass;
    }
    if (plan) ref->plan_destroy(plan);
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

static enum lc_status run_check(struct cp_run *run, struct run_inputs *in, int run_id, struct run_result *res, char *err)
{
    emit_progress(run, run_id, PHASE_CHECK, 0, 1);
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

/* ------------------------------------------------------------ results */

static enum lc_status fill_result(struct cp_run *run, const struct comm_totals *comm, struct run_result *res, char *err)
{
    const struct run_spec *s = run->spec;
    double maxes[3] = {res->ms_median, run->work, (double)run->dev->peak_memory()}, sums[2] = {res->ms_median, run->work};
    enum lc_status st;
    if ((st = cp_group_allreduce(run->group, maxes, 3, MPI_MAX, err)) ||
        (st = cp_group_allreduce(run->group, sums, 2, MPI_SUM, err)))
        return st;
    const double P = run->size, slowest_s = maxes[0] * 1e-3, mean_s = sums[0] / P * 1e-3;
    res->area = mask_area_for_heads(&run->mask, s->heads_q, s->heads_kv) / s->heads_q;
    res->density = mask_density(&run->mask);
    res->flops = run_flops(s, &run->mask);
    res->ms_mean_ranks = sums[0] / P;
    res->tflops = slowest_s > 0 ? res->flops / (P * slowest_s) / 1e12 : 0;
    res->tflops_mean = mean_s > 0 ? res->flops / (P * mean_s) / 1e12 : 0;
    res->work_imbalance = sums[1] > 0 ? maxes[1] / (sums[1] / P) : 0;
    res->work = run->work;
    res->peak_mem_bytes = (int64_t)maxes[2];
    res->comm_bytes = comm->bus_bytes / s->iters;
    res->algbw_gbs = comm->busy_s > 0 ? comm->alg_bytes / comm->busy_s / 1e9 : 0;
    res->busbw_gbs = comm->busy_s > 0 ? comm->bus_bytes / comm->busy_s / 1e9 : 0;
    res->ranks = 1;
    return LC_OK;
}

/* ------------------------------------------------------------ the whole run */

/* Setup on every rank, then one answer: a rank's failure stops all (its reason, or naming it). */
static enum lc_status agree_setup(struct cp_run *run, enum lc_status mine, char *err)
{
    int worst = 0, who = 0;
    char why[LC_ERRMSG_LEN];
    enum lc_status st = cp_group_agree(run->group, (int)mine, &worst, &who, why);
    if (st) return lc_fail(err, st, "%s", why);
    if (mine) return mine; /* err already says why */
    if (worst) return lc_fail(err, (enum lc_status)worst, "CP rank %d failed during setup", who);
    return LC_OK;
}

static void release(struct cp_run *run, const struct cp_algo *algo, struct run_inputs *in)
{
    if (algo->release) algo->release(run);
    for (int i = 0; i < run->n_comms; i++) run->comms[i]->ops->destroy(run->comms[i]);
    for (int i = 0; i < run->n_allocs; i++) run->dev->free(run->allocs[i]);
    if (run->workspace) run->dev->free(run->workspace);
    free_global(&in->q), free_global(&in->k), free_global(&in->v), free_global(&in->d_o);
    cp_layout_free(&run->layout);
    mask_view_free(&run->view);
    mask_free(&run->mask);
    run->env->timeline->cp_step = -1;
}

enum lc_status cp_execute(const struct runner_env *env, const struct run_spec *spec, int run_id, struct run_result *out,
                          const struct cp_algo *algo, const struct cp_degrees *degrees)
{
    memset(out, 0, sizeof *out);
    struct cp_run run;
    memset(&run, 0, sizeof run);
    run.env = env;
    run.run_id = run_id;
    run.spec = spec;
    run.group = env->cp;
    run.dev = env->device;
    run.rank = run.group->rank;
    run.size = run.group->size;
    run.degrees = *degrees;
    struct run_inputs in;
    memset(&in, 0, sizeof in);
    char err[LC_ERRMSG_LEN] = "";
    struct comm_totals comm = {0, 0, 0};

    emit_progress(&run, run_id, PHASE_SETUP, 0, 1);
    run.dev->reset_peak();
    enum lc_status st = setup_problem(&run, err);
    if (!st) st = algo->plan(&run, err);
    if (!st && run.workspace_bytes) st = run.dev->alloc(run.workspace_bytes, &run.workspace, err);
    if (!st) st = place_inputs(&run, &in, err);
    st = agree_setup(&run, st, err);
    if (!st && run.rank != 0) free_global(&in.q), free_global(&in.k), free_global(&in.v), free_global(&in.d_o);
    if (!st) st = timed_reps(&run, algo, run_id, out, &comm, err);
    if (!st) profile_counters(&run, algo, run_id, out, &comm);
    if (!st) st = fill_result(&run, &comm, out, err);
    if (!st && spec->check) st = run_check(&run, &in, run_id, out, err);
    release(&run, algo, &in);
    return runner_report(env, run_id, st, err, out);
}
