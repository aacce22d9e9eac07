/* The events a trace export needs, gathered as they come (copied: the caller keeps its event),
 * keeping only the runs selected. The layout and the writers are in trace_layout.c,
 * trace_json.c and trace_perfetto.c. */
#define _POSIX_C_SOURCE 200809L
#include "profiling/trace_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/spec.h"
#include "profiling/trace_internal.h"

bool trace_grow(void **items, int64_t *cap, int64_t need, size_t size)
{
    if (need <= *cap) return true;
    int64_t cap2 = *cap ? *cap * 2 : 256;
    while (cap2 < need) cap2 *= 2;
    void *grown = realloc(*items, (size_t)cap2 * size);
    if (!grown) return false;
    *items = grown;
    *cap = cap2;
    return true;
}

const struct trace_rank *trace_find_rank(const struct prof_trace *t, int rank)
{
    for (int64_t k = 0; k < t->n_ranks; k++)
        if (t->ranks[k].rank == rank) return &t->ranks[k];
    return NULL;
}

static int label_cmp(const void *pa, const void *pb)
{
    int a = ((const struct trace_label *)pa)->run, b = ((const struct trace_label *)pb)->run;
    return (a > b) - (a < b);
}

void trace_sort_labels(struct prof_trace *t)
{
    if (t->n_labels > 1) qsort(t->labels, (size_t)t->n_labels, sizeof *t->labels, label_cmp);
}

/* A binary search (labels sorted by trace_sort_labels): 100K runs export in linear-log time. */
const char *trace_run_label(const struct prof_trace *t, int run)
{
    struct trace_label key = {.run = run};
    const struct trace_label *l = t->n_labels ? bsearch(&key, t->labels, (size_t)t->n_labels, sizeof *t->labels, label_cmp) : NULL;
    return l ? l->text : NULL;
}

static void out_of_memory(struct prof_trace *t, const char *what)
{
    if (t->st == LC_OK) t->st = lc_fail(t->err, LC_ERR_OOM, "trace export: out of memory keeping %s", what);
}

static struct trace_rank *rank_entry(struct prof_trace *t, int rank)
{
    for (int64_t k = 0; k < t->n_ranks; k++)
        if (t->ranks[k].rank == rank) return &t->ranks[k];
    if (!trace_grow((void **)&t->ranks, &t->cap_ranks, t->n_ranks + 1, sizeof *t->ranks)) {
        out_of_memory(t, "ranks");
        return NULL;
    }
    struct trace_rank *r = &t->ranks[t->n_ranks++];
    memset(r, 0, sizeof *r);
    r->rank = rank;
    return r;
}

static void close_run(struct prof_trace *t, const struct event *ev, enum lc_status status)
{
    for (int64_t k = t->n_runs - 1; k >= 0; k--) {
        struct trace_run *r = &t->runs[k];
        if (r->rank == ev->rank && r->run == ev->run_id && !r->ended) {
            r->end = ev->t_ns > r->start ? ev->t_ns : r->start;
            r->ended = true;
            r->status = status;
            return;
        }
    }
}

static void add_run(struct prof_trace *t, const struct event *ev)
{
    if (!trace_grow((void **)&t->runs, &t->cap_runs, t->n_runs + 1, sizeof *t->runs)) {
        out_of_memory(t, "runs");
        return;
    }
    struct trace_run *r = &t->runs[t->n_runs++];
    memset(r, 0, sizeof *r);
    r->rank = ev->rank;
    r->run = ev->run_id;
    r->start = r->end = ev->t_ns;
}

void trace_label_make(const struct event *queued, struct trace_label *out)
{
    out->run = queued->run_id;
    char describe[TRACE_LABEL_LEN - 16];
    run_spec_describe(&queued->u.spec, describe, sizeof describe);
    snprintf(out->text, sizeof out->text, "run %d: %s", queued->run_id, describe);
}

void trace_add_label(struct prof_trace *t, const struct trace_label *label)
{
    if (!trace_grow((void **)&t->labels, &t->cap_labels, t->n_labels + 1, sizeof *t->labels)) {
        out_of_memory(t, "run labels");
        return;
    }
    t->labels[t->n_labels++] = *label;
}

static bool selected(const struct prof_trace *t, int run)
{
    if (!t->selected_runs || run < 0) return true; /* run -1: the session's (hello) */
    for (int k = 0; k < t->n_selected; k++)
        if (t->selected_runs[k] == run) return true;
    return false;
}

