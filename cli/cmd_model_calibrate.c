/* `longca model --calibrate`: times the calibration sweep (cp/sim_calibration.h) on this
 * machine's kernel in this process, or takes the kernel's single-device runs of a CSV results
 * file of `longca run` (--from: any build that wrote the same columns), fits the kernel's costs
 * and writes the calibration file. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/model.h"
#include "core/engine/cp_method.h"
#include "core/engine/device.h"
#include "core/engine/engine.h"
#include "core/engine/kernel.h"
#include "core/io/metadata.h"
#include "core/model/timeline.h"

static void ignore_event(void *ctx, const struct event *ev) { (void)ctx, (void)ev; }

/* Runs every spec on the kernel's device; seconds[i] is the median (0 when it did not run). */
static enum lc_status time_here(struct run_spec *specs, int n, double *seconds, char *device, size_t device_len,
                                char *err)
{
    const struct longca_kernel *k = kernel_find(specs[0].kernel);
    const struct device_ops *dev = k ? device_for(k->device) : NULL;
    if (!dev) return lc_fail(err, LC_ERR_UNSUPPORTED, "kernel %s: its device is not available here", specs[0].kernel);
    if (dev->open(0, device, device_len, err)) return LC_ERR_UNSUPPORTED;
    struct timeline tl;
    timeline_init(&tl);
    volatile int cancel = 0;
    struct engine_env env = {.device = dev, .rank = 1, .cores = omp_get_max_threads(), .sink = {ignore_event, NULL},
                             .cancel = &cancel, .timeline = &tl};
    for (int i = 0; i < n; i++) {
        char what[160];
        run_spec_describe(&specs[i], what, sizeof what);
        specs[i].counters = COUNTERS_OFF;
        struct run_result r;
        engine_execute(&env, &specs[i], i, &r);
        seconds[i] = r.status == LC_OK ? r.ms_median * 1e-3 : 0;
        fprintf(stderr, "[%d/%d] %s: %s %.4f ms\n", i + 1, n, what, lc_status_name(r.status), r.ms_median);
    }
    timeline_destroy(&tl);
    dev->close();
    return LC_OK;
}

/* Splits a CSV line in place at commas (the quoted message column comes last). */
static int split(char *line, char **cols, int max)
{
    int n = 0;
    for (char *c = line; n < max;) {
        cols[n++] = c;
        c = strchr(c, ',');
        if (!c) break;
        *c++ = 0;
    }
    return n;
}

static int column(char **names, int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], want)) return i;
    return -1;
}

/* Every run of the CSV that the fit can use: the kernel's own single-device forward or backward
 * runs at this dtype and head dim that went well, any mask, S, batch and heads (taken to have
 * the sweep's mask parameters). specs and seconds are malloc'd. */
static enum lc_status runs_from(const char *path, const char *kernel, enum lc_dtype dtype, int head_dim,
                                struct run_spec **specs, double **seconds, int *n, char *err)
{
    enum { MAX_RUNS = 100000 };
    *specs = NULL, *seconds = NULL, *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return lc_fail(err, LC_ERR_INVALID, "cannot read %s", path);
    static char header[4096], line[4096];
    char *names[64], *cols[64];
    enum { KERNEL, MASK, SEQLEN, BATCH, HEADS_Q, HEADS_KV, HEAD_DIM, DTYPE, DIRECTION, CP, STATUS, MEDIAN, N_WANTED };
    const char *want[N_WANTED] = {"kernel", "mask",  "seqlen", "batch",  "heads_q", "heads_kv",
                                  "head_dim", "dtype", "direction", "cp", "status", "ms_median"};
    int at[N_WANTED], n_names = 0, cap = 0;
    bool ok = fgets(header, sizeof header, f) != NULL;
    if (ok) {
        header[strcspn(header, "\r\n")] = 0;
        n_names = split(header, names, 64);
    }
    for (int i = 0; ok && i < N_WANTED; i++) ok = (at[i] = column(names, n_names, want[i])) >= 0;
    enum lc_status st = ok ? LC_OK : lc_fail(err, LC_ERR_INVALID, "%s: not a CSV results file of longca run (columns missing)", path);
    for (int rows = 0; !st && fgets(line, sizeof line, f) && rows < MAX_RUNS; rows++) {
        line[strcspn(line, "\r\n")] = 0;
        if (split(line, cols, 64) < n_names || strcmp(cols[at[STATUS]], "ok") || strcmp(cols[at[KERNEL]], kernel) ||
            strcmp(cols[at[DTYPE]], dtype_name(dtype)) || atoi(cols[at[HEAD_DIM]]) != head_dim)
            continue;
        const double ms = strtod(cols[at[MEDIAN]], NULL);
        const struct cp_method_ops *method = cp_method_find(cols[at[CP]]); /* older files name local "none" */
        struct run_spec s;
        cp_calibration_spec_init(&s, kernel, dtype, head_dim);
        char why[LC_ERRMSG_LEN];
        if (!(ms > 0 && ms < 1e7) || !method || !method->single_device || mask_pattern_parse(cols[at[MASK]], &s.mask) ||
            direction_parse(cols[at[DIRECTION]], &s.direction) || (s.direction != DIR_FWD && s.direction != DIR_BWD))
            continue;
        s.seqlen = atoll(cols[at[SEQLEN]]);
        s.batch = atoi(cols[at[BATCH]]);
        s.heads_q = atoi(cols[at[HEADS_Q]]);
        s.heads_kv = atoi(cols[at[HEADS_KV]]);
        if (run_spec_validate(&s, why)) continue; /* bounds every number before it sizes a tile list */
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            struct run_spec *sp = realloc(*specs, (size_t)cap * sizeof *sp);
            if (sp) *specs = sp;
            double *sec = sp ? realloc(*seconds, (size_t)cap * sizeof *sec) : NULL;
            if (sec) *seconds = sec;
            if (!sp || !sec) st = lc_fail(err, LC_ERR_OOM, "out of host memory");
        }
        if (!st) (*specs)[*n] = s, (*seconds)[(*n)++] = ms * 1e-3;
    }
    fclose(f);
    return st;
}

