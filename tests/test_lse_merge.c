/* The fp32 LSE merge: attention over a key set split into disjoint blocks, each
 * block's normalized (o, lse) merged in turn, equals attention over all keys; blocks a query
 * does not see (lse -inf, or +inf as FlashAttention writes it) change nothing and never make
 * NaNs; the merge order does not matter beyond rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "core/model/rng.h"
#include "cp/array.h"

enum { B = 2, ROWS = 5, HEADS = 3, D = 16, KEYS = 40 };

static double uniform(struct rng *r) { return 2.0 * rng_double(r) - 1.0; }

/* Normalized attention of every (batch, row, head) over the keys with block[k] == want (all keys
 * for want < 0), in double: o [B, ROWS, HEADS, D], lse [B, HEADS, ROWS]. */
static void attend(const double *q, const double *k, const double *v, const int *block, int want, double *o,
                   double *lse)
{
    for (int b = 0; b < B; b++)
        for (int i = 0; i < ROWS; i++)
            for (int h = 0; h < HEADS; h++) {
                const double *qi = q + ((b * ROWS + i) * HEADS + h) * D;
                double *oi = o + ((b * ROWS + i) * HEADS + h) * D;
                double s[KEYS], m = -INFINITY, l = 0;
                for (int j = 0; j < KEYS; j++) {
                    s[j] = -INFINITY;
                    if (want >= 0 && block[(b * ROWS + i) * KEYS + j] != want) continue;
                    double dot = 0;
                    for (int c = 0; c < D; c++) dot += qi[c] * k[(b * KEYS + j) * D + c];
                    s[j] = 0.25 * dot;
                    if (s[j] > m) m = s[j];
                }
                memset(oi, 0, D * sizeof *oi);
                for (int j = 0; j < KEYS; j++) {
                    if (s[j] == -INFINITY) continue;
                    double e = exp(s[j] - m);
                    l += e;
                    for (int c = 0; c < D; c++) oi[c] += e * v[(b * KEYS + j) * D + c];
                }
                for (int c = 0; c < D && l > 0; c++) oi[c] /= l;
                lse[(b * HEADS + h) * ROWS + i] = l > 0 ? m + log(l) : -INFINITY;
            }
}

static void merge_blocks(int n_blocks, const int *order, const double *q, const double *k, const double *v,
                         const int *block, enum lc_dtype dtype, float *acc_o, float *acc_lse, bool plus_inf)
{
    const size_t no = (size_t)B * ROWS * HEADS * D, nl = (size_t)B * HEADS * ROWS;
    double *o = malloc(no * sizeof *o), *lse = malloc(nl * sizeof *lse);
    float *of = malloc(no * sizeof *of), *lf = malloc(nl * sizeof *lf);
    void *part = malloc(no * 4);
    for (size_t i = 0; i < no; i++) acc_o[i] = 0;
    for (size_t i = 0; i < nl; i++) acc_lse[i] = -INFINITY;
    for (int n = 0; n < n_blocks; n++) {
        attend(q, k, v, block, order[n], o, lse);
        for (size_t i = 0; i < no; i++) of[i] = (float)o[i];
        for (size_t i = 0; i < nl; i++) lf[i] = lse[i] == -INFINITY && plus_inf ? INFINITY : (float)lse[i];
        dtype_from_f32(dtype, part, of, no);
        cp_lse_merge_host(acc_o, acc_lse, part, dtype, lf, B, ROWS, HEADS, D);
    }
    free(o);
    free(lse);
    free(of);
    free(lf);
    free(part);
}

