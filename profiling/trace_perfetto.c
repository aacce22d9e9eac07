/* The Perfetto protobuf writer over the layout (trace_layout.c): a Trace of TracePackets on one
 * sequence, written packet by packet as they are made (nothing of the file is held in memory),
 * into a file replaced whole or not at all. From a capture file it streams: a first read plans
 * what the whole export shares (processes, tracks and their names, the time base, ProfilerStep
 * numbers: trace_plan.c), a second writes run by run (trace_stream.c), so memory holds one run's
 * events at a time, never the capture. Field numbers are those of Perfetto's protos
 * (protos/perfetto/trace/trace_packet.proto, track_event/track_event.proto,
 * track_event/track_descriptor.proto, interned_data/interned_data.proto).
 *   - one process track per rank (pid = MPI rank, the name and labels as the JSON export's),
 *     a child track per (stream, nesting level) named as the JSON's threads, a counter track per
 *     (rank, metric);
 *   - slices as SLICE_BEGIN / SLICE_END pairs, in order on each track; names that repeat,
 *     categories and annotation names interned (sent once, then referred to by iid), a run's
 *     label and each ProfilerStep#N inline (each names one slice);
 *   - timestamps in ns from the same time base as the JSON export's ts. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/output_file.h"
#include "profiling/protobuf_wire.h"
#include "profiling/trace_internal.h"

enum { TRACE_PACKET = 1 };
enum { PKT_TIMESTAMP = 8, PKT_SEQUENCE_ID = 10, PKT_TRACK_EVENT = 11, PKT_INTERNED = 12, PKT_FLAGS = 13,
       PKT_TRACK_DESCRIPTOR = 60, PKT_FIRST_ON_SEQUENCE = 87 };
enum { SEQ_CLEARED = 1, SEQ_NEEDS_STATE = 2 };
enum { TRACK_UUID = 1, TRACK_NAME = 2, TRACK_PROCESS = 3, TRACK_PARENT = 5, TRACK_COUNTER = 8 };
enum { PROCESS_PID = 1, PROCESS_NAME = 6, PROCESS_LABELS = 8 };
enum { EVENT_CATEGORY_IIDS = 3, EVENT_ANNOTATIONS = 4, EVENT_TYPE = 9, EVENT_NAME_IID = 10, EVENT_TRACK = 11, EVENT_NAME = 23,
       EVENT_DOUBLE_COUNTER = 44 };
enum { TYPE_SLICE_BEGIN = 1, TYPE_SLICE_END = 2, TYPE_COUNTER = 4 };
enum { ANNOTATION_NAME_IID = 1, ANNOTATION_INT = 4, ANNOTATION_DOUBLE = 5, ANNOTATION_STRING = 6 };
enum { INTERNED_CATEGORIES = 1, INTERNED_NAMES = 2, INTERNED_ANNOTATION_NAMES = 3 };
enum { SEQUENCE = 1 };

/* Strings to iids, open addressing; iids start at 1. */
struct intern {
    char **keys;
    uint64_t *iids;
    size_t cap, n;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* The iid of s; *fresh when this call added it. 0 when out of memory. */
static uint64_t intern(struct intern *t, const char *s, bool *fresh)
{
    *fresh = false;
    if (2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 1024;
        char **keys = calloc(cap, sizeof *keys);
        uint64_t *iids = calloc(cap, sizeof *iids);
        if (!keys || !iids) {
            free(keys), free(iids);
            return 0;
        }
        for (size_t k = 0; k < t->cap; k++) {
            if (!t->keys[k]) continue;
            size_t at = hash(t->keys[k]) & (cap - 1);
            while (keys[at]) at = (at + 1) & (cap - 1);
            keys[at] = t->keys[k], iids[at] = t->iids[k];
        }
        free(t->keys), free(t->iids);
        t->keys = keys, t->iids = iids, t->cap = cap;
    }
    size_t at = hash(s) & (t->cap - 1);
    for (; t->keys[at]; at = (at + 1) & (t->cap - 1))
        if (!strcmp(t->keys[at], s)) return t->iids[at];
    if (!(t->keys[at] = strdup(s))) return 0;
    t->iids[at] = ++t->n;
    *fresh = true;
    return t->iids[at];
}

static void intern_free(struct intern *t)
{
    for (size_t k = 0; k < t->cap; k++) free(t->keys[k]);
    free(t->keys), free(t->iids);
}

struct pwriter {
    FILE *f;
    const struct trace_plan *plan;
    int64_t *correlation_base; /* per export rank: correlations the parts before used */
    const struct prof_trace *t; /* the part being written, and its layout */
    struct layout *l;
    struct pb_buf packet, event, interned, item, annotation;
    struct intern names, categories, annotation_names, counter_tracks;
    bool failed;
    struct prof_trace_summary sum;
};

static void put_varint(FILE *f, uint64_t v)
{
    do {
        int byte = (int)(v & 0x7f);
        v >>= 7;
        fputc(v ? byte | 0x80 : byte, f);
    } while (v);
}

/* Trace.packet (field 1, length-delimited) straight to the file. */
static void flush_packet(struct pwriter *w)
{
    if (w->packet.failed) w->failed = true;
    if (w->failed) return;
    put_varint(w->f, (uint64_t)TRACE_PACKET << 3 | 2);
    put_varint(w->f, w->packet.len);
    fwrite(w->packet.data, 1, w->packet.len, w->f);
}

/* An interned entry ({iid = 1, name = 2}) rides in the packet that first uses it. */
static uint64_t iid_of(struct pwriter *w, struct intern *table, int interned_field, const char *s)
{
    bool fresh;
    uint64_t iid = intern(table, s, &fresh);
    if (!iid) w->failed = true;
    if (fresh) {
        pb_reset(&w->item);
        pb_uint(&w->item, 1, iid);
        pb_string(&w->item, 2, s);
        pb_message(&w->interned, interned_field, &w->item);
    }
    return iid;
}

static void begin_event(struct pwriter *w, int type, uint64_t track)
{
    pb_reset(&w->event);
    pb_reset(&w->interned);
    pb_uint(&w->event, EVENT_TYPE, (uint64_t)type);
    pb_uint(&w->event, EVENT_TRACK, track);
}

static void annotate_int(struct pwriter *w, const char *name, int64_t value)
{
    pb_reset(&w->annotation);
    pb_uint(&w->annotation, ANNOTATION_NAME_IID, iid_of(w, &w->annotation_names, INTERNED_ANNOTATION_NAMES, name));
    pb_int(&w->annotation, ANNOTATION_INT, value);
    pb_message(&w->event, EVENT_ANNOTATIONS, &w->annotation);
}

static void annotate_text(struct pwriter *w, const char *name, const char *value)
{
    pb_reset(&w->annotation);
    pb_uint(&w->annotation, ANNOTATION_NAME_IID, iid_of(w, &w->annotation_names, INTERNED_ANNOTATION_NAMES, name));
    pb_string(&w->annotation, ANNOTATION_STRING, value);
    pb_message(&w->event, EVENT_ANNOTATIONS, &w->annotation);
}

static void end_event(struct pwriter *w, int64_t t_ns)
{
    pb_reset(&w->packet);
    pb_uint(&w->packet, PKT_TIMESTAMP, (uint64_t)(t_ns - w->plan->time_base));
    pb_uint(&w->packet, PKT_SEQUENCE_ID, SEQUENCE);
    pb_uint(&w->packet, PKT_FLAGS, SEQ_NEEDS_STATE);
    if (w->interned.len) pb_message(&w->packet, PKT_INTERNED, &w->interned);
    pb_message(&w->packet, PKT_TRACK_EVENT, &w->event);
    flush_packet(w);
}

/* A process track is (rank + 1) << 40; its slice tracks add bit 38, its counter tracks bit 39. */
static uint64_t process_uuid(int rank) { return (uint64_t)(rank + 1) << 40; }

static uint64_t track_uuid(int rank, int stream, int level)
{
    return process_uuid(rank) | (uint64_t)1 << 38 | (uint64_t)(uint16_t)stream << 20 | (uint64_t)(level & 0xfffff);
}

static void describe_track(struct pwriter *w, uint64_t uuid, uint64_t parent, const char *name, bool counter)
{
    pb_reset(&w->packet);
    pb_uint(&w->packet, PKT_SEQUENCE_ID, SEQUENCE);
    pb_reset(&w->event);
    pb_uint(&w->event, TRACK_UUID, uuid);
    pb_uint(&w->event, TRACK_PARENT, parent);
    pb_string(&w->event, TRACK_NAME, name);
    if (counter) {
        pb_reset(&w->item);
        pb_message(&w->event, TRACK_COUNTER, &w->item);
    }
    pb_message(&w->packet, PKT_TRACK_DESCRIPTOR, &w->event);
    flush_packet(w);
}

static void describe_process(struct pwriter *w, int export_rank)
{
    const struct trace_rank *r = &w->plan->ranks[export_rank];
    int rank = r->rank;
    char name[LC_HOST_LEN + 200], labels[64];
    trace_process_name(r, export_rank, rank, name, sizeof name);
    pb_reset(&w->packet);
    pb_uint(&w->packet, PKT_SEQUENCE_ID, SEQUENCE);
    pb_reset(&w->item);
    pb_int(&w->item, PROCESS_PID, rank);
    pb_string(&w->item, PROCESS_NAME, name);
    snprintf(labels, sizeof labels, "rank %d", export_rank);
    pb_string(&w->item, PROCESS_LABELS, labels);
    snprintf(labels, sizeof labels, "MPI rank %d", rank);
    pb_string(&w->item, PROCESS_LABELS, labels);
    pb_reset(&w->event);
    pb_uint(&w->event, TRACK_UUID, process_uuid(rank));
    pb_message(&w->event, TRACK_PROCESS, &w->item);
    pb_message(&w->packet, PKT_TRACK_DESCRIPTOR, &w->event);
    flush_packet(w);
    w->sum.ranks++;
}

static const char *slice_category(const struct prof_trace *t, const struct slice *s)
{
    if (s->what == SLICE_LAUNCH) return "cuda_runtime";
    if (s->what != SLICE_INTERVAL) return "user_annotation";
    const struct interval *iv = &t->ivs[s->ref].iv;
    if (iv->kind != IV_MEMORY) return "kernel";
    return strstr(iv->name, "emset") ? "gpu_memset" : "gpu_memcpy";
}

static void slice_begin(struct pwriter *w, const struct slice *s)
{
    char name[TRACE_LABEL_LEN + LC_IV_NAME_LEN];
    trace_slice_name(w->t, w->l, s, name, sizeof name);
    begin_event(w, TYPE_SLICE_BEGIN, track_uuid(s->rank, s->stream, s->level));
    /* A run's label and ProfilerStep#N name one slice each: written inline, so the interning
     * table holds only names that repeat (kernels, launches, CP steps) and stays bounded. */
    if (s->what == SLICE_RUN || s->what == SLICE_ITER) pb_string(&w->event, EVENT_NAME, name);
    else pb_uint(&w->event, EVENT_NAME_IID, iid_of(w, &w->names, INTERNED_NAMES, name));
    pb_uint(&w->event, EVENT_CATEGORY_IIDS, iid_of(w, &w->categories, INTERNED_CATEGORIES, slice_category(w->t, s)));
    if (s->what == SLICE_INTERVAL || s->what == SLICE_LAUNCH) {
        const struct trace_iv *x = &w->t->ivs[s->ref];
        annotate_int(w, "run", x->run);
        annotate_int(w, "correlation", w->correlation_base[trace_plan_export_rank(w->plan, s->rank)] + w->l->correlation[s->ref]);
        if (s->what == SLICE_INTERVAL) {
            annotate_text(w, "kind", interval_kind_name((enum interval_kind)(x->iv.kind < IV_KIND_COUNT ? x->iv.kind : IV_OTHER)));
            annotate_int(w, "stream", x->iv.stream);
            annotate_int(w, "iter", x->iv.iter);
            annotate_int(w, "cp_step", x->iv.cp_step);
            if (x->iv.bytes) annotate_int(w, "bytes", (int64_t)x->iv.bytes);
            w->sum.kernels++;
            if (s->level > 0) w->sum.moved++;
        } else {
            w->sum.launches++;
        }
    } else {
        const struct rank_run_stats *st = NULL;
        if (s->what == SLICE_RUN) {
            const struct trace_run *r = &w->t->runs[s->ref];
            annotate_int(w, "run", r->run);
            annotate_text(w, "status", r->ended ? lc_status_name(r->status) : "incomplete");
            st = trace_layout_stats(w->l, r->rank, r->run);
        } else {
            annotate_int(w, "run", w->l->envs[s->ref].run);
            annotate_int(w, "iter", w->l->envs[s->ref].iter);
        }
        if (st && isfinite(st->b.hta_overlap_pct)) {
            pb_reset(&w->annotation);
            pb_uint(&w->annotation, ANNOTATION_NAME_IID,
                    iid_of(w, &w->annotation_names, INTERNED_ANNOTATION_NAMES, "hta_overlap_pct"));
            pb_double(&w->annotation, ANNOTATION_DOUBLE, st->b.hta_overlap_pct);
            pb_message(&w->event, EVENT_ANNOTATIONS, &w->annotation);
        }
        w->sum.ranges++;
    }
    end_event(w, s->start);
}

static void slice_end(struct pwriter *w, const struct slice *s)
{
    begin_event(w, TYPE_SLICE_END, track_uuid(s->rank, s->stream, s->level));
    end_event(w, s->end);
}

struct open_stack {
    const struct slice **open;
    int64_t n, cap;
};

/* The slices of one (rank, stream) arrive by start, longest first, each with its level; a
 * stack per level closes what ended before the next begins, so every track's begins and ends
 * come in time order and nest. */
static void write_slices(struct pwriter *w)
{
    const struct layout *l = w->l;
    struct open_stack *levels = NULL;
    int64_t n_levels = 0;
    for (int64_t a = 0; a < l->n_slices && !w->failed;) {
        int64_t b = a;
        while (b < l->n_slices && l->slices[b].rank == l->slices[a].rank && l->slices[b].stream == l->slices[a].stream)
            b++;
        for (int64_t i = a; i < b && !w->failed; i++) {
            const struct slice *s = &l->slices[i];
            if (s->level >= n_levels) {
                struct open_stack *grown = realloc(levels, (size_t)(s->level + 1) * sizeof *levels);
                if (!grown) {
                    w->failed = true;
                    break;
                }
                levels = grown;
                memset(levels + n_levels, 0, (size_t)(s->level + 1 - n_levels) * sizeof *levels);
                n_levels = s->level + 1;
            }
            struct open_stack *st = &levels[s->level];
            while (st->n > 0 && st->open[st->n - 1]->end <= s->start) slice_end(w, st->open[--st->n]);
            if (!trace_grow((void **)&st->open, &st->cap, st->n + 1, sizeof *st->open)) {
                w->failed = true;
                break;
            }
            st->open[st->n++] = s;
            slice_begin(w, s);
        }
        for (int64_t k = 0; k < n_levels; k++)
            while (levels[k].n > 0) slice_end(w, levels[k].open[--levels[k].n]);
        a = b;
    }
    for (int64_t k = 0; k < n_levels; k++) free(levels[k].open);
    free(levels);
}

static void write_counters(struct pwriter *w)
{
    for (int64_t k = 0; k < w->t->n_samples && !w->failed; k++) {
        const struct trace_sample *x = &w->t->samples[k];
        if (!isfinite(x->s.value) || trace_layout_export_rank(w->l, x->rank) < 0) continue;
        char key[96];
        snprintf(key, sizeof key, "%d %s", x->rank, x->s.metric);
        bool fresh;
        uint64_t iid = intern(&w->counter_tracks, key, &fresh);
        if (!iid) w->failed = true;
        uint64_t uuid = process_uuid(x->rank) | (uint64_t)1 << 39 | iid;
        if (fresh) describe_track(w, uuid, process_uuid(x->rank), x->s.metric, true);
        begin_event(w, TYPE_COUNTER, uuid);
        pb_double(&w->event, EVENT_DOUBLE_COUNTER, x->s.value);
        end_event(w, x->s.t_ns);
        w->sum.counters++;
    }
}

/* The sequence's start, then every process and track of the plan: described before any event. */
static void write_header(struct pwriter *w)
{
    pb_reset(&w->packet); /* opens the sequence: interned state starts empty */
    pb_uint(&w->packet, PKT_SEQUENCE_ID, SEQUENCE);
    pb_uint(&w->packet, PKT_FLAGS, SEQ_CLEARED);
    pb_uint(&w->packet, PKT_FIRST_ON_SEQUENCE, 1);
    flush_packet(w);
    for (int k = 0; k < w->plan->n_ranks; k++) describe_process(w, k);
    for (int64_t k = 0; k < w->plan->n_tracks; k++) {
        const struct track *tr = &w->plan->tracks[k];
        char name[96];
        trace_track_name(tr, name, sizeof name);
        describe_track(w, track_uuid(tr->rank, tr->stream, tr->level), process_uuid(tr->rank), name, false);
    }
}

/* One part: its slices and counters, on the plan's tracks. */
static void write_part(struct pwriter *w, const struct prof_trace *t, struct layout *l)
{
    w->t = t, w->l = l;
    if (!trace_plan_renumber_steps(w->plan, t, l)) {
        w->failed = true;
        return;
    }
    write_slices(w);
    write_counters(w);
    for (int64_t k = 0; k < t->n_ivs; k++) {
        int r = trace_plan_export_rank(w->plan, t->ivs[k].rank);
        if (r >= 0) w->correlation_base[r]++;
    }
}

static enum lc_status writer_open(struct pwriter *w, struct output_file *out, const struct trace_plan *p, const char *path,
                                  char *err)
{
    memset(w, 0, sizeof *w);
    w->plan = p;
    w->correlation_base = calloc((size_t)(p->n_ranks ? p->n_ranks : 1), sizeof *w->correlation_base);
    if (!w->correlation_base) return lc_fail(err, LC_ERR_OOM, "perfetto export: out of memory");
    enum lc_status st = output_open(out, path, err);
    if (st) {
        free(w->correlation_base);
        return st;
    }
    w->f = out->f;
    write_header(w);
    return LC_OK;
}

/* The file kept when st and the writer are fine, else removed; st or the first failure. */
static enum lc_status writer_close(struct pwriter *w, struct output_file *out, enum lc_status st,
                                   struct prof_trace_summary *summary, char *err)
{
    if (st == LC_OK && w->failed) st = lc_fail(err, LC_ERR_OOM, "perfetto export: out of memory");
    if (st == LC_OK) st = output_commit(out, err);
    else output_abort(out);
    struct pb_buf *bufs[] = {&w->packet, &w->event, &w->interned, &w->item, &w->annotation};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) pb_free(bufs[k]);
    struct intern *tables[] = {&w->names, &w->categories, &w->annotation_names, &w->counter_tracks};
    for (size_t k = 0; k < sizeof tables / sizeof *tables; k++) intern_free(tables[k]);
    free(w->correlation_base);
    w->sum.ranks = (int)w->plan->n_ranks;
    if (summary) *summary = st == LC_OK ? w->sum : (struct prof_trace_summary){0};
    return st;
}

