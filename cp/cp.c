/* Registration of the CP methods, and the input checks they share. */
#include "cp/cp.h"

#include "cp/methods.h"

void cp_register_all(void)
{
    cp_method_register(&cp_method_local);
    cp_method_register(&cp_method_allgather);
    cp_method_register(&cp_method_ring);
    cp_method_register(&cp_method_ulysses);
    cp_method_register(&cp_method_usp);
    cp_method_register(&cp_method_double_ring);
    cp_method_register(&cp_method_balanced);
}

enum lc_status cp_validate_common(const struct run_spec *spec, int64_t unit, const char *why_unit, char *err)
{
    if (mask_pattern_is_block_sparse(spec->mask))
        return lc_fail(err, LC_ERR_UNSUPPORTED, "%s: CP methods support the 12 static masks, not %s", spec->cp_method,
                       mask_pattern_name(spec->mask));
    if (spec->seqlen % unit)
        return lc_fail(err, LC_ERR_INVALID, "%s on %d GPUs: sequence length %lld is not divisible by %lld (%s)",
                       spec->cp_method, spec->cp_degree, (long long)spec->seqlen, (long long)unit, why_unit);
    return LC_OK;
}

enum lc_status cp_validate_heads(const struct run_spec *spec, int degree, const char *what, char *err)
{
    if (spec->heads_q % degree)
        return lc_fail(err, LC_ERR_INVALID, "%s: %d query heads do not split evenly over %d %s", spec->cp_method,
                       spec->heads_q, degree, what);
    if (spec->heads_kv % degree && degree % spec->heads_kv)
        return lc_fail(err, LC_ERR_INVALID,
                       "%s: %d KV heads neither split evenly over %d %s nor replicate onto them (%d is no multiple of %d)",
                       spec->cp_method, spec->heads_kv, degree, what, degree, spec->heads_kv);
    return LC_OK;
}
