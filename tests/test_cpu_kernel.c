/* The tiled "cpu" kernel equals the reference "cpu_ref" (O, LSE, dQ, dK, dV) on masks built by
 * mask_build for all 14 patterns, over GQA ratios, odd and tiny sequence lengths, head dims
 * 32/64/80/128 and bf16/fp16/fp32; on rectangular CP-style sub-views; and gives the same bits
 * whatever the thread count. */
#include <omp.h>

#include "tests/attn_test_util.h"
#include "kernels/kernels.h"
#include "core/mask/mask_view.h"

struct config {
    int64_t seqlen;
    int batch, heads_q, heads_kv, head_dim;
    enum lc_dtype dtype;
};

static const struct config configs[] = {
    {333, 1, 4, 2, 64, LC_BF16},
    {5, 2, 4, 1, 32, LC_FP32},
    {130, 1, 4, 4, 80, LC_FP16},
    {200, 1, 2, 1, 128, LC_BF16},
    {257, 1, 4, 1, 32, LC_FP32},
};

static const struct longca_kernel *cpu, *ref;

/* Runs both kernels (forward and backward) on one problem and compares every output. */
static int compare_kernels(const char *what, const struct config *c, const struct longca_mask *view)
{
    struct longca_problem p = {c->batch, c->heads_q, c->heads_kv, c->head_dim, view->seqlen_q, view->seqlen_k,
                             c->dtype, (float)(1.0 / sqrt((double)c->head_dim)), view, true};
    size_t qn = (size_t)c->batch * p.seqlen_q * c->heads_q * c->head_dim;
    size_t kn = (size_t)c->batch * p.seqlen_k * c->heads_kv * c->head_dim, ln = (size_t)c->batch * c->heads_q * p.seqlen_q;
    float *in[4], *out[2][5];
    size_t in_n[4] = {qn, kn, kn, qn}, out_n[5] = {qn, ln, qn, kn, kn};
    for (int i = 0; i < 4; i++) {
        in[i] = test_alloc(in_n[i] * 4);
        test_fill(in[i], in_n[i], (uint64_t)p.seqlen_q * 977 + (uint64_t)p.seqlen_k, (uint64_t)i + 1,
                  i == 0 ? 2.0f : 1.0f, c->dtype);
    }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 5; i++) out[r][i] = test_alloc(out_n[i] * 4);
    int bad = 0;
    const struct longca_kernel *ops[2] = {cpu, ref};
    for (int r = 0; r < 2 && !bad; r++)
        bad = test_run_kernel(ops[r], &p, in[0], in[1], in[2], in[3], out[r][0], out[r][1], out[r][2], out[r][3],
                              out[r][4]);
    static const char *names[5] = {"O", "LSE", "dQ", "dK", "dV"};
    double atol, rtol;
    dtype_tolerance(c->dtype, &atol, &rtol);
    for (int i = 0; i < 5 && !bad; i++) {
        double *want = test_to_double(out[1][i], out_n[i]);
        size_t worst;
        double e = i == 1 ? test_error_ratio(out[0][i], want, out_n[i], 1e-5, 1e-5, &worst)
                          : test_error_ratio(out[0][i], want, out_n[i], atol, rtol, &worst);
        if (e > 1) {
            printf("FAIL %s S=%lldx%lld b=%d h=%d:%d d=%d %s: %s err %.3g at %zu (cpu %.6g, cpu_ref %.6g)\n", what,
                   (long long)p.seqlen_q, (long long)p.seqlen_k, c->batch, c->heads_q, c->heads_kv, c->head_dim,
                   dtype_name(c->dtype), names[i], e, worst, out[0][i][worst], want[worst]);
            bad = 1;
        }
        free(want);
    }
    for (int i = 0; i < 4; i++) free(in[i]);
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 5; i++) free(out[r][i]);
    return bad;
}

static int build_mask(enum mask_pattern pat, int64_t seqlen, int heads_kv, struct mask *m, struct longca_mask *v)
{
    struct mask_params params = {.window = 40, .global_tokens = 16, .seed = 7, .density = 0.4};
    if (pat == MASK_BLOCK_CAUSAL_DOCUMENT) params.block = 48;
    if (pat == MASK_VARIABLE_BLOCK_SPARSE) params.block = 128;
    return test_build_mask(pat, &params, seqlen, heads_kv, m, v);
}

