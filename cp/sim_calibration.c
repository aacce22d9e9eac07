/* The kernel calibration (cp/sim_calibration.h). */
#define _POSIX_C_SOURCE 200809L /* readdir, stat */
#include "cp/sim_calibration.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/engine/cp_method.h"
#include "core/engine/kernel.h"
#include "core/io/output_file.h"
#include "core/io/private_dir.h"
#include "core/mask/doclen.h"

/* Format 2 adds the row-length lines; a file of format 1 has no row-length dependence. */
#define FORMAT_PREFIX "longca-calibration "
#define FORMAT_VERSION 2

/* GPU kernels at the per-GPU lengths CP runs give them; CPU kernels where they take seconds. */
static const int64_t gpu_lengths[] = {8192, 32768, 131072}, cpu_lengths[] = {1024, 2048, 4096};

static bool on_gpu(const char *kernel)
{
    const struct longca_kernel *k = kernel_find(kernel);
    return k && k->device != LONGCA_DEVICE_CPU;
}

void cp_calibration_spec_init(struct run_spec *s, const char *kernel, enum lc_dtype dtype, int head_dim)
{
    const bool gpu = on_gpu(kernel);
    run_spec_defaults(s, gpu);
    snprintf(s->kernel, sizeof s->kernel, "%s", kernel);
    s->mask_params.window = (gpu ? gpu_lengths : cpu_lengths)[0] / 2;
    s->mask_params.doclen = DOCLEN_PROLONG64K;
    s->mask_params.seed = 42;
    s->heads_q = s->heads_kv = 8;
    s->head_dim = head_dim;
    s->dtype = dtype;
    s->warmup = 1;
    s->iters = 3;
}

enum lc_status cp_calibration_specs(const char *kernel, enum lc_dtype dtype, int head_dim, struct run_spec **specs,
                                    int *n, char *err)
{
    static const enum mask_pattern masks[] = {MASK_FULL, MASK_CAUSAL, MASK_SLIDING_WINDOW_CAUSAL, MASK_CAUSAL_DOCUMENT};
    const int count = 4 * 3 * 2;
    *specs = calloc((size_t)count, sizeof **specs);
    if (!*specs) return lc_fail(err, LC_ERR_OOM, "out of host memory");
    *n = 0;
    const int64_t *lengths = on_gpu(kernel) ? gpu_lengths : cpu_lengths;
    for (int m = 0; m < 4; m++)
        for (int l = 0; l < 3; l++)
            for (int d = 0; d < 2; d++) {
                struct run_spec *s = &(*specs)[(*n)++];
                cp_calibration_spec_init(s, kernel, dtype, head_dim);
                s->mask = masks[m];
                s->seqlen = lengths[l];
                s->direction = d ? DIR_BWD : DIR_FWD;
            }
    return LC_OK;
}

/* The fit's features: a call, query tiles, full tiles, partial tiles, and key tiles times the
 * doublings of row length past the knot. */
#define FEATURES 5

/* Least squares of rows a (already divided by the time) against 1, over the coefficients marked
 * in use; the others stay 0. */
static bool solve(const double (*a)[FEATURES], int n, const bool *use, double *x)
{
    double m[FEATURES][FEATURES + 1] = {{0}};
    for (int i = 0; i < n; i++)
        for (int r = 0; r < FEATURES; r++) {
            for (int c = 0; c < FEATURES; c++) m[r][c] += a[i][r] * a[i][c];
            m[r][FEATURES] += a[i][r];
        }
    for (int r = 0; r < FEATURES; r++)
        if (!use[r]) {
            memset(m[r], 0, sizeof m[r]);
            for (int c = 0; c < FEATURES; c++) m[c][r] = 0;
            m[r][r] = 1;
        }
    for (int c = 0; c < FEATURES; c++) {
        int piv = c;
        for (int r = c + 1; r < FEATURES; r++)
            if (fabs(m[r][c]) > fabs(m[piv][c])) piv = r;
        if (fabs(m[piv][c]) < 1e-300) return false;
        for (int k = 0; k <= FEATURES; k++) {
            double t = m[c][k];
            m[c][k] = m[piv][k];
            m[piv][k] = t;
        }
        for (int r = 0; r < FEATURES; r++) {
            if (r == c) continue;
            const double f = m[r][c] / m[c][c];
            for (int k = c; k <= FEATURES; k++) m[r][k] -= f * m[c][k];
        }
    }
    for (int r = 0; r < FEATURES; r++) x[r] = use[r] ? m[r][FEATURES] / m[r][r] : 0;
    return true;
}

