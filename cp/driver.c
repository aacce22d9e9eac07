/* The one driver every run goes through, a single-device run being the `local` method over a
 * one-rank group (cp/driver.h). */
#include "cp/driver.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/cp_method.h"
#include "core/engine/host_memory.h"
#include "core/model/event.h"
#include "core/model/stats.h"
#include "core/model/timeline.h"
#include "core/mask/mask_view.h"
#include "cp/rep_estimate.h"

/* ------------------------------------------------------------ resources */

enum lc_status cp_exec_alloc(struct cp_exec *run, size_t bytes, void **out, char *err)
{
    *out = NULL;
    if (run->n_allocs == CP_MAX_ALLOCS) return lc_fail(err, LC_ERR_INTERNAL, "CP run: more than %d buffers", CP_MAX_ALLOCS);
    enum lc_status st = run->dev->alloc(bytes ? bytes : 16, out, err);
    if (st == LC_OK) run->allocs[run->n_allocs++] = *out;
    return st;
}

enum lc_status cp_exec_split(struct cp_exec *run, int color, int key, const char *name, struct cp_comm **out, char *err)
{
    *out = NULL;
    if (run->n_comms == CP_MAX_COMMS) return lc_fail(err, LC_ERR_INTERNAL, "CP run: more than %d communicators", CP_MAX_COMMS);
    struct cp_comm *all = run->group->all;
    if (!all) return lc_fail(err, LC_ERR_INVALID, "%s: a group of one rank has no communicator to split", run->spec->cp_method);
    enum lc_status st = all->ops->split(all, color, key, name, out, err);
    if (st != LC_OK) return st;
    run->comms[run->n_comms++] = *out;
    (*out)->stream = run->n_comms; /* stream 0 is the computation */
    return LC_OK;
}

enum lc_status cp_exec_plan_kernel(struct cp_exec *run, int heads_q, int heads_kv, const struct longca_mask *view,
                                  void **plan, char *err)
{
    const struct run_spec *s = run->spec;
    struct longca_problem p = {.batch = s->batch, .heads_q = heads_q, .heads_kv = heads_kv, .head_dim = s->head_dim,
                             .seqlen_q = view->seqlen_q, .seqlen_k = view->seqlen_k, .dtype = s->dtype,
                             .softmax_scale = run->softmax_scale, .mask = view, .deterministic = s->deterministic};
    enum lc_status st;
    if ((st = kernel_supports(run->kernel, &p, run->plan_dir, err))) return st;
    size_t ws = 0;
    if ((st = kernel_plan(run->kernel, &p, run->plan_dir, plan, &ws, err))) return st;
    if (ws > run->workspace_bytes) run->workspace_bytes = ws;
    return LC_OK;
}

void cp_exec_stamp(struct cp_exec *run, const char *name, int64_t t0, int step)
{
    if (!run->stamp) return;
    struct timeline *tl = run->env->timeline;
    tl->cp_step = step;
    timeline_add(tl, IV_COMPUTE, name, t0, lc_now_ns(), 0);
    tl->cp_step = -1;
}

static enum lc_status cancelled_in(char *err, bool backward, int step)
{
    if (step < 0) return lc_fail(err, LC_ERR_CANCELLED, "cancelled in the %s", backward ? "backward" : "forward");
    return lc_fail(err, LC_ERR_CANCELLED, "cancelled in the %s, at CP step %d", backward ? "backward" : "forward", step);
}

enum lc_status cp_exec_attention(struct cp_exec *run, void *plan, bool backward, const struct longca_tensors *t, int step,
                                char *err)
{
    /* A cancel stops the computation between kernel calls (and CPU kernels between tiles). A
     * rank of a CP run keeps its part of the exchange, with the kernels left out, so that no
     * peer waits on it; the agreement after the rep ends the run on every rank. */
    if (engine_cancel_requested()) return run->size > 1 ? LC_OK : cancelled_in(err, backward, step);
    int iter = run->env->timeline->iter;
    engine_recorder_mark(run->env, run->run_id, iter, step); /* CUPTI tags and NVTX range of this step */
    int64_t t0 = lc_now_ns();
    enum lc_status st = backward ? kernel_backward(run->kernel, plan, t, run->workspace, run->dev->stream(), err)
                                 : kernel_forward(run->kernel, plan, t, run->workspace, run->dev->stream(), err);
    cp_exec_stamp(run, backward ? "attn_bwd" : "attn_fwd", t0, step);
    engine_recorder_mark(run->env, run->run_id, iter, -1);
    if (!st && run->size == 1 && engine_cancel_requested()) st = cancelled_in(err, backward, step);
    return st;
}

