/* The layout every trace writer reads. Intervals are grouped by (rank, run, iteration, CP step)
 * for breakdowns and host ranges; every duration event (runs, iteration and step envelopes,
 * host launches, intervals) is sorted by (rank, track, start, longest first) and given a nesting
 * level with one stack per level, so events on one track always nest. O(n log n). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiling/trace_internal.h"

struct iv_key {
    int rank, run, iter, cp_step;
    int64_t idx;
};

static int cmp_int(int a, int b) { return (a > b) - (a < b); }
static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

static int iv_key_cmp(const void *pa, const void *pb)
{
    const struct iv_key *a = pa, *b = pb;
    int c;
    if ((c = cmp_int(a->rank, b->rank)) || (c = cmp_int(a->run, b->run)) || (c = cmp_int(a->iter, b->iter)) ||
        (c = cmp_int(a->cp_step, b->cp_step)))
        return c;
    return cmp_i64(a->idx, b->idx);
}

static int slice_cmp(const void *pa, const void *pb)
{
    const struct slice *a = pa, *b = pb;
    int c;
    if ((c = cmp_int(a->rank, b->rank)) || (c = cmp_int(a->stream, b->stream)) || (c = cmp_i64(a->start, b->start)) ||
        (c = cmp_i64(b->end, a->end)) || (c = cmp_int(a->what, b->what)))
        return c;
    return cmp_i64(a->ref, b->ref);
}

void trace_layout_free(struct layout *l)
{
    free(l->slices);
    free(l->envs);
    free(l->stats);
    free(l->tracks);
    free(l->correlation);
    free(l->shown);
    memset(l, 0, sizeof *l);
}

/* An iteration or step spans its intervals and the host launches that issued them. */
static bool add_envelope(struct layout *l, int rank, int run, int iter, int cp_step, const struct interval *iv,
                         int64_t n)
{
    if (!trace_grow((void **)&l->envs, &l->cap_envs, l->n_envs + 1, sizeof *l->envs)) return false;
    struct envelope e = {rank, run, iter, cp_step, -1, INT64_MAX, INT64_MIN};
    for (int64_t k = 0; k < n; k++) {
        int64_t start = iv[k].launch_ns && iv[k].launch_ns < iv[k].start_ns ? iv[k].launch_ns : iv[k].start_ns;
        if (start < e.start) e.start = start;
        if (iv[k].end_ns > e.end) e.end = iv[k].end_ns;
    }
    if (e.end < e.start) e.end = e.start;
    l->envs[l->n_envs++] = e;
    return true;
}

static bool add_stats(struct layout *l, int rank, int run, const struct interval *iv, int64_t n)
{
    if (n > INT32_MAX || !trace_grow((void **)&l->stats, &l->cap_stats, l->n_stats + 1, sizeof *l->stats))
        return false;
    struct rank_run_stats *s = &l->stats[l->n_stats];
    s->rank = rank;
    s->run = run;
    if (prof_breakdown_compute(iv, (int)n, &s->b, NULL) != LC_OK) return false;
    l->n_stats++;
    return true;
}

/* Stats are added in (rank, run) order (the grouping walks sorted keys): a binary search keeps
 * a capture of 100K runs linear-logarithmic to export. */
