#include "kernels/cpu/cpu_common.h"

#include <stdlib.h>
#include <string.h>

enum lc_status cpu_problem_check(const struct attn_problem *p, char *err)
{
    if (p->batch < 1 || p->heads_q < 1 || p->heads_kv < 1 || p->head_dim < 1 || p->seqlen_q < 1 || p->seqlen_k < 1)
        return lc_fail(err, LC_ERR_INVALID, "batch, heads, head dim and sequence lengths must be positive");
    if (p->heads_q % p->heads_kv != 0)
        return lc_fail(err, LC_ERR_INVALID, "query heads %d not divisible by KV heads %d", p->heads_q, p->heads_kv);
    if ((unsigned)p->dtype >= LC_DTYPE_COUNT) return lc_fail(err, LC_ERR_INVALID, "unknown dtype %d", (int)p->dtype);
    const struct mask_view *v = p->mask;
    if (!v) return lc_fail(err, LC_ERR_INVALID, "no mask view");
    if (v->seqlen_q != p->seqlen_q || v->seqlen_k != p->seqlen_k)
        return lc_fail(err, LC_ERR_INVALID, "mask view is %lldx%lld, problem is %lldx%lld", (long long)v->seqlen_q,
                       (long long)v->seqlen_k, (long long)p->seqlen_q, (long long)p->seqlen_k);
    if (v->n_heads != 1 && v->n_heads != p->heads_kv)
        return lc_fail(err, LC_ERR_INVALID, "mask view has %d heads, expected 1 or %d (KV heads)", v->n_heads,
                       p->heads_kv);
    return LC_OK;
}

size_t cpu_workspace_bytes(const struct attn_problem *p, enum run_direction dir, size_t rowsum_elem)
{
    size_t qn = cpu_q_elems(p), kn = cpu_kv_elems(p);
    size_t bytes = cpu_stage_bytes(p->dtype, qn) + 2 * cpu_stage_bytes(p->dtype, kn);
    if (dir & DIR_BWD)
        bytes += 2 * cpu_stage_bytes(p->dtype, qn) +
                 (size_t)p->batch * (size_t)p->heads_q * (size_t)p->seqlen_q * rowsum_elem;
    return bytes;
}

const float *cpu_stage_f32(enum lc_dtype dtype, const void *src, size_t n, char **cursor)
{
    if (dtype == LC_FP32) return src;
    float *dst = (float *)*cursor;
    const size_t chunk = 1 << 16; /* converted by all threads: a serial pass shows in short runs */
    const int64_t n_chunks = (int64_t)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_chunks; i++) {
        size_t at = (size_t)i * chunk, len = n - at < chunk ? n - at : chunk;
        dtype_to_f32(dtype, dst + at, (const char *)src + at * dtype_size(dtype), len);
    }
    *cursor += n * sizeof(float);
    return dst;
}

void cpu_store(enum lc_dtype dtype, void *dst, size_t offset, const float *src, size_t n)
{
    dtype_from_f32(dtype, (char *)dst + offset * dtype_size(dtype), src, n);
}

enum lc_status cpu_view_copy(const struct mask_view *src, struct mask_view *dst, char *err)
{
    memset(dst, 0, sizeof *dst);
    int64_t n_rules = src->rule_offsets[src->n_heads];
    dst->rule_offsets = malloc((size_t)(src->n_heads + 1) * sizeof *dst->rule_offsets);
    dst->rules = malloc((size_t)(n_rules > 0 ? n_rules : 1) * sizeof *dst->rules);
    if (!dst->rule_offsets || !dst->rules) {
        cpu_view_release(dst);
        return lc_fail(err, LC_ERR_OOM, "mask view copy: out of host memory (%lld rules)", (long long)n_rules);
    }
    dst->n_heads = src->n_heads;
    dst->seqlen_q = src->seqlen_q;
    dst->seqlen_k = src->seqlen_k;
    memcpy(dst->rule_offsets, src->rule_offsets, (size_t)(src->n_heads + 1) * sizeof *dst->rule_offsets);
    if (n_rules > 0) memcpy(dst->rules, src->rules, (size_t)n_rules * sizeof *dst->rules);
    return LC_OK;
}

void cpu_view_release(struct mask_view *v)
{
    free(v->rule_offsets);
    free(v->rules);
    memset(v, 0, sizeof *v);
}
