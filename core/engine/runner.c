/* One run on this process's device, following LongCA-bench's protocol: seeded inputs, warm-up,
 * timed reps each after an L2 flush, median with 20th/80th percentiles, peak memory, and an
 * optional check of every output against the CPU reference on the same inputs. */
#include "core/engine/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/cp_method.h"
#include "core/engine/kernel.h"
#include "core/model/rng.h"

void runner_fill_inputs(float *buf, size_t n, uint64_t seed, uint64_t stream_id)
{
    struct rng r;
    rng_seed(&r, seed, stream_id);
    for (size_t i = 0; i < n; i++) buf[i] = (float)(2.0 * rng_double(&r) - 1.0);
}

void runner_emit(const struct runner_env *env, struct event *ev)
{
    ev->t_ns = lc_now_ns(); /* workers move it onto rank 0's clock when they forward it */
    env->sink.emit(env->sink.ctx, ev);
}

static void emit_progress(const struct runner_env *env, int run_id, enum run_phase phase, int iter, int total)
{
    struct event ev;
    event_init(&ev, EV_PROGRESS, run_id, env->rank);
    ev.u.progress.phase = phase;
    ev.u.progress.iter = iter;
    ev.u.progress.total = total;
    runner_emit(env, &ev);
}

static void emit_intervals(const struct runner_env *env, int run_id)
{
    struct event ev;
    event_init(&ev, EV_INTERVALS, run_id, env->rank);
    ev.n_intervals = timeline_take(env->timeline, &ev.intervals);
    if (ev.n_intervals) runner_emit(env, &ev);
    event_free(&ev);
}

/* Warm-up and setup activity is not part of the timeline users see. */
static void drop_intervals(struct timeline *tl)
{
    struct interval *discard = NULL;
    timeline_take(tl, &discard);
    free(discard);
}

/* Host copies of the inputs: fp32 values already rounded to the run's dtype (what the reference
 * sees) and the packed dtype bytes (what the device gets). */
struct host_tensor {
    float *f32;
    void *packed;
    size_t n;
};

static enum lc_status host_tensor_make(struct host_tensor *t, size_t n, enum lc_dtype dtype, uint64_t seed,
                                       uint64_t stream_id, char *err)
{
    t->n = n;
    t->f32 = malloc(n * sizeof(float));
    t->packed = malloc(n * dtype_size(dtype));
    if (!t->f32 || !t->packed) return lc_fail(err, LC_ERR_OOM, "no host memory for %zu inputs", n);
    runner_fill_inputs(t->f32, n, seed, stream_id);
    dtype_from_f32(dtype, t->packed, t->f32, n);
    dtype_to_f32(dtype, t->f32, t->packed, n);
    return LC_OK;
}

static void host_tensor_free(struct host_tensor *t)
{
    free(t->f32);
    free(t->packed);
}

/* Device buffers of one run. */
struct run_buffers {
    void *q, *k, *v, *o, *d_o, *dq, *dk, *dv, *workspace;
    float *lse;
};

struct run_context {
    const struct runner_env *env;
    const struct run_spec *spec;
    const struct kernel_ops *kernel;
    struct mask mask;
    struct mask_view view;
    struct attn_problem problem;
    void *plan;
    size_t workspace_bytes;
    struct host_tensor q, k, v, d_o;
    struct run_buffers dev;
    size_t nq, nk, nlse;
};

static enum lc_status device_alloc_all(struct run_context *c, char *err)
{
    const struct device_ops *d = c->env->device;
    size_t e = dtype_size(c->spec->dtype);
    bool bwd = c->spec->direction & DIR_BWD;
    struct {
        void **ptr;
        size_t bytes;
    } want[] = {
        {&c->dev.q, c->nq * e},
        {&c->dev.k, c->nk * e},
        {&c->dev.v, c->nk * e},
        {&c->dev.o, c->nq * e},
        {(void **)&c->dev.lse, c->nlse * sizeof(float)},
        {&c->dev.d_o, bwd ? c->nq * e : 0},
        {&c->dev.dq, bwd ? c->nq * e : 0},
        {&c->dev.dk, bwd ? c->nk * e : 0},
        {&c->dev.dv, bwd ? c->nk * e : 0},
        {&c->dev.workspace, c->workspace_bytes},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) total += want[i].bytes;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        if (!want[i].bytes) continue;
        char why[LC_ERRMSG_LEN];
        enum lc_status st = d->alloc(want[i].bytes, want[i].ptr, why);
        if (st == LC_ERR_OOM)
            return lc_fail(err, st, "out of memory: the run needs %.2f GiB of tensors and workspace (%s)",
                           (double)total / (1u << 30), why);
        if (st) return lc_fail(err, st, "%s", why);
    }
    return LC_OK;
}