void prof_trace_add(void *trace, const struct event *ev)
{
    struct prof_trace *t = trace;
    if (t->st != LC_OK || ev->rank < 0 || !selected(t, ev->run_id)) return; /* rank -1: merged over ranks */
    if (ev->type == EV_RUN_QUEUED) {
        struct trace_label label;
        trace_label_make(ev, &label);
        trace_add_label(t, &label);
    } else if (ev->type == EV_HELLO) {
        struct trace_rank *r = rank_entry(t, ev->rank);
        if (r) r->hello = true, r->info = ev->u.hello;
    } else if (ev->type == EV_RUN_STARTED) {
        if (rank_entry(t, ev->rank)) add_run(t, ev);
    } else if (ev->type == EV_RESULT) {
        close_run(t, ev, ev->u.result.status);
    } else if (ev->type == EV_ERROR) {
        close_run(t, ev, ev->u.error.status);
    } else if (ev->type == EV_INTERVALS && ev->n_intervals > 0) {
        if (!rank_entry(t, ev->rank)) return;
        if (!trace_grow((void **)&t->ivs, &t->cap_ivs, t->n_ivs + ev->n_intervals, sizeof *t->ivs)) {
            out_of_memory(t, "intervals");
            return;
        }
        for (int k = 0; k < ev->n_intervals; k++)
            t->ivs[t->n_ivs++] = (struct trace_iv){ev->intervals[k], ev->rank, ev->run_id};
    } else if (ev->type == EV_COUNTERS && ev->n_samples > 0) {
        if (!rank_entry(t, ev->rank)) return;
        if (!trace_grow((void **)&t->samples, &t->cap_samples, t->n_samples + ev->n_samples, sizeof *t->samples)) {
            out_of_memory(t, "counter samples");
            return;
        }
        for (int k = 0; k < ev->n_samples; k++) t->samples[t->n_samples++] = (struct trace_sample){ev->samples[k], ev->rank};
    }
}

enum lc_status prof_trace_create(struct prof_trace **out, char *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? LC_OK : lc_fail(err, LC_ERR_OOM, "trace export: out of memory");
}

enum lc_status prof_trace_select_runs(struct prof_trace *t, const int *runs, int n, char *err)
{
    int *copy = malloc((size_t)(n > 0 ? n : 1) * sizeof *copy);
    if (!copy) return lc_fail(err, LC_ERR_OOM, "trace export: out of memory");
    if (n > 0) memcpy(copy, runs, (size_t)n * sizeof *copy);
    free(t->selected_runs);
    t->selected_runs = copy;
    t->n_selected = n;
    return LC_OK;
}

bool prof_trace_has_run(const struct prof_trace *t, int run)
{
    for (int64_t k = 0; k < t->n_runs; k++)
        if (t->runs[k].run == run) return true;
    return false;
}

void prof_trace_free(struct prof_trace *t)
{
    if (!t) return;
    free(t->ivs);
    free(t->samples);
    free(t->runs);
    free(t->ranks);
    free(t->labels);
    free(t->selected_runs);
    free(t);
}

int prof_trace_rank_count(const struct prof_trace *t) { return (int)t->n_ranks; }

int prof_trace_rank_at(const struct prof_trace *t, int index) { return t->ranks[index].rank; }

enum lc_status prof_trace_breakdown(const struct prof_trace *t, int rank, int run, struct prof_breakdown *out,
                                    char *err)
{
    int64_t n = 0;
    for (int64_t k = 0; k < t->n_ivs; k++) n += t->ivs[k].rank == rank && (run < 0 || t->ivs[k].run == run);
    if (n == 0) return lc_fail(err, LC_ERR_INVALID, "rank %d has no intervals%s", rank, run < 0 ? "" : " in that run");
    if (n > INT32_MAX) return lc_fail(err, LC_ERR_INVALID, "rank %d has too many intervals", rank);
    struct interval *iv = malloc((size_t)n * sizeof *iv);
    if (!iv) return lc_fail(err, LC_ERR_OOM, "out of memory for the breakdown of rank %d", rank);
    int64_t m = 0;
    for (int64_t k = 0; k < t->n_ivs; k++)
        if (t->ivs[k].rank == rank && (run < 0 || t->ivs[k].run == run)) iv[m++] = t->ivs[k].iv;
    enum lc_status st = prof_breakdown_compute(iv, (int)n, out, err);
    free(iv);
    return st;
}
