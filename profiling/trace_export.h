/* The event stream as a Chrome trace (JSON object form) that Perfetto and chrome://tracing open
 * and that Holistic Trace Analysis reads:
 *   - one process per worker rank (pid = MPI rank, named from its hello), one thread track per
 *     CUDA stream (tid = stream id, "stream 7 (compute)"), the host on tid 0 ("host");
 *   - every interval a complete event ("X"): cat "kernel" (or "gpu_memcpy" / "gpu_memset"),
 *     args device, stream, correlation, grid, block, bytes, cp_step, iter, run and kind;
 *     communication whose name HTA would not recognise is exported as "ncclKernel:<name>",
 *     memory work as "dma:<name>" (the capture's name stays in args.capture_name), so HTA
 *     classifies exactly as we do;
 *   - host ranges on tid 0: each run (run_started to its result, with the run's overlap
 *     breakdown in args), and inside it each timed iteration and CP step (the envelope of
 *     their intervals);
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

#include <stdint.h>

#include "core/model/event.h"
#include "profiling/overlap.h"

#define PROF_TRACE_OVERFLOW_TID 1000000

struct prof_trace;

struct prof_trace_summary {
    int ranks;        /* processes written */
    int64_t kernels;  /* intervals written as X events */
    int64_t ranges;   /* host ranges: runs, iterations, CP steps */
    int64_t counters; /* counter events */
    int64_t moved;    /* intervals moved to an overflow track to keep nesting */
};

enum lc_status prof_trace_create(struct prof_trace **out, char *err);
void prof_trace_free(struct prof_trace *t);

/* Takes in one event (copying what it needs); its signature is event_sink.emit's, so a
 * prof_trace can sit behind a sink. Memory failures stick and are reported by the writers. */
void prof_trace_add(void *trace, const struct event *ev);

/* All ranks into one file; summary may be NULL. */
enum lc_status prof_trace_write(struct prof_trace *t, const char *path, struct prof_trace_summary *summary,
                                char *err);
/* One file per rank, dir/rank<R>.json, each with distributedInfo.rank = R: the layout HTA's
 * TraceAnalysis(trace_dir=dir) reads. The directory must exist. */
enum lc_status prof_trace_write_per_rank(struct prof_trace *t, const char *dir, struct prof_trace_summary *summary,
                                         char *err);

/* The overlap breakdown of one rank over one run (run -1: every interval of the rank), from what
 * was added; LC_ERR_INVALID when the rank has no intervals. Ranks seen, in order of arrival: */
enum lc_status prof_trace_breakdown(const struct prof_trace *t, int rank, int run, struct prof_breakdown *out,
                                    char *err);
int prof_trace_rank_count(const struct prof_trace *t);
int prof_trace_rank_at(const struct prof_trace *t, int index);

#endif
