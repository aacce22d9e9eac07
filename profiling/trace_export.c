/* Chrome trace writer. Events are gathered as they come; writing lays them out once: groups the
 * intervals by (rank, run, iteration, CP step) for breakdowns and host ranges, sorts every
 * duration event by (rank, track, start, longest first) and gives each a nesting level with one
 * stack per level, then streams the JSON out through a large stdio buffer. O(n log n). */
#define _POSIX_C_SOURCE 200809L
#include "profiling/trace_export.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/file_atomic.h"
#include "core/io/json.h"
#include "core/model/spec.h"
#include "profiling/overlap.h"

#define LABEL_LEN 160

struct trace_iv {
    struct interval iv;
    int rank, run;
};

struct trace_sample {
    struct counter_sample s;
    int rank;
};

struct trace_run {
    int rank, run;
    int64_t start, end;
    bool ended;
    enum lc_status status;
};

struct trace_label {
    int run;
    char text[LABEL_LEN]; /* "run 3: cpu causal S=4096 ..." from the queued spec */
};

struct trace_rank {
    int rank;
    bool hello;
    struct ev_hello info;
};

struct prof_trace {
    struct trace_iv *ivs;
    int64_t n_ivs, cap_ivs;
    struct trace_sample *samples;
    int64_t n_samples, cap_samples;
    struct trace_run *runs;
    int64_t n_runs, cap_runs;
    struct trace_rank *ranks;
    int64_t n_ranks, cap_ranks;
    struct trace_label *labels;
    int64_t n_labels, cap_labels;
    enum lc_status st; /* first failure while adding, reported by the writers */
    char err[LC_ERRMSG_LEN];
};

/* ------------------------------------------------------------------ gathering */

static bool grow(void **items, int64_t *cap, int64_t need, size_t size)
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

static void out_of_memory(struct prof_trace *t, const char *what)
{
    if (t->st == LC_OK) t->st = lc_fail(t->err, LC_ERR_OOM, "trace export: out of memory keeping %s", what);
}

