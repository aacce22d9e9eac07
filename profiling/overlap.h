/* The communication / computation overlap breakdown of one rank, with Holistic Trace
 * Analysis' definitions (facebookresearch/HolisticTraceAnalysis, communication_analysis.py and
 * breakdown_analysis.py), so figures match what HTA computes on our exported trace:
 *   - intervals of one kind are merged into their union (concurrent streams count once);
 *   - span = first start to last end over every interval; idle = span - union(all);
 *   - overlapped = union(compute) ∩ union(comm), found by HTA's sweep (comm +1, compute +2, a
 *     running sum of 3 means both run), extended with memory +4 and other +8 so every instant
 *     of the span falls in exactly one exclusive bucket;
 *   - HTA overlap % = overlapped / union(comm), NaN when the rank has no communication.
 * This is the only implementation: the TUI's Timeline screen, `longca run`'s table and the
 * export tests all call it. */
#ifndef LC_PROF_OVERLAP_H
#define LC_PROF_OVERLAP_H

#include <stdint.h>

#include "core/model/event.h"

struct prof_breakdown {
    int n_intervals;    /* intervals counted (inverted ones, end < start, are skipped) */
    int64_t start_ns;   /* first start (0 when empty) */
    int64_t span_ns;    /* first start to last end */
    int64_t busy_ns;    /* union of every interval */
    int64_t union_ns[IV_KIND_COUNT]; /* union of each kind, indexed by enum interval_kind */

    /* Exclusive buckets: their sum is span_ns. */
    int64_t compute_only_ns;  /* compute runs, communication does not */
    int64_t comm_only_ns;     /* communication runs, compute does not */
    int64_t overlapped_ns;    /* both run: union(compute) ∩ union(comm) */
    int64_t other_only_ns;    /* only memory or other work runs */
    int64_t idle_ns;          /* nothing runs: span - busy */

    /* The same buckets in percent of span; they sum to 100 (all 0 when span is 0). */
    double compute_only_pct, comm_only_pct, overlapped_pct, other_only_pct, idle_pct;

    double hta_overlap_pct; /* 100 * overlapped / union(comm); NaN without communication */
};

/* Breakdown of n intervals of one rank, in any order. Allocates scratch, returns LC_ERR_OOM when
 * it cannot (out is then zeroed). */
enum lc_status prof_breakdown_compute(const struct interval *iv, int n, struct prof_breakdown *out,
                                      char *err);

/* The same, counting only the parts of intervals inside [t0, t1) (intervals with nothing inside,
 * zero-length ones included, are left out): the TUI's sliding window.
 * Span and idle follow the clipped intervals, as if the window were the whole trace. */
enum lc_status prof_breakdown_window(const struct interval *iv, int n, int64_t t0, int64_t t1,
                                     struct prof_breakdown *out, char *err);

/* "42.7" or "n/a" for NaN, into buf: the one way every front end prints the HTA overlap %. */
const char *prof_pct_format(double pct, char *buf, int len);

#endif
