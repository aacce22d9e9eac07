/* Small element-wise passes both CUDA kernels' backwards share. */
#ifndef LC_ATTN_AUX_H
#define LC_ATTN_AUX_H

#include <stdint.h>

#include "core/model/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dsum[b, h, q] = sum_d dO * O (fp32), for O and dO of [batch, seqlen_q, heads_q, head_dim]. */
int attn_dsum_launch(enum lc_dtype dtype, int head_dim, const void *o, const void *d_o, float *dsum, int batch,
                     int64_t seqlen_q, int heads_q, void *stream);

/* dst[r, :] = sum_{j < group} src[r * group + j, :] for rows r of `width` values: fp32 in, dtype out.
 * Folds per-query-head dK / dV into their KV head (group 1: a plain conversion). */
int attn_group_sum_launch(enum lc_dtype dtype, const float *src, void *dst, int64_t rows, int group, int width,
                          void *stream);

#ifdef __cplusplus
}
#endif

#endif
