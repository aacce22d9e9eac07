/* DeepSpeed-Ulysses: an all-to-all turns sequence shards into head shards, every
 * rank attends over the whole sequence for heads/P query heads (any static mask, no imbalance), and an
 * all-to-all turns the output back. KV heads fewer than the ranks are replicated, their
 * gradients summed. The engine is cp/hybrid.c with rings of one rank. */
#include "cp/methods.h"

static enum lc_status ulysses_validate(const struct run_spec *spec, char *err)
{
    enum lc_status st = cp_validate_heads(spec, spec->cp_degree, "GPUs", err);
    return st ? st : cp_validate_common(spec, spec->cp_degree, "one slice per GPU", err);
}

static enum lc_status ulysses_execute(const struct engine_env *env, const struct run_spec *spec, int run_id,
                                      struct run_result *out)
{
    const struct cp_degrees degrees = {spec->cp_degree, 1};
    return cp_execute(env, spec, run_id, out, &cp_hybrid_algo, &degrees);
}

static enum lc_status ulysses_predict(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                      double *work, double *bytes, char *err)
{
    const struct cp_degrees degrees = {spec->cp_degree, 1};
    return cp_hybrid_predict(spec, m, view, &degrees, work, bytes, err);
}

static enum lc_status ulysses_schedule(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                    struct cp_schedule *out, char *err)
{
    const struct cp_degrees degrees = {spec->cp_degree, 1};
    return cp_hybrid_schedule(spec, m, view, &degrees, out, err);
}

const struct cp_method_ops cp_method_ulysses = {
    .name = "ulysses",
    .summary = "DeepSpeed-Ulysses: all-to-all sequence<->heads; GQA KV heads replicated when fewer than GPUs",
    .validate = ulysses_validate,
    .execute = ulysses_execute,
    .predict = ulysses_predict,
    .schedule = ulysses_schedule,
};