/* ------------------------------------------------------------ events */

static void emit_progress(const struct cp_exec *run, int run_id, enum run_phase phase, int iter, int total)
{
    struct event ev;
    event_init(&ev, EV_PROGRESS, run_id, run->env->rank);
    ev.u.progress = (struct ev_progress){phase, iter, total};
    engine_emit(run->env, &ev);
}

/* Timed reps send their intervals; warm-up ones are dropped. The device recorder delivers its
 * completed records first, so setup and warm-up work never lands in a timed rep. */
static void flush_intervals(const struct cp_exec *run, int run_id, bool send)
{
    engine_recorder_flush(run->env);
    engine_emit_counters(run->env, run->spec, run_id);
    struct event ev;
    event_init(&ev, EV_INTERVALS, run_id, run->env->rank);
    ev.n_intervals = timeline_take(run->env->timeline, &ev.intervals);
    if (send && ev.n_intervals) engine_emit(run->env, &ev);
    event_free(&ev);
}

/* ------------------------------------------------------------ setup */

static enum lc_status setup_problem(struct cp_exec *run, char *err)
{
    const struct run_spec *s = run->spec;
    enum lc_status st;
    if (run->size > 1 && run->size != s->cp_degree)
        return lc_fail(err, LC_ERR_INVALID, "the CP group has %d ranks but the run's CP degree is %d", run->size,
                       s->cp_degree);
    run->kernel = kernel_find(s->kernel);
    if (!run->kernel) return lc_fail(err, LC_ERR_INVALID, "unknown kernel '%s'", s->kernel);
    if ((st = run_spec_check_kernel(s, run->kernel, err))) return st;
    if (run->kernel->device != (int)run->dev->kind)
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

/* Refuses, before any planning, a run whose own buffers cannot fit: every rank holds the global
 * inputs on the host (fp32 and packed, cp_inputs_make) and its shard's inputs, outputs and
 * staging on the device. Kernels' plans and workspaces come on top; they meet the same limits
 * when they allocate. */
static enum lc_status check_memory(const struct cp_exec *run, char *err)
{
    const struct run_spec *s = run->spec;
    const bool bwd = s->direction & DIR_BWD;
    const double e = (double)run->esize, b = (double)s->batch, S = (double)s->seqlen, rows = S / run->size;
    const double q = (double)s->heads_q * s->head_dim, kv = (double)s->heads_kv * s->head_dim;
    const double global = b * S * (q * (bwd ? 2 : 1) + 2 * kv) * (sizeof(float) + e);
    const double shard = b * rows * (e * (q * (bwd ? 4 : 2) + 2 * kv * (bwd ? 2 : 1)) + sizeof(float) * s->heads_q);
    const double staging = b * rows * e * (q > 2 * kv ? q : 2 * kv);
    const double host = global + staging + (run->dev->kind == DEVICE_CPU ? shard : 0);
    const double host_limit = (double)host_memory_share(), dev_limit = (double)run->dev->memory_total();
    const double gib = 1u << 30;
    if (host_limit > 0 && host > host_limit)
        return lc_fail(err, LC_ERR_OOM, "needs %.1f GiB of host memory for its inputs and outputs, more than the %.1f GiB "
                       "this process may use%s", host / gib, host_limit / gib,
                       host_memory_sharers() > 1 ? " (its share among the CPU workers of this host)" : "");
    if (run->dev->kind != DEVICE_CPU && dev_limit > 0 && shard > dev_limit)
        return lc_fail(err, LC_ERR_OOM, "needs %.1f GiB of device memory for its inputs and outputs, more than the "
                       "device's %.1f GiB", shard / gib, dev_limit / gib);
    return LC_OK;
}

/* This rank's rows of the global inputs onto the device; outputs poisoned with NaN. */
static enum lc_status place_inputs(struct cp_exec *run, struct cp_inputs *in, char *err)
{
    const struct run_spec *s = run->spec;
    const bool bwd = s->direction & DIR_BWD;
    const int64_t S = s->seqlen, N = run->layout.rows;
    const size_t qrow = cp_row_elems(run, s->heads_q) * run->esize, kvrow = cp_row_elems(run, s->heads_kv) * run->esize;
    const size_t q_bytes = (size_t)s->batch * (size_t)N * qrow, kv_bytes = 2 * (size_t)s->batch * (size_t)N * kvrow;
    const size_t lse_bytes = (size_t)s->batch * (size_t)s->heads_q * (size_t)N * sizeof(float);
    enum lc_status st;
    if ((st = cp_inputs_make(in, s, err))) return st;
    struct cp_shard *sh = &run->shard;
    if ((st = cp_exec_alloc(run, q_bytes, &sh->q, err)) || (st = cp_exec_alloc(run, kv_bytes, &sh->kv, err)) ||
        (st = cp_exec_alloc(run, q_bytes, &sh->o, err)) || (st = cp_exec_alloc(run, lse_bytes, (void **)&sh->lse, err)))
        return st;
    if (bwd && ((st = cp_exec_alloc(run, q_bytes, &sh->d_o, err)) || (st = cp_exec_alloc(run, q_bytes, &sh->dq, err)) ||
                (st = cp_exec_alloc(run, kv_bytes, &sh->dkv, err))))
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
static void collect_comm(struct cp_exec *run, bool timed, struct comm_totals *tot)
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

static enum lc_status one_rep(struct cp_exec *run, const struct cp_algo *algo, enum run_direction dir, char *err)
{
    enum lc_status st = LC_OK;
    if (dir & DIR_FWD) st = algo->forward(run, err);
    if (!st && (dir & DIR_BWD)) st = algo->backward(run, err);
    return st;
}

/* Range-profiler counters over profiling iterations apart from the timed ones. On one rank a
 * range per kernel, as ncu; on several, one user range per rank around a whole rep, replayed in
 * lock-step (NCCL's kernels cannot be replayed one by one, and every rank must launch the same
 * collectives as often). A refusal or failure on any
 * rank ends it on all; the run still counts and its result says why. */
static void profile_counters(struct cp_exec *run, const struct cp_algo *algo, int run_id, struct run_result *res,
                             struct comm_totals *comm)
{
    const struct timeline_recorder *rec = run->env->recorder;
    if (run->spec->counters != COUNTERS_RANGE || !rec || !rec->counters_begin) return;
    emit_progress(run, run_id, PHASE_PROFILE, 0, 1);
    char why[LC_ERRMSG_LEN] = "";
    bool done = false;
    for (int pass = 0; pass < 64 && !done; pass++) {
        int refused = rec->counters_begin(run->size > 1 ? "cp_rep" : NULL, why) != LC_OK, any = 0;
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

static enum lc_status timed_reps(struct cp_exec *run, const struct cp_algo *algo, int run_id, struct run_result *res,
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
    /* The reps begin: a first rep of minutes is no longer shown as setup. */
    emit_progress(run, run_id, s->warmup ? PHASE_WARMUP : PHASE_TIMED, 0, s->warmup ? s->warmup : s->iters);
    for (int i = 0; i <= total && !st; i++) {
        const bool timed = i >= s->warmup;
        tl->iter = timed ? i - s->warmup : -1;
        if (timed && i < total) d->flush_cache();
        /* Every rank starts the rep together, and a cancel seen by any rank stops them all here;
         * once more after the last rep, whose kernels a cancel may have left out. */
        int cancel = 0;
        if ((st = cp_group_agree(run->group, engine_cancel_requested(), &cancel, NULL, err))) break;
        if (cancel) {
            st = i < total ? lc_fail(err, LC_ERR_CANCELLED, "cancelled at iteration %d of %d", i, total)
                           : lc_fail(err, LC_ERR_CANCELLED, "cancelled in the last iteration");
            break;
        }
        if (i == total) break;
        engine_recorder_mark(run->env, run_id, tl->iter, -1);
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
    engine_recorder_mark(run->env, -1, -1, -1);
    if (!st) stats_percentiles(ms, s->iters, &res->ms_median, &res->ms_p20, &res->ms_p80);
    free(ms);
    if (from) d->event_destroy(from);
    if (to) d->event_destroy(to);
    return st;
}

/* ------------------------------------------------------------ results */

/* This rank's measurements only: rank 0 of the session merges the ranks into the run's result
 * (run_result_merge), so no figure is computed twice. */
static void fill_result(const struct cp_exec *run, const struct comm_totals *comm, struct run_result *res)
{
    const struct run_spec *s = run->spec;
    res->area = mask_area_for_heads(&run->mask, s->heads_q, s->heads_kv) / s->heads_q;
    res->density = mask_density(&run->mask);
    res->flops = run_flops(s, &run->mask);
    res->work = run->work;
    res->peak_mem_bytes = (int64_t)run->dev->peak_memory();
    res->comm_bytes = comm->bus_bytes / s->iters;
    res->algbw_gbs = comm->busy_s > 0 ? comm->alg_bytes / comm->busy_s / 1e9 : 0;
    res->busbw_gbs = comm->busy_s > 0 ? comm->bus_bytes / comm->busy_s / 1e9 : 0;
    res->cores = run->env->cores;
    res->ranks = 1;
}

/* ------------------------------------------------------------ the whole run */

/* Planning and the inputs of a long run take seconds each: a cancel is seen between them. */
static enum lc_status setup_cancelled(char *err)
{
    return engine_cancel_requested() ? lc_fail(err, LC_ERR_CANCELLED, "cancelled during setup") : LC_OK;
}

/* Setup on every rank, then one answer: a rank's failure stops all (its reason, or naming it). */
static enum lc_status agree_setup(struct cp_exec *run, enum lc_status mine, char *err)
{
    int worst = 0, who = 0;
    char why[LC_ERRMSG_LEN];
    enum lc_status st = cp_group_agree(run->group, (int)mine, &worst, &who, why);
    if (st) return lc_fail(err, st, "%s", why);
    if (mine) return mine; /* err already says why */
    if (worst) return lc_fail(err, (enum lc_status)worst, "CP rank %d failed during setup", who);
    return LC_OK;
}

static void release(struct cp_exec *run, const struct cp_algo *algo, struct cp_inputs *in)
{
    if (algo->release) algo->release(run);
    for (int i = 0; i < run->n_comms; i++) run->comms[i]->ops->destroy(run->comms[i]);
    for (int i = 0; i < run->n_allocs; i++) run->dev->free(run->allocs[i]);
    if (run->workspace) run->dev->free(run->workspace);
    cp_inputs_free(in);
    cp_layout_free(&run->layout);
    mask_view_free(&run->view);
    mask_free(&run->mask);
    run->env->timeline->cp_step = -1;
}

enum lc_status cp_execute(const struct engine_env *env, const struct run_spec *spec, int run_id, struct run_result *out,
                          const struct cp_algo *algo, const struct cp_degrees *degrees)
{
    memset(out, 0, sizeof *out);
    struct cp_exec run;
    memset(&run, 0, sizeof run);
    run.env = env;
    run.run_id = run_id;
    run.spec = spec;
    run.dev = env->device;
    run.degrees = *degrees;
    struct cp_inputs in;
    memset(&in, 0, sizeof in);
    char err[LC_ERRMSG_LEN] = "";
    struct cp_group *local = NULL;
    run.group = env->cp;
    /* Without a group a local run is alone (several workers given one are replicas, merged as
     * ranks); a CP method cannot do without. */
    if (!run.group && run_spec_is_cp(spec) && spec->cp_degree > 1)
        return engine_report(env, run_id, lc_fail(err, LC_ERR_INVALID, "CP method %s needs a group of %d workers",
                                                  spec->cp_method, spec->cp_degree), err, out);
    if (!run.group) {
        enum lc_status st = cp_group_local(env->device, &local, err);
        if (st) return engine_report(env, run_id, st, err, out);
        run.group = local;
    }
    run.rank = run.group->rank;
    run.size = run.group->size;
    struct comm_totals comm = {0, 0, 0};

    emit_progress(&run, run_id, PHASE_SETUP, 0, 1);
    enum lc_status st = setup_problem(&run, err);
    if (run.kernel && run.kernel->version)
        snprintf(out->kernel_version, sizeof out->kernel_version, "%s", run.kernel->version);
    if (!st) st = check_memory(&run, err);
    if (!st) cp_announce_long_rep(&run);
    run.dev->reset_peak(); /* after the estimate's probe run, before this run's buffers */
    if (!st) st = algo->plan(&run, err);
    if (!st && run.workspace_bytes) st = run.dev->alloc(run.workspace_bytes, &run.workspace, err);
    if (!st && !(st = setup_cancelled(err))) st = place_inputs(&run, &in, err);
    if (!st) st = setup_cancelled(err);
    st = agree_setup(&run, st, err);
    if (!st && run.rank != 0) cp_inputs_free(&in); /* only rank 0 checks */
    if (!st) st = timed_reps(&run, algo, run_id, out, &comm, err);
    if (!st) profile_counters(&run, algo, run_id, out, &comm);
    if (!st) fill_result(&run, &comm, out);
    if (!st && spec->check) {
        emit_progress(&run, run_id, PHASE_CHECK, 0, 1);
        st = cp_check(&run, &in, out, err);
        if (engine_cancel_requested()) /* the reference stopped short: its verdict means nothing */
            st = lc_fail(err, LC_ERR_CANCELLED, "cancelled during the check");
    }
    release(&run, algo, &in);
    cp_group_destroy(local);
    return engine_report(env, run_id, st, err, out);
}
