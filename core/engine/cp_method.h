/* How a run spreads over ranks, behind a table of functions that cp/ registers: the engine calls
 * the run's method for every run. A single-device run is the `local` method (CP degree 1); the
 * others are context-parallel. Every rank of the group calls execute with the same spec; each
 * reports its own measurements (times, work, communication bytes); rank 0 merges them once
 * (run_result_merge: the slowest rank is the headline). */
#ifndef LC_CP_METHOD_H
#define LC_CP_METHOD_H

#include "core/engine/cp_schedule.h"
#include "core/mask/mask.h"
#include "core/model/event.h"
#include "core/engine/engine.h"
#include "core/model/spec.h"
#include "core/model/status.h"
#include "kernels/longca_kernel.h"

#define CP_METHOD_LOCAL "local" /* the single-device method, every run's default */

struct cp_method_ops {
    const char *name;    /* "local", "allgather", "ring", "ulysses", "usp", "double_ring", "balanced" */
    const char *summary;
    bool single_device;  /* the local method: no context parallelism */
    /* Checked on rank 0 before anything runs: degree divides heads / sequence, mask supported. */
    enum lc_status (*validate)(const struct run_spec *spec, char *err);
    /* Runs on every rank of env->cp (no group for the local method); emits events through env->sink. */
    enum lc_status (*execute)(const struct engine_env *env, const struct run_spec *spec, int run_id,
                              struct run_result *out);
    /* Without running, from the method's own planning code: what each of the spec->cp_degree ranks
     * reports for one run (run_result.work and comm_bytes), for a mask built from the spec and
     * its global view. Arrays of spec->cp_degree entries. */
    enum lc_status (*predict)(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                              double *work, double *bytes, char *err);
    /* Without running, from the same planning code: every rank's operations in the order the
     * run issues them (core/engine/cp_schedule.h), into `out`, made for spec->cp_degree ranks
     * and the kernel's query tile. The timed part only: the forward, the backward, or both. */
    enum lc_status (*schedule)(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                               struct cp_schedule *out, char *err);
    /* Optional, for a method whose planning costs more than the answers: predict's and
     * schedule's answers from one planning. */
    enum lc_status (*model)(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                            double *work, double *bytes, struct cp_schedule *out, char *err);
};

/* A CP run's figures predicted without running (what each rank's result would report). */
struct cp_prediction {
    int ranks;
    double *work, *bytes; /* per rank */
    double imbalance;     /* max / mean work, as the run computes it */
    double max_bytes, mean_bytes;
    double flops;         /* the run's, from the mask's exact area (run_flops) */
};

/* Builds the spec's mask and asks its method; the run's own validation first. */
enum lc_status cp_method_predict(const struct run_spec *spec, struct cp_prediction *out, char *err);
void cp_prediction_free(struct cp_prediction *p);

/* Builds the spec's mask and asks its method for the schedule (counted in the kernel's query
 * tile); the run's own validation first. cp_schedule_free releases it. */
enum lc_status cp_method_schedule(const struct run_spec *spec, struct cp_schedule *out, char *err);

/* Both, from one mask and, where the method can, one planning (`longca model`); on failure
 * neither is left to free. */
enum lc_status cp_method_model(const struct run_spec *spec, struct cp_prediction *prediction, struct cp_schedule *schedule,
                               char *err);

#define CP_METHOD_MAX 16
void cp_method_register(const struct cp_method_ops *ops);
/* By name; "none", the name older captures and scripts give the local method, finds it too. */
const struct cp_method_ops *cp_method_find(const char *name);
/* A run is context-parallel when its method is not the local one (unknown methods count as CP,
 * so validation names them). */
bool run_spec_is_cp(const struct run_spec *spec);
int cp_method_count(void);
const struct cp_method_ops *cp_method_at(int index);

#endif
