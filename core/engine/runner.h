/* Executes one run on this process's device: builds the mask and seeded inputs, plans the
 * kernel, warm-up and timed reps (L2 flushed before each), the check against the CPU
 * reference, and reports through events. Used in-process by `longca run` and by every
 * worker rank. CP runs go through the method table registered by cp/. */
#ifndef LC_RUNNER_H
#define LC_RUNNER_H

#include "core/engine/device.h"
#include "core/model/event.h"
#include "core/model/spec.h"
#include "core/model/timeline.h"

struct cp_group; /* the communicator of the ranks sharing one CP run (cp/) */

struct runner_env {
    const struct device_ops *device;
    int rank;                 /* 1..N on workers; 1 in-process */
    struct event_sink sink;   /* where events go */
    volatile int *cancel;     /* non-zero: stop at the next iteration boundary */
    struct timeline *timeline;
    const struct timeline_recorder *recorder; /* NULL: host clock stamps only */
    struct cp_group *cp;      /* NULL for single-device runs */
};

/* Emits EV_RUN_STARTED, EV_PROGRESS, EV_INTERVALS and EV_RESULT (or EV_ERROR); fills *out too.
 * Unsupported or out-of-memory configurations are results with that status, not errors. */
enum lc_status runner_execute(const struct runner_env *env, const struct run_spec *spec, int run_id,
                              struct run_result *out);

/* A run's last word, shared by the CP methods: EV_ERROR for a failure of the tool, EV_RESULT
 * otherwise (an unsupported or out-of-memory configuration is a result with that status, and an
 * ok run may carry a note in err); *out says the same. Returns st for an error, else LC_OK. */
enum lc_status runner_report(const struct runner_env *env, int run_id, enum lc_status st, const char *err,
                             struct run_result *out);
/* Stamps ev with this rank's clock and hands it to the sink. */
void runner_emit(const struct runner_env *env, struct event *ev);

/* The device recorder's hooks as runs use them (no-ops without a recorder), shared by the CP
 * methods: mark where the host is (tags what it launches next), deliver completed records
 * (call after a sync, before taking the timeline), and send the counter samples gathered so far
 * as one EV_COUNTERS (dropped when the spec's counters are off). */
void runner_recorder_mark(const struct runner_env *env, int run_id, int iter, int cp_step);
void runner_recorder_flush(const struct runner_env *env);
void runner_emit_counters(const struct runner_env *env, const struct run_spec *spec, int run_id);

/* Seeded inputs in [-1, 1): the same bits on every backend for the same spec. */
void runner_fill_inputs(float *buf, size_t n, uint64_t seed, uint64_t stream_id);

/* The check's comparison (CP methods use it too): out against ref element by element,
 * |out - ref| <= atol * max(max|ref|, 1) + rtol * |ref| for dtype's tolerance, NaN failing;
 * raises res->max_abs_err and res->max_rel_err. */
bool runner_compare(const float *out, const float *ref, size_t n, enum lc_dtype dtype, struct run_result *res);

/* Timing protocol statistics: median, 20th and 80th percentile of n samples (sorted in place). */
void stats_percentiles(double *samples, int n, double *median, double *p20, double *p80);

#endif
