/* Merging partial attention results over disjoint key blocks, in fp32:
 *   lse = max(l1, l2) + log1p(exp(min - max)),  o = exp(l1 - lse) o1 + exp(l2 - lse) o2.
 * A block a query does not see has lse = -inf and o = 0; kernels that mark it +inf (as
 * FlashAttention does) are read the same way. Two -inf sides keep (0, -inf): no -inf - -inf. */
#include <math.h>

#include "cp/array.h"

/* -inf for "saw nothing", whatever sign of infinity (or NaN) the kernel used. */
static inline float seen_nothing_as_neg_inf(float lse) { return isfinite(lse) ? lse : -INFINITY; }

void cp_lse_merge_host(float *acc_o, float *acc_lse, const void *part_o, enum lc_dtype part_type,
                       const float *part_lse, int batch, int64_t rows, int heads, int head_dim)
{
    const int64_t lines = (int64_t)batch * rows * heads;
    const size_t esize = dtype_size(part_type);
#pragma omp parallel for schedule(static)
    for (int64_t line = 0; line < lines; line++) {
        /* line walks [batch, rows, heads] in O's order; LSE is [batch, heads, rows]. */
        const int h = (int)(line % heads);
        const int64_t i = line / heads % rows, b = line / heads / rows;
        const size_t lse_at = ((size_t)b * (size_t)heads + (size_t)h) * (size_t)rows + (size_t)i;
        const float l2 = seen_nothing_as_neg_inf(part_lse[lse_at]);
        if (l2 == -INFINITY) continue;
        const float l1 = acc_lse[lse_at];
        float *o1 = acc_o + (size_t)line * (size_t)head_dim;
        float o2[CP_MAX_HEAD_DIM];
        dtype_to_f32(part_type, o2, (const char *)part_o + (size_t)line * (size_t)head_dim * esize, (size_t)head_dim);
        if (l1 == -INFINITY) {
            for (int c = 0; c < head_dim; c++) o1[c] = o2[c];
            acc_lse[lse_at] = l2;
            continue;
        }
        const float hi = l1 > l2 ? l1 : l2, lo = l1 > l2 ? l2 : l1;
        const float lse = hi + log1pf(expf(lo - hi));
        const float w1 = expf(l1 - lse), w2 = expf(l2 - lse);
        for (int c = 0; c < head_dim; c++) o1[c] = w1 * o1[c] + w2 * o2[c];
        acc_lse[lse_at] = lse;
    }
}
