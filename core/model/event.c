/* The event model: names of the enums (as written in captures), event ownership, and a run's
 * outcome from its events. */
#define _POSIX_C_SOURCE 200809L
#include "core/model/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const event_type_names[EV_TYPE_COUNT] = {
    [EV_HELLO] = "hello",
    [EV_RUN_QUEUED] = "run_queued",
    [EV_RUN_STARTED] = "run_started",
    [EV_PROGRESS] = "progress",
    [EV_INTERVALS] = "intervals",
    [EV_COUNTERS] = "counters",
    [EV_RESULT] = "result",
    [EV_RUN_DONE] = "run_done",
    [EV_ERROR] = "error",
    [EV_WORKER_LOST] = "worker_lost",
    [EV_SWEEP_DONE] = "sweep_done",
    [EV_GOODBYE] = "goodbye",
    [EV_SESSION] = "session",
    [EV_ESTIMATE] = "estimate",
};

const char *event_type_name(enum event_type t)
{
    if ((int)t <= 0 || t >= EV_TYPE_COUNT) return "?";
    return event_type_names[t];
}

int event_type_parse(const char *name, enum event_type *out)
{
    for (int t = 1; t < EV_TYPE_COUNT; t++)
        if (strcmp(name, event_type_names[t]) == 0) {
            *out = (enum event_type)t;
            return 0;
        }
    return -1;
}

const char *run_phase_name(enum run_phase p)
{
    switch (p) {
    case PHASE_SETUP: return "setup";
    case PHASE_WARMUP: return "warmup";
    case PHASE_TIMED: return "timed";
    case PHASE_CHECK: return "check";
    case PHASE_PROFILE: return "profile";
    }
    return "?";
}

const char *interval_kind_name(enum interval_kind k)
{
    switch (k) {
    case IV_COMPUTE: return "compute";
    case IV_COMM: return "comm";
    case IV_MEMORY: return "memory";
    case IV_OTHER: return "other";
    case IV_KIND_COUNT: break;
    }
    return "?";
}

void event_init(struct event *ev, enum event_type type, int run_id, int rank)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->run_id = run_id;
    ev->rank = rank;
    ev->t_ns = lc_now_ns();
}

void event_free(struct event *ev)
{
    free(ev->intervals);
    free(ev->samples);
    ev->intervals = NULL;
    ev->samples = NULL;
    ev->n_intervals = 0;
    ev->n_samples = 0;
}

static void *dup_array(const void *src, size_t count, size_t size)
{
    if (!src || count == 0) return NULL;
    void *dst = malloc(count * size);
    if (dst) memcpy(dst, src, count * size);
    return dst;
}

void event_copy(struct event *dst, const struct event *src)
{
    *dst = *src;
    /* On allocation failure the copy carries no payload rather than a pointer it does not own. */
    dst->intervals = dup_array(src->intervals, (size_t)src->n_intervals, sizeof *src->intervals);
    if (!dst->intervals) dst->n_intervals = 0;
    dst->samples = dup_array(src->samples, (size_t)src->n_samples, sizeof *src->samples);
    if (!dst->samples) dst->n_samples = 0;
}

void event_estimate_describe(const struct ev_estimate *e, char *buf, size_t len)
{
    double t = e->rep_s;
    const char *unit = t >= 7200 ? "h" : t >= 120 ? "min" : "s";
    t /= t >= 7200 ? 3600 : t >= 120 ? 60 : 1;
    snprintf(buf, len, "~%.3g %s a rep (%.3g FLOP at %.3g GFLOP/s, %s)", t, unit, e->flops, e->flops_per_s / 1e9,
             e->basis);
}

int64_t lc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool failure(enum lc_status st) { return st != LC_OK && !run_status_recorded(st); }

bool event_run_outcome(const struct event *ev, struct run_outcome *o)
{
    if (o->final || ev->run_id < 0) return false;
    if (ev->type == EV_RUN_DONE) {
        if (!(o->known && failure(o->result.status) && failure(ev->u.result.status))) {
            o->result = ev->u.result;
            o->rank = 0;
        }
        o->known = o->final = true;
        return true;
    }
    if (ev->type != EV_ERROR || o->known || !failure(ev->u.error.status)) return false;
    memset(&o->result, 0, sizeof o->result);
    o->result.status = ev->u.error.status;
    snprintf(o->result.message, sizeof o->result.message, "%s", ev->u.error.message);
    o->rank = ev->rank > 0 ? ev->rank : 0;
    o->known = true;
    return true;
}

void run_outcome_result(const struct run_outcome *o, struct run_result *out)
{
    *out = o->result;
    if (o->rank > 0) snprintf(out->message, sizeof out->message, "rank %d: %.200s", o->rank, o->result.message);
}
