/* The one driver every run goes through, whatever its CP degree (a single-device run is the
 * `local` method over a one-rank group): the global problem (mask, seeded inputs), this rank's
 * shard in its layout, kernel plans and device buffers, the timing protocol (warm-up, timed reps
 * after an L2 flush and a group agreement that also carries cancellation, median / p20 / p80),
 * timeline intervals, counters, the check of the gathered outputs against cpu_ref on rank 0, and
 * this rank's measurements (nccl-tests' algbw / busbw among them). A method supplies a struct
 * cp_algo; cp_execute drives it on every rank of the group. */
#ifndef LC_CP_DRIVER_H
#define LC_CP_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/engine/kernel.h"
#include "core/engine/engine.h"
#include "cp/array.h"
#include "cp/comm.h"
#include "cp/group.h"
#include "cp/shard.h"

/* This rank's rows of the run's tensors, on the device, in layout order. K and V (and dK, dV)
 * share one buffer, K first, so a ring step sends them as one message. */
struct cp_shard {
    void *q, *kv, *o, *d_o, *dq, *dkv;
    float *lse;
};

/* How a method lays its ranks out, resolved before the run (never 0 here). */
struct cp_degrees {
    int ulysses; /* ranks of one all-to-all (head) group; 1 = none */
    int window;  /* consecutive ring members of one inner ring; the ring size = plain ring */
};

struct cp_exec;

struct cp_algo {
    /* Decides run->layout and run->work; makes communicators, buffers and kernel plans. */
    enum lc_status (*plan)(struct cp_exec *run, char *err);
    /* shard.q, kv (and d_o) in; o, lse (and dq, dkv) out. Every posted operation waited for. */
    enum lc_status (*forward)(struct cp_exec *run, char *err);
    enum lc_status (*backward)(struct cp_exec *run, char *err);
    void (*release)(struct cp_exec *run); /* what plan made */
};

#define CP_MAX_ALLOCS 48
#define CP_MAX_COMMS 8

struct cp_exec {
    const struct engine_env *env;
    const struct run_spec *spec;
    int run_id;
    struct cp_group *group;
    const struct device_ops *dev;
    const struct cp_array_ops *arr;
    const struct longca_kernel *kernel;
    int rank, size;
    struct cp_degrees degrees;

    struct mask mask;
    struct longca_mask view; /* global */
    float softmax_scale;
    size_t esize;           /* bytes of one element of the run's dtype */
    enum run_direction plan_dir; /* every plan can do the forward, and the backward when asked */

    struct cp_layout layout; /* set by plan */
    double work;             /* visible pairs x query heads x batch this rank's kernels cover */
    struct cp_shard shard;

    void *state; /* the algorithm's */

    /* owned resources */
    void *allocs[CP_MAX_ALLOCS];
    int n_allocs;
    struct cp_comm *comms[CP_MAX_COMMS];
    int n_comms;
    size_t workspace_bytes;
    void *workspace;
    bool stamp; /* host clock stamps for the timeline (CPU backend without a recorder) */
};

/* Device memory freed with the run. */
enum lc_status cp_exec_alloc(struct cp_exec *run, size_t bytes, void **out, char *err);
/* A communicator of the group's ranks with the same color (ordered by key), freed with the run;
 * name is what the timeline shows. */
enum lc_status cp_exec_split(struct cp_exec *run, int color, int key, const char *name, struct cp_comm **out,
                            char *err);
/* A kernel plan for one block; remembers the largest workspace. */
enum lc_status cp_exec_plan_kernel(struct cp_exec *run, int heads_q, int heads_kv, const struct longca_mask *view,
                                  void **plan, char *err);
/* Attention of one block through the kernel, stamped on the timeline as compute of `step`. */
enum lc_status cp_exec_attention(struct cp_exec *run, void *plan, bool backward, const struct longca_tensors *t,
                                int step, char *err);
/* Stamps [t0, now) as compute named `name` (merges, packing) when host stamps are on. */
void cp_exec_stamp(struct cp_exec *run, const char *name, int64_t t0, int step);

/* Elements of one row (token) of Q-like and KV-like tensors with the given heads. */
static inline size_t cp_row_elems(const struct cp_exec *run, int heads) { return (size_t)heads * (size_t)run->spec->head_dim; }

/* The run's global inputs on the host, seeded (seed, streams 1..4): fp32 values already rounded
 * to the run's dtype (what the reference reads) and the packed dtype bytes (what devices get). */
struct cp_host_tensor {
    float *f32;
    void *packed;
};
struct cp_inputs {
    struct cp_host_tensor q, k, v, d_o; /* d_o only with a backward */
};
enum lc_status cp_inputs_make(struct cp_inputs *in, const struct run_spec *spec, char *err);
void cp_inputs_free(struct cp_inputs *in);

/* Collective over the group: rank 0 compares every rank's outputs with cpu_ref on in (only rank 0
 * needs in) and every rank gets the verdict in res. */
enum lc_status cp_check(struct cp_exec *run, const struct cp_inputs *in, struct run_result *res, char *err);

/* The whole run on this rank: emits EV_PROGRESS, EV_INTERVALS and EV_RESULT (or EV_ERROR).
 * env->cp is the group for a CP degree above 1; without one the run gets a one-rank group. */
enum lc_status cp_execute(const struct engine_env *env, const struct run_spec *spec, int run_id,
                          struct run_result *out, const struct cp_algo *algo, const struct cp_degrees *degrees);

#endif
