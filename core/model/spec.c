#include "core/model/spec.h"

#include <stdio.h>
#include <string.h>

#include "core/engine/cp_method.h"
#include "core/engine/kernel.h"
#include "core/mask/mask_params.h"
#include "core/mask/mask_view.h"

const char *direction_name(enum run_direction d)
{
    switch (d) {
    case DIR_FWD: return "fwd";
    case DIR_BWD: return "bwd";
    case DIR_FWD_BWD: return "fwd+bwd";
    }
    return "?";
}

int direction_parse(const char *name, enum run_direction *out)
{
    if (!strcmp(name, "fwd")) *out = DIR_FWD;
    else if (!strcmp(name, "bwd")) *out = DIR_BWD;
    else if (!strcmp(name, "fwd+bwd") || !strcmp(name, "fwd_bwd") || !strcmp(name, "both")) *out = DIR_FWD_BWD;
    else return -1;
    return 0;
}

const char *counter_mode_name(enum counter_mode m)
{
    switch (m) {
    case COUNTERS_PM: return "pm";
    case COUNTERS_RANGE: return "range";
    case COUNTERS_OFF: return "off";
    }
    return "?";
}

int counter_mode_parse(const char *name, enum counter_mode *out)
{
    for (int m = COUNTERS_PM; m <= COUNTERS_OFF; m++)
        if (!strcmp(name, counter_mode_name((enum counter_mode)m))) {
            *out = (enum counter_mode)m;
            return 0;
        }
    return -1;
}

void run_spec_defaults(struct run_spec *spec, bool gpu_kernel)
{
    memset(spec, 0, sizeof *spec);
    snprintf(spec->kernel, sizeof spec->kernel, "%s", gpu_kernel ? "flash" : "cpu");
    spec->mask = MASK_CAUSAL;
    spec->seqlen = gpu_kernel ? 8192 : 1024;
    spec->batch = 1;
    /* LongCA-bench's shape on GPUs; one a laptop finishes in seconds on the CPU. */
    spec->heads_q = gpu_kernel ? 64 : 8;
    spec->heads_kv = gpu_kernel ? 8 : 2;
    spec->head_dim = gpu_kernel ? 128 : 64;
    spec->dtype = gpu_kernel ? LC_BF16 : LC_FP32;
    spec->direction = DIR_FWD;
    snprintf(spec->cp_method, sizeof spec->cp_method, "%s", CP_METHOD_LOCAL);
    spec->cp_degree = 1;
    spec->warmup = gpu_kernel ? 5 : 1;
    spec->iters = gpu_kernel ? 20 : 3;
}

enum lc_status run_spec_validate(const struct run_spec *spec, char *err)
{
    const struct longca_kernel *k = kernel_find(spec->kernel);
    if (!k) {
        char known[160] = "";
        size_t used = 0;
        for (int i = 0; i < kernel_count() && used < sizeof known - 24; i++)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", kernel_at(i)->name);
        return lc_fail(err, LC_ERR_INVALID, "unknown kernel '%s' (known: %s)", spec->kernel, known);
    }
    if (spec->seqlen < 1) return lc_fail(err, LC_ERR_INVALID, "sequence length must be at least 1, got %lld", (long long)spec->seqlen);
    if (spec->seqlen > LC_MAX_SEQLEN)
        return lc_fail(err, LC_ERR_INVALID, "sequence length %lld is beyond the %lld-token limit", (long long)spec->seqlen,
                       (long long)LC_MAX_SEQLEN);
    if (spec->batch < 1 || spec->batch > 4096) return lc_fail(err, LC_ERR_INVALID, "batch must be in [1, 4096], got %d", spec->batch);
    if (spec->heads_q < 1 || spec->heads_kv < 1 || spec->heads_q > 4096 || spec->heads_kv > 4096)
        return lc_fail(err, LC_ERR_INVALID, "heads must be in [1, 4096], got %d:%d", spec->heads_q, spec->heads_kv);
    if (spec->heads_q % spec->heads_kv)
        return lc_fail(err, LC_ERR_INVALID, "query heads %d not divisible by KV heads %d", spec->heads_q, spec->heads_kv);
    if (spec->head_dim < 1 || spec->head_dim > 512)
        return lc_fail(err, LC_ERR_INVALID, "head dim must be in [1, 512], got %d", spec->head_dim);
    if (spec->warmup < 0 || spec->warmup > 100000) return lc_fail(err, LC_ERR_INVALID, "warm-up iterations must be in [0, 100000]");
    if (spec->iters < 1 || spec->iters > 100000) return lc_fail(err, LC_ERR_INVALID, "timed iterations must be in [1, 100000]");
    if (spec->cp_degree < 1 || spec->cp_degree > 4096)
        return lc_fail(err, LC_ERR_INVALID, "GPU count must be in [1, 4096], got %d", spec->cp_degree);
    enum lc_status st = mask_params_check(spec->mask, &spec->mask_params, spec->seqlen, err);
    if (st) return st;
    /* Bytes of Q, K, V and O alone; a size whose tensors overflow 2^50 bytes is a typo. */
    double tensor_bytes = (double)spec->batch * (double)spec->seqlen * (2.0 * spec->heads_q + 2.0 * spec->heads_kv) *
                          spec->head_dim * (double)dtype_size(spec->dtype);
    if (tensor_bytes > 1125899906842624.0)
        return lc_fail(err, LC_ERR_INVALID, "S=%lld with %d:%d heads of dim %d needs %.0f TiB for Q/K/V/O",
                       (long long)spec->seqlen, spec->heads_q, spec->heads_kv, spec->head_dim, tensor_bytes / 1099511627776.0);
    const struct cp_method_ops *cp = cp_method_find(spec->cp_method);
    if (!cp) {
        char known[160] = "";
        size_t used = 0;
        for (int i = 0; i < cp_method_count() && used < sizeof known - 24; i++)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", cp_method_at(i)->name);
        return lc_fail(err, LC_ERR_INVALID, "unknown CP method '%s' (known: %s)", spec->cp_method, used ? known : "none built");
    }
    return cp->validate(spec, err);
}

