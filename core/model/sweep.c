#include "core/model/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/cp_method.h"
#include "core/engine/kernel.h"
#include "core/model/parse.h"
#include "core/mask/mask_params.h"

void sweep_init(struct sweep_axes *axes)
{
    memset(axes, 0, sizeof *axes);
    axes->warmup = axes->iters = axes->cp_inner = -1;
}

#define ITEM_LEN 64

/* Splits text at commas into items; the count, or -1 with err set. */
static int split_items(const char *flag, const char *text, char items[SWEEP_MAX_VALUES][ITEM_LEN], char *err)
{
    int n = 0;
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!len) return lc_fail(err, LC_ERR_INVALID, "%s: empty item in '%s'", flag, text), -1;
        if (len >= ITEM_LEN) return lc_fail(err, LC_ERR_INVALID, "%s: item '%.20s...' is too long", flag, p), -1;
        if (n == SWEEP_MAX_VALUES) return lc_fail(err, LC_ERR_INVALID, "%s: more than %d values", flag, SWEEP_MAX_VALUES), -1;
        memcpy(items[n], p, len);
        items[n++][len] = 0;
        if (!comma) return n;
        p = comma + 1;
    }
}

static enum lc_status parse_range(const char *flag, const char *item, int64_t *values, int *n, char *err)
{
    char lo_text[64], hi_text[64], step_text[64];
    const char *c1 = strchr(item, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || strchr(c2 + 1, ':') || c1 - item >= 64 || c2 - c1 - 1 >= 64 || strlen(c2 + 1) >= 64)
        return lc_fail(err, LC_ERR_INVALID, "%s: '%s' is not a range (LO:HI:xFACTOR or LO:HI:STEP)", flag, item);
    snprintf(lo_text, sizeof lo_text, "%.*s", (int)(c1 - item), item);
    snprintf(hi_text, sizeof hi_text, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
    snprintf(step_text, sizeof step_text, "%s", c2 + 1);
    int64_t lo, hi, step;
    enum lc_status st;
    if ((st = parse_size(flag, lo_text, &lo, err)) || (st = parse_size(flag, hi_text, &hi, err))) return st;
    bool geometric = step_text[0] == 'x' || step_text[0] == '*';
    const char *step_digits = step_text + (geometric || step_text[0] == '+');
    if ((st = parse_size(flag, step_digits, &step, err))) return st;
    if (lo < 1 || hi < lo) return lc_fail(err, LC_ERR_INVALID, "%s: range '%s' is empty or starts below 1", flag, item);
    if (geometric ? step < 2 : step < 1)
        return lc_fail(err, LC_ERR_INVALID, "%s: range '%s' has a step that never advances", flag, item);
    for (int64_t v = lo; v <= hi;) {
        if (*n >= SWEEP_MAX_VALUES) return lc_fail(err, LC_ERR_INVALID, "%s: more than %d values", flag, SWEEP_MAX_VALUES);
        values[(*n)++] = v;
        if (geometric ? v > hi / step : v > hi - step) break;
        v = geometric ? v * step : v + step;
    }
    return LC_OK;
}

enum lc_status sweep_parse_sizes(const char *flag, const char *text, int64_t *values, int *n, char *err)
{
    char items[SWEEP_MAX_VALUES][ITEM_LEN];
    if (!text) return lc_fail(err, LC_ERR_INVALID, "%s needs a value", flag);
    int count = split_items(flag, text, items, err);
    if (count < 0) return LC_ERR_INVALID;
    *n = 0;
    for (int i = 0; i < count; i++) {
        enum lc_status st;
        if (strchr(items[i], ':')) {
            if ((st = parse_range(flag, items[i], values, n, err))) return st;
        } else {
            if (*n >= SWEEP_MAX_VALUES) return lc_fail(err, LC_ERR_INVALID, "%s: more than %d values", flag, SWEEP_MAX_VALUES);
            if ((st = parse_size(flag, items[i], &values[*n], err))) return st;
            (*n)++;
        }
    }
    return LC_OK;
}

static enum lc_status parse_int_list(const char *flag, const char *text, int64_t min, int64_t max, int *out, int *n,
                                     char *err)
{
    int64_t values[SWEEP_MAX_VALUES];
    enum lc_status st = sweep_parse_sizes(flag, text, values, n, err);
    if (st) return st;
    for (int i = 0; i < *n; i++) {
        if (values[i] < min || values[i] > max)
            return lc_fail(err, LC_ERR_INVALID, "%s: %lld is out of range [%lld, %lld]", flag, (long long)values[i],
                           (long long)min, (long long)max);
        out[i] = (int)values[i];
    }
    return LC_OK;
}

static enum lc_status parse_heads(const char *flag, const char *text, struct sweep_axes *axes, char *err)
{
    char items[SWEEP_MAX_VALUES][ITEM_LEN];
    int count = split_items(flag, text, items, err);
    if (count < 0) return LC_ERR_INVALID;
    axes->n_heads = 0;
    for (int i = 0; i < count; i++) {
        char *item = items[i], *colon = strchr(item, ':');
        int64_t hq, hk;
        enum lc_status st;
        if (colon) *colon = 0;
        if ((st = parse_int(flag, item, 1, 4096, &hq, err))) return st;
        hk = hq;
        if (colon && (st = parse_int(flag, colon + 1, 1, 4096, &hk, err))) return st;
        axes->heads[axes->n_heads][0] = (int)hq;
        axes->heads[axes->n_heads][1] = (int)hk;
        axes->n_heads++;
    }
    return LC_OK;
}

static enum lc_status parse_names(const char *flag, const char *text, char (*out)[LC_NAME_LEN], int *n, char *err)
{
    char items[SWEEP_MAX_VALUES][ITEM_LEN];
    int count = split_items(flag, text, items, err);
    if (count < 0) return LC_ERR_INVALID;
    for (*n = 0; *n < count; (*n)++) {
        if (strlen(items[*n]) >= LC_NAME_LEN) return lc_fail(err, LC_ERR_INVALID, "%s: '%s' is too long", flag, items[*n]);
        strcpy(out[*n], items[*n]);
    }
    return LC_OK;
}

static enum lc_status parse_masks(const char *flag, const char *text, struct sweep_axes *axes, char *err)
{
    char items[SWEEP_MAX_VALUES][ITEM_LEN];
    int count = split_items(flag, text, items, err);
    if (count < 0) return LC_ERR_INVALID;
    for (axes->n_masks = 0; axes->n_masks < count; axes->n_masks++)
        if (mask_pattern_parse(items[axes->n_masks], &axes->masks[axes->n_masks]))
            return lc_fail(err, LC_ERR_INVALID, "unknown mask '%s' (see: longca list masks)", items[axes->n_masks]);
    return LC_OK;
}

static enum lc_status parse_dtypes(const char *flag, const char *text, struct sweep_axes *axes, char *err)
{
    char items[SWEEP_MAX_VALUES][ITEM_LEN];
    int count = split_items(flag, text, items, err);
    if (count < 0) return LC_ERR_INVALID;
    for (axes->n_dtypes = 0; axes->n_dtypes < count; axes->n_dtypes++)
        if (dtype_parse(items[axes->n_dtypes], &axes->dtypes[axes->n_dtypes]))
            return lc_fail(err, LC_ERR_INVALID, "unknown dtype '%s' (bf16, fp16, fp32)", items[axes->n_dtypes]);
    return LC_OK;
}

static enum lc_status parse_directions(const char *flag, const char *text, struct sweep_axes *axes, char *err)
{
    char items[SWEEP_MAX_VALUES][ITEM_LEN];
    int count = split_items(flag, text, items, err);
    if (count < 0) return LC_ERR_INVALID;
    for (axes->n_directions = 0; axes->n_directions < count; axes->n_directions++)
        if (direction_parse(items[axes->n_directions], &axes->directions[axes->n_directions]))
            return lc_fail(err, LC_ERR_INVALID, "unknown direction '%s' (fwd, bwd, fwd+bwd)", items[axes->n_directions]);
    return LC_OK;
}

enum lc_status sweep_parse_flag(struct sweep_axes *axes, const char *flag, const char *value, bool *consumed,
                                bool *takes_value, char *err)
{
    *consumed = true;
    *takes_value = true;
    if (!strcmp(flag, "--check")) return *takes_value = false, axes->check = true, LC_OK;
    if (!strcmp(flag, "--deterministic")) return *takes_value = false, axes->deterministic = true, LC_OK;
    if (!value) {
        /* Only say "needs a value" for flags that are ours. */
        static const char *const ours[] = {"--kernel", "--mask", "--seqlen", "--batch", "--heads", "--head-dim",
                                           "--dtype", "--direction", "--cp", "--gpus", "--cp-inner", "--warmup",
                                           "--iters", "--counters"};
        for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
            if (!strcmp(flag, ours[i])) return lc_fail(err, LC_ERR_INVALID, "%s needs a value", flag);
    }
    int64_t v;
    enum lc_status st;
    if (!strcmp(flag, "--kernel")) return parse_names(flag, value, axes->kernels, &axes->n_kernels, err);
    if (!strcmp(flag, "--mask")) return parse_masks(flag, value, axes, err);
    if (!strcmp(flag, "--seqlen")) return sweep_parse_sizes(flag, value, axes->seqlens, &axes->n_seqlens, err);
    if (!strcmp(flag, "--batch")) return parse_int_list(flag, value, 1, 4096, axes->batches, &axes->n_batches, err);
    if (!strcmp(flag, "--heads")) return parse_heads(flag, value, axes, err);
    if (!strcmp(flag, "--head-dim")) return parse_int_list(flag, value, 1, 512, axes->head_dims, &axes->n_head_dims, err);
    if (!strcmp(flag, "--dtype")) return parse_dtypes(flag, value, axes, err);
    if (!strcmp(flag, "--direction")) return parse_directions(flag, value, axes, err);
    if (!strcmp(flag, "--cp")) return parse_names(flag, value, axes->cp_methods, &axes->n_cp_methods, err);
    if (!strcmp(flag, "--gpus")) return parse_int_list(flag, value, 1, 4096, axes->gpus, &axes->n_gpus, err);
    if (!strcmp(flag, "--counters")) {
        if (counter_mode_parse(value, &axes->counters))
            return lc_fail(err, LC_ERR_INVALID, "--counters takes pm, range or off");
        return LC_OK;
    }
    if (!strcmp(flag, "--cp-inner")) {
        if ((st = parse_int(flag, value, 1, 4096, &v, err))) return st;
        axes->cp_inner = (int)v;
        return LC_OK;
    }
    if (!strcmp(flag, "--warmup")) {
        if ((st = parse_int(flag, value, 0, 100000, &v, err))) return st;
        axes->warmup = (int)v;
        return LC_OK;
    }
    if (!strcmp(flag, "--iters")) {
        if ((st = parse_int(flag, value, 1, 100000, &v, err))) return st;
        axes->iters = (int)v;
        return LC_OK;
    }
    return mask_params_parse_flag(flag, value, &axes->mask_params, consumed, err);
}

/* The value of an axis at index i, or the kernel default when the axis is unset. */
#define AXIS(axes_n, values, i, fallback) ((axes_n) ? (values)[i] : (fallback))

/* Fills run `index` of the cartesian product (kernel-major, batch-minor). */
static void expand_one(const struct sweep_axes *axes, const int *sizes, long index, struct run_spec *s)
{
    int at[10];
    for (int axis = 9; axis >= 0; axis--) {
        at[axis] = (int)(index % sizes[axis]);
        index /= sizes[axis];
    }
    const char *kname = axes->n_kernels ? axes->kernels[at[0]] : "cpu";
    const struct longca_kernel *k = kernel_find(kname);
    run_spec_defaults(s, k && k->device == DEVICE_CUDA);
    snprintf(s->kernel, sizeof s->kernel, "%s", kname);
    s->mask = AXIS(axes->n_masks, axes->masks, at[1], s->mask);
    s->mask_params = axes->mask_params;
    s->seqlen = AXIS(axes->n_seqlens, axes->seqlens, at[2], s->seqlen);
    if (axes->n_heads) {
        s->heads_q = axes->heads[at[3]][0];
        s->heads_kv = axes->heads[at[3]][1];
    }
    s->head_dim = AXIS(axes->n_head_dims, axes->head_dims, at[4], s->head_dim);
    s->dtype = AXIS(axes->n_dtypes, axes->dtypes, at[5], s->dtype);
    s->direction = AXIS(axes->n_directions, axes->directions, at[6], s->direction);
    if (axes->n_cp_methods) {
        const struct cp_method_ops *m = cp_method_find(axes->cp_methods[at[7]]); /* "none" names local */
        snprintf(s->cp_method, sizeof s->cp_method, "%s", m ? m->name : axes->cp_methods[at[7]]);
    }
    s->cp_degree = AXIS(axes->n_gpus, axes->gpus, at[8], s->cp_degree);
    s->cp_inner = axes->cp_inner > 0 ? axes->cp_inner : 0;
    s->batch = AXIS(axes->n_batches, axes->batches, at[9], s->batch);
    if (axes->warmup >= 0) s->warmup = axes->warmup;
    if (axes->iters >= 1) s->iters = axes->iters;
    s->check = axes->check;
    s->deterministic = axes->deterministic;
    s->counters = axes->counters;
}

enum lc_status sweep_expand(const struct sweep_axes *axes, struct run_spec **runs, int *n_runs, char *err)
{
    const int counts[10] = {axes->n_kernels, axes->n_masks,  axes->n_seqlens,     axes->n_heads, axes->n_head_dims,
                            axes->n_dtypes,  axes->n_directions, axes->n_cp_methods, axes->n_gpus,  axes->n_batches};
    int sizes[10];
    double total = 1;
    for (int axis = 0; axis < 10; axis++) {
        sizes[axis] = counts[axis] ? counts[axis] : 1;
        total *= sizes[axis];
    }
    if (total > SWEEP_MAX_RUNS)
        return lc_fail(err, LC_ERR_INVALID, "the sweep expands to %.0f runs (limit %d)", total, SWEEP_MAX_RUNS);
    struct run_spec *out = calloc((size_t)total, sizeof *out);
    if (!out) return lc_fail(err, LC_ERR_OOM, "no memory for %.0f runs", total);
    /* --cp local,ring --gpus 1,4 means local at one GPU and ring at four: with both kinds on both
     * axes, the local method pairs with 1 GPU and the CP methods with more. Anything else keeps
     * its error. */
    bool none = !axes->n_cp_methods, method = false, one = !axes->n_gpus, many = false;
    for (int k = 0; k < axes->n_cp_methods; k++) {
        const struct cp_method_ops *m = cp_method_find(axes->cp_methods[k]);
        *(m && m->single_device ? &none : &method) = true;
    }
    for (int k = 0; k < axes->n_gpus; k++) *(axes->gpus[k] > 1 ? &many : &one) = true;
    bool pair_up = none && method && one && many;
    int n = 0;
    for (long i = 0; i < (long)total; i++) {
        expand_one(axes, sizes, i, &out[n]);
        if (pair_up && run_spec_is_cp(&out[n]) != (out[n].cp_degree > 1)) continue;
        enum lc_status st = run_spec_validate(&out[n], err);
        if (st) {
            free(out);
            return st;
        }
        n++;
    }
    *runs = out;
    *n_runs = n;
    return LC_OK;
}