const struct rank_run_stats *trace_layout_stats(const struct layout *l, int rank, int run)
{
    int64_t lo = 0, hi = l->n_stats;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const struct rank_run_stats *s = &l->stats[mid];
        int c = s->rank != rank ? (s->rank > rank) - (s->rank < rank) : (s->run > run) - (s->run < run);
        if (c == 0) return s;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Breakdowns per rank and per (rank, run); envelopes per timed iteration and per CP step. */
static enum lc_status group_intervals(const struct prof_trace *t, struct layout *l, char *err)
{
    int64_t n = t->n_ivs;
    struct iv_key *keys = malloc((size_t)(n ? n : 1) * sizeof *keys);
    struct interval *scratch = malloc((size_t)(n ? n : 1) * sizeof *scratch);
    bool ok = keys && scratch;
    if (ok) {
        for (int64_t k = 0; k < n; k++) {
            const struct trace_iv *x = &t->ivs[k];
            keys[k] = (struct iv_key){x->rank, x->run, x->iv.iter, x->iv.cp_step, k};
        }
        qsort(keys, (size_t)n, sizeof *keys, iv_key_cmp);
    }
    for (int64_t a = 0; ok && a < n;) { /* one rank */
        int64_t b = a;
        while (b < n && keys[b].rank == keys[a].rank) b++;
        for (int64_t k = a; k < b; k++) scratch[k - a] = t->ivs[keys[k].idx].iv;
        ok = add_stats(l, keys[a].rank, -1, scratch, b - a);
        for (int64_t r = a; ok && r < b;) { /* one run */
            int64_t re = r;
            while (re < b && keys[re].run == keys[r].run) re++;
            ok = add_stats(l, keys[r].rank, keys[r].run, scratch + (r - a), re - r);
            for (int64_t i = r; ok && i < re;) { /* one iteration */
                int64_t ie = i;
                while (ie < re && keys[ie].iter == keys[i].iter) ie++;
                if (keys[i].iter >= 0) {
                    ok = add_envelope(l, keys[i].rank, keys[i].run, keys[i].iter, -1, scratch + (i - a), ie - i);
                    for (int64_t s = i; ok && s < ie;) { /* one CP step */
                        int64_t se = s;
                        while (se < ie && keys[se].cp_step == keys[s].cp_step) se++;
                        if (keys[s].cp_step >= 0)
                            ok = add_envelope(l, keys[s].rank, keys[s].run, keys[s].iter, keys[s].cp_step,
                                              scratch + (s - a), se - s);
                        s = se;
                    }
                }
                i = ie;
            }
            r = re;
        }
        a = b;
    }
    free(keys);
    free(scratch);
    return ok ? LC_OK : lc_fail(err, LC_ERR_OOM, "trace export: out of memory grouping %" PRId64 " intervals", n);
}

static int step_cmp(const void *pa, const void *pb)
{
    const int *a = pa, *b = pb;
    int c = cmp_int(a[0], b[0]);
    return c ? c : cmp_int(a[1], b[1]);
}

/* ProfilerStep#N: every rank's iteration (run, iter) gets the same N, counted over the export. */
static enum lc_status number_steps(struct layout *l, char *err)
{
    int (*pairs)[2] = malloc((size_t)(l->n_envs ? l->n_envs : 1) * sizeof *pairs);
    if (!pairs) return lc_fail(err, LC_ERR_OOM, "trace export: out of memory numbering iterations");
    int64_t n = 0;
    for (int64_t k = 0; k < l->n_envs; k++)
        if (l->envs[k].cp_step < 0) pairs[n][0] = l->envs[k].run, pairs[n][1] = l->envs[k].iter, n++;
    qsort(pairs, (size_t)n, sizeof *pairs, step_cmp);
    int64_t distinct = 0;
    for (int64_t k = 0; k < n; k++)
        if (distinct == 0 || step_cmp(pairs[k], pairs[distinct - 1])) {
            pairs[distinct][0] = pairs[k][0], pairs[distinct][1] = pairs[k][1];
            distinct++;
        }
    for (int64_t k = 0; k < l->n_envs; k++) {
        struct envelope *e = &l->envs[k];
        int key[2] = {e->run, e->iter};
        int(*hit)[2] = bsearch(key, pairs, (size_t)distinct, sizeof *pairs, step_cmp);
        e->step_number = hit ? (int)(hit - pairs) : -1;
    }
    free(pairs);
    return LC_OK;
}

static bool has_launch(const struct interval *iv) { return iv->launch_ns != 0; }

static enum lc_status build_slices(const struct prof_trace *t, struct layout *l, char *err)
{
    int64_t n = t->n_runs + l->n_envs + 2 * t->n_ivs;
    l->slices = malloc((size_t)(n ? n : 1) * sizeof *l->slices);
    if (!l->slices) return lc_fail(err, LC_ERR_OOM, "trace export: out of memory for %" PRId64 " events", n);
    for (int64_t k = 0; k < t->n_runs; k++) {
        const struct trace_run *r = &t->runs[k];
        int64_t end = r->end;
        if (!r->ended) { /* the worker was lost or the capture cut: end with its last interval */
            const struct rank_run_stats *s = trace_layout_stats(l, r->rank, r->run);
            if (s && s->b.start_ns + s->b.span_ns > end) end = s->b.start_ns + s->b.span_ns;
        }
        l->slices[l->n_slices++] = (struct slice){r->start, end, k, r->rank, 0, 0, SLICE_RUN};
    }
    for (int64_t k = 0; k < l->n_envs; k++) {
        const struct envelope *e = &l->envs[k];
        l->slices[l->n_slices++] =
            (struct slice){e->start, e->end, k, e->rank, 0, 0, e->cp_step >= 0 ? SLICE_STEP : SLICE_ITER};
    }
    for (int64_t k = 0; k < t->n_ivs; k++) {
        const struct trace_iv *x = &t->ivs[k];
        int64_t end = x->iv.end_ns < x->iv.start_ns ? x->iv.start_ns : x->iv.end_ns; /* no negative durations */
        l->slices[l->n_slices++] = (struct slice){x->iv.start_ns, end, k, x->rank, x->iv.stream, 0, SLICE_INTERVAL};
        if (has_launch(&x->iv)) {
            int64_t lend = x->iv.launch_end_ns < x->iv.launch_ns ? x->iv.launch_ns : x->iv.launch_end_ns;
            l->slices[l->n_slices++] = (struct slice){x->iv.launch_ns, lend, k, x->rank, 0, 0, SLICE_LAUNCH};
        }
    }
    qsort(l->slices, (size_t)l->n_slices, sizeof *l->slices, slice_cmp);
    return LC_OK;
}

struct level_stack {
    int64_t *ends; /* ends of the open (enclosing) slices on this level */
    int64_t n, cap;
    unsigned kinds;
    bool used;
};

static unsigned slice_kind_bit(const struct prof_trace *t, const struct slice *s)
{
    if (s->what != SLICE_INTERVAL) return 0;
    unsigned kind = t->ivs[s->ref].iv.kind;
    return 1u << (kind < IV_KIND_COUNT ? kind : IV_OTHER);
}
/* Slices of one track arrive by start, longest first: each goes on the lowest level where it
 * nests inside the innermost open slice (or where nothing is open). */
static enum lc_status assign_levels(const struct prof_trace *t, struct layout *l, char *err)
{
    struct level_stack *levels = NULL;
    int64_t n_levels = 0, cap_levels = 0;
    bool ok = true;
    for (int64_t a = 0; ok && a < l->n_slices;) {
        int64_t b = a;
        while (b < l->n_slices && l->slices[b].rank == l->slices[a].rank && l->slices[b].stream == l->slices[a].stream)
            b++;
        for (int64_t k = 0; k < n_levels; k++) levels[k].n = 0, levels[k].kinds = 0, levels[k].used = false;
        for (int64_t i = a; ok && i < b; i++) {
            struct slice *s = &l->slices[i];
            int64_t level = 0;
            for (;; level++) {
                if (level == n_levels) {
                    ok = trace_grow((void **)&levels, &cap_levels, n_levels + 1, sizeof *levels);
                    if (!ok) break;
                    memset(&levels[n_levels++], 0, sizeof *levels);
                }
                struct level_stack *st = &levels[level];
                while (st->n > 0 && st->ends[st->n - 1] <= s->start) st->n--;
                if (st->n == 0 || s->end <= st->ends[st->n - 1]) break;
            }
            if (!ok) break;
            struct level_stack *st = &levels[level];
            ok = trace_grow((void **)&st->ends, &st->cap, st->n + 1, sizeof *st->ends);
            if (!ok) break;
            st->ends[st->n++] = s->end;
            st->used = true;
            st->kinds |= slice_kind_bit(t, s);
            s->level = (int32_t)level;
            if (level > 0 && s->what == SLICE_INTERVAL) l->moved++;
        }
        for (int64_t k = 0; ok && k < n_levels; k++) {
            if (!levels[k].used) continue;
            ok = trace_grow((void **)&l->tracks, &l->cap_tracks, l->n_tracks + 1, sizeof *l->tracks);
            if (ok) l->tracks[l->n_tracks++] = (struct track){l->slices[a].rank, l->slices[a].stream, (int)k, levels[k].kinds};
        }
        a = b;
    }
    for (int64_t k = 0; k < n_levels; k++) free(levels[k].ends);
    free(levels);
    return ok ? LC_OK : lc_fail(err, LC_ERR_OOM, "trace export: out of memory nesting events");
}


static int int_cmp(const void *a, const void *b) { return cmp_int(*(const int *)a, *(const int *)b); }

int trace_layout_export_rank(const struct layout *l, int rank)
{
    const int *hit = bsearch(&rank, l->shown, (size_t)l->n_shown, sizeof *l->shown, int_cmp);
    return hit ? (int)(hit - l->shown) : -1;
}

/* Ranks with a track or a counter, numbered 0.. in MPI order (the front end, MPI rank 0, has
 * neither), and each interval's correlation within its rank: HTA's defaults look at rank 0 and
 * pair a launch with its kernel by correlation. */
static enum lc_status number_ranks(const struct prof_trace *t, struct layout *l, char *err)
{
    l->shown = malloc((size_t)(t->n_ranks ? t->n_ranks : 1) * sizeof *l->shown);
    l->correlation = malloc((size_t)(t->n_ivs ? t->n_ivs : 1) * sizeof *l->correlation);
    uint32_t *next = calloc((size_t)(t->n_ranks ? t->n_ranks : 1), sizeof *next);
    if (!l->shown || !l->correlation || !next) {
        free(next);
        return lc_fail(err, LC_ERR_OOM, "trace export: out of memory numbering ranks");
    }
    for (int64_t k = 0; k < t->n_ranks; k++) {
        int rank = t->ranks[k].rank;
        bool data = false;
        for (int64_t j = 0; j < l->n_tracks && !data; j++) data = l->tracks[j].rank == rank;
        for (int64_t j = 0; j < t->n_samples && !data; j++) data = t->samples[j].rank == rank;
        if (data) l->shown[l->n_shown++] = rank;
    }
    qsort(l->shown, (size_t)l->n_shown, sizeof *l->shown, int_cmp);
    for (int64_t k = 0; k < t->n_ivs; k++) {
        int r = trace_layout_export_rank(l, t->ivs[k].rank);
        l->correlation[k] = r >= 0 ? ++next[r] : 0;
    }
    free(next);
    return LC_OK;
}

enum lc_status trace_layout_build(const struct prof_trace *t, struct layout *l, char *err)
{
    memset(l, 0, sizeof *l);
    if (t->st != LC_OK) return lc_fail(err, t->st, "%s", t->err);
    enum lc_status st;
    if ((st = group_intervals(t, l, err)) || (st = number_steps(l, err)) || (st = build_slices(t, l, err)) ||
        (st = assign_levels(t, l, err)) || (st = number_ranks(t, l, err))) {
        trace_layout_free(l);
        return st;
    }
    int64_t base = INT64_MAX;
    for (int64_t k = 0; k < l->n_slices; k++)
        if (l->slices[k].start < base) base = l->slices[k].start;
    for (int64_t k = 0; k < t->n_samples; k++)
        if (t->samples[k].s.t_ns < base) base = t->samples[k].s.t_ns;
    l->time_base = base == INT64_MAX ? 0 : base;
    return LC_OK;
}

/* ------------------------------------------------------------------ names */

int trace_track_tid(int stream, int level) { return stream + level * PROF_TRACE_OVERFLOW_TID; }

void trace_track_name(const struct track *tr, char *buf, size_t len)
{
    int at = tr->stream == 0 ? snprintf(buf, len, "host") : snprintf(buf, len, "stream %d", tr->stream);
    if (tr->kinds) {
        const char *sep = " (";
        for (int k = 0; k < IV_KIND_COUNT; k++)
            if (tr->kinds & (1u << k) && at < (int)len) {
                at += snprintf(buf + at, len - (size_t)at, "%s%s", sep, interval_kind_name((enum interval_kind)k));
                sep = "+";
            }
        if (at < (int)len) at += snprintf(buf + at, len - (size_t)at, ")");
    }
    if (tr->level > 0 && at < (int)len) snprintf(buf + at, len - (size_t)at, " overflow %d", tr->level);
}

/* HTA classifies GPU work by name: communication is "^nccl.*Kernel" (hta/utils/utils.py; older
 * releases took any "^nccl" or ".*ncclKernel"), memory "^(hip)?Memcpy|^(hip)?Memset|^dma". */
static bool hta_sees_comm(const char *n)
{
    const char *kernel = strstr(n, "Kernel");
    return !strncmp(n, "nccl", 4) && kernel && kernel >= n + 4;
}

static bool hta_sees_memory(const char *n)
{
    if (!strncmp(n, "hip", 3)) n += 3;
    return !strncmp(n, "Memcpy", 6) || !strncmp(n, "Memset", 6) || !strncmp(n, "dma", 3);
}

/* The name HTA's launch statistics look for, by what was issued. */
static const char *launch_name(const struct interval *iv)
{
    if (iv->kind != IV_MEMORY) return "cudaLaunchKernel";
    return strstr(iv->name, "emset") ? "cudaMemsetAsync" : "cudaMemcpyAsync";
}

void trace_slice_name(const struct prof_trace *t, const struct layout *l, const struct slice *s, char *buf,
                      size_t len)
{
    if (s->what == SLICE_INTERVAL) {
        const struct interval *iv = &t->ivs[s->ref].iv;
        const char *prefix = "";
        if (iv->kind == IV_COMM && !hta_sees_comm(iv->name)) prefix = "ncclKernel:";
        else if (iv->kind == IV_MEMORY && !hta_sees_memory(iv->name)) prefix = "dma:";
        snprintf(buf, len, "%s%s", prefix, iv->name);
    } else if (s->what == SLICE_LAUNCH) {
        snprintf(buf, len, "%s", launch_name(&t->ivs[s->ref].iv));
    } else if (s->what == SLICE_RUN) {
        int run = t->runs[s->ref].run;
        const char *label = trace_run_label(t, run);
        if (label) snprintf(buf, len, "%s", label);
        else snprintf(buf, len, "run %d", run);
    } else if (s->what == SLICE_ITER) {
        snprintf(buf, len, "ProfilerStep#%d", l->envs[s->ref].step_number);
    } else {
        snprintf(buf, len, "cp step %d", l->envs[s->ref].cp_step);
    }
}

void trace_process_name(const struct trace_rank *r, int export_rank, int rank, char *buf, size_t len)
{
    int at = snprintf(buf, len, "rank %d (MPI rank %d", export_rank, rank);
    if (r && r->hello && at < (int)len)
        snprintf(buf + at, len - (size_t)at, ", %s %d: %s, %s)", r->info.backend, r->info.local_index, r->info.device,
                 r->info.host);
    else if (at < (int)len)
        snprintf(buf + at, len - (size_t)at, ")");
}