/* Non-negative fit with the row-length term counted from key_knot to key_top of k (knot 0: no
 * term): drops the most negative coefficient until none is negative. Features are scaled to
 * comparable sizes so the normal equations stay well conditioned. Sets k's other coefficients
 * and the sum of squared relative errors; false when the runs do not determine them. a: n rows
 * of scratch. */
static bool fit_with(const struct cp_tile_work *w, const double *t, int n, double (*a)[FEATURES],
                     struct cp_kernel_cost *k, double *sse)
{
    double scale[FEATURES] = {0};
    for (int i = 0; i < n; i++) {
        const double f[FEATURES] = {1, w[i].heads * w[i].q_tiles, w[i].heads * w[i].full_tiles,
                                    w[i].heads * w[i].partial_tiles,
                                    w[i].heads * (w[i].full_tiles + w[i].partial_tiles) * cp_key_doublings(k, &w[i])};
        for (int c = 0; c < FEATURES; c++) {
            a[i][c] = f[c] / t[i];
            if (a[i][c] > scale[c]) scale[c] = a[i][c];
        }
    }
    bool use[FEATURES];
    for (int c = 0; c < FEATURES; c++) use[c] = scale[c] > 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < FEATURES; c++)
            if (use[c]) a[i][c] /= scale[c];
    double x[FEATURES] = {0};
    for (int round = 0; round < FEATURES; round++) {
        if (!solve((const double (*)[FEATURES])a, n, use, x)) return false;
        int worst = -1;
        for (int c = 0; c < FEATURES; c++)
            if (use[c] && x[c] < 0 && (worst < 0 || x[c] < x[worst])) worst = c;
        if (worst < 0) break;
        use[worst] = false;
        x[worst] = 0;
    }
    double c[FEATURES];
    for (int i = 0; i < FEATURES; i++) c[i] = use[i] ? x[i] / scale[i] : 0;
    k->call = c[0], k->q_tile = c[1], k->full_tile = c[2], k->partial_tile = c[3], k->key_tile = c[4];
    if (!(k->key_tile > 0)) k->key_knot = k->key_top = 0;
    const struct cp_cost cost = {.fwd = *k};
    *sse = 0;
    for (int i = 0; i < n; i++) *sse += pow(cp_kernel_time(&cost, &w[i], false) / t[i] - 1, 2);
    return true;
}

/* The fit of one direction. Without the row-length term first; then with it, its knot at each
 * row length the runs have below the longest (where the growth stops: beyond it nothing was
 * measured), the best of those kept if it earns its two parameters (rate and knot) by the
 * Bayesian information criterion, n ln(SSE) + parameters x ln(n). Relative errors below 1e-6
 * count as none, so a fit already exact keeps no term. Runs of one row length fit as without it. */
static enum lc_status fit_direction(const struct cp_tile_work *w, const double *t, int n, struct cp_kernel_cost *k,
                                    double *max_err, char *err)
{
    double (*a)[FEATURES] = malloc((size_t)(n > 0 ? n : 1) * sizeof *a), top = 0, sse = 0;
    if (!a) return lc_fail(err, LC_ERR_OOM, "out of host memory");
    *k = (struct cp_kernel_cost){0};
    if (!fit_with(w, t, n, a, k, &sse)) {
        free(a);
        return lc_fail(err, LC_ERR_INVALID, "calibration: the runs do not determine the kernel's costs");
    }
    for (int i = 0; i < n; i++) top = fmax(top, cp_row_tiles(&w[i]));
    struct cp_kernel_cost best = {0};
    double best_sse = sse;
    for (int i = 0; i < n; i++) {
        const double row = cp_row_tiles(&w[i]);
        bool first = row >= 1 && row < top;
        for (int j = 0; j < i && first; j++) first = cp_row_tiles(&w[j]) != row;
        struct cp_kernel_cost with = {.key_knot = row, .key_top = top};
        double sse_with;
        if (first && fit_with(w, t, n, a, &with, &sse_with) && with.key_tile > 0 && sse_with < best_sse)
            best = with, best_sse = sse_with;
    }
    free(a);
    const double exact = n * 1e-12;
    if (best.key_tile > 0 && n * log((best_sse + exact) / (sse + exact)) + 2 * log(n) < 0) *k = best;
    const struct cp_cost cost = {.fwd = *k};
    *max_err = 0;
    for (int i = 0; i < n; i++) *max_err = fmax(*max_err, fabs(cp_kernel_time(&cost, &w[i], false) / t[i] - 1));
    return LC_OK;
}

