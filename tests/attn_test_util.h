/* Helpers shared by the attention kernel tests: hand-built mask views, seeded inputs,
 * a dense double-precision attention to compare against, and tensor comparison. */
#ifndef LC_ATTN_TEST_UTIL_H
#define LC_ATTN_TEST_UTIL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/kernel.h"
#include "core/model/rng.h"
#include "core/mask/mask_rule.h"
#include "core/mask/mask_view.h"
#include "core/model/spec.h"

static inline void *test_alloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        abort();
    }
    return p;
}

/* A view with n_heads heads and the given rule counts per head, rules laid out head after head. */
static inline void test_view_init(struct longca_mask *v, int n_heads, int64_t seqlen_q, int64_t seqlen_k,
                                  const int *rules_per_head, const struct longca_rule *rules)
{
    v->n_heads = n_heads;
    v->seqlen_q = seqlen_q;
    v->seqlen_k = seqlen_k;
    v->rule_offsets = test_alloc((size_t)(n_heads + 1) * sizeof *v->rule_offsets);
    for (int h = 0; h < n_heads; h++) v->rule_offsets[h + 1] = v->rule_offsets[h] + rules_per_head[h];
    int64_t n = v->rule_offsets[n_heads];
    v->rules = test_alloc((size_t)n * sizeof *v->rules);
    memcpy(v->rules, rules, (size_t)n * sizeof *rules);
}

static inline void test_view_free(struct longca_mask *v)
{
    free(v->rule_offsets);
    free(v->rules);
}

static inline struct longca_rule test_rule(int64_t qb, int64_t qe, int64_t kb, int64_t ke, int64_t dlo, int64_t dhi)
{
    return (struct longca_rule){(int32_t)qb, (int32_t)qe, (int32_t)kb, (int32_t)ke, (int32_t)dlo, (int32_t)dhi};
}

/* The definition: a pair is visible iff some rule of its head says so. */
static inline bool test_visible(const struct longca_mask *v, int head, int64_t q, int64_t k)
{
    for (int64_t i = v->rule_offsets[head]; i < v->rule_offsets[head + 1]; i++)
        if (mask_rule_visible(&v->rules[i], q, k)) return true;
    return false;
}

/* Rounds fp32 values to what dtype can hold, so every consumer sees the same numbers. */
static inline void test_round(float *buf, size_t n, enum lc_dtype dtype)
{
    if (dtype == LC_BF16)
        for (size_t i = 0; i < n; i++) buf[i] = bf16_to_f32(f32_to_bf16(buf[i]));
    else if (dtype == LC_FP16)
        for (size_t i = 0; i < n; i++) buf[i] = f16_to_f32(f32_to_f16(buf[i]));
}

/* Seeded values in [-1, 1) times amplitude, rounded to dtype. */
static inline void test_fill(float *buf, size_t n, uint64_t seed, uint64_t stream, float amplitude,
                             enum lc_dtype dtype)
{
    struct rng r;
    rng_seed(&r, seed, stream);
    for (size_t i = 0; i < n; i++) buf[i] = amplitude * (float)(2.0 * rng_double(&r) - 1.0);
    test_round(buf, n, dtype);
}

/* Dense attention in double: O [B,Sq,Hq,d] and LSE [B,Hq,Sq] from fp32 Q,K,V (BSHD). */
static inline void test_dense_forward(const struct longca_problem *p, const double *q, const double *k,
                                      const double *v, double *o, double *lse)
{
    const int d = p->head_dim, hq = p->heads_q, hkv = p->heads_kv, group = hq / hkv;
    const int64_t sq = p->seqlen_q, sk = p->seqlen_k;
    double *s = test_alloc((size_t)sk * sizeof *s);
    for (int b = 0; b < p->batch; b++)
        for (int h = 0; h < hq; h++) {
            int hk = h / group, vh = p->mask->n_heads > 1 ? hk : 0;
            for (int64_t i = 0; i < sq; i++) {
                const double *qi = q + ((b * sq + i) * hq + h) * d;
                double *oi = o + ((b * sq + i) * hq + h) * d;
                double m = -INFINITY, l = 0;
                for (int64_t j = 0; j < sk; j++) {
                    const double *kj = k + ((b * sk + j) * hkv + hk) * d;
                    s[j] = -INFINITY;
                    if (!test_visible(p->mask, vh, i, j)) continue;
                    double acc = 0;
                    for (int c = 0; c < d; c++) acc += qi[c] * kj[c];
                    s[j] = p->softmax_scale * acc;
                    if (s[j] > m) m = s[j];
                }
                for (int c = 0; c < d; c++) oi[c] = 0;
                for (int64_t j = 0; j < sk; j++) {
                    if (s[j] == -INFINITY) continue;
                    double e = exp(s[j] - m);
                    l += e;
                    for (int c = 0; c < d; c++) oi[c] += e * v[((b * sk + j) * hkv + hk) * d + c];
                }
                if (l > 0)
                    for (int c = 0; c < d; c++) oi[c] /= l;
                lse[(b * hq + h) * sq + i] = l > 0 ? m + log(l) : -INFINITY;
            }
        }
    free(s);
}