static void device_free_all(struct run_context *c)
{
    const struct device_ops *d = c->env->device;
    void *all[] = {c->dev.q, c->dev.k, c->dev.v, c->dev.o, c->dev.lse, c->dev.d_o,
                   c->dev.dq, c->dev.dk, c->dev.dv, c->dev.workspace};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i]) d->free(all[i]);
    memset(&c->dev, 0, sizeof c->dev);
}

static enum lc_status upload_inputs(struct run_context *c, char *err)
{
    const struct device_ops *d = c->env->device;
    size_t e = dtype_size(c->spec->dtype);
    enum lc_status st;
    if ((st = d->upload(c->dev.q, c->q.packed, c->nq * e, err)) || (st = d->upload(c->dev.k, c->k.packed, c->nk * e, err)) ||
        (st = d->upload(c->dev.v, c->v.packed, c->nk * e, err)))
        return st;
    if (c->dev.d_o && (st = d->upload(c->dev.d_o, c->d_o.packed, c->nq * e, err))) return st;
    /* Poisoned outputs: anything the kernel forgets to write fails the check as NaN. */
    if ((st = d->fill_nan(c->dev.o, c->nq * e, err)) || (st = d->fill_nan(c->dev.lse, c->nlse * sizeof(float), err)))
        return st;
    if (c->dev.dq && ((st = d->fill_nan(c->dev.dq, c->nq * e, err)) || (st = d->fill_nan(c->dev.dk, c->nk * e, err)) ||
                      (st = d->fill_nan(c->dev.dv, c->nk * e, err))))
        return st;
    return d->sync(err);
}

static struct attn_tensors device_tensors(const struct run_context *c)
{
    struct attn_tensors t = {.q = c->dev.q, .k = c->dev.k, .v = c->dev.v, .o = c->dev.o, .lse = c->dev.lse,
                             .d_o = c->dev.d_o, .dq = c->dev.dq, .dk = c->dev.dk, .dv = c->dev.dv};
    return t;
}

/* One iteration of the run's direction; on the CPU the host clock stamps its intervals. */
static enum lc_status run_once(struct run_context *c, enum run_direction dir, char *err)
{
    struct attn_tensors t = device_tensors(c);
    bool stamp = c->env->device->kind == DEVICE_CPU && !c->env->recorder; /* GPUs: CUPTI's records */
    enum lc_status st = LC_OK;
    if (dir & DIR_FWD) {
        int64_t t0 = lc_now_ns();
        st = c->kernel->forward(c->plan, &t, c->dev.workspace, err);
        if (stamp) timeline_add(c->env->timeline, IV_COMPUTE, "attn_fwd", t0, lc_now_ns(), 0);
        if (st) return st;
    }
    if (dir & DIR_BWD) {
        int64_t t0 = lc_now_ns();
        st = c->kernel->backward(c->plan, &t, c->dev.workspace, err);
        if (stamp) timeline_add(c->env->timeline, IV_COMPUTE, "attn_bwd", t0, lc_now_ns(), 0);
    }
    return st;
}

void runner_recorder_mark(const struct runner_env *env, int run_id, int iter, int cp_step)
{
    if (env->recorder && env->recorder->mark) env->recorder->mark(run_id, iter, cp_step);
}

void runner_recorder_flush(const struct runner_env *env)
{
    if (env->recorder && env->recorder->flush) env->recorder->flush();
}

void runner_emit_counters(const struct runner_env *env, const struct run_spec *spec, int run_id)
{
    if (!env->recorder || !env->recorder->take_samples) return;
    struct event ev;
    event_init(&ev, EV_COUNTERS, run_id, env->rank);
    ev.n_samples = env->recorder->take_samples(&ev.samples);
    if (ev.n_samples && spec->counters != COUNTERS_OFF) runner_emit(env, &ev);
    event_free(&ev);
}

static enum lc_status timed_reps(struct run_context *c, int run_id, struct run_result *res, char *err)
{
    const struct runner_env *env = c->env;
    const struct device_ops *d = env->device;
    const struct run_spec *s = c->spec;
    enum lc_status st;
    /* A backward needs O and LSE: one untimed forward first. */
    if (s->direction == DIR_BWD && (st = run_once(c, DIR_FWD, err))) return st;
    if ((st = d->sync(err))) return st;
    runner_recorder_flush(env);
    drop_intervals(env->timeline);