enum lc_status cp_calibration_fit(const struct run_spec *specs, const double *seconds, int n, struct cp_calibration *out,
                                  char *err)
{
    memset(out, 0, sizeof *out);
    struct cp_tile_work *w[2] = {malloc((size_t)(n > 0 ? n : 1) * sizeof **w), malloc((size_t)(n > 0 ? n : 1) * sizeof **w)};
    double *t[2] = {malloc((size_t)(n > 0 ? n : 1) * sizeof **t), malloc((size_t)(n > 0 ? n : 1) * sizeof **t)};
    int count[2] = {0, 0};
    enum lc_status st = w[0] && w[1] && t[0] && t[1] ? LC_OK : lc_fail(err, LC_ERR_OOM, "out of host memory");
    for (int i = 0; i < n && !st; i++) {
        if (!(seconds[i] > 0) || (specs[i].direction != DIR_FWD && specs[i].direction != DIR_BWD)) continue;
        struct run_spec local = specs[i];
        snprintf(local.cp_method, sizeof local.cp_method, "%s", CP_METHOD_LOCAL);
        local.cp_degree = 1;
        struct cp_schedule s;
        if ((st = cp_method_schedule(&local, &s, err))) break;
        const int d = specs[i].direction == DIR_BWD;
        w[d][count[d]] = s.work[0];
        t[d][count[d]++] = seconds[i];
        out->tile = s.tile;
        cp_schedule_free(&s);
    }
    if (!st && (count[0] < 4 || count[1] < 4))
        st = lc_fail(err, LC_ERR_INVALID, "calibration: %d forward and %d backward runs timed; 4 of each are needed",
                     count[0], count[1]);
    if (!st) st = fit_direction(w[0], t[0], count[0], &out->cost.fwd, &out->fwd_err, err);
    if (!st) st = fit_direction(w[1], t[1], count[1], &out->cost.bwd, &out->bwd_err, err);
    out->cost.calibrated = true;
    out->samples = count[0] + count[1];
    if (n > 0) {
        snprintf(out->kernel, sizeof out->kernel, "%s", specs[0].kernel);
        out->dtype = specs[0].dtype;
        out->head_dim = specs[0].head_dim;
    }
    for (int d = 0; d < 2; d++) free(w[d]), free(t[d]);
    return st;
}

static void write_cost(FILE *f, const char *name, const struct cp_kernel_cost *k, double max_err)
{
    fprintf(f, "%s %.9g %.9g %.9g %.9g %.6f\n", name, k->call, k->q_tile, k->full_tile, k->partial_tile, max_err);
    fprintf(f, "%s_keys %.9g %.9g %.9g\n", name, k->key_tile, k->key_knot, k->key_top);
}

enum lc_status cp_calibration_write(const char *path, const struct cp_calibration *c, char *err)
{
    struct output_file o;
    enum lc_status st = output_open(&o, path, err);
    if (st) return st;
    fprintf(o.f, "%s%d\ndevice %s\nkernel %s\nversion %s\ndtype %s\nhead_dim %d\ntile %d\nsamples %d\n", FORMAT_PREFIX,
            FORMAT_VERSION, c->device, c->kernel, c->version, dtype_name(c->dtype), c->head_dim, c->tile, c->samples);
    write_cost(o.f, "fwd", &c->cost.fwd, c->fwd_err);
    write_cost(o.f, "bwd", &c->cost.bwd, c->bwd_err);
    return output_commit(&o, err);
}

/* n numbers, number i within [0, most[i]]. */
static bool read_numbers(const char *text, int n, const double *most, double *v)
{
    char *end;
    for (int i = 0; i < n; i++) {
        v[i] = strtod(text, &end);
        if (end == text || !isfinite(v[i]) || v[i] < 0 || v[i] > most[i]) return false;
        text = end;
    }
    return true;
}

/* A cost line: four times in seconds, each within [0, 1], and the fit's error. */
static bool read_cost(const char *text, struct cp_kernel_cost *k, double *max_err)
{
    static const double most[5] = {1, 1, 1, 1, 1e6};
    double v[5];
    if (!read_numbers(text, 5, most, v)) return false;
    k->call = v[0], k->q_tile = v[1], k->full_tile = v[2], k->partial_tile = v[3];
    *max_err = v[4];
    return true;
}

/* A row-length line: seconds a key tile per doubling within [0, 1], then the knot and the top,
 * row lengths of at most 2^40 key tiles; a term in use needs 1 <= knot < top. */
static bool read_keys(const char *text, struct cp_kernel_cost *k)
{
    static const double most[3] = {1, 0x1p40, 0x1p40};
    double v[3];
    if (!read_numbers(text, 3, most, v) || (v[0] > 0 && !(v[1] >= 1 && v[2] > v[1]))) return false;
    k->key_tile = v[0], k->key_knot = v[1], k->key_top = v[2];
    return true;
}