static struct trace_rank *rank_entry(struct prof_trace *t, int rank)
{
    for (int64_t k = 0; k < t->n_ranks; k++)
        if (t->ranks[k].rank == rank) return &t->ranks[k];
    if (!grow((void **)&t->ranks, &t->cap_ranks, t->n_ranks + 1, sizeof *t->ranks)) {
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
    if (!grow((void **)&t->runs, &t->cap_runs, t->n_runs + 1, sizeof *t->runs)) {
        out_of_memory(t, "runs");
        return;
    }
    struct trace_run *r = &t->runs[t->n_runs++];
    memset(r, 0, sizeof *r);
    r->rank = ev->rank;
    r->run = ev->run_id;
    r->start = r->end = ev->t_ns;
}

static void add_label(struct prof_trace *t, const struct event *ev)
{
    if (!grow((void **)&t->labels, &t->cap_labels, t->n_labels + 1, sizeof *t->labels)) {
        out_of_memory(t, "run labels");
        return;
    }
    struct trace_label *l = &t->labels[t->n_labels++];
    l->run = ev->run_id;
    char describe[LABEL_LEN - 16];
    run_spec_describe(&ev->u.spec, describe, sizeof describe);
    snprintf(l->text, sizeof l->text, "run %d: %s", ev->run_id, describe);
}

void prof_trace_add(void *trace, const struct event *ev)
{
    struct prof_trace *t = trace;
    if (t->st != LC_OK || ev->rank < 0) return; /* rank -1: results merged over ranks */
    if (ev->type == EV_RUN_QUEUED) {
        add_label(t, ev);
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
        if (!grow((void **)&t->ivs, &t->cap_ivs, t->n_ivs + ev->n_intervals, sizeof *t->ivs)) {
            out_of_memory(t, "intervals");
            return;
        }
        for (int k = 0; k < ev->n_intervals; k++)
            t->ivs[t->n_ivs++] = (struct trace_iv){ev->intervals[k], ev->rank, ev->run_id};
    } else if (ev->type == EV_COUNTERS && ev->n_samples > 0) {
        if (!rank_entry(t, ev->rank)) return;
        if (!grow((void **)&t->samples, &t->cap_samples, t->n_samples + ev->n_samples, sizeof *t->samples)) {
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

void prof_trace_free(struct prof_trace *t)
{
    if (!t) return;
    free(t->ivs);
    free(t->samples);
    free(t->runs);
    free(t->ranks);
    free(t->labels);
    free(t);
}

/* ------------------------------------------------------------------ layout */

enum slice_what { SLICE_RUN = 0, SLICE_ITER, SLICE_STEP, SLICE_INTERVAL }; /* outermost first */

struct slice {
    int64_t start, end;
    int64_t ref; /* index into runs, envelopes or ivs */
    int32_t rank, stream, level;
    uint8_t what;
};

struct envelope {
    int rank, run, iter, cp_step;
    int64_t start, end;
};

struct rank_run_stats {
    int rank, run; /* run -1: every interval of the rank */
    struct prof_breakdown b;
};

struct track {
    int rank, stream, level;
    unsigned kinds; /* bit per enum interval_kind of the intervals on it */
};

struct layout {
    struct slice *slices;
    int64_t n_slices;
    struct envelope *envs;
    int64_t n_envs, cap_envs;
    struct rank_run_stats *stats;
    int64_t n_stats, cap_stats;
    struct track *tracks;
    int64_t n_tracks, cap_tracks;
    int64_t time_base;
    int64_t moved;
};

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

static void layout_free(struct layout *l)
{
    free(l->slices);
    free(l->envs);
    free(l->stats);
    free(l->tracks);
    memset(l, 0, sizeof *l);
}

static bool add_envelope(struct layout *l, int rank, int run, int iter, int cp_step, const struct interval *iv,
                         int64_t n)
{
    if (!grow((void **)&l->envs, &l->cap_envs, l->n_envs + 1, sizeof *l->envs)) return false;
    struct envelope e = {rank, run, iter, cp_step, INT64_MAX, INT64_MIN};
    for (int64_t k = 0; k < n; k++) {
        if (iv[k].start_ns < e.start) e.start = iv[k].start_ns;
        if (iv[k].end_ns > e.end) e.end = iv[k].end_ns;
    }
    if (e.end < e.start) e.end = e.start;
    l->envs[l->n_envs++] = e;
    return true;
}

static bool add_stats(struct layout *l, int rank, int run, const struct interval *iv, int64_t n)
{
    if (n > INT32_MAX || !grow((void **)&l->stats, &l->cap_stats, l->n_stats + 1, sizeof *l->stats)) return false;
    struct rank_run_stats *s = &l->stats[l->n_stats];
    s->rank = rank;
    s->run = run;
    if (prof_breakdown_compute(iv, (int)n, &s->b, NULL) != LC_OK) return false;
    l->n_stats++;
    return true;
}

static const struct rank_run_stats *find_stats(const struct layout *l, int rank, int run)
{
    for (int64_t k = 0; k < l->n_stats; k++)
        if (l->stats[k].rank == rank && l->stats[k].run == run) return &l->stats[k];
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

static enum lc_status build_slices(const struct prof_trace *t, struct layout *l, char *err)
{
    int64_t n = t->n_runs + l->n_envs + t->n_ivs;
    l->slices = malloc((size_t)(n ? n : 1) * sizeof *l->slices);
    if (!l->slices) return lc_fail(err, LC_ERR_OOM, "trace export: out of memory for %" PRId64 " events", n);
    for (int64_t k = 0; k < t->n_runs; k++) {
        const struct trace_run *r = &t->runs[k];
        int64_t end = r->end;
        if (!r->ended) { /* the worker was lost or the capture cut: end with its last interval */
            const struct rank_run_stats *s = find_stats(l, r->rank, r->run);
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
                    ok = grow((void **)&levels, &cap_levels, n_levels + 1, sizeof *levels);
                    if (!ok) break;
                    memset(&levels[n_levels++], 0, sizeof *levels);
                }
                struct level_stack *st = &levels[level];
                while (st->n > 0 && st->ends[st->n - 1] <= s->start) st->n--;
                if (st->n == 0 || s->end <= st->ends[st->n - 1]) break;
            }
            if (!ok) break;
            struct level_stack *st = &levels[level];
            ok = grow((void **)&st->ends, &st->cap, st->n + 1, sizeof *st->ends);
            if (!ok) break;
            st->ends[st->n++] = s->end;
            st->used = true;
            st->kinds |= slice_kind_bit(t, s);
            s->level = (int32_t)level;
            if (level > 0 && s->what == SLICE_INTERVAL) l->moved++;
        }
        for (int64_t k = 0; ok && k < n_levels; k++) {
            if (!levels[k].used) continue;
            ok = grow((void **)&l->tracks, &l->cap_tracks, l->n_tracks + 1, sizeof *l->tracks);
            if (ok) l->tracks[l->n_tracks++] = (struct track){l->slices[a].rank, l->slices[a].stream, (int)k, levels[k].kinds};
        }
        a = b;
    }
    for (int64_t k = 0; k < n_levels; k++) free(levels[k].ends);
    free(levels);
    return ok ? LC_OK : lc_fail(err, LC_ERR_OOM, "trace export: out of memory nesting events");
}

static enum lc_status layout_build(const struct prof_trace *t, struct layout *l, char *err)
{
    memset(l, 0, sizeof *l);
    if (t->st != LC_OK) return lc_fail(err, t->st, "%s", t->err);
    enum lc_status st;
    if ((st = group_intervals(t, l, err)) || (st = build_slices(t, l, err)) || (st = assign_levels(t, l, err))) {
        layout_free(l);
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

/* ------------------------------------------------------------------ writing */

struct writer {
    FILE *f;
    const struct prof_trace *t;
    const struct layout *l;
    int only_rank; /* -1: every rank */
    bool first;
    struct prof_trace_summary sum;
};

static bool wanted(const struct writer *w, int rank) { return w->only_rank < 0 || rank == w->only_rank; }

static void next_event(struct writer *w)
{
    fputs(w->first ? "\n" : ",\n", w->f);
    w->first = false;
}

/* Microseconds with three decimals from the time base: exact nanoseconds for any reader. */
static void put_us(FILE *f, int64_t ns)
{
    if (ns < 0) fputc('-', f), ns = -ns;
    fprintf(f, "%" PRId64 ".%03d", ns / 1000, (int)(ns % 1000));
}

static const struct trace_rank *find_rank(const struct prof_trace *t, int rank)
{
    for (int64_t k = 0; k < t->n_ranks; k++)
        if (t->ranks[k].rank == rank) return &t->ranks[k];
    return NULL;
}

static void write_process_meta(struct writer *w, int rank)
{
    const struct trace_rank *r = find_rank(w->t, rank);
    char name[LC_HOST_LEN + 160];
    if (r && r->hello)
        snprintf(name, sizeof name, "rank %d (%s %d: %s, %s)", rank, r->info.backend, r->info.local_index,
                 r->info.device, r->info.host);
    else
        snprintf(name, sizeof name, "rank %d", rank);
    next_event(w);
    fprintf(w->f, "{\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":", rank);
    json_write_string(w->f, name);
    fputs("}}", w->f);
    next_event(w);
    fprintf(w->f, "{\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"name\":\"process_sort_index\",\"args\":{\"sort_index\":%d}}",
            rank, rank);
    w->sum.ranks++;
}

static int stream_label(int stream, char *buf, size_t len)
{
    return stream == 0 ? snprintf(buf, len, "host") : snprintf(buf, len, "stream %d", stream);
}

static int track_tid(int stream, int level) { return stream + level * PROF_TRACE_OVERFLOW_TID; }

static void write_thread_meta(struct writer *w, const struct track *tr)
{
    char name[96];
    int at = stream_label(tr->stream, name, sizeof name);
    if (tr->kinds) {
        at += snprintf(name + at, sizeof name - (size_t)at, " (");
        const char *sep = "";
        for (int k = 0; k < IV_KIND_COUNT; k++)
            if (tr->kinds & (1u << k)) {
                at += snprintf(name + at, sizeof name - (size_t)at, "%s%s", sep, interval_kind_name((enum interval_kind)k));
                sep = "+";
            }
        at += snprintf(name + at, sizeof name - (size_t)at, ")");
    }
    if (tr->level > 0) snprintf(name + at, sizeof name - (size_t)at, " overflow %d", tr->level);
    int tid = track_tid(tr->stream, tr->level);
    next_event(w);
    fprintf(w->f, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":", tr->rank, tid);
    json_write_string(w->f, name);
    fputs("}}", w->f);
    /* Host first, then streams by id, each followed by its overflow tracks. */
    int64_t order = (int64_t)tr->stream * 64 + (tr->level < 63 ? tr->level : 63);
    next_event(w);
    fprintf(w->f, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%" PRId64 "}}",
            tr->rank, tid, order);
}

static void write_breakdown_fields(FILE *f, const struct prof_breakdown *b)
{
    fprintf(f,
            "\"n_intervals\":%d,\"span_ns\":%" PRId64 ",\"busy_ns\":%" PRId64 ",\"compute_ns\":%" PRId64
            ",\"comm_ns\":%" PRId64 ",\"memory_ns\":%" PRId64 ",\"compute_only_ns\":%" PRId64
            ",\"comm_only_ns\":%" PRId64 ",\"overlapped_ns\":%" PRId64 ",\"other_only_ns\":%" PRId64
            ",\"idle_ns\":%" PRId64,
            b->n_intervals, b->span_ns, b->busy_ns, b->union_ns[IV_COMPUTE], b->union_ns[IV_COMM],
            b->union_ns[IV_MEMORY], b->compute_only_ns, b->comm_only_ns, b->overlapped_ns, b->other_only_ns,
            b->idle_ns);
    const struct {
        const char *key;
        double value;
    } pct[] = {{"compute_only_pct", b->compute_only_pct}, {"comm_only_pct", b->comm_only_pct},
               {"overlapped_pct", b->overlapped_pct},     {"other_only_pct", b->other_only_pct},
               {"idle_pct", b->idle_pct},                 {"hta_overlap_pct", b->hta_overlap_pct}};
    for (size_t k = 0; k < sizeof pct / sizeof *pct; k++) {
        fprintf(f, ",\"%s\":", pct[k].key);
        json_write_double(f, pct[k].value);
    }
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

static void write_interval(struct writer *w, const struct slice *s)
{
    const struct trace_iv *x = &w->t->ivs[s->ref];
    const struct interval *iv = &x->iv;
    const struct trace_rank *r = find_rank(w->t, x->rank);
    const char *prefix = "";
    if (iv->kind == IV_COMM && !hta_sees_comm(iv->name)) prefix = "ncclKernel:";
    else if (iv->kind == IV_MEMORY && !hta_sees_memory(iv->name)) prefix = "dma:";
    char name[LC_IV_NAME_LEN + 16];
    snprintf(name, sizeof name, "%s%s", prefix, iv->name);
    const char *cat = "kernel";
    if (iv->kind == IV_MEMORY) cat = strstr(name, "emset") ? "gpu_memset" : "gpu_memcpy";

    next_event(w);
    fprintf(w->f, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":", x->rank, track_tid(s->stream, s->level));
    put_us(w->f, s->start - w->l->time_base);
    fputs(",\"dur\":", w->f);
    put_us(w->f, s->end - s->start);
    fprintf(w->f, ",\"cat\":\"%s\",\"name\":", cat);
    json_write_string(w->f, name);
    fprintf(w->f,
            ",\"args\":{\"run\":%d,\"kind\":\"%s\",\"device\":%d,\"stream\":%d,\"correlation\":%" PRIu32
            ",\"grid\":[%" PRIu32 ",%" PRIu32 ",%" PRIu32 "],\"block\":[%" PRIu32 ",%" PRIu32 ",%" PRIu32
            "],\"bytes\":%" PRIu64 ",\"cp_step\":%d,\"iter\":%d",
            x->run, interval_kind_name((enum interval_kind)(iv->kind < IV_KIND_COUNT ? iv->kind : IV_OTHER)),
            r && r->hello ? r->info.local_index : -1, iv->stream, iv->correlation, iv->grid[0], iv->grid[1],
            iv->grid[2], iv->block[0], iv->block[1], iv->block[2], iv->bytes, iv->cp_step, iv->iter);
    if (*prefix) {
        fputs(",\"capture_name\":", w->f);
        json_write_string(w->f, iv->name);
    }
    if (s->level > 0) fprintf(w->f, ",\"overflow_of_stream\":%d", s->stream);
    fputs("}}", w->f);
    w->sum.kernels++;
    if (s->level > 0) w->sum.moved++;
}

static void write_range(struct writer *w, const struct slice *s)
{
    const struct layout *l = w->l;
    char name[LABEL_LEN];
    int rank, run;
    if (s->what == SLICE_RUN) {
        const struct trace_run *r = &w->t->runs[s->ref];
        rank = r->rank, run = r->run;
        snprintf(name, sizeof name, "run %d", run);
        for (int64_t k = w->t->n_labels - 1; k >= 0; k--)
            if (w->t->labels[k].run == run) {
                snprintf(name, sizeof name, "%s", w->t->labels[k].text);
                break;
            }
    } else {
        const struct envelope *e = &l->envs[s->ref];
        rank = e->rank, run = e->run;
        if (s->what == SLICE_ITER) snprintf(name, sizeof name, "iter %d", e->iter);
        else snprintf(name, sizeof name, "cp step %d", e->cp_step);
    }
    next_event(w);
    fprintf(w->f, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":", rank, track_tid(s->stream, s->level));
    put_us(w->f, s->start - l->time_base);
    fputs(",\"dur\":", w->f);
    put_us(w->f, s->end - s->start);
    fputs(",\"cat\":\"user_annotation\",\"name\":", w->f);
    json_write_string(w->f, name);
    fprintf(w->f, ",\"args\":{\"run\":%d", run);
    if (s->what == SLICE_RUN) {
        const struct trace_run *r = &w->t->runs[s->ref];
        fprintf(w->f, ",\"status\":\"%s\"", r->ended ? lc_status_name(r->status) : "incomplete");
        const struct rank_run_stats *st = find_stats(l, rank, run);
        if (st) {
            fputc(',', w->f);
            write_breakdown_fields(w->f, &st->b);
        }
    } else {
        const struct envelope *e = &l->envs[s->ref];
        fprintf(w->f, ",\"iter\":%d,\"cp_step\":%d,\"extent\":\"first start to last end of its intervals\"", e->iter,
                e->cp_step);
    }
    if (s->level > 0) fprintf(w->f, ",\"overflow_of_stream\":%d", s->stream);
    fputs("}}", w->f);
    w->sum.ranges++;
}

static void write_counter(struct writer *w, const struct trace_sample *x)
{
    if (!isfinite(x->s.value)) return; /* a counter track cannot show a gap */
    next_event(w);
    fprintf(w->f, "{\"ph\":\"C\",\"pid\":%d,\"tid\":0,\"ts\":", x->rank);
    put_us(w->f, x->s.t_ns - w->l->time_base);
    fputs(",\"cat\":\"counter\",\"name\":", w->f);
    json_write_string(w->f, x->s.metric);
    fputs(",\"args\":{\"value\":", w->f);
    json_write_double(w->f, x->s.value);
    fputs("}}", w->f);
    w->sum.counters++;
}

static bool rank_has_data(const struct writer *w, int rank)
{
    for (int64_t k = 0; k < w->l->n_tracks; k++)
        if (w->l->tracks[k].rank == rank) return true;
    for (int64_t k = 0; k < w->t->n_samples; k++)
        if (w->t->samples[k].rank == rank) return true;
    return false;
}

static void write_events(struct writer *w)
{
    const struct layout *l = w->l;
    for (int64_t k = 0; k < w->t->n_ranks; k++) {
        int rank = w->t->ranks[k].rank;
        if (wanted(w, rank) && rank_has_data(w, rank)) write_process_meta(w, rank);
    }
    for (int64_t k = 0; k < l->n_tracks; k++)
        if (wanted(w, l->tracks[k].rank)) write_thread_meta(w, &l->tracks[k]);
    for (int64_t k = 0; k < l->n_slices; k++) {
        const struct slice *s = &l->slices[k];
        if (!wanted(w, s->rank)) continue;
        if (s->what == SLICE_INTERVAL) write_interval(w, s);
        else write_range(w, s);
    }
    for (int64_t k = 0; k < w->t->n_samples; k++)
        if (wanted(w, w->t->samples[k].rank)) write_counter(w, &w->t->samples[k]);
    fputc('\n', w->f);
}

/* After the events: keys readers look up by name. traceEvents comes first because older
 * Perfetto importers stop at the first key they do not know, and read displayTimeUnit "ns" found
 * in the first chunk as the unit of ts; at the end of a large file it is a display hint, as the
 * format says. */
static void write_trailer(struct writer *w)
{
    const struct prof_trace *t = w->t;
    int max_rank = 0, shown = 0, last_shown = -1;
    bool cuda = false, any_hello = false;
    for (int64_t k = 0; k < t->n_ranks; k++) {
        const struct trace_rank *r = &t->ranks[k];
        if (r->rank > max_rank) max_rank = r->rank;
        if (!wanted(w, r->rank)) continue;
        if (r->hello) any_hello = true, cuda |= !strcmp(r->info.backend, "cuda");
        if (rank_has_data(w, r->rank)) shown++, last_shown = r->rank;
    }
    fputs("],\n\"displayTimeUnit\":\"ns\",\"distributedInfo\":{", w->f);
    if (any_hello) fprintf(w->f, "\"backend\":\"%s\",", cuda ? "nccl" : "mpi");
    /* "rank": N with a space: older HTA finds it with the regex "rank":\s+(\d+). */
    if (shown == 1) fprintf(w->f, "\"rank\": %d,", last_shown);
    fprintf(w->f, "\"world_size\":%d},\n", max_rank + 1);
    fprintf(w->f, "\"longca\":{\"format\":1,\"time_base_ns\":%" PRId64
                  ",\"clock\":\"CLOCK_REALTIME ns aligned to rank 0; ts = (t - time_base_ns) / 1000\",\"breakdown\":[",
            w->l->time_base);
    bool first = true;
    for (int64_t k = 0; k < w->l->n_stats; k++) {
        const struct rank_run_stats *s = &w->l->stats[k];
        if (!wanted(w, s->rank)) continue;
        fprintf(w->f, "%s\n{\"rank\":%d,\"run\":%d,", first ? "" : ",", s->rank, s->run);
        write_breakdown_fields(w->f, &s->b);
        fputc('}', w->f);
        first = false;
    }
    fputs("]}}\n", w->f);
}


static enum lc_status write_file(const struct prof_trace *t, const struct layout *l, int only_rank, const char *path,
                                 struct prof_trace_summary *sum, char *err)
{
    struct file_atomic fa;
    enum lc_status st = file_atomic_open(&fa, path, err);
    if (st) return st;
    struct writer w = {.f = fa.f, .t = t, .l = l, .only_rank = only_rank, .first = true};
    fputs("{\"traceEvents\":[", w.f);
    write_events(&w);
    write_trailer(&w);
    if ((st = file_atomic_commit(&fa, err))) return st;
    sum->ranks += w.sum.ranks;
    sum->kernels += w.sum.kernels;
    sum->ranges += w.sum.ranges;
    sum->counters += w.sum.counters;
    sum->moved += w.sum.moved;
    return LC_OK;
}

enum lc_status prof_trace_write(struct prof_trace *t, const char *path, struct prof_trace_summary *summary, char *err)
{
    struct layout l;
    enum lc_status st = layout_build(t, &l, err);
    if (st) return st;
    struct prof_trace_summary sum = {0};
    st = write_file(t, &l, -1, path, &sum, err);
    layout_free(&l);
    if (summary) *summary = sum;
    return st;
}

enum lc_status prof_trace_write_per_rank(struct prof_trace *t, const char *dir, struct prof_trace_summary *summary,
                                         char *err)
{
    struct layout l;
    enum lc_status st = layout_build(t, &l, err);
    if (st) return st;
    struct prof_trace_summary sum = {0};
    struct writer probe = {.t = t, .l = &l, .only_rank = -1};
    for (int64_t k = 0; k < t->n_ranks && !st; k++) {
        int rank = t->ranks[k].rank;
        if (!rank_has_data(&probe, rank)) continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/rank%d.json", dir, rank) >= (int)sizeof path) {
            st = lc_fail(err, LC_ERR_INVALID, "trace export: directory name too long: %s", dir);
            break;
        }
        st = write_file(t, &l, rank, path, &sum, err);
    }
    layout_free(&l);
    if (summary) *summary = sum;
    return st;
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