    struct device_event *from = d->event_create(), *to = d->event_create();
    double *ms = calloc((size_t)s->iters, sizeof *ms);
    if (!from || !to || !ms) st = lc_fail(err, LC_ERR_OOM, "no host memory for timers");
    int total = s->warmup + s->iters;
    for (int i = 0; i < total && !st; i++) {
        if (env->cancel && *env->cancel) {
            st = lc_fail(err, LC_ERR_CANCELLED, "cancelled at iteration %d of %d", i, total);
            break;
        }
        bool timed = i >= s->warmup;
        int iter = timed ? i - s->warmup : -1;
        env->timeline->iter = iter;
        if (timed) d->flush_cache();
        runner_recorder_mark(env, run_id, iter, -1);
        d->event_record(from);
        st = run_once(c, s->direction, err);
        d->event_record(to);
        if (!st) st = d->sync(err);
        if (st) break;
        /* Records of this iteration are complete after the sync: deliver them now, so warm-up
         * kernels never arrive tagged as a timed iteration. */
        runner_recorder_flush(env);
        if (timed) {
            ms[iter] = d->event_elapsed_ms(from, to);
            emit_intervals(env, run_id);
        } else {
            drop_intervals(env->timeline);
        }
        runner_emit_counters(env, s, run_id);
        emit_progress(env, run_id, timed ? PHASE_TIMED : PHASE_WARMUP, timed ? iter + 1 : i + 1,
                      timed ? s->iters : s->warmup);
    }
    runner_recorder_mark(env, -1, -1, -1);
    if (!st) stats_percentiles(ms, s->iters, &res->ms_median, &res->ms_p20, &res->ms_p80);
    free(ms);
    if (from) d->event_destroy(from);
    if (to) d->event_destroy(to);
    return st;
}

/* Range-profiler counters over profiling iterations apart from the timed ones (replayed while
 * the metric set needs more passes). A refusal is noted in the result; the run still counts. */
static void profile_counters(struct run_context *c, int run_id, struct run_result *res)
{
    const struct timeline_recorder *rec = c->env->recorder;
    if (c->spec->counters != COUNTERS_RANGE || !rec || !rec->counters_begin) return;
    emit_progress(c->env, run_id, PHASE_PROFILE, 0, 1);
    char why[LC_ERRMSG_LEN] = "";
    bool replay = false;
    int passes = 0;
    enum lc_status st;
    do {
        st = rec->counters_begin(NULL, why); /* one device, no NCCL: a range per kernel, as ncu */
        if (!st) st = run_once(c, c->spec->direction, why);
        if (!st) st = c->env->device->sync(why);
        enum lc_status end = rec->counters_end(&replay, st ? NULL : why);
        if (!st) st = end;
    } while (!st && replay && ++passes < 64);
    runner_recorder_flush(c->env);
    drop_intervals(c->env->timeline); /* replayed work is not the timeline users see */
    runner_emit_counters(c->env, c->spec, run_id);
    if (st) snprintf(res->message, sizeof res->message, "counters unavailable: %.200s", why);
}

/* Compares out (dtype bytes from the device) with ref (fp32): |d| <= atol * max|ref| + rtol * |ref|
 * element by element; NaN anywhere fails. Updates the running maxima. */
bool runner_compare(const float *out, const float *ref, size_t n, enum lc_dtype dtype, struct run_result *res)
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

static enum lc_status download_f32(const struct run_context *c, const void *dev, size_t n, bool packed, float *out,
                                   char *err)
{
    size_t bytes = n * (packed ? dtype_size(c->spec->dtype) : sizeof(float));
    void *raw = malloc(bytes);
    if (!raw) return lc_fail(err, LC_ERR_OOM, "no host memory for the check");
    enum lc_status st = c->env->device->download(raw, dev, bytes, err);
    if (!st) {
        if (packed) dtype_to_f32(c->spec->dtype, out, raw, n);
        else memcpy(out, raw, bytes);
    }
    free(raw);
    return st;
}

