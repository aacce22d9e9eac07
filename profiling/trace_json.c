/* The Chrome trace JSON writer over the layout (trace_layout.c), streamed through stdio into a
 * file replaced whole or not at all. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/io/output_file.h"
#include "core/io/json.h"
#include "profiling/trace_internal.h"

struct writer {
    FILE *f;
    const struct prof_trace *t;
    const struct layout *l;
    int only_rank; /* MPI rank, -1: every rank */
    bool first;
    struct prof_trace_summary sum;
};

static bool wanted(const struct writer *w, int rank)
{
    return trace_layout_export_rank(w->l, rank) >= 0 && (w->only_rank < 0 || rank == w->only_rank);
}

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

static void write_process_meta(struct writer *w, int rank)
{
    int pid = rank, export_rank = trace_layout_export_rank(w->l, rank);
    char name[LC_HOST_LEN + 200];
    trace_process_name(trace_find_rank(w->t, rank), export_rank, rank, name, sizeof name);
    next_event(w);
    fprintf(w->f, "{\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":", pid);
    json_write_string(w->f, name);
    fputs("}}", w->f);
    next_event(w);
    fprintf(w->f, "{\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"name\":\"process_labels\",\"args\":{\"labels\":\"rank %d,MPI rank %d\"}}",
            pid, export_rank, rank);
    next_event(w);
    fprintf(w->f, "{\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"name\":\"process_sort_index\",\"args\":{\"sort_index\":%d}}", pid,
            export_rank);
    w->sum.ranks++;
}

static void write_thread_meta(struct writer *w, const struct track *tr)
{
    char name[96];
    trace_track_name(tr, name, sizeof name);
    int tid = trace_track_tid(tr->stream, tr->level), pid = tr->rank;
    next_event(w);
    fprintf(w->f, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":", pid, tid);
    json_write_string(w->f, name);
    fputs("}}", w->f);
    /* Host first, then streams by id, each followed by its overflow tracks. */
    int64_t order = (int64_t)tr->stream * 64 + (tr->level < 63 ? tr->level : 63);
    next_event(w);
    fprintf(w->f, "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%" PRId64 "}}",
            pid, tid, order);
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

/* ph, pid, tid, ts, dur, cat and name of a duration event; the caller writes args. */
static void open_slice(struct writer *w, const struct slice *s, const char *cat)
{
    char name[TRACE_LABEL_LEN + LC_IV_NAME_LEN];
    trace_slice_name(w->t, w->l, s, name, sizeof name);
    next_event(w);
    fprintf(w->f, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":", s->rank, trace_track_tid(s->stream, s->level));
    put_us(w->f, s->start - w->l->time_base);
    fputs(",\"dur\":", w->f);
    put_us(w->f, s->end - s->start);
    fprintf(w->f, ",\"cat\":\"%s\",\"name\":", cat);
    json_write_string(w->f, name);
}

static void close_slice(struct writer *w, const struct slice *s)
{
    if (s->level > 0) fprintf(w->f, ",\"overflow_of_stream\":%d", s->stream);
    fputs("}}", w->f);
}

static bool host_runs_work(const struct prof_trace *t, int rank)
{
    const struct trace_rank *r = trace_find_rank(t, rank);
    return !r || !r->hello || strcmp(r->info.backend, "cuda") != 0;
}

static void write_interval(struct writer *w, const struct slice *s)
{
    const struct trace_iv *x = &w->t->ivs[s->ref];
    const struct interval *iv = &x->iv;
    const struct trace_rank *r = trace_find_rank(w->t, x->rank);
    const char *cat = "kernel";
    if (iv->kind == IV_MEMORY) cat = strstr(iv->name, "emset") ? "gpu_memset" : "gpu_memcpy";
    open_slice(w, s, cat);
    fprintf(w->f,
            ",\"args\":{\"run\":%d,\"kind\":\"%s\",\"device\":%d,\"stream\":%d,\"correlation\":%" PRIu32
            ",\"grid\":[%" PRIu32 ",%" PRIu32 ",%" PRIu32 "],\"block\":[%" PRIu32 ",%" PRIu32 ",%" PRIu32
            "],\"bytes\":%" PRIu64 ",\"cp_step\":%d,\"iter\":%d",
            x->run, interval_kind_name((enum interval_kind)(iv->kind < IV_KIND_COUNT ? iv->kind : IV_OTHER)),
            r && r->hello ? r->info.local_index : -1, iv->stream, w->l->correlation[s->ref], iv->grid[0], iv->grid[1],
            iv->grid[2], iv->block[0], iv->block[1], iv->block[2], iv->bytes, iv->cp_step, iv->iter);
    if (iv->correlation) fprintf(w->f, ",\"cupti_correlation\":%" PRIu32, iv->correlation);
    if (iv->simulated) fputs(",\"simulated\":true", w->f); /* longca model's, not measured */
    char name[LC_IV_NAME_LEN + 16];
    trace_slice_name(w->t, w->l, s, name, sizeof name);
    if (strcmp(name, iv->name) != 0) {
        fputs(",\"capture_name\":", w->f);
        json_write_string(w->f, iv->name);
    }
    close_slice(w, s);
    w->sum.kernels++;
    if (s->level > 0) w->sum.moved++;
}

static void write_launch(struct writer *w, const struct slice *s)
{
    const struct trace_iv *x = &w->t->ivs[s->ref];
    open_slice(w, s, "cuda_runtime");
    fprintf(w->f, ",\"args\":{\"run\":%d,\"correlation\":%" PRIu32, x->run, w->l->correlation[s->ref]);
    if (host_runs_work(w->t, x->rank)) fputs(",\"issued_by\":\"the host runs this work itself, from its start\"", w->f);
    close_slice(w, s);
    w->sum.launches++;
}

static void write_range(struct writer *w, const struct slice *s)
{
    const struct layout *l = w->l;
    open_slice(w, s, "user_annotation");
    if (s->what == SLICE_RUN) {
        const struct trace_run *r = &w->t->runs[s->ref];
        fprintf(w->f, ",\"args\":{\"run\":%d,\"status\":\"%s\"", r->run, r->ended ? lc_status_name(r->status) : "incomplete");
        const struct rank_run_stats *st = trace_layout_stats(l, r->rank, r->run);
        if (st) {
            fputc(',', w->f);
            write_breakdown_fields(w->f, &st->b);
        }
    } else {
        const struct envelope *e = &l->envs[s->ref];
        fprintf(w->f,
                ",\"args\":{\"run\":%d,\"iter\":%d,\"cp_step\":%d,\"extent\":\"first launch or start to last end of its "
                "intervals\"",
                e->run, e->iter, e->cp_step);
    }
    close_slice(w, s);
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

static void write_events(struct writer *w)
{
    const struct layout *l = w->l;
    for (int k = 0; k < l->n_shown; k++)
        if (wanted(w, l->shown[k])) write_process_meta(w, l->shown[k]);
    for (int64_t k = 0; k < l->n_tracks; k++)
        if (wanted(w, l->tracks[k].rank)) write_thread_meta(w, &l->tracks[k]);
    for (int64_t k = 0; k < l->n_slices; k++) {
        const struct slice *s = &l->slices[k];
        if (!wanted(w, s->rank)) continue;
        if (s->what == SLICE_INTERVAL) write_interval(w, s);
        else if (s->what == SLICE_LAUNCH) write_launch(w, s);
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
    bool cuda = false, any_hello = false;
    for (int64_t k = 0; k < t->n_ranks; k++) {
        const struct trace_rank *r = &t->ranks[k];
        if (wanted(w, r->rank) && r->hello) any_hello = true, cuda |= !strcmp(r->info.backend, "cuda");
    }
    fputs("],\n\"displayTimeUnit\":\"ns\",\"distributedInfo\":{", w->f);
    if (any_hello) fprintf(w->f, "\"backend\":\"%s\",", cuda ? "nccl" : "mpi");
    /* "rank": N with a space: older HTA finds it with the regex "rank":\s+(\d+). */
    if (w->only_rank >= 0) fprintf(w->f, "\"rank\": %d,", trace_layout_export_rank(w->l, w->only_rank));
    fprintf(w->f, "\"world_size\":%d},\n", w->l->n_shown);
    fprintf(w->f, "\"longca\":{\"format\":2,\"time_base_ns\":%" PRId64
                  ",\"clock\":\"CLOCK_REALTIME ns aligned to rank 0; ts = (t - time_base_ns) / 1000\",\"ranks\":[",
            w->l->time_base);
    for (int k = 0; k < w->l->n_shown; k++)
        fprintf(w->f, "%s{\"rank\":%d,\"mpi_rank\":%d}", k ? "," : "", k, w->l->shown[k]);
    fputs("],\"breakdown\":[", w->f);
    bool first = true;
    for (int64_t k = 0; k < w->l->n_stats; k++) {
        const struct rank_run_stats *s = &w->l->stats[k];
        if (!wanted(w, s->rank)) continue;
        fprintf(w->f, "%s\n{\"rank\":%d,\"mpi_rank\":%d,\"run\":%d,", first ? "" : ",", trace_layout_export_rank(w->l, s->rank), s->rank, s->run);
        write_breakdown_fields(w->f, &s->b);
        fputc('}', w->f);
        first = false;
    }
    fputs("]}}\n", w->f);
}

static void add_summary(struct prof_trace_summary *to, const struct prof_trace_summary *from)
{
    to->ranks += from->ranks;
    to->kernels += from->kernels;
    to->launches += from->launches;
    to->ranges += from->ranges;
    to->counters += from->counters;
    to->moved += from->moved;
}

static enum lc_status write_file(const struct prof_trace *t, const struct layout *l, int only_rank, const char *path,
                                 struct prof_trace_summary *sum, char *err)
{
    struct output_file out;
    enum lc_status st = output_open(&out, path, err);
    if (st) return st;
    struct writer w = {.f = out.f, .t = t, .l = l, .only_rank = only_rank, .first = true};
    fputs("{\"traceEvents\":[", w.f);
    write_events(&w);
    write_trailer(&w);
    if ((st = output_commit(&out, err))) return st;
    add_summary(sum, &w.sum);
    return LC_OK;
}

enum lc_status prof_trace_write(struct prof_trace *t, const char *path, struct prof_trace_summary *summary, char *err)
{
    struct layout l;
    trace_sort_labels(t);
    enum lc_status st = trace_layout_build(t, &l, err);
    if (st) return st;
    struct prof_trace_summary sum = {0};
    st = write_file(t, &l, -1, path, &sum, err);
    trace_layout_free(&l);
    if (summary) *summary = sum;
    return st;
}

enum lc_status prof_trace_write_per_rank(struct prof_trace *t, const char *dir, struct prof_trace_summary *summary,
                                         char *err)
{
    struct layout l;
    trace_sort_labels(t);
    enum lc_status st = trace_layout_build(t, &l, err);
    if (st) return st;
    struct prof_trace_summary sum = {0};
    for (int k = 0; k < l.n_shown && !st; k++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/rank%d.json", dir, k) >= (int)sizeof path) {
            st = lc_fail(err, LC_ERR_INVALID, "trace export: directory name too long: %s", dir);
            break;
        }
        st = write_file(t, &l, l.shown[k], path, &sum, err);
    }
    trace_layout_free(&l);
    if (summary) *summary = sum;
    return st;
}