enum lc_status prof_trace_write_perfetto(struct prof_trace *t, const char *path, struct prof_trace_summary *summary,
                                         char *err)
{
    struct layout l;
    trace_sort_labels(t);
    enum lc_status st = trace_layout_build(t, &l, err);
    if (st) return st;
    struct trace_plan p = {.time_base = INT64_MAX};
    if ((st = trace_plan_add(&p, t, &l, err)) == LC_OK) {
        trace_plan_finish(&p);
        struct pwriter w;
        struct output_file out;
        if ((st = writer_open(&w, &out, &p, path, err)) == LC_OK) {
            write_part(&w, t, &l);
            st = writer_close(&w, &out, LC_OK, summary, err);
        }
    }
    trace_plan_free(&p);
    trace_layout_free(&l);
    return st;
}

/* The streamed export's two reads: each run's layout planned, then written. */
static enum lc_status plan_part(void *ctx, struct prof_trace *t, char *err)
{
    struct layout l;
    trace_sort_labels(t);
    enum lc_status st = trace_layout_build(t, &l, err);
    if (st == LC_OK) st = trace_plan_add(ctx, t, &l, err);
    trace_layout_free(&l);
    return st;
}

static enum lc_status write_run(void *ctx, struct prof_trace *t, char *err)
{
    struct pwriter *w = ctx;
    struct layout l;
    trace_sort_labels(t);
    enum lc_status st = trace_layout_build(t, &l, err);
    if (st == LC_OK) write_part(w, t, &l);
    trace_layout_free(&l);
    return st != LC_OK ? st : w->failed ? lc_fail(err, LC_ERR_OOM, "perfetto export: out of memory") : LC_OK;
}

enum lc_status prof_trace_stream_perfetto(const char *capture, const int *runs, int n_runs, const char *path,
                                          struct prof_trace_summary *summary, long *truncated_at, char *err)
{
    struct trace_plan p = {.time_base = INT64_MAX};
    enum lc_status st = trace_stream_runs(capture, runs, n_runs, plan_part, &p, truncated_at, err);
    if (st == LC_OK) trace_plan_finish(&p);
    for (int k = 0; st == LC_OK && runs && k < n_runs; k++) {
        const struct run_steps *r = trace_plan_run(&p, runs[k]);
        if (!r || !r->started) st = lc_fail(err, LC_ERR_INVALID, "the capture has no run %d", runs[k]);
    }
    struct pwriter w;
    struct output_file out;
    if (st == LC_OK && (st = writer_open(&w, &out, &p, path, err)) == LC_OK) {
        st = trace_stream_runs(capture, runs, n_runs, write_run, &w, truncated_at, err);
        st = writer_close(&w, &out, st, summary, err);
    }
    trace_plan_free(&p);
    return st;
}
