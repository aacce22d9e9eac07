/* A context-parallel method behind a table of functions; cp/ registers them, the runner calls
 * them for runs whose cp_method is not "none". Every rank of the CP group calls execute with
 * the same spec; each reports its own result (times, work, communication bytes); rank 0 of the
 * session merges them (slowest rank is the headline). */
#ifndef LC_CP_METHOD_H
#define LC_CP_METHOD_H

#include "core/mask/mask.h"
#include "core/model/event.h"
#include "core/engine/runner.h"
#include "core/model/spec.h"
#include "core/model/status.h"

struct cp_method_ops {
    const char *name;    /* "allgather", "ring", "ulysses", "usp", "double_ring", "balanced" */
    const char *summary;
    /* Checked on rank 0 before anything runs: degree divides heads / sequence, mask supported. */
    enum lc_status (*validate)(const struct run_spec *spec, char *err);
    /* Runs on every rank of env->cp; emits events through env->sink like runner_execute. */
    enum lc_status (*execute)(const struct runner_env *env, const struct run_spec *spec, int run_id,
                              struct run_result *out);
    /* Without running, from the method's own planning code: what each of the spec->gpus ranks
     * reports for one run (run_result.work and comm_bytes), for a mask built from the spec and
     * its global view. Arrays of spec->gpus entries. */
    enum lc_status (*predict)(const struct run_spec *spec, const struct mask *m, const struct mask_view *view,
                              double *work, double *bytes, char *err);
};

/* A CP run's figures predicted without running (what each rank's result would report). */
struct cp_prediction {
    int ranks;
    double *work, *bytes; /* per rank */
    double imbalance;     /* max / mean work, as the run computes it */
    double max_bytes, mean_bytes;
};

/* Builds the spec's mask and asks its method; the run's own validation first. */
enum lc_status cp_method_predict(const struct run_spec *spec, struct cp_prediction *out, char *err);
void cp_prediction_free(struct cp_prediction *p);

#define CP_METHOD_MAX 16
void cp_method_register(const struct cp_method_ops *ops);
const struct cp_method_ops *cp_method_find(const char *name);
int cp_method_count(void);
const struct cp_method_ops *cp_method_at(int index);

#endif
