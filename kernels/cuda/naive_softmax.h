/* The element-wise kernels of the unfused baseline: a masked softmax over materialised score
 * rows, and its derivative. Rows are [batch, heads_q, seqlen_q] of seqlen_k fp32 scores; the
 * mask comes from tile lists by query tile (NAIVE_TILE x NAIVE_TILE). */
#ifndef LC_NAIVE_SOFTMAX_H
#define LC_NAIVE_SOFTMAX_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/dtype.h"
#include "kernels/cuda/gpu_tiles.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NAIVE_TILE 64

struct naive_rows {
    enum lc_dtype dtype;
    int batch, heads_q, heads_kv;
    int64_t seqlen_q, seqlen_k;
    float scale;
    const struct gpu_tiles *tiles;
};

/* probs = softmax(scale * scores) under the mask, in dtype; masked entries 0. When
 * lse_known, lse is read (the backward's recomputation), else written. Returns a cudaError_t. */
int naive_softmax_launch(const struct naive_rows *r, const float *scores, void *probs, float *lse, bool lse_known,
                         void *stream);

/* dscores = scale * P * (dP - dsum) under the mask, in dtype, P recomputed from scores and lse. */
int naive_dsoftmax_launch(const struct naive_rows *r, const float *scores, const float *dprobs, const float *lse,
                          const float *dsum, void *dscores, void *stream);

#ifdef __cplusplus
}
#endif

#endif