/* Runs cpu_ref on the same (rounded) inputs and compares every output of the run's direction. */
static enum lc_status check_against_reference(struct run_context *c, struct run_result *res, char *err)
{
    const struct kernel_ops *ref = kernel_find(KERNEL_REFERENCE_NAME);
    if (!ref) return lc_fail(err, LC_ERR_INTERNAL, "the reference kernel is not registered");
    bool bwd = c->spec->direction & DIR_BWD;
    struct attn_problem p = c->problem;
    p.dtype = LC_FP32;
    float *o = malloc(c->nq * 4), *lse = malloc(c->nlse * 4), *dq = NULL, *dk = NULL, *dv = NULL;
    float *got = malloc((c->nq > c->nk ? c->nq : c->nk) * 4), *got_lse = malloc(c->nlse * 4);
    if (bwd) dq = malloc(c->nq * 4), dk = malloc(c->nk * 4), dv = malloc(c->nk * 4);
    void *plan = NULL;
    size_t ws_bytes = 0;
    void *ws = NULL;
    enum lc_status st = LC_OK;
    if (!o || !lse || !got || !got_lse || (bwd && (!dq || !dk || !dv)))
        st = lc_fail(err, LC_ERR_OOM, "no host memory for the reference");
    if (!st) st = ref->plan_create(&p, c->spec->direction, &plan, &ws_bytes, err);
    if (!st && ws_bytes && !(ws = malloc(ws_bytes))) st = lc_fail(err, LC_ERR_OOM, "no host memory for the reference");
    struct attn_tensors t = {.q = c->q.f32, .k = c->k.f32, .v = c->v.f32, .o = o, .lse = lse,
                             .d_o = c->d_o.f32, .dq = dq, .dk = dk, .dv = dv};
    if (!st) st = ref->forward(plan, &t, ws, err);
    if (!st && bwd) st = ref->backward(plan, &t, ws, err);
    bool pass = true;
    if (!st) st = download_f32(c, c->dev.o, c->nq, true, got, err);
    if (!st) pass &= runner_compare(got, o, c->nq, c->spec->dtype, res);
    if (!st) st = download_f32(c, c->dev.lse, c->nlse, false, got_lse, err);
    if (!st) pass &= runner_compare(got_lse, lse, c->nlse, LC_FP32, res);
    if (bwd) {
        const void *dev_out[3] = {c->dev.dq, c->dev.dk, c->dev.dv};
        const float *refs[3] = {dq, dk, dv};
        size_t counts[3] = {c->nq, c->nk, c->nk};
        for (int i = 0; i < 3 && !st; i++) {
            st = download_f32(c, dev_out[i], counts[i], true, got, err);
            if (!st) pass &= runner_compare(got, refs[i], counts[i], c->spec->dtype, res);
        }
    }
    if (plan) ref->plan_destroy(plan);
    free(ws), free(o), free(lse), free(dq), free(dk), free(dv), free(got), free(got_lse);
    res->check_ran = !st;
    res->check_pass = !st && pass;
    return st;
}


