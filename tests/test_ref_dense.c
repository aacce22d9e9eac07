/* The reference forward (cpu_ref) equals a plain dense softmax(QK^T)V computed in double with
 * an explicit boolean mask, on hand-built mask views: full, causal, a band, a view with an
 * empty row, per-KV-head views (block-sparse style) and a rectangular Sq != Sk view. */
#include "tests/attn_test_util.h"
#include "kernels/cpu/cpu_kernels.h"
#include "core/mask/mask_rule.h"

enum view_kind { VIEW_FULL, VIEW_CAUSAL, VIEW_BAND, VIEW_EMPTY_ROW, VIEW_PER_KV_HEAD, VIEW_KIND_COUNT };
static const char *view_kind_name[] = {"full", "causal", "band", "empty_row", "per_kv_head"};

/* Builds view `kind` for sq x sk (heads_kv heads for the per-head kind). */
static void build_view(enum view_kind kind, int64_t sq, int64_t sk, int heads_kv, struct longca_mask *v)
{
    struct longca_rule rules[64];
    int counts[8] = {0};
    int n = 0, n_heads = 1;
    switch (kind) {
    case VIEW_FULL: rules[n++] = test_rule(0, sq, 0, sk, MASK_DIAG_NONE_LO, MASK_DIAG_NONE_HI); break;
    case VIEW_CAUSAL: /* bottom-right aligned: k - q <= sk - sq */
        rules[n++] = test_rule(0, sq, 0, sk, MASK_DIAG_NONE_LO, sk - sq);
        break;
    case VIEW_BAND: rules[n++] = test_rule(0, sq, 0, sk, -3, 2); break;
    case VIEW_EMPTY_ROW: /* row sq/2 sees nothing; rows below are causal, rows above see a key prefix */
        rules[n++] = test_rule(0, sq / 2, 0, (sk + 1) / 2, MASK_DIAG_NONE_LO, MASK_DIAG_NONE_HI);
        rules[n++] = test_rule(sq / 2 + 1, sq, 0, sk, MASK_DIAG_NONE_LO, 0);
        break;
    case VIEW_PER_KV_HEAD: /* head h keeps key columns of parity h % 2 in 2-wide strips, plus a window */
        n_heads = heads_kv;
        for (int h = 0; h < heads_kv; h++) {
            int before = n;
            for (int64_t k0 = (h % 2) * 2; k0 < sk && n < 60; k0 += 4)
                rules[n++] = test_rule(0, sq, k0, k0 + 2 < sk ? k0 + 2 : sk, MASK_DIAG_NONE_LO, MASK_DIAG_NONE_HI);
            rules[n++] = test_rule(0, sq, 0, sk, -1 - h, 1); /* overlaps the strips: union semantics */
            counts[h] = n - before;
        }
        break;
    default: break;
    }
    if (n_heads == 1) counts[0] = n;
    test_view_init(v, n_heads, sq, sk, counts, rules);
}

static int check_case(int batch, int hq, int hkv, int d, int64_t sq, int64_t sk, enum view_kind kind,
                      enum lc_dtype dtype)
{
    struct longca_mask view;
    build_view(kind, sq, sk, hkv, &view);
    struct longca_problem p = {batch, hq, hkv, d, sq, sk, dtype, (float)(1.0 / sqrt((double)d)), &view, true};
    size_t qn = (size_t)batch * sq * hq * d, kn = (size_t)batch * sk * hkv * d, ln = (size_t)batch * hq * sq;
    float *q = test_alloc(qn * 4), *k = test_alloc(kn * 4), *v = test_alloc(kn * 4);
    float *o = test_alloc(qn * 4), *lse = test_alloc(ln * 4);
    uint64_t seed = (uint64_t)(sq * 131 + sk * 7 + d + kind);
    /* Q amplitude 3 keeps the softmax far from uniform: a wrong mask or max shows. */
    test_fill(q, qn, seed, 1, 3.0f, dtype);
    test_fill(k, kn, seed, 2, 1.0f, dtype);
    test_fill(v, kn, seed, 3, 1.0f, dtype);

    double *qd = test_to_double(q, qn), *kd = test_to_double(k, kn), *vd = test_to_double(v, kn);
    double *o_want = test_alloc(qn * 8), *lse_want = test_alloc(ln * 8);
    int bad = 0;
    if (test_run_kernel(&kernel_cpu_ref, &p, q, k, v, NULL, o, lse, NULL, NULL, NULL)) {
        bad = 1;
    } else {
        test_dense_forward(&p, qd, kd, vd, o_want, lse_want);
        /* outputs are fp32 (or dtype-rounded) roundings of double sums */
        double orel = dtype == LC_FP32 ? 1e-5 : dtype == LC_BF16 ? 8e-3 : 1e-3;
        size_t wo, wl;
        double eo = test_error_ratio(o, o_want, qn, 1e-6, orel, &wo);
        double el = test_error_ratio(lse, lse_want, ln, 1e-6, 1e-6, &wl);
        if (eo > 1 || el > 1) {
            bad = 1;
            printf("FAIL %s b=%d h=%d:%d d=%d S=%lldx%lld %s: O err %.3g (at %zu: %g vs %g), LSE err %.3g (at %zu: "
                   "%g vs %g)\n",
                   view_kind_name[kind], batch, hq, hkv, d, (long long)sq, (long long)sk, dtype_name(dtype), eo, wo,
                   o[wo], o_want[wo], el, wl, lse[wl], lse_want[wl]);
        }
        /* fully masked rows: exactly lse = -inf and o = 0 */
        for (size_t i = 0; i < ln && !bad; i++)
            if (isinf(lse_want[i])) {
                size_t b = i / ((size_t)hq * sq), h = i / sq % hq, row = i % sq;
                const float *orow = o + ((b * sq + row) * hq + h) * d;
                for (int c = 0; c < d; c++)
                    if (orow[c] != 0.0f) {
                        printf("FAIL %s: masked row %zu has o != 0\n", view_kind_name[kind], row);
                        bad = 1;
                        break;
                    }
            }
    }
    free(q), free(k), free(v), free(o), free(lse), free(qd), free(kd), free(vd), free(o_want), free(lse_want);
    test_view_free(&view);
    return bad;
}

int main(void)
{
    static const int64_t seqlens[] = {1, 2, 7, 33, 64};
    static const int heads[][2] = {{2, 2}, {4, 2}, {3, 1}};
    static const int dims[] = {5, 16};
    int cases = 0, failed = 0;
    for (int kind = 0; kind < VIEW_KIND_COUNT; kind++)
        for (size_t si = 0; si < sizeof seqlens / sizeof *seqlens; si++)
            for (size_t hi = 0; hi < sizeof heads / sizeof *heads; hi++)
                for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
                    int batch = 1 + (int)((si + hi) % 2);
                    enum lc_dtype dt = (enum lc_dtype)((si + di + hi) % LC_DTYPE_COUNT);
                    failed += check_case(batch, heads[hi][0], heads[hi][1], dims[di], seqlens[si], seqlens[si],
                                         (enum view_kind)kind, dt);
                    cases++;
                }
    /* rectangular views, as CP sub-blocks produce */
    for (int kind = 0; kind < VIEW_KIND_COUNT; kind++) {
        failed += check_case(1, 4, 2, 8, 5, 13, (enum view_kind)kind, LC_FP32);
        failed += check_case(2, 2, 1, 8, 17, 6, (enum view_kind)kind, LC_FP32);
        cases += 2;
    }
    printf("%d of %d reference forward cases match the dense double attention\n", cases - failed, cases);
    return failed ? 1 : 0;
}
