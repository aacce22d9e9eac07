/* The time of a run's rep estimated before it starts (cp/rep_estimate.h). */
#include "cp/rep_estimate.h"

#include <stdio.h>
#include <string.h>

#include "core/engine/cp_method.h"
#include "cp/sim_calibration.h"

/* Rates above any device of the kind (FLOP/s): a CPU core's fp32 FMA peak is below 0.25
 * TFLOP/s, a GPU's dense 16-bit peak below 2.5 PFLOP/s. A probe costs a few tenths of a second,
 * once per process and shape: worth it for a run whose rep would take PROBE_FROM_S even at the
 * bound, so half a minute or more at the rates kernels reach (a fifth of it or less). */
#define CPU_CORE_BOUND 2.5e11
#define GPU_BOUND 2.5e15
#define PROBE_FROM_S 6.0

#define PROBE_MIN_S 0.1        /* a probe rep this long times the kernel well enough */
#define PROBE_FIRST_SEQLEN 256 /* small enough for the slowest kernel at 64 heads */
#define PROBE_MAX_SEQLEN 65536

struct measured_rate {
    char kernel[LC_NAME_LEN];
    enum lc_dtype dtype;
    int heads_q, heads_kv, head_dim;
    double flops_per_s; /* 0: the probe was refused */
    int64_t seqlen;     /* of the probe that gave it */
};

/* Rates measured by this process: a worker keeps its kernels' rates for the session. */
static struct measured_rate measured[16];
static int n_measured;
static bool probing; /* the probe is a run too: it estimates nothing */

static void ignore_event(void *ctx, const struct event *ev) { (void)ctx, (void)ev; }

/* The kernel's forward on a full mask with the run's shape, lengthened until a rep takes
 * PROBE_MIN_S, in a run of its own on this device (its events dropped, its cancel the run's). */
static void probe(const struct cp_exec *run, struct measured_rate *out)
{
    struct run_spec spec = *run->spec;
    spec.mask = MASK_FULL;
    spec.batch = 1;
    spec.direction = DIR_FWD;
    spec.warmup = spec.iters = 1;
    spec.check = false;
    spec.counters = COUNTERS_OFF;
    snprintf(spec.cp_method, sizeof spec.cp_method, "%s", CP_METHOD_LOCAL);
    spec.cp_degree = 1;
    struct timeline tl;
    timeline_init(&tl);
    struct engine_env env = {.device = run->dev, .rank = run->env->rank, .cores = run->env->cores,
                             .sink = {ignore_event, NULL}, .cancel = run->env->cancel, .timeline = &tl};
    char err[LC_ERRMSG_LEN];
    probing = true;
    for (spec.seqlen = PROBE_FIRST_SEQLEN; spec.seqlen <= PROBE_MAX_SEQLEN; spec.seqlen *= 2) {
        struct run_result r;
        if (run_spec_validate(&spec, err) || engine_execute(&env, &spec, -1, &r) || r.status != LC_OK || r.ms_median <= 0)
            break;
        out->flops_per_s = r.flops / (r.ms_median * 1e-3);
        out->seqlen = spec.seqlen;
        if (r.ms_median * 1e-3 >= PROBE_MIN_S || spec.seqlen >= run->spec->seqlen) break;
    }
    probing = false;
    timeline_destroy(&tl);
}

static struct measured_rate rate_measured_here(const struct cp_exec *run)
{
    const struct run_spec *s = run->spec;
    for (int i = 0; i < n_measured; i++) {
        const struct measured_rate *m = &measured[i];
        if (!strcmp(m->kernel, s->kernel) && m->dtype == s->dtype && m->heads_q == s->heads_q &&
            m->heads_kv == s->heads_kv && m->head_dim == s->head_dim)
            return *m;
    }
    struct measured_rate fresh = {.dtype = s->dtype, .heads_q = s->heads_q, .heads_kv = s->heads_kv,
                                  .head_dim = s->head_dim};
    snprintf(fresh.kernel, sizeof fresh.kernel, "%s", s->kernel);
    probe(run, &fresh);
    /* A probe cut short by a cancel is measured again next time; past the table's end, each time. */
    if (!engine_cancel_requested() && n_measured < (int)(sizeof measured / sizeof measured[0]))
        measured[n_measured++] = fresh;
    return fresh;
}

/* A GPU kernel's rate on full tiles from its newest `longca model` calibration; 0 without one. */
static double rate_calibrated(const struct run_spec *s, char *basis, size_t len)
{
    struct cp_calibration cal;
    char path[1024], err[LC_ERRMSG_LEN];
    if (cp_calibration_find(s->kernel, s->dtype, s->head_dim, &cal, path, sizeof path, err) ||
        cal.cost.fwd.full_tile <= 0 || cal.tile <= 0)
        return 0;
    snprintf(basis, len, "calibration of %.70s", cal.device);
    return 4.0 * cal.tile * cal.tile * s->head_dim / cal.cost.fwd.full_tile;
}

void cp_announce_long_rep(const struct cp_exec *run)
{
    if (probing || run->rank != 0) return;
    const struct run_spec *s = run->spec;
    struct ev_estimate e = {.flops = run_flops(s, &run->mask) / run->size};
    const bool gpu = run->dev->kind != DEVICE_CPU;
    const double bound = gpu ? GPU_BOUND : CPU_CORE_BOUND * (run->env->cores > 0 ? run->env->cores : 1);
    if (e.flops / bound <= PROBE_FROM_S) return;
    e.flops_per_s = gpu ? rate_calibrated(s, e.basis, sizeof e.basis) : 0;
    if (e.flops_per_s <= 0) {
        const struct measured_rate m = rate_measured_here(run);
        e.flops_per_s = m.flops_per_s;
        snprintf(e.basis, sizeof e.basis, "measured here on a %lld-token full mask", (long long)m.seqlen);
    }
    if (e.flops_per_s <= 0 || engine_cancel_requested()) return;
    e.rep_s = e.flops / e.flops_per_s;
    if (e.rep_s <= CP_LONG_REP_S) return;
    struct event ev;
    event_init(&ev, EV_ESTIMATE, run->run_id, run->env->rank);
    ev.u.estimate = e;
    engine_emit(run->env, &ev);
}
