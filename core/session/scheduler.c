/* Which queued runs start on which workers, and each run's one merged end (EV_RUN_DONE). Runs
 * start in sweep order on whatever workers are idle: a run of CP degree P takes P consecutive
 * idle workers, so single-device runs go at once on every idle worker. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/kernel.h"
#include "core/session/protocol.h"
#include "core/session/session_internal.h"

struct flight *session_flight_of(struct session *s, int rank)
{
    int f = rank >= 1 && rank <= s->n_workers ? s->link[rank].flight : -1;
    return f >= 0 ? &s->flights[f] : NULL;
}

/* The run's one final result, from its ranks' outcomes (or rank 0's own verdict). */
static void emit_run_done(struct session *s, int run_id, const struct run_result *per_rank, int n, int first)
{
    struct event ev;
    event_init(&ev, EV_RUN_DONE, run_id, -1);
    run_result_merge(per_rank, n, first, &ev.u.result);
    session_deliver(s, &ev);
}

/* A run rank 0 turns down before it starts: the reason, then its run-done. */
static void refuse_run(struct session *s, int run_id, enum lc_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void refuse_run(struct session *s, int run_id, enum lc_status status, const char *fmt, ...)
{
    struct run_result r;
    memset(&r, 0, sizeof r);
    r.status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r.message, sizeof r.message, fmt, ap);
    va_end(ap);
    session_emit_status(s, EV_ERROR, run_id, 0, status, "%s", r.message);
    emit_run_done(s, run_id, &r, 1, 0);
}

static void finish_flight(struct session *s, struct flight *f)
{
    struct run_result *per_rank = malloc((size_t)f->n * sizeof *per_rank);
    if (per_rank) {
        for (int i = 0; i < f->n; i++) per_rank[i] = s->outcome[f->first + i].result;
        emit_run_done(s, f->run_id, per_rank, f->n, f->first);
    } else {
        refuse_run(s, f->run_id, LC_ERR_OOM, "rank 0 ran out of memory merging the run's results");
    }
    free(per_rank);
    for (int r = f->first; r < f->first + f->n; r++) s->link[r].flight = -1;
    f->run_id = -1;
    s->in_flight--;
    session_start_runs(s);
}

void session_rank_finished(struct session *s, int rank)
{
    struct flight *f = session_flight_of(s, rank);
    if (!f || s->outcome[rank].done) return;
    s->outcome[rank].done = true;
    if (--f->pending == 0) finish_flight(s, f);
}

static bool usable(const struct session *s, int rank) { return !s->link[rank].lost && !s->link[rank].gone; }

/* The first block of n consecutive idle workers (0 when none is idle now); *ever: some block
 * of n consecutive usable workers exists, so waiting makes sense; *lost: a rank in the way. */
static int idle_block(const struct session *s, int n, bool *ever, int *lost)
{
    *ever = false;
    *lost = 0;
    for (int first = 1; first + n - 1 <= s->n_workers; first++) {
        bool all_usable = true, all_idle = true;
        for (int r = first; r < first + n; r++) {
            if (!usable(s, r)) {
                all_usable = false;
                if (!*lost) *lost = r;
            }
            if (s->link[r].flight >= 0) all_idle = false;
        }
        *ever |= all_usable;
        if (all_usable && all_idle) return first;
    }
    return 0;
}

/* Starts queued runs in sweep order while workers for the next one are idle. */
void session_start_runs(struct session *s)
{
    while (s->next_run < s->n_runs) {
        int id = s->next_run;
        const struct run_spec *spec = &s->runs[id];
        int need = spec->cp_degree > 0 ? spec->cp_degree : 1;
        if (id <= s->cancel_upto) {
            s->next_run++;
            refuse_run(s, id, LC_ERR_CANCELLED, "cancelled before it started");
            continue;
        }
        if (need > s->n_workers) {
            s->next_run++;
            refuse_run(s, id, LC_ERR_UNSUPPORTED, "needs %d workers; this session has %d", need, s->n_workers);
            continue;
        }
        bool ever;
        int lost;
        int first = idle_block(s, need, &ever, &lost);
        if (!ever) {
            s->next_run++;
            refuse_run(s, id, LC_ERR_COMM, "needs %d consecutive workers; rank %d is lost", need, lost);
            continue;
        }
        if (!first) break; /* the next run waits for its workers; later ones wait behind it */
        s->next_run++;
        int slot = 0;
        while (s->flights[slot].run_id >= 0) slot++;
        s->flights[slot] = (struct flight){.run_id = id, .first = first, .n = need, .pending = need};
        s->in_flight++;
        struct proto_run msg = {.run_id = id, .first_rank = first, .spec = *spec};
        const char *lib = kernel_origin(kernel_find(spec->kernel));
        if (lib) snprintf(msg.kernel_lib, sizeof msg.kernel_lib, "%s", lib);
        for (int r = first; r < first + need; r++) {
            memset(&s->outcome[r], 0, sizeof s->outcome[r]);
            s->link[r].flight = slot;
            session_send_copy(s, r, PROTO_RUN, &msg, (int)sizeof msg);
        }
    }
    if (!s->in_flight && s->next_run == s->n_runs && s->sweep_open) {
        struct event ev;
        event_init(&ev, EV_SWEEP_DONE, -1, 0);
        session_deliver(s, &ev);
        s->sweep_open = false;
    }
}

/* A rank's part of its run failed: the first reason is the one its result keeps. */
void session_rank_failed(struct session *s, int rank, enum lc_status status, const char *message)
{
    struct rank_outcome *o = &s->outcome[rank];
    if (o->has_error) return;
    o->has_error = true;
    o->result.status = status != LC_OK ? status : LC_ERR_INTERNAL;
    snprintf(o->result.message, sizeof o->result.message, "%s", message);
}
