/* What the trace writers share: the events gathered by prof_trace_add (trace_export.c) and
 * their layout (trace_layout.c): runs, iteration and CP-step envelopes, intervals and host
 * launches as slices sorted by (rank, track, start, longest first), each at a nesting level of
 * its track; per-rank and per-run breakdowns; the ranks numbered for the export. The JSON
 * writer (trace_json.c) and the Perfetto writer (trace_perfetto.c) only read it. */
#ifndef LC_PROF_TRACE_INTERNAL_H
#define LC_PROF_TRACE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "profiling/trace_export.h"

#define TRACE_LABEL_LEN 160

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
    char text[TRACE_LABEL_LEN]; /* "run 3: cpu causal S=4096 ..." from the queued spec */
};

struct trace_rank {
    int rank; /* MPI rank */
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
    int *selected_runs; /* NULL: every run */
    int n_selected;
    enum lc_status st; /* first failure while adding, reported by the writers */
    char err[LC_ERRMSG_LEN];
};

bool trace_grow(void **items, int64_t *cap, int64_t need, size_t size);
const struct trace_rank *trace_find_rank(const struct prof_trace *t, int rank);
/* Sorts the run labels by run, once before writing: trace_run_label searches them. */
void trace_sort_labels(struct prof_trace *t);
const char *trace_run_label(const struct prof_trace *t, int run); /* NULL when never queued */
/* A run's label from its EV_RUN_QUEUED event, and keeping one (prof_trace_add does both). */
void trace_label_make(const struct event *queued, struct trace_label *out);
void trace_add_label(struct prof_trace *t, const struct trace_label *label);

/* Outermost first: a run holds iterations, an iteration CP steps, a step launches and intervals. */
enum slice_what { SLICE_RUN = 0, SLICE_ITER, SLICE_STEP, SLICE_LAUNCH, SLICE_INTERVAL };

struct slice {
    int64_t start, end;
    int64_t ref; /* index into runs, envelopes or ivs (launch: the interval it issued) */
    int32_t rank, stream, level;
    uint8_t what;
};

struct envelope {
    int rank, run, iter, cp_step;
    int step_number; /* iterations: ProfilerStep#N, numbered over the export by (run, iter) */
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
    uint32_t *correlation; /* per interval (index into ivs): 1, 2, ... within its rank */
    int *shown;            /* MPI ranks with something to show, ascending; index = export rank */
    int n_shown;
    int64_t time_base;
    int64_t moved; /* intervals on an overflow level */
};

enum lc_status trace_layout_build(const struct prof_trace *t, struct layout *l, char *err);
void trace_layout_free(struct layout *l);
const struct rank_run_stats *trace_layout_stats(const struct layout *l, int rank, int run);
/* The rank an export names (0, 1, ... over the ranks shown), -1 when rank shows nothing. */
int trace_layout_export_rank(const struct layout *l, int rank);
int trace_track_tid(int stream, int level);
/* "host" or "stream 7", then the kinds on it, then " overflow N". */
void trace_track_name(const struct track *tr, char *buf, size_t len);
/* A slice's name as HTA reads it: nccl/dma prefixes on intervals HTA would misclassify,
 * ProfilerStep#N, "cp step N", the run's label, cudaLaunchKernel / cudaMemcpyAsync. */
void trace_slice_name(const struct prof_trace *t, const struct layout *l, const struct slice *s, char *buf,
                      size_t len);
/* "rank 0 (MPI rank 1, cpu 0: AMD EPYC ..., host)"; r NULL or without hello: "rank 0 (MPI rank 1)". */
void trace_process_name(const struct trace_rank *r, int export_rank, int rank, char *buf, size_t len);

/* A run's timed iterations: ProfilerStep#first.. over the export, as the JSON numbers them. */
struct run_steps {
    int run, count, first;
    bool started;
};

/* What every packet of a Perfetto export shares, gathered from each part's layout before writing
 * (trace_plan.c). Starts as {.time_base = INT64_MAX}. */
struct trace_plan {
    struct track *tracks; /* by (rank, stream, level), kinds over every part */
    int64_t n_tracks, cap_tracks;
    struct trace_rank *ranks; /* the ranks shown, by MPI rank: index = export rank */
    int64_t n_ranks, cap_ranks;
    struct run_steps *runs; /* by run */
    int64_t n_runs, cap_runs;
    int64_t time_base;
};

enum lc_status trace_plan_add(struct trace_plan *p, const struct prof_trace *t, const struct layout *l, char *err);
/* After the last part: sorted, each run once, first step numbers counted, time base set. */
void trace_plan_finish(struct trace_plan *p);
void trace_plan_free(struct trace_plan *p);
int trace_plan_export_rank(const struct trace_plan *p, int rank); /* -1: not shown */
const struct run_steps *trace_plan_run(const struct trace_plan *p, int run); /* NULL: not in the capture */
/* A part's layout numbered its iterations 0.. over its own runs: renumbered over the export's. */
bool trace_plan_renumber_steps(const struct trace_plan *p, const struct prof_trace *t, struct layout *l);

/* Reads a capture run by run (trace_stream.c): each run's events, with the session's hellos and
 * the run's label, in a prof_trace of their own handed to chunk when the run is done (or at the
 * end of the file) and then freed. runs: only these (NULL: every run). */
typedef enum lc_status (*trace_chunk_fn)(void *ctx, struct prof_trace *t, char *err);
enum lc_status trace_stream_runs(const char *capture, const int *runs, int n_runs, trace_chunk_fn chunk, void *ctx,
                                 long *truncated_at, char *err);

#endif
