/* USP: Ulysses all-to-all inside groups of u consecutive ranks, zigzag ring attention
 * across the P / u groups. u is --cp-inner, or by default the largest that the heads allow
 * without replication, within a node (8) and dividing the GPU count: Ulysses while it can, the
 * ring beyond (the degree rule of the USP paper). */
#include "cp/methods.h"

static int64_t usp_unit(int gpus, int u)
{
    int r = gpus / u;
    return (r > 1 ? 2 * (int64_t)r : 1) * u;
}

static int usp_ulysses(const struct run_spec *spec)
{
    if (spec->cp_inner > 0) return spec->cp_inner;
    int best = 1;
    for (int u = 2; u <= spec->cp_degree && u <= 8; u++)
        if (spec->cp_degree % u == 0 && spec->heads_q % u == 0 && spec->heads_kv % u == 0 &&
            spec->seqlen % usp_unit(spec->cp_degree, u) == 0)
            best = u;
    return best;
}

static enum lc_status usp_validate(const struct run_spec *spec, char *err)
{
    int u = usp_ulysses(spec);
    if (u < 1 || spec->cp_degree % u)
        return lc_fail(err, LC_ERR_INVALID, "usp: ulysses degree %d does not divide %d GPUs", u, spec->cp_degree);
    enum lc_status st = cp_validate_heads(spec, u, "Ulysses ranks", err);
    return st ? st : cp_validate_common(spec, usp_unit(spec->cp_degree, u), "ulysses degree x 2 x ring degree", err);
}

static enum lc_status usp_execute(const struct engine_env *env, const struct run_spec *spec, int run_id,
                                  struct run_result *out)
{
    const int u = usp_ulysses(spec);
    const struct cp_degrees degrees = {u, spec->cp_degree / u};
    return cp_execute(env, spec, run_id, out, &cp_hybrid_algo, &degrees);
}

static enum lc_status usp_predict(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                  double *work, double *bytes, char *err)
{
    const int u = usp_ulysses(spec);
    const struct cp_degrees degrees = {u, spec->cp_degree / u};
    return cp_hybrid_predict(spec, m, view, &degrees, work, bytes, err);
}

static enum lc_status usp_schedule(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                   struct cp_schedule *out, char *err)
{
    const int u = usp_ulysses(spec);
    const struct cp_degrees degrees = {u, spec->cp_degree / u};
    return cp_hybrid_schedule(spec, m, view, &degrees, out, err);
}

const struct cp_method_ops cp_method_usp = {
    .name = "usp",
    .summary = "USP 2D: Ulysses in groups of --cp-inner ranks x zigzag ring across (default: best split)",
    .validate = usp_validate,
    .execute = usp_execute,
    .predict = usp_predict,
    .schedule = usp_schedule,
};
