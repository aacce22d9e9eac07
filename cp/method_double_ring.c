/* LoongTrain's double ring: windows of consecutive ranks run an inner ring while the
 * outer ring moves each window's KV to the next window, hidden behind the inner steps; dK/dV
 * travel back on inner and outer rings of their own. The window is --cp-inner, or by default
 * the largest proper divisor of the GPU count up to 8 (a node's NVLink domain). */
#include "cp/methods.h"

static int double_ring_window(const struct run_spec *spec)
{
    if (spec->cp_inner > 0) return spec->cp_inner;
    int best = 1;
    for (int w = 2; w < spec->cp_degree && w <= 8; w++)
        if (spec->cp_degree % w == 0) best = w;
    return best;
}

static enum lc_status double_ring_validate(const struct run_spec *spec, char *err)
{
    int w = double_ring_window(spec);
    if (w < 1 || spec->cp_degree % w)
        return lc_fail(err, LC_ERR_INVALID, "double_ring: window %d does not divide %d GPUs", w, spec->cp_degree);
    return cp_validate_common(spec, spec->cp_degree > 1 ? 2 * (int64_t)spec->cp_degree : 1, "zigzag chunks: 2 x GPUs", err);
}

static enum lc_status double_ring_execute(const struct engine_env *env, const struct run_spec *spec, int run_id,
                                          struct run_result *out)
{
    const struct cp_degrees degrees = {1, double_ring_window(spec)};
    return cp_execute(env, spec, run_id, out, &cp_hybrid_algo, &degrees);
}

static enum lc_status double_ring_predict(const struct run_spec *spec, const struct mask *m,
                                          const struct longca_mask *view, double *work, double *bytes, char *err)
{
    const struct cp_degrees degrees = {1, double_ring_window(spec)};
    return cp_hybrid_predict(spec, m, view, &degrees, work, bytes, err);
}

static enum lc_status double_ring_schedule(const struct run_spec *spec, const struct mask *m,
                                           const struct longca_mask *view, struct cp_schedule *out, char *err)
{
    const struct cp_degrees degrees = {1, double_ring_window(spec)};
    return cp_hybrid_schedule(spec, m, view, &degrees, out, err);
}

const struct cp_method_ops cp_method_double_ring = {
    .name = "double_ring",
    .summary = "LoongTrain double ring: inner ring in windows (--cp-inner), outer ring across them",
    .validate = double_ring_validate,
    .execute = double_ring_execute,
    .predict = double_ring_predict,
    .schedule = double_ring_schedule,
};
