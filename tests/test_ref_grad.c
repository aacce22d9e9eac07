/* The reference backward (cpu_ref) matches central finite differences of L = sum(dO * O),
 * with O from the dense double attention, on small fp32 problems: GQA, causal, a band, a view
 * with an empty row, per-KV-head views, and a rectangular Sq != Sk view. */
#include "tests/attn_test_util.h"
#include "kernels/cpu/cpu_kernels.h"
#include "core/mask/mask_rule.h"

static double loss(const struct longca_problem *p, const double *q, const double *k, const double *v,
                   const double *d_o, double *o, double *lse)
{
    size_t qn = (size_t)p->batch * p->seqlen_q * p->heads_q * p->head_dim;
    test_dense_forward(p, q, k, v, o, lse);
    double l = 0;
    for (size_t i = 0; i < qn; i++) l += d_o[i] * o[i];
    return l;
}

/* dL/dx[i] for every element of x by central differences (x is one of q, k, v). */
static void finite_differences(const struct longca_problem *p, double *q, double *k, double *v, const double *d_o,
                               double *x, size_t n, double *grad)
{
    const double eps = 1e-5;
    size_t qn = (size_t)p->batch * p->seqlen_q * p->heads_q * p->head_dim;
    double *o = test_alloc(qn * 8), *lse = test_alloc((size_t)p->batch * p->heads_q * p->seqlen_q * 8);
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + eps;
        double up = loss(p, q, k, v, d_o, o, lse);
        x[i] = keep - eps;
        double down = loss(p, q, k, v, d_o, o, lse);
        x[i] = keep;
        grad[i] = (up - down) / (2 * eps);
    }
    free(o), free(lse);
}

static int check_case(const char *name, int batch, int hq, int hkv, int d, struct longca_mask *view)
{
    int64_t sq = view->seqlen_q, sk = view->seqlen_k;
    struct longca_problem p = {batch, hq, hkv, d, sq, sk, LC_FP32, 0.7f, view, true};
    size_t qn = (size_t)batch * sq * hq * d, kn = (size_t)batch * sk * hkv * d, ln = (size_t)batch * hq * sq;
    float *q = test_alloc(qn * 4), *k = test_alloc(kn * 4), *v = test_alloc(kn * 4), *d_o = test_alloc(qn * 4);
    float *o = test_alloc(qn * 4), *lse = test_alloc(ln * 4);
    float *dq = test_alloc(qn * 4), *dk = test_alloc(kn * 4), *dv = test_alloc(kn * 4);
    test_fill(q, qn, (uint64_t)sq, 1, 2.0f, LC_FP32);
    test_fill(k, kn, (uint64_t)sq, 2, 1.0f, LC_FP32);
    test_fill(v, kn, (uint64_t)sq, 3, 1.0f, LC_FP32);
    test_fill(d_o, qn, (uint64_t)sq, 4, 1.0f, LC_FP32);
    int bad = 0;
    if (test_run_kernel(&kernel_cpu_ref, &p, q, k, v, d_o, o, lse, dq, dk, dv)) {
        printf("FAIL %s: kernel error\n", name);
        bad = 1;
    } else {
        double *qd = test_to_double(q, qn), *kd = test_to_double(k, kn), *vd = test_to_double(v, kn);
        double *dod = test_to_double(d_o, qn);
        double *gq = test_alloc(qn * 8), *gk = test_alloc(kn * 8), *gv = test_alloc(kn * 8);
        finite_differences(&p, qd, kd, vd, dod, qd, qn, gq);
        finite_differences(&p, qd, kd, vd, dod, kd, kn, gk);
        finite_differences(&p, qd, kd, vd, dod, vd, kn, gv);
        const char *names[] = {"dQ", "dK", "dV"};
        const float *got[] = {dq, dk, dv};
        const double *want[] = {gq, gk, gv};
        size_t sizes[] = {qn, kn, kn};
        for (int g = 0; g < 3; g++) {
            size_t worst;
            double e = test_error_ratio(got[g], want[g], sizes[g], 1e-5, 1e-4, &worst);
            if (e > 1) {
                printf("FAIL %s %s: err %.3g at %zu (%.7g vs finite difference %.7g)\n", name, names[g], e, worst,
                       got[g][worst], want[g][worst]);
                bad = 1;
            }
        }
        free(qd), free(kd), free(vd), free(dod), free(gq), free(gk), free(gv);
    }
    free(q), free(k), free(v), free(d_o), free(o), free(lse), free(dq), free(dk), free(dv);
    if (!bad) printf("ok   %s\n", name);
    return bad;
}

int main(void)
{
    const int32_t lo = MASK_DIAG_NONE_LO, hi = MASK_DIAG_NONE_HI;
    int failed = 0, cases = 0;
    struct longca_mask v;

    struct longca_rule full[] = {test_rule(0, 6, 0, 6, lo, hi)};
    test_view_init(&v, 1, 6, 6, (int[]){1}, full);
    failed += check_case("full 6x6 h=4:2", 1, 4, 2, 4, &v), cases++;
    test_view_free(&v);

    struct longca_rule causal[] = {test_rule(0, 7, 0, 7, lo, 0)};
    test_view_init(&v, 1, 7, 7, (int[]){1}, causal);
    failed += check_case("causal 7x7 b=2 h=2:1", 2, 2, 1, 3, &v), cases++;
    test_view_free(&v);

    struct longca_rule band[] = {test_rule(0, 8, 0, 8, -2, 1)};
    test_view_init(&v, 1, 8, 8, (int[]){1}, band);
    failed += check_case("band 8x8 h=3:3", 1, 3, 3, 4, &v), cases++;
    test_view_free(&v);

    /* row 3 sees nothing: its dQ and its share of dK/dV must be zero */
    struct longca_rule empty_row[] = {test_rule(0, 3, 0, 4, lo, hi), test_rule(4, 7, 0, 7, lo, 0)};
    test_view_init(&v, 1, 7, 7, (int[]){2}, empty_row);
    failed += check_case("empty row 7x7 h=4:2", 1, 4, 2, 4, &v), cases++;
    test_view_free(&v);

    /* one view head per KV head, as block-sparse masks give */
    struct longca_rule per_head[] = {test_rule(0, 3, 0, 3, lo, hi), test_rule(3, 6, 3, 6, lo, hi),
                                   test_rule(0, 6, 2, 5, lo, hi)};
    test_view_init(&v, 2, 6, 6, (int[]){2, 1}, per_head);
    failed += check_case("per-KV-head view 6x6 h=4:2", 1, 4, 2, 4, &v), cases++;
    test_view_free(&v);

    /* a CP-style sub-block: fewer queries than keys, bottom-right causal */
    struct longca_rule rect[] = {test_rule(0, 4, 0, 9, lo, 5)};
    test_view_init(&v, 1, 4, 9, (int[]){1}, rect);
    failed += check_case("causal 4x9 h=2:1", 1, 2, 1, 5, &v), cases++;
    test_view_free(&v);

    printf("%d of %d reference backward cases match finite differences\n", cases - failed, cases);
    return failed ? 1 : 0;
}
