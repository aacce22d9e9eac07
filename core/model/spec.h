/* The run model: one fully specified run, and its validation. Sweeps (core/model/sweep.h) expand
 * lists and ranges on any axis into arrays of these. */
#ifndef LC_SPEC_H
#define LC_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/dtype.h"
#include "core/mask/mask.h"
#include "core/model/status.h"

enum run_direction { DIR_FWD = 1, DIR_BWD = 2, DIR_FWD_BWD = 3 };
_Static_assert(LONGCA_FWD == DIR_FWD && LONGCA_BWD == DIR_BWD, "kernel ABI directions"); /* passed through as is */
const char *direction_name(enum run_direction d);
int direction_parse(const char *name, enum run_direction *out);

/* Hardware counters on GPUs: live PM sampling during the run (sparklines), or the range profiler
 * over profiling iterations apart from the timed ones (one figure per metric); never both. */
enum counter_mode { COUNTERS_PM = 0, COUNTERS_RANGE, COUNTERS_OFF };
const char *counter_mode_name(enum counter_mode m);
int counter_mode_parse(const char *name, enum counter_mode *out);

#define LC_NAME_LEN 32

struct run_spec {
    char kernel[LC_NAME_LEN];
    enum mask_pattern mask;
    struct mask_params mask_params;
    int64_t seqlen;
    int batch;
    int heads_q, heads_kv;
    int head_dim;
    enum lc_dtype dtype;
    enum run_direction direction;
    char cp_method[LC_NAME_LEN]; /* how the run spreads over ranks: "local" (one device) or a CP method */
    int cp_degree;               /* ranks sharing one sequence: the workers (GPUs) the run takes; 1 for local */
    int cp_inner;                /* usp: ulysses degree; double_ring: window; 0 = choose */
    int warmup, iters;
    bool check;
    bool deterministic;
    enum counter_mode counters;
};

struct longca_kernel; /* core/engine/kernel.h */
/* What the kernel cannot do of this run (dtype, direction, head dim, mask form): LC_ERR_UNSUPPORTED
 * and why. */
enum lc_status run_spec_check_kernel(const struct run_spec *spec, const struct longca_kernel *k, char *why);

/* Defaults: LongCA-bench's shape on GPUs, a laptop-sized one on the CPU backend. */
void run_spec_defaults(struct run_spec *spec, bool gpu_kernel);

/* Checks everything that does not need a device: sizes, divisibility, mask parameters.
 * On failure err holds one line, e.g. "query heads 12 not divisible by KV heads 5". */
enum lc_status run_spec_validate(const struct run_spec *spec, char *err);

/* One-line human description ("cpu causal S=4096 b=1 h=8:2 d=64 fp32 fwd"). */
void run_spec_describe(const struct run_spec *spec, char *buf, size_t len);

/* FLOPs of the run (fwd 4*area*h_q*d, bwd 2.5x fwd), area from the built mask. */
double run_flops(const struct run_spec *spec, const struct mask *m);
double flops_for_area(double area_heads, int head_dim, enum run_direction dir);

#endif