void run_spec_describe(const struct run_spec *spec, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s %s S=%lld b=%d h=%d:%d d=%d %s %s", spec->kernel, mask_pattern_name(spec->mask),
                     (long long)spec->seqlen, spec->batch, spec->heads_q, spec->heads_kv, spec->head_dim,
                     dtype_name(spec->dtype), direction_name(spec->direction));
    if (run_spec_is_cp(spec) && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " cp=%s x%d", spec->cp_method, spec->cp_degree);
}

double flops_for_area(double area_heads, int head_dim, enum run_direction dir)
{
    double fwd = 4.0 * area_heads * head_dim;
    switch (dir) {
    case DIR_FWD: return fwd;
    case DIR_BWD: return 2.5 * fwd;
    case DIR_FWD_BWD: return 3.5 * fwd;
    }
    return fwd;
}

double run_flops(const struct run_spec *spec, const struct mask *m)
{
    return flops_for_area(mask_area_for_heads(m, spec->heads_q, spec->heads_kv) * spec->batch, spec->head_dim,
                          spec->direction);
}

static bool head_dim_supported(const struct longca_kernel *k, int head_dim)
{
    if (!k->head_dims) return true;
    for (const int *d = k->head_dims; *d; d++)
        if (*d == head_dim) return true;
    return false;
}

/* Whether a pattern's mask can reach a kernel in a form it reads. */
static bool mask_form_taken(const struct longca_kernel *k, enum mask_pattern pattern)
{
    if (mask_pattern_is_block_sparse(pattern)) return k->mask_forms & (LONGCA_FORM_HEAD_RULES | LONGCA_FORM_BLOCK_MAP);
    return (k->mask_forms & LONGCA_FORM_RULES) ||
           ((k->mask_forms & LONGCA_FORM_DOCUMENTS) && mask_pattern_has_documents(pattern));
}

enum lc_status run_spec_check_kernel(const struct run_spec *spec, const struct longca_kernel *k, char *why)
{
    if (!(k->dtypes & (1u << spec->dtype)))
        return lc_fail(why, LC_ERR_UNSUPPORTED, "kernel %s does not support dtype %s", k->name,
                       dtype_name(spec->dtype));
    if ((k->directions & (unsigned)spec->direction) != (unsigned)spec->direction)
        return lc_fail(why, LC_ERR_UNSUPPORTED, "kernel %s does not support direction %s", k->name,
                       direction_name(spec->direction));
    if (!head_dim_supported(k, spec->head_dim)) {
        char dims[64] = "";
        size_t used = 0;
        for (const int *d = k->head_dims; *d && used < sizeof dims - 8; d++)
            used += (size_t)snprintf(dims + used, sizeof dims - used, "%s%d", used ? "," : "", *d);
        return lc_fail(why, LC_ERR_UNSUPPORTED, "kernel %s supports head dims %s, not %d", k->name, dims,
                       spec->head_dim);
    }
    if (!mask_form_taken(k, spec->mask)) {
        if (k->mask_forms == LONGCA_FORM_DOCUMENTS)
            return lc_fail(why, LC_ERR_UNSUPPORTED,
                           "kernel %s takes masks as documents with one band inside each (full, causal, sliding "
                           "windows, full and causal documents); %s is not one",
                           k->name, mask_pattern_name(spec->mask));
        return lc_fail(why, LC_ERR_UNSUPPORTED, "kernel %s does not support mask %s", k->name,
                       mask_pattern_name(spec->mask));
    }
    if (strcmp(spec->cp_method, CP_METHOD_LOCAL) && !k->writes_lse)
        return lc_fail(why, LC_ERR_UNSUPPORTED, "kernel %s writes no log-sum-exp, which CP merges need", k->name);
    return LC_OK;
}