static enum lc_status execute_single(struct run_context *c, int run_id, struct run_result *res, char *err)
{
    const struct run_spec *s = c->spec;
    const struct device_ops *d = c->env->device;
    enum lc_status st;
    c->kernel = kernel_find(s->kernel);
    if (!c->kernel) return lc_fail(err, LC_ERR_INVALID, "unknown kernel '%s'", s->kernel);
    if ((st = kernel_check_spec(c->kernel, s, err))) return st;
    if (c->kernel->device != d->kind)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "kernel %s needs a %s device; rank %d runs on %s", s->kernel,
                       c->kernel->device == DEVICE_CUDA ? "CUDA" : "CPU", c->env->rank, d->name);
    if ((st = mask_build(s->mask, &s->mask_params, s->seqlen, s->heads_kv, &c->mask, err))) return st;
    if ((st = mask_view_build(&c->mask, &c->view, err))) return st;
    res->area = mask_area_for_heads(&c->mask, s->heads_q, s->heads_kv) / s->heads_q;
    res->density = mask_density(&c->mask);
    res->flops = run_flops(s, &c->mask);
    c->problem = (struct attn_problem){.batch = s->batch, .heads_q = s->heads_q, .heads_kv = s->heads_kv,
                                       .head_dim = s->head_dim, .seqlen_q = s->seqlen, .seqlen_k = s->seqlen,
                                       .dtype = s->dtype, .softmax_scale = 1.0f / sqrtf((float)s->head_dim),
                                       .mask = &c->view, .deterministic = s->deterministic};
    if (c->kernel->supports && (st = c->kernel->supports(&c->problem, s->direction, err))) return st;
    d->reset_peak();
    if ((st = c->kernel->plan_create(&c->problem, s->direction, &c->plan, &c->workspace_bytes, err))) return st;
    c->nq = (size_t)s->batch * (size_t)s->seqlen * (size_t)s->heads_q * (size_t)s->head_dim;
    c->nk = (size_t)s->batch * (size_t)s->seqlen * (size_t)s->heads_kv * (size_t)s->head_dim;
    c->nlse = (size_t)s->batch * (size_t)s->heads_q * (size_t)s->seqlen;
    uint64_t seed = s->mask_params.seed ? s->mask_params.seed : 42;
    emit_progress(c->env, run_id, PHASE_SETUP, 0, 1);
    if ((st = host_tensor_make(&c->q, c->nq, s->dtype, seed, 1, err)) ||
        (st = host_tensor_make(&c->k, c->nk, s->dtype, seed, 2, err)) ||
        (st = host_tensor_make(&c->v, c->nk, s->dtype, seed, 3, err)))
        return st;
    if ((s->direction & DIR_BWD) && (st = host_tensor_make(&c->d_o, c->nq, s->dtype, seed, 4, err))) return st;
    if ((st = device_alloc_all(c, err)) || (st = upload_inputs(c, err))) return st;
    if ((st = timed_reps(c, run_id, res, err))) return st;
    profile_counters(c, run_id, res);
    res->peak_mem_bytes = (int64_t)d->peak_memory();
    double seconds = res->ms_median * 1e-3;
    res->tflops = res->tflops_mean = seconds > 0 ? res->flops / seconds / 1e12 : 0;
    res->ms_mean_ranks = res->ms_median;
    res->ranks = 1;
    if (s->check) {
        emit_progress(c->env, run_id, PHASE_CHECK, 0, 1);
        if ((st = check_against_reference(c, res, err))) return st;
    }
    return LC_OK;
}

static void context_free(struct run_context *c)
{
    device_free_all(c);
    if (c->plan) c->kernel->plan_destroy(c->plan);
    host_tensor_free(&c->q), host_tensor_free(&c->k), host_tensor_free(&c->v), host_tensor_free(&c->d_o);
    mask_view_free(&c->view);
    mask_free(&c->mask);
}

enum lc_status runner_execute(const struct runner_env *env, const struct run_spec *spec, int run_id,
                              struct run_result *out)
{
    struct event ev;
    event_init(&ev, EV_RUN_STARTED, run_id, env->rank);
    runner_emit(env, &ev);
    timeline_recorder_drop_samples(env->recorder); /* gathered before this run: not its own */
    runner_recorder_mark(env, run_id, -1, -1);

    memset(out, 0, sizeof *out);
    char err[LC_ERRMSG_LEN] = "";
    enum lc_status st;
    if (strcmp(spec->cp_method, "none")) {
        const struct cp_method_ops *cp = cp_method_find(spec->cp_method);
        if (!cp) st = lc_fail(err, LC_ERR_INVALID, "unknown CP method '%s'", spec->cp_method);
        else if (!env->cp) st = lc_fail(err, LC_ERR_INVALID, "CP method %s needs a group of workers", spec->cp_method);
        else return cp->execute(env, spec, run_id, out);
    } else {
        struct run_context c = {.env = env, .spec = spec};
        st = execute_single(&c, run_id, out, err);
        context_free(&c);
    }
    return runner_report(env, run_id, st, err, out);
}

enum lc_status runner_report(const struct runner_env *env, int run_id, enum lc_status st, const char *err,
                             struct run_result *out)
{
    /* Statuses that are outcomes to record, not failures of the tool. */
    const bool recorded = st == LC_ERR_UNSUPPORTED || st == LC_ERR_OOM;
    struct event ev;
    if (st && !recorded) {
        event_init(&ev, EV_ERROR, run_id, env->rank);
        ev.u.error.status = st;
        snprintf(ev.u.error.message, sizeof ev.u.error.message, "%s", err);
        runner_emit(env, &ev);
        out->status = st;
        snprintf(out->message, sizeof out->message, "%s", err);
        return st;
    }
    out->status = st;
    if (st) snprintf(out->message, sizeof out->message, "%s", err); /* ok runs may carry a counters note */
    event_init(&ev, EV_RESULT, run_id, env->rank);
    ev.u.result = *out;
    runner_emit(env, &ev);
    return LC_OK;
}
