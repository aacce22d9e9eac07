/* Timeline intervals recorded while a run executes. On the CPU backend they come from clock
 * stamps around each kernel call and communication wait; on GPUs CUPTI (profiling/) feeds the
 * same buffer. Thread-safe: CUPTI delivers records on its own thread. */
#ifndef LC_TIMELINE_H
#define LC_TIMELINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/model/event.h"

struct timeline {
    pthread_mutex_t lock;
    struct interval *items;
    int n, cap;
    int iter;    /* stamped into each interval added */
    int cp_step; /* -1 outside CP */
    int64_t clock_offset_ns; /* added to every timestamp: aligns this rank with rank 0 */
};

void timeline_init(struct timeline *tl);
void timeline_destroy(struct timeline *tl);
void timeline_add(struct timeline *tl, enum interval_kind kind, const char *name, int64_t start_ns,
                  int64_t end_ns, int stream);
void timeline_add_interval(struct timeline *tl, const struct interval *iv); /* offset applied */
/* Moves everything recorded so far out (caller frees *out); returns the count. */
int timeline_take(struct timeline *tl, struct interval **out);

/* A recorder of device activity (CUPTI) that fills a timeline between start and stop. */
struct timeline_recorder {
    const char *name;
    /* LC_OK with err left non-empty (clear it first) means it runs without a part, e.g.
     * counters refused: show err and carry on. */
    enum lc_status (*start)(struct timeline *tl, char *err);
    void (*flush)(void); /* deliver completed records now */
    void (*stop)(void);

    /* The members below are optional (NULL: not offered). */

    /* Where the host is, called before it launches the work of a run, a timed iteration or a CP
     * step (-1: outside any): tags the device records of what is launched next from this thread
     * with iter and cp_step, and opens NVTX ranges. mark(-1, -1, -1) closes them. */
    void (*mark)(int run_id, int iter, int cp_step);
    /* Hardware counters over one range of work, in profiling iterations apart from timed ones:
     * launch the work between counters_begin and counters_end, and again while *replay comes
     * back true (metric sets needing several passes). range_name NULL: one range per kernel,
     * each replayed by CUPTI (what ncu measures; it serialises kernels, so never with NCCL
     * kernels in flight); a name: one user range over everything launched (CP runs, in
     * lock-step on every rank). LC_ERR_UNSUPPORTED carries the CUPTI
     * reason (no privileges, busy counters, unsupported device): show it and carry on. */
    enum lc_status (*counters_begin)(const char *range_name, char *err);
    enum lc_status (*counters_end)(bool *replay, char *err);
    /* Counter samples gathered since the last call (range results, PM samples); caller frees. */
    int (*take_samples)(struct counter_sample **out);
};

/* Drops the counter samples rec gathered so far: those of no run (rec may be NULL). */
void timeline_recorder_drop_samples(const struct timeline_recorder *rec);

#endif
