/* Ring attention: K and V travel around all ranks, one zigzag-balanced block per
 * step, communication posted before each step's attention; the dK/dV ring follows one step
 * behind in fp32. The engine is cp/ring.c with a single window. */
#include "cp/methods.h"

static enum lc_status ring_validate(const struct run_spec *spec, char *err)
{
    return cp_validate_common(spec, spec->cp_degree > 1 ? 2 * (int64_t)spec->cp_degree : 1, "zigzag chunks: 2 x GPUs", err);
}

static enum lc_status ring_execute(const struct engine_env *env, const struct run_spec *spec, int run_id,
                                   struct run_result *out)
{
    const struct cp_degrees degrees = {1, spec->cp_degree};
    return cp_execute(env, spec, run_id, out, &cp_hybrid_algo, &degrees);
}

static enum lc_status ring_predict(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                   double *work, double *bytes, char *err)
{
    const struct cp_degrees degrees = {1, spec->cp_degree};
    return cp_hybrid_predict(spec, m, view, &degrees, work, bytes, err);
}

static enum lc_status ring_schedule(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                    struct cp_schedule *out, char *err)
{
    const struct cp_degrees degrees = {1, spec->cp_degree};
    return cp_hybrid_schedule(spec, m, view, &degrees, out, err);
}

const struct cp_method_ops cp_method_ring = {
    .name = "ring",
    .summary = "ring attention: P2P KV ring, zigzag balance, fp32 LSE merge, dK/dV ring one step behind",
    .validate = ring_validate,
    .execute = ring_execute,
    .predict = ring_predict,
    .schedule = ring_schedule,
};