static inline double *test_to_double(const float *x, size_t n)
{
    double *out = test_alloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++) out[i] = x[i];
    return out;
}

/* Max |got - want| / (atol + rtol |want|) over n values (<= 1 passes); -inf must match -inf. */
static inline double test_error_ratio(const float *got, const double *want, size_t n, double atol, double rtol,
                                      size_t *worst)
{
    double ratio = 0;
    if (worst) *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double r;
        if (isinf(want[i]) || isinf(got[i]))
            r = (got[i] == want[i]) ? 0 : INFINITY;
        else if (isnan(got[i]))
            r = INFINITY;
        else
            r = fabs(got[i] - want[i]) / (atol + rtol * fabs(want[i]));
        if (r > ratio) {
            ratio = r;
            if (worst) *worst = i;
        }
    }
    return ratio;
}

/* Runs a kernel on fp32 host values (converted to p->dtype), returning fp32 outputs. When
 * bwd, d_o is used and dq/dk/dv are filled; o and lse are always filled by the forward. */
static inline int test_run_kernel(const struct longca_kernel *ops, const struct longca_problem *p, const float *q,
                                  const float *k, const float *v, const float *d_o, float *o, float *lse, float *dq,
                                  float *dk, float *dv)
{
    char err[LC_ERRMSG_LEN] = "";
    size_t qn = (size_t)p->batch * p->seqlen_q * p->heads_q * p->head_dim;
    size_t kn = (size_t)p->batch * p->seqlen_k * p->heads_kv * p->head_dim;
    size_t es = dtype_size(p->dtype);
    bool bwd = d_o != NULL;
    void *plan = NULL, *ws = NULL;
    size_t ws_bytes = 0;
    struct longca_tensors t = {0};
    void *bq = test_alloc(qn * es), *bk = test_alloc(kn * es), *bv = test_alloc(kn * es), *bo = test_alloc(qn * es);
    void *bdo = test_alloc(qn * es), *bdq = test_alloc(qn * es), *bdk = test_alloc(kn * es), *bdv = test_alloc(kn * es);
    dtype_from_f32(p->dtype, bq, q, qn);
    dtype_from_f32(p->dtype, bk, k, kn);
    dtype_from_f32(p->dtype, bv, v, kn);
    if (bwd) dtype_from_f32(p->dtype, bdo, d_o, qn);
    t = (struct longca_tensors){.q = bq, .k = bk, .v = bv, .o = bo, .lse = lse, .d_o = bdo, .dq = bdq, .dk = bdk, .dv = bdv};
    int rc = 1;
    if (kernel_plan(ops, p, bwd ? DIR_FWD_BWD : DIR_FWD, &plan, &ws_bytes, err) != LC_OK) goto out;
    ws = test_alloc(ws_bytes);
    if (kernel_forward(ops, plan, &t, ws, NULL, err) != LC_OK) goto out;
    if (bwd && kernel_backward(ops, plan, &t, ws, NULL, err) != LC_OK) goto out;
    dtype_to_f32(p->dtype, o, bo, qn);
    if (bwd) {
        dtype_to_f32(p->dtype, dq, bdq, qn);
        dtype_to_f32(p->dtype, dk, bdk, kn);
        dtype_to_f32(p->dtype, dv, bdv, kn);
    }
    rc = 0;
out:
    if (rc) fprintf(stderr, "%s: %s\n", ops->name, err);
    if (plan) kernel_destroy(ops, plan);
    free(ws);
    free(bq), free(bk), free(bv), free(bo), free(bdo), free(bdq), free(bdk), free(bdv);
    return rc;
}

/* Documents that cut S at about 17 %, 50 % and 62 % (fewer for tiny S); returns how many. */
static inline int test_doc_lengths(int64_t seqlen, int64_t *lens)
{
    int64_t cuts[] = {seqlen * 17 / 100, seqlen / 2, seqlen * 62 / 100, seqlen}, prev = 0;
    int n = 0;
    for (int i = 0; i < 4; i++)
        if (cuts[i] > prev) {
            lens[n++] = cuts[i] - prev;
            prev = cuts[i];
        }
    return n;
}

/* Pattern pat with params over those documents, and its view; prints FAIL and returns 1 on error. */
static inline int test_build_mask(enum mask_pattern pat, const struct mask_params *params, int64_t seqlen,
                                  int heads_kv, struct mask *m, struct longca_mask *v)
{
    char err[LC_ERRMSG_LEN];
    int64_t lens[4];
    int n = test_doc_lengths(seqlen, lens);
    if (mask_build_with_docs(pat, params, seqlen, heads_kv, lens, n, m, err) != LC_OK ||
        mask_view_build(m, v, err) != LC_OK) {
        printf("FAIL %s S=%lld: %s\n", mask_pattern_name(pat), (long long)seqlen, err);
        return 1;
    }
    return 0;
}

#endif
