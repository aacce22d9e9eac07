/* What a Perfetto export written in parts (a run each when streamed, trace_stream.c) shares
 * across them, gathered from every part's layout before the first packet: the processes and
 * their export ranks, the tracks with the kinds of work on them over every part, the time base,
 * and each run's first ProfilerStep number, so that the parts write what one layout of the whole
 * capture would have. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>

#include "profiling/trace_internal.h"

static int cmp_int(int a, int b) { return (a > b) - (a < b); }

static int track_cmp(const void *pa, const void *pb)
{
    const struct track *a = pa, *b = pb;
    int c;
    if ((c = cmp_int(a->rank, b->rank)) || (c = cmp_int(a->stream, b->stream))) return c;
    return cmp_int(a->level, b->level);
}

static int rank_cmp(const void *pa, const void *pb)
{
    return cmp_int(((const struct trace_rank *)pa)->rank, ((const struct trace_rank *)pb)->rank);
}

static int run_steps_cmp(const void *pa, const void *pb)
{
    return cmp_int(((const struct run_steps *)pa)->run, ((const struct run_steps *)pb)->run);
}

int trace_plan_export_rank(const struct trace_plan *p, int rank)
{
    struct trace_rank key = {.rank = rank};
    const struct trace_rank *hit = p->n_ranks ? bsearch(&key, p->ranks, (size_t)p->n_ranks, sizeof *p->ranks, rank_cmp) : NULL;
    return hit ? (int)(hit - p->ranks) : -1;
}

const struct run_steps *trace_plan_run(const struct trace_plan *p, int run)
{
    struct run_steps key = {.run = run};
    return p->n_runs ? bsearch(&key, p->runs, (size_t)p->n_runs, sizeof *p->runs, run_steps_cmp) : NULL;
}

/* The runs of one part (a run when streamed) with the lowest and highest ProfilerStep number its
 * layout gave each (-1: none), sorted by run. */
struct part_run {
    int run, lo, hi;
    bool started;
};

static int part_run_cmp(const void *pa, const void *pb)
{
    return cmp_int(((const struct part_run *)pa)->run, ((const struct part_run *)pb)->run);
}

static struct part_run *part_runs(const struct prof_trace *t, const struct layout *l, int64_t *n)
{
    struct part_run *runs = malloc((size_t)(t->n_runs + l->n_envs + 1) * sizeof *runs);
    if (!runs) return NULL;
    int64_t m = 0;
    for (int64_t k = 0; k < t->n_runs; k++) runs[m++] = (struct part_run){t->runs[k].run, -1, -1, true};
    for (int64_t k = 0; k < l->n_envs; k++)
        if (l->envs[k].cp_step < 0)
            runs[m++] = (struct part_run){l->envs[k].run, l->envs[k].step_number, l->envs[k].step_number, false};
    qsort(runs, (size_t)m, sizeof *runs, part_run_cmp);
    *n = 0;
    for (int64_t k = 0; k < m; k++) {
        struct part_run *r = &runs[k], *kept = *n ? &runs[*n - 1] : NULL;
        if (!kept || kept->run != r->run) {
            runs[(*n)++] = *r;
            continue;
        }
        kept->started |= r->started;
        if (r->lo >= 0 && (kept->lo < 0 || r->lo < kept->lo)) kept->lo = r->lo;
        if (r->hi > kept->hi) kept->hi = r->hi;
    }
    return runs;
}

/* One part's tracks, ranks, runs and earliest time into the plan. */
enum lc_status trace_plan_add(struct trace_plan *p, const struct prof_trace *t, const struct layout *l, char *err)
{
    int64_t n_runs;
    struct part_run *runs = part_runs(t, l, &n_runs);
    bool ok = runs != NULL;
    for (int64_t k = 0; ok && k < l->n_tracks; k++) {
        int64_t j = 0;
        while (j < p->n_tracks && track_cmp(&p->tracks[j], &l->tracks[k])) j++;
        if (j < p->n_tracks) p->tracks[j].kinds |= l->tracks[k].kinds;
        else if ((ok = trace_grow((void **)&p->tracks, &p->cap_tracks, p->n_tracks + 1, sizeof *p->tracks)))
            p->tracks[p->n_tracks++] = l->tracks[k];
    }
    for (int k = 0; ok && k < l->n_shown; k++) {
        int64_t j = 0;
        while (j < p->n_ranks && p->ranks[j].rank != l->shown[k]) j++;
        if (j < p->n_ranks) continue;
        ok = trace_grow((void **)&p->ranks, &p->cap_ranks, p->n_ranks + 1, sizeof *p->ranks);
        if (!ok) break;
        const struct trace_rank *r = trace_find_rank(t, l->shown[k]);
        p->ranks[p->n_ranks++] = r ? *r : (struct trace_rank){.rank = l->shown[k]};
    }
    ok = ok && trace_grow((void **)&p->runs, &p->cap_runs, p->n_runs + n_runs, sizeof *p->runs);
    for (int64_t k = 0; ok && k < n_runs; k++)
        p->runs[p->n_runs++] = (struct run_steps){runs[k].run, runs[k].lo < 0 ? 0 : runs[k].hi - runs[k].lo + 1, 0,
                                                  runs[k].started};
    free(runs);
    if (l->n_slices || t->n_samples) p->time_base = l->time_base < p->time_base ? l->time_base : p->time_base;
    return ok ? LC_OK : lc_fail(err, LC_ERR_OOM, "perfetto export: out of memory planning the trace");
}

/* Sorted, each run once with its step count (the most any rank's envelopes numbered) and its
 * first ProfilerStep number. */
void trace_plan_finish(struct trace_plan *p)
{
    if (p->n_tracks) qsort(p->tracks, (size_t)p->n_tracks, sizeof *p->tracks, track_cmp);
    if (p->n_ranks) qsort(p->ranks, (size_t)p->n_ranks, sizeof *p->ranks, rank_cmp);
    if (p->n_runs) qsort(p->runs, (size_t)p->n_runs, sizeof *p->runs, run_steps_cmp);
    int64_t n = 0;
    for (int64_t k = 0; k < p->n_runs; k++) {
        struct run_steps *r = &p->runs[k];
        if (n > 0 && p->runs[n - 1].run == r->run) {
            struct run_steps *kept = &p->runs[n - 1];
            if (r->count > kept->count) kept->count = r->count;
            kept->started |= r->started;
        } else {
            p->runs[n++] = *r;
        }
    }
    p->n_runs = n;
    for (int64_t k = 0, first = 0; k < n; k++) p->runs[k].first = (int)first, first += p->runs[k].count;
    if (p->time_base == INT64_MAX) p->time_base = 0;
}

void trace_plan_free(struct trace_plan *p)
{
    free(p->tracks);
    free(p->ranks);
    free(p->runs);
}

/* A part numbered its iterations 0.. over its own runs: renumbered over the export's. */
bool trace_plan_renumber_steps(const struct trace_plan *p, const struct prof_trace *t, struct layout *l)
{
    int64_t n_runs;
    struct part_run *runs = part_runs(t, l, &n_runs);
    if (!runs) return false;
    for (int64_t k = 0; k < l->n_envs; k++) {
        struct envelope *e = &l->envs[k];
        if (e->cp_step >= 0) continue;
        struct part_run key = {.run = e->run};
        const struct part_run *mine = bsearch(&key, runs, (size_t)n_runs, sizeof *runs, part_run_cmp);
        e->step_number = trace_plan_run(p, e->run)->first + e->step_number - mine->lo;
    }
    free(runs);
    return true;
}
