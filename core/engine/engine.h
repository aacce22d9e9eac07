/* The engine: executes one run on this process through the run's method (cp_method.h), the
 * single-device `local` method included, so every run takes one driver: seeded inputs, warm-up,
 * timed reps (L2 flushed before each), counters, the check against the CPU reference, and this
 * rank's measurements, all reported as events. Used in-process by `longca run` and by every
 * worker rank. The helpers below are what a method's driver reports through. */
#ifndef LC_ENGINE_H
#define LC_ENGINE_H

#include "core/engine/device.h"
#include "core/model/event.h"
#include "core/model/spec.h"
#include "core/model/timeline.h"

struct cp_group; /* the communicator of the ranks sharing one CP run (cp/) */

struct engine_env {
    const struct device_ops *device;
    int rank;                 /* 1..N on workers; 1 in-process */
    int cores;                /* host cores this rank may use (its share when workers share a host) */
    struct event_sink sink;   /* where events go */
    volatile int *cancel;     /* non-zero: stop at the next iteration boundary */
    struct timeline *timeline;
    const struct timeline_recorder *recorder; /* NULL: host clock stamps only */
    struct cp_group *cp;      /* the group of a run of CP degree > 1; NULL otherwise */
};

/* Emits EV_RUN_STARTED, EV_PROGRESS, EV_INTERVALS and EV_RESULT (or EV_ERROR); fills *out with
 * this rank's measurements too. Unsupported or out-of-memory configurations are results with
 * that status, not errors. */
enum lc_status engine_execute(const struct engine_env *env, const struct run_spec *spec, int run_id,
                              struct run_result *out);

/* A rank's last word on a run: EV_ERROR for a failure of the tool, EV_RESULT otherwise (an
 * unsupported or out-of-memory configuration is a result with that status, and an ok run may
 * carry a note in err); *out says the same. Returns st for an error, else LC_OK. */
enum lc_status engine_report(const struct engine_env *env, int run_id, enum lc_status st, const char *err,
                             struct run_result *out);
/* Stamps ev with this rank's clock and hands it to the sink. */
void engine_emit(const struct engine_env *env, struct event *ev);

/* Whether the run executing on this process was asked to stop (its env's cancel flag). The
 * driver asks between kernel calls and the built-in CPU kernels between query tiles, so F7 or
 * Ctrl-C takes effect within a tile of work, not at the end of a rep that may last minutes.
 * Kernels of plugins and GPU kernels finish the call they are in. */
bool engine_cancel_requested(void);

/* The device recorder's hooks as runs use them (no-ops without a recorder): mark where the host
 * is (tags what it launches next), deliver completed records (call after a sync, before taking
 * the timeline), and send the counter samples gathered so far as one EV_COUNTERS (dropped when
 * the spec's counters are off). */
void engine_recorder_mark(const struct engine_env *env, int run_id, int iter, int cp_step);
void engine_recorder_flush(const struct engine_env *env);
void engine_emit_counters(const struct engine_env *env, const struct run_spec *spec, int run_id);

#endif
