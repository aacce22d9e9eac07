/* A sweep: every axis of a run may be a list or a range (`--seqlen 1k:16k:x2`); expansion is
 * the cartesian product, kernel-major. Unset axes take the kernel's defaults (run_spec_defaults). */
#ifndef LC_SWEEP_H
#define LC_SWEEP_H

#include <stdbool.h>

#include "core/model/spec.h"
#include "core/model/status.h"

#define SWEEP_MAX_VALUES 64
#define SWEEP_MAX_RUNS 100000

struct sweep_axes {
    char kernels[SWEEP_MAX_VALUES][LC_NAME_LEN];
    int n_kernels;
    enum mask_pattern masks[SWEEP_MAX_VALUES];
    int n_masks;
    int64_t seqlens[SWEEP_MAX_VALUES];
    int n_seqlens;
    int heads[SWEEP_MAX_VALUES][2]; /* query : KV */
    int n_heads;
    int head_dims[SWEEP_MAX_VALUES];
    int n_head_dims;
    enum lc_dtype dtypes[SWEEP_MAX_VALUES];
    int n_dtypes;
    enum run_direction directions[SWEEP_MAX_VALUES];
    int n_directions;
    char cp_methods[SWEEP_MAX_VALUES][LC_NAME_LEN];
    int n_cp_methods;
    int gpus[SWEEP_MAX_VALUES];
    int n_gpus;
    int batches[SWEEP_MAX_VALUES];
    int n_batches;
    /* scalars; negative = kernel default */
    int warmup, iters, cp_inner;
    bool check, deterministic;
    enum counter_mode counters;
    struct mask_params mask_params;
};

void sweep_init(struct sweep_axes *axes);
/* Parses one run flag (--kernel, --mask, --seqlen, --batch, --heads, --head-dim, --dtype,
 * --direction, --cp, --gpus, --cp-inner, --warmup, --iters, mask parameters). *consumed says
 * whether the flag was a sweep flag; --check and --deterministic take no value (value unused). */
enum lc_status sweep_parse_flag(struct sweep_axes *axes, const char *flag, const char *value, bool *consumed,
                                bool *takes_value, char *err);
/* Expands and validates every run; the first invalid one is the error. */
enum lc_status sweep_expand(const struct sweep_axes *axes, struct run_spec **runs, int *n_runs, char *err);

/* "4k", "1k,2k,4k", "1k:16k:x2" (geometric), "1k:4k:+1k" or "1k:4k:1k" (arithmetic). */
enum lc_status sweep_parse_sizes(const char *flag, const char *text, int64_t *values, int *n, char *err);

#endif
