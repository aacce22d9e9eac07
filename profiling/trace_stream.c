/* A capture read once, run by run, for writers that must not hold the whole capture: each run's
 * events go into a prof_trace of their own (with the session's hellos and the run's label),
 * handed over when the front end reports the run done (EV_RUN_DONE, after every rank's result)
 * and freed. What stays in memory is the runs in flight, the hellos and one label per queued
 * run, never the timelines of finished runs. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "core/io/capture.h"
#include "profiling/trace_internal.h"

struct open_run {
    int run;
    struct prof_trace *t;
};

struct hello {
    int rank;
    struct ev_hello info;
};

struct stream {
    const int *runs; /* NULL: every run */
    int n_runs;
    struct hello *hellos;
    int64_t n_hellos, cap_hellos;
    struct trace_label *labels; /* queued runs, in order of queueing */
    int64_t n_labels, cap_labels;
    struct open_run *open;
    int64_t n_open, cap_open;
    trace_chunk_fn chunk;
    void *ctx;
    enum lc_status st;
    char *err;
};

static bool wanted_run(const struct stream *s, int run)
{
    if (!s->runs) return true;
    for (int k = 0; k < s->n_runs; k++)
        if (s->runs[k] == run) return true;
    return false;
}

static void out_of_memory(struct stream *s)
{
    if (s->st == LC_OK) s->st = lc_fail(s->err, LC_ERR_OOM, "trace export: out of memory reading the capture");
}

static void feed_hello(struct prof_trace *t, const struct hello *h)
{
    struct event ev = {.type = EV_HELLO, .run_id = -1, .rank = h->rank};
    ev.u.hello = h->info;
    prof_trace_add(t, &ev);
}

static const struct trace_label *queued_label(const struct stream *s, int run)
{
    for (int64_t k = s->n_labels - 1; k >= 0; k--) /* a run is usually queued shortly before it runs */
        if (s->labels[k].run == run) return &s->labels[k];
    return NULL;
}

static struct prof_trace *open_run(struct stream *s, int run)
{
    for (int64_t k = 0; k < s->n_open; k++)
        if (s->open[k].run == run) return s->open[k].t;
    struct prof_trace *t;
    if (!trace_grow((void **)&s->open, &s->cap_open, s->n_open + 1, sizeof *s->open) ||
        prof_trace_create(&t, s->err) != LC_OK) {
        out_of_memory(s);
        return NULL;
    }
    for (int64_t k = 0; k < s->n_hellos; k++) feed_hello(t, &s->hellos[k]);
    const struct trace_label *label = queued_label(s, run);
    if (label) trace_add_label(t, label);
    s->open[s->n_open++] = (struct open_run){run, t};
    return t;
}

static void hand_over(struct stream *s, int64_t k)
{
    struct prof_trace *t = s->open[k].t;
    s->open[k] = s->open[--s->n_open];
    if (s->st == LC_OK) s->st = s->chunk(s->ctx, t, s->err);
    prof_trace_free(t);
}

static void on_event(void *ctx, const struct event *ev)
{
    struct stream *s = ctx;
    if (s->st != LC_OK) return;
    if (ev->type == EV_HELLO && ev->rank >= 0) {
        if (!trace_grow((void **)&s->hellos, &s->cap_hellos, s->n_hellos + 1, sizeof *s->hellos)) {
            out_of_memory(s);
            return;
        }
        struct hello *h = &s->hellos[s->n_hellos++];
        h->rank = ev->rank;
        h->info = ev->u.hello;
        for (int64_t k = 0; k < s->n_open; k++) feed_hello(s->open[k].t, h);
    } else if (ev->type == EV_RUN_DONE) {
        for (int64_t k = 0; k < s->n_open; k++)
            if (s->open[k].run == ev->run_id) {
                hand_over(s, k);
                break;
            }
    } else if (ev->run_id >= 0 && ev->rank >= 0 && wanted_run(s, ev->run_id)) {
        if (ev->type == EV_RUN_QUEUED) {
            if (!trace_grow((void **)&s->labels, &s->cap_labels, s->n_labels + 1, sizeof *s->labels)) {
                out_of_memory(s);
                return;
            }
            trace_label_make(ev, &s->labels[s->n_labels++]);
        } else {
            struct prof_trace *t = open_run(s, ev->run_id);
            if (t) prof_trace_add(t, ev);
        }
    }
}

static int open_run_cmp(const void *pa, const void *pb)
{
    int a = ((const struct open_run *)pa)->run, b = ((const struct open_run *)pb)->run;
    return (a > b) - (a < b);
}

enum lc_status trace_stream_runs(const char *capture, const int *runs, int n_runs, trace_chunk_fn chunk, void *ctx,
                                 long *truncated_at, char *err)
{
    struct stream s = {.runs = runs, .n_runs = n_runs, .chunk = chunk, .ctx = ctx, .err = err};
    enum lc_status st = capture_read(capture, on_event, &s, truncated_at, err);
    /* Runs never reported done (a lost front end, a cut capture) end with the file, in run order. */
    if (s.n_open > 1) qsort(s.open, (size_t)s.n_open, sizeof *s.open, open_run_cmp);
    while (s.n_open > 0) {
        struct prof_trace *t = s.open[0].t;
        memmove(s.open, s.open + 1, (size_t)--s.n_open * sizeof *s.open);
        if (st == LC_OK && s.st == LC_OK) s.st = chunk(ctx, t, err);
        prof_trace_free(t);
    }
    free(s.open);
    free(s.hellos);
    free(s.labels);
    return st != LC_OK ? st : s.st;
}