static void print_cost(const char *dir, const struct cp_kernel_cost *k, double max_err)
{
    printf("  %s: %.2f us a call, per query head: %.3f ns a query tile, %.3f ns a full tile, %.3f ns a partial "
           "tile (fit within %.1f %%)\n",
           dir, k->call * 1e6, k->q_tile * 1e9, k->full_tile * 1e9, k->partial_tile * 1e9, 100 * max_err);
    if (k->key_tile > 0)
        printf("    and %.3f ns a key tile per doubling of the row length (key tiles per query tile) from %.1f to %.1f\n",
               k->key_tile * 1e9, k->key_knot, k->key_top);
}

int model_calibrate(const struct model_options *o)
{
    char err[LC_ERRMSG_LEN], path[1024];
    struct run_spec *specs = NULL;
    int n = 0;
    const char *kernel = o->axes.n_kernels ? o->axes.kernels[0] : "flash";
    const enum lc_dtype dtype = o->axes.n_dtypes ? o->axes.dtypes[0] : LC_BF16;
    const int head_dim = o->axes.n_head_dims ? o->axes.head_dims[0] : 128;
    const struct longca_kernel *k = kernel_find(kernel);
    if (!k) return lc_usage_error("longca model", "unknown kernel '%s' (longca list kernels)", kernel);
    double *seconds = NULL;
    struct cp_calibration cal;
    char device[128] = "";
    enum lc_status st;
    if (o->from) {
        st = runs_from(o->from, kernel, dtype, head_dim, &specs, &seconds, &n, err);
        snprintf(device, sizeof device, "%s", o->device ? o->device : "unknown");
    } else {
        st = cp_calibration_specs(kernel, dtype, head_dim, &specs, &n, err);
        seconds = st ? NULL : calloc((size_t)n, sizeof *seconds);
        if (!st && !seconds) st = lc_fail(err, LC_ERR_OOM, "out of host memory");
        if (!st) st = time_here(specs, n, seconds, device, sizeof device, err);
    }
    if (!st) st = cp_calibration_fit(specs, seconds, n, &cal, err);
    if (!st) {
        snprintf(cal.device, sizeof cal.device, "%.95s", device);
        if (o->from) snprintf(cal.version, sizeof cal.version, "%s", o->from_version ? o->from_version : "from-results");
        else if (k->version) snprintf(cal.version, sizeof cal.version, "%s", k->version);
        else snprintf(cal.version, sizeof cal.version, "longca-%s-%s", metadata_version(), metadata_commit());
        if (o->calibration) snprintf(path, sizeof path, "%s", o->calibration);
        else st = cp_calibration_path(cal.device, cal.kernel, cal.version, path, sizeof path, err);
    }
    if (!st) st = cp_calibration_write(path, &cal, err);
    free(specs);
    free(seconds);
    if (st) {
        lc_print_error("longca model", "%s", err);
        return lc_status_exit(st);
    }
    printf("calibration of %s on %s (%s, %s, d=%d) from %d runs, written to %s\n", cal.kernel, cal.device, cal.version,
           dtype_name(cal.dtype), cal.head_dim, cal.samples, path);
    print_cost("fwd", &cal.cost.fwd, cal.fwd_err);
    print_cost("bwd", &cal.cost.bwd, cal.bwd_err);
    return LC_EXIT_OK;
}
