/* One run on this process: the run's method does the work under the one driver (cp/driver.c);
 * this file starts it and carries what every driver reports through. */
#include "core/engine/engine.h"

#include <stdio.h>
#include <string.h>

#include "core/engine/cp_method.h"

void engine_emit(const struct engine_env *env, struct event *ev)
{
    ev->t_ns = lc_now_ns(); /* workers move it onto rank 0's clock when they forward it */
    env->sink.emit(env->sink.ctx, ev);
}

/* The cancel flag of the run executing here; a nested run (the rate probe) puts its own and
 * gives the outer one back. */
static volatile int *executing_cancel;

bool engine_cancel_requested(void) { return executing_cancel && *executing_cancel; }

void engine_recorder_mark(const struct engine_env *env, int run_id, int iter, int cp_step)
{
    if (env->recorder && env->recorder->mark) env->recorder->mark(run_id, iter, cp_step);
}

void engine_recorder_flush(const struct engine_env *env)
{
    if (env->recorder && env->recorder->flush) env->recorder->flush();
}

void engine_emit_counters(const struct engine_env *env, const struct run_spec *spec, int run_id)
{
    if (!env->recorder || !env->recorder->take_samples) return;
    struct event ev;
    event_init(&ev, EV_COUNTERS, run_id, env->rank);
    ev.n_samples = env->recorder->take_samples(&ev.samples);
    if (ev.n_samples && spec->counters != COUNTERS_OFF) engine_emit(env, &ev);
    event_free(&ev);
}

enum lc_status engine_execute(const struct engine_env *env, const struct run_spec *spec, int run_id,
                              struct run_result *out)
{
    struct event ev;
    event_init(&ev, EV_RUN_STARTED, run_id, env->rank);
    engine_emit(env, &ev);
    timeline_recorder_drop_samples(env->recorder); /* gathered before this run: not its own */
    engine_recorder_mark(env, run_id, -1, -1);

    memset(out, 0, sizeof *out);
    const struct cp_method_ops *method = cp_method_find(spec->cp_method);
    if (method) {
        volatile int *outer = executing_cancel;
        executing_cancel = env->cancel;
        enum lc_status st = method->execute(env, spec, run_id, out);
        executing_cancel = outer;
        return st;
    }
    char err[LC_ERRMSG_LEN];
    return engine_report(env, run_id, lc_fail(err, LC_ERR_INVALID, "unknown CP method '%s'", spec->cp_method), err, out);
}

enum lc_status engine_report(const struct engine_env *env, int run_id, enum lc_status st, const char *err,
                             struct run_result *out)
{
    /* Statuses that are outcomes to record, not failures of the tool. */
    const bool recorded = st == LC_ERR_UNSUPPORTED || st == LC_ERR_OOM;
    struct event ev;
    if (st && !recorded) {
        event_init(&ev, EV_ERROR, run_id, env->rank);
        ev.u.error.status = st;
        snprintf(ev.u.error.message, sizeof ev.u.error.message, "%s", err);
        engine_emit(env, &ev);
        out->status = st;
        snprintf(out->message, sizeof out->message, "%s", err);
        return st;
    }
    out->status = st;
    if (st) snprintf(out->message, sizeof out->message, "%s", err); /* ok runs may carry a counters note */
    event_init(&ev, EV_RESULT, run_id, env->rank);
    ev.u.result = *out;
    engine_emit(env, &ev);
    return LC_OK;
}
