/* The event stream as a Chrome trace (JSON object form) that Perfetto and chrome://tracing open
 * and that Holistic Trace Analysis reads with its defaults, or as Perfetto's protobuf:
 *   - one process per worker rank (pid = MPI rank), named and labelled with its rank as HTA
 *     counts them (0.. over the ranks shown; the front end, MPI rank 0, has none) and its MPI
 *     rank; one thread track per CUDA stream
 *     (tid = stream id, "stream 7 (compute)"), the host on tid 0 ("host");
 *   - every interval a complete event ("X"): cat "kernel" (or "gpu_memcpy" / "gpu_memset"),
 *     args device, stream, correlation, grid, block, bytes, cp_step, iter, run and kind;
 *     communication whose name HTA would not recognise is exported as "ncclKernel:<name>",
 *     memory work as "dma:<name>" (the capture's name stays in args.capture_name), so HTA
 *     classifies exactly as we do;
 *   - host ranges on tid 0: each run (run_started to its result, with the run's overlap
 *     breakdown in args), and inside it each timed iteration ("ProfilerStep#N", N counted over
 *     the export, as PyTorch's profiler names steps) and CP step (the envelope of their
 *     intervals and launches);
 *   - each interval whose launch was recorded has its host call on tid 0 (cat "cuda_runtime",
 *     "cudaLaunchKernel" / "cudaMemcpyAsync" / "cudaMemsetAsync") paired with it by args
 *     correlation (numbered 1.. per rank; CUPTI's own id stays in cupti_correlation); on the
 *     CPU backend the host runs the work itself, so the call is at the interval's start;
 *   - counter samples as counter events ("C"), one series per ncu metric name;
 *   - duration events on one track always nest: an interval that overlaps a sibling without
 *     nesting moves to an overflow track of its stream (tid = stream + level * 1000000, args
 *     overflow_of_stream), counted in the summary;
 *   - ts and dur in microseconds with three decimals, from time_base_ns (written in the top-level
 *     "longca" object with the per-rank and per-run breakdowns prof_breakdown computed), so
 *     nanoseconds survive a reader's doubles.
 * Files are written whole or not at all. The TUI keeps a prof_trace fed from its event sink and
 * writes it on `e`; `longca export` feeds it from a capture. */
#ifndef LC_PROF_TRACE_EXPORT_H
#define LC_PROF_TRACE_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/event.h"
#include "profiling/overlap.h"

#define PROF_TRACE_OVERFLOW_TID 1000000

struct prof_trace;

struct prof_trace_summary {
    int ranks;        /* processes written */
    int64_t kernels;  /* intervals written as X events */
    int64_t launches; /* host launch calls */
    int64_t ranges;   /* host ranges: runs, iterations, CP steps */
    int64_t counters; /* counter events */
    int64_t moved;    /* intervals moved to an overflow track to keep nesting */
};

enum lc_status prof_trace_create(struct prof_trace **out, char *err);
void prof_trace_free(struct prof_trace *t);
/* Keeps only these runs' events (and the session's hellos) from here on; n == 0 keeps none. */
enum lc_status prof_trace_select_runs(struct prof_trace *t, const int *runs, int n, char *err);
bool prof_trace_has_run(const struct prof_trace *t, int run);

/* Takes in one event (copying what it needs); its signature is event_sink.emit's, so a
 * prof_trace can sit behind a sink. Memory failures stick and are reported by the writers. */
void prof_trace_add(void *trace, const struct event *ev);

/* All ranks into one file; summary may be NULL. */
enum lc_status prof_trace_write(struct prof_trace *t, const char *path, struct prof_trace_summary *summary,
                                char *err);
/* One file per rank, dir/rank<R>.json (R numbered 0.. as above), each with
 * distributedInfo.rank = R: the layout HTA's TraceAnalysis(trace_dir=dir) reads. The directory
 * must exist. */
enum lc_status prof_trace_write_per_rank(struct prof_trace *t, const char *dir, struct prof_trace_summary *summary,
                                         char *err);

/* The same as Perfetto's protobuf TrackEvent trace (trace_perfetto.c says how). */
enum lc_status prof_trace_write_perfetto(struct prof_trace *t, const char *path, struct prof_trace_summary *summary,
                                         char *err);
/* The same straight from a capture file, read twice and never held whole: memory holds one run's
 * events at a time (plus the hellos and a label per queued run). runs: only these (NULL: every
 * run; a run the capture lacks is LC_ERR_INVALID). *truncated_at as capture_read's. */
enum lc_status prof_trace_stream_perfetto(const char *capture, const int *runs, int n_runs, const char *path,
                                          struct prof_trace_summary *summary, long *truncated_at, char *err);

/* The overlap breakdown of one rank over one run (run -1: every interval of the rank), from what
 * was added; LC_ERR_INVALID when the rank has no intervals. Ranks seen, in order of arrival: */
enum lc_status prof_trace_breakdown(const struct prof_trace *t, int rank, int run, struct prof_breakdown *out,
                                    char *err);
int prof_trace_rank_count(const struct prof_trace *t);
int prof_trace_rank_at(const struct prof_trace *t, int index);

#endif