static void test_split(enum lc_dtype dtype, double tol, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed, 0);
    const size_t no = (size_t)B * ROWS * HEADS * D, nl = (size_t)B * HEADS * ROWS;
    double *q = malloc(no * sizeof *q), *k = malloc((size_t)B * KEYS * D * sizeof *k), *v = malloc((size_t)B * KEYS * D * sizeof *v);
    for (size_t i = 0; i < no; i++) q[i] = 3 * uniform(&r); /* large scores: exercises the max shift */
    for (size_t i = 0; i < (size_t)B * KEYS * D; i++) k[i] = uniform(&r), v[i] = uniform(&r);
    /* Four blocks per row; some rows miss a block entirely, row 0 of batch 0 sees nothing. */
    enum { BLOCKS = 4 };
    int *block = malloc((size_t)B * ROWS * KEYS * sizeof *block);
    for (int row = 0; row < B * ROWS; row++)
        for (int j = 0; j < KEYS; j++) {
            int b = (int)rng_range(&r, 0, BLOCKS - 1);
            if (row % 3 == 1 && b == 2) b = 3;
            block[row * KEYS + j] = row == 0 ? -1 : b;
        }
    double *o = malloc(no * sizeof *o), *lse = malloc(nl * sizeof *lse);
    /* Reference: all keys the row sees in any block (block -1 = none). */
    int *seen = malloc((size_t)B * ROWS * KEYS * sizeof *seen);
    for (int i = 0; i < B * ROWS * KEYS; i++) seen[i] = block[i] >= 0 ? 0 : -1;
    attend(q, k, v, seen, 0, o, lse);

    float *acc_o = malloc(no * sizeof *acc_o), *acc_lse = malloc(nl * sizeof *acc_lse);
    float *acc_o2 = malloc(no * sizeof *acc_o2), *acc_lse2 = malloc(nl * sizeof *acc_lse2);
    const int forward[BLOCKS] = {0, 1, 2, 3}, backward[BLOCKS] = {3, 2, 1, 0};
    merge_blocks(BLOCKS, forward, q, k, v, block, dtype, acc_o, acc_lse, false);
    merge_blocks(BLOCKS, backward, q, k, v, block, dtype, acc_o2, acc_lse2, true);
    double max_o = 0, max_l = 0, max_order = 0;
    int nan_count = 0;
    for (size_t i = 0; i < no; i++) {
        nan_count += isnan(acc_o[i]) || isnan(acc_o2[i]);
        max_o = fmax(max_o, fabs(acc_o[i] - o[i]));
        max_order = fmax(max_order, fabs(acc_o[i] - acc_o2[i]));
    }
    for (size_t i = 0; i < nl; i++) {
        nan_count += isnan(acc_lse[i]) || isnan(acc_lse2[i]);
        if (lse[i] == -INFINITY) {
            CHECK(acc_lse[i] == -INFINITY && acc_lse2[i] == -INFINITY, "row %zu sees nothing: lse %g / %g", i,
                  acc_lse[i], acc_lse2[i]);
            continue;
        }
        max_l = fmax(max_l, fabs(acc_lse[i] - lse[i]));
    }
    /* Batch 0, row 0 sees nothing: its outputs stay exactly zero. */
    for (int h = 0; h < HEADS; h++)
        for (int c = 0; c < D; c++) CHECK(acc_o[h * D + c] == 0.0f, "masked row: o = %g", acc_o[h * D + c]);
    CHECK(nan_count == 0, "%d NaNs", nan_count);
    CHECK(max_o < tol, "%s: merged o differs by %.3g", dtype_name(dtype), max_o);
    CHECK(max_l < 1e-5, "%s: merged lse differs by %.3g", dtype_name(dtype), max_l);
    CHECK(max_order < tol, "%s: merge order changes o by %.3g", dtype_name(dtype), max_order);
    printf("%s: max |o - ref| %.2e, max |lse - ref| %.2e, order %.2e\n", dtype_name(dtype), max_o, max_l, max_order);
    free(q), free(k), free(v), free(block), free(seen), free(o), free(lse);
    free(acc_o), free(acc_lse), free(acc_o2), free(acc_lse2);
}

/* Hand cases of the guards, one value each. */
static void test_guards(void)
{
    float acc_o[D], acc_lse, part_o[D], part_lse;
    for (int c = 0; c < D; c++) acc_o[c] = 0, part_o[c] = 1;
    acc_lse = -INFINITY;
    part_lse = -INFINITY;
    cp_lse_merge_host(acc_o, &acc_lse, part_o, LC_FP32, &part_lse, 1, 1, 1, D);
    CHECK(acc_lse == -INFINITY && acc_o[0] == 0, "-inf with -inf: lse %g o %g", acc_lse, acc_o[0]);
    part_lse = INFINITY; /* FlashAttention's mark for "saw nothing" */
    cp_lse_merge_host(acc_o, &acc_lse, part_o, LC_FP32, &part_lse, 1, 1, 1, D);
    CHECK(acc_lse == -INFINITY && acc_o[0] == 0, "+inf part is nothing: lse %g o %g", acc_lse, acc_o[0]);
    part_lse = 2.0f;
    cp_lse_merge_host(acc_o, &acc_lse, part_o, LC_FP32, &part_lse, 1, 1, 1, D);
    CHECK(acc_lse == 2.0f && acc_o[0] == 1.0f, "first part is copied: lse %g o %g", acc_lse, acc_o[0]);
    for (int c = 0; c < D; c++) part_o[c] = 3;
    part_lse = 2.0f;
    cp_lse_merge_host(acc_o, &acc_lse, part_o, LC_FP32, &part_lse, 1, 1, 1, D);
    CHECK(fabsf(acc_lse - (2.0f + logf(2.0f))) < 1e-6f && fabsf(acc_o[0] - 2.0f) < 1e-6f,
          "equal weights average: lse %g o %g", acc_lse, acc_o[0]);
    /* Far apart: the small side vanishes without overflow. */
    part_lse = -1e4f;
    for (int c = 0; c < D; c++) part_o[c] = 100;
    cp_lse_merge_host(acc_o, &acc_lse, part_o, LC_FP32, &part_lse, 1, 1, 1, D);
    CHECK(fabsf(acc_o[0] - 2.0f) < 1e-6f && isfinite(acc_lse), "tiny weight: o %g lse %g", acc_o[0], acc_lse);
}

int main(void)
{
    test_guards();
    test_split(LC_FP32, 1e-5, 1);
    test_split(LC_BF16, 2e-2, 2);
    test_split(LC_FP16, 4e-3, 3);
    return check_report("lse merge");
}
