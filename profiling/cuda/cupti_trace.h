/* The GPU timeline recorder: CUPTI activity records of every kernel (concurrent-kernel records,
 * which never serialise kernels), memcpy, peer memcpy and memset on every stream, turned into
 * intervals of the timeline: NCCL kernels are communication, copies and sets are memory, the
 * rest compute. Runtime and driver API records come too (NCCL launches through the driver),
 * with external correlation ids that carry the host's iteration and CP step from mark() to
 * each kernel. Records arrive on CUPTI's thread (flushed every 100 ms) or at flush(), and go
 * into the timeline under its lock. The same table offers the hardware counters of
 * profiling/cuda/counters.h. Times are CUPTI's default clock, CLOCK_REALTIME ns (lc_now_ns). */
#ifndef LC_PROF_CUPTI_TRACE_H
#define LC_PROF_CUPTI_TRACE_H

#include <stdint.h>

#include "core/model/timeline.h"

extern const struct timeline_recorder prof_cupti_recorder;

struct prof_cupti_stats {
    uint64_t kernels, memcpys, memsets; /* records turned into intervals */
    uint64_t api_records;               /* runtime + driver API records seen */
    uint64_t correlations;              /* external correlation records seen */
    uint64_t untagged;                  /* device records whose launch had no mark */
    uint64_t dropped;                   /* records CUPTI dropped (buffers full) */
    uint64_t late;                      /* records delivered after stop, discarded */
};

/* Totals since the process started, for checks and the overhead report. */
void prof_cupti_stats(struct prof_cupti_stats *out);

#endif