enum lc_status cp_calibration_read(const char *path, struct cp_calibration *c, char *err)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f) return lc_fail(err, LC_ERR_INVALID, "cannot read calibration %s", path);
    char line[256];
    unsigned seen = 0;
    bool ok = fgets(line, sizeof line, f) && !strncmp(line, FORMAT_PREFIX, strlen(FORMAT_PREFIX));
    if (ok) {
        char *end;
        const long version = strtol(line + strlen(FORMAT_PREFIX), &end, 10);
        ok = version >= 1 && version <= FORMAT_VERSION && (*end == '\n' || !*end);
    }
    while (ok && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *value = strchr(line, ' ');
        if (!value) continue;
        *value++ = 0;
        char *end;
        long n = strtol(value, &end, 10);
        if (!strcmp(line, "device")) snprintf(c->device, sizeof c->device, "%s", value), seen |= 1;
        else if (!strcmp(line, "kernel")) snprintf(c->kernel, sizeof c->kernel, "%s", value), seen |= 2;
        else if (!strcmp(line, "version")) snprintf(c->version, sizeof c->version, "%s", value);
        else if (!strcmp(line, "dtype")) ok = dtype_parse(value, &c->dtype) == 0, seen |= 4;
        else if (!strcmp(line, "head_dim")) ok = *end == 0 && n >= 8 && n <= 1024, c->head_dim = (int)n, seen |= 8;
        else if (!strcmp(line, "tile")) ok = *end == 0 && n >= 1 && n <= 4096, c->tile = (int)n, seen |= 16;
        else if (!strcmp(line, "samples")) ok = *end == 0 && n >= 1 && n <= 100000, c->samples = (int)n;
        else if (!strcmp(line, "fwd")) ok = read_cost(value, &c->cost.fwd, &c->fwd_err), seen |= 32;
        else if (!strcmp(line, "bwd")) ok = read_cost(value, &c->cost.bwd, &c->bwd_err), seen |= 64;
        else if (!strcmp(line, "fwd_keys")) ok = read_keys(value, &c->cost.fwd);
        else if (!strcmp(line, "bwd_keys")) ok = read_keys(value, &c->cost.bwd);
    }
    fclose(f);
    if (!ok || seen != 127) return lc_fail(err, LC_ERR_INVALID, "%s is not a longca calibration (or is damaged)", path);
    c->cost.calibrated = true;
    return LC_OK;
}

/* Letters, digits, '.', '-' and '_' stay; anything else becomes '_'. */
static void file_word(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++) {
        const char ch = in[i];
        const bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                          ch == '-' || ch == '_';
        out[i] = keep ? ch : '_';
    }
    out[i] = 0;
}

enum lc_status cp_calibration_path(const char *device, const char *kernel, const char *version, char *path, size_t len,
                                   char *err)
{
    char dir[512], d[96], k[LC_NAME_LEN], v[96];
    enum lc_status st = private_dir(PRIVATE_STATE, dir, sizeof dir, err);
    if (st) return st;
    file_word(device, d, sizeof d);
    file_word(kernel, k, sizeof k);
    file_word(version, v, sizeof v);
    if ((size_t)snprintf(path, len, "%s/calibration-%s-%s-%s.txt", dir, d, k, v) >= len)
        return lc_fail(err, LC_ERR_INVALID, "calibration path too long");
    return LC_OK;
}

enum lc_status cp_calibration_find(const char *kernel, enum lc_dtype dtype, int head_dim, struct cp_calibration *c,
                                   char *path, size_t len, char *err)
{
    char dir[512], candidate[1024], scratch[LC_ERRMSG_LEN];
    enum lc_status st = private_dir(PRIVATE_STATE, dir, sizeof dir, err);
    if (st) return st;
    DIR *d = opendir(dir);
    if (!d) return lc_fail(err, LC_ERR_UNSUPPORTED, "no calibration of %s (longca model --calibrate)", kernel);
    time_t newest = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "calibration-", 12)) continue;
        struct stat sb;
        struct cp_calibration cand;
        snprintf(candidate, sizeof candidate, "%s/%s", dir, e->d_name);
        if (lstat(candidate, &sb) || !S_ISREG(sb.st_mode) || sb.st_size > 4096 || sb.st_mtime < newest) continue;
        if (cp_calibration_read(candidate, &cand, scratch) || strcmp(cand.kernel, kernel) || cand.dtype != dtype ||
            cand.head_dim != head_dim)
            continue;
        newest = sb.st_mtime;
        *c = cand;
        snprintf(path, len, "%s", candidate);
    }
    closedir(d);
    if (!newest)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "no calibration of %s for %s, d=%d (longca model --calibrate)", kernel,
                       dtype_name(dtype), head_dim);
    return LC_OK;
}