/* The tiled kernel's sums run in a fixed order: 1 thread and 2 threads give the same bits. */
static int check_determinism(void)
{
    const struct config c = {333, 1, 4, 2, 64, LC_FP32};
    struct mask m;
    struct longca_mask v;
    if (build_mask(MASK_CAUSAL_DOCUMENT, c.seqlen, c.heads_kv, &m, &v)) return 1;
    struct longca_problem p = {c.batch, c.heads_q, c.heads_kv, c.head_dim, c.seqlen, c.seqlen, c.dtype, 0.125f, &v, true};
    size_t qn = (size_t)c.seqlen * c.heads_q * c.head_dim, kn = (size_t)c.seqlen * c.heads_kv * c.head_dim;
    size_t ln = (size_t)c.heads_q * c.seqlen, total = 3 * qn + ln + 2 * kn;
    float *q = test_alloc(qn * 4), *k = test_alloc(kn * 4), *vv = test_alloc(kn * 4), *d_o = test_alloc(qn * 4);
    float *outs[2];
    test_fill(q, qn, 1, 1, 1.0f, LC_FP32);
    test_fill(k, kn, 1, 2, 1.0f, LC_FP32);
    test_fill(vv, kn, 1, 3, 1.0f, LC_FP32);
    test_fill(d_o, qn, 1, 4, 1.0f, LC_FP32);
    int bad = 0, threads[2] = {1, 2};
    for (int r = 0; r < 2; r++) {
        float *o = outs[r] = test_alloc(total * 4);
        omp_set_num_threads(threads[r]);
        bad |= test_run_kernel(cpu, &p, q, k, vv, d_o, o, o + qn, o + qn + ln, o + 2 * qn + ln, o + 2 * qn + ln + kn);
    }
    if (!bad && memcmp(outs[0], outs[1], total * 4) != 0) {
        printf("FAIL determinism: 1 and 2 threads give different bits\n");
        bad = 1;
    }
    free(q), free(k), free(vv), free(d_o), free(outs[0]), free(outs[1]);
    mask_view_free(&v);
    mask_free(&m);
    return bad;
}

int main(void)
{
    kernels_register_all(NULL);
    cpu = kernel_find("cpu");
    ref = kernel_find(KERNEL_REFERENCE_NAME);
    if (!cpu || !ref) {
        printf("FAIL: kernels cpu and %s are not registered\n", KERNEL_REFERENCE_NAME);
        return 1;
    }
    int cases = 0, failed = 0;
    for (int pat = 0; pat < MASK_PATTERN_COUNT; pat++)
        for (size_t ci = 0; ci < sizeof configs / sizeof *configs; ci++) {
            const struct config *c = &configs[ci];
            struct mask m;
            struct longca_mask v;
            cases++;
            if (build_mask((enum mask_pattern)pat, c->seqlen, c->heads_kv, &m, &v)) {
                failed++;
                continue;
            }
            failed += compare_kernels(mask_pattern_name((enum mask_pattern)pat), c, &v);
            /* A CP-style block of the same mask: a later query range against an earlier key range. */
            if (c->seqlen > 100) {
                char err[LC_ERRMSG_LEN];
                struct longca_mask sub;
                char what[64];
                snprintf(what, sizeof what, "%s sub-view", mask_pattern_name((enum mask_pattern)pat));
                cases++;
                if (mask_view_sub(&v, c->seqlen / 5, c->seqlen, 0, c->seqlen * 7 / 8, &sub, err) != LC_OK) {
                    printf("FAIL %s: %s\n", what, err);
                    failed++;
                } else {
                    failed += compare_kernels(what, c, &sub);
                    mask_view_free(&sub);
                }
            }
            mask_view_free(&v);
            mask_free(&m);
        }
    cases++;
    failed += check_determinism();
    printf("%d of %d cases: cpu matches %s\n", cases - failed, cases, KERNEL_REFERENCE_NAME);
    return failed ? 1 : 0;
}
