/* cuDNN's fused attention as backend graphs: the forward (O and the softmax stats) and the
 * backward, for one shape and mask band, through the fused SDPA operation where the loaded
 * version has it and the mask needs nothing it lacks, else through the composite graph of
 * matmul, pointwise and reduction nodes the heuristics fuse into one flash kernel. */
#ifndef LC_CUDNN_SDPA_H
#define LC_CUDNN_SDPA_H

#include <stdbool.h>
#include <stdint.h>

#include "cudnn_graph.h"

/* Unique ids of the tensors given at execution. */
enum sdpa_uid {
    UID_Q = 1, UID_K, UID_V, UID_O, UID_STATS, UID_DO, UID_DQ, UID_DK, UID_DV,
    UID_SEQ_Q, UID_SEQ_KV, UID_RAG_Q, UID_RAG_KV, UID_SUM, UID_DQ_ACC, UID_DK_FULL, UID_DV_FULL
};

#define SDPA_NO_BOUND INT32_MIN

struct sdpa_shape {
    int64_t b;            /* batch entries cuDNN sees: the batch, or batch x documents */
    int64_t hq, hk, d;
    int64_t sq, skv;      /* rows and keys of one entry (the longest document) */
    int64_t tokens_q, tokens_k; /* rows of one longca batch entry: the packed tensors' extent */
    bool ragged;          /* packed documents: sequence lengths and offsets at execution */
    int32_t diag_lo, diag_hi; /* visible iff lo <= k - q <= hi inside an entry (top-left); SDPA_NO_BOUND */
    cudnnDataType_t io;
    float scale;
    bool deterministic;
};

enum sdpa_route { SDPA_FUSED_OP, SDPA_COMPOSITE };

/* Device memory a backward graph reads and writes beyond cuDNN's workspace, by tensor. */
enum sdpa_scratch { SCRATCH_SUM, SCRATCH_DQ_ACC, SCRATCH_DK_FULL, SCRATCH_DV_FULL, SCRATCH_COUNT };
static const int64_t sdpa_scratch_uid[SCRATCH_COUNT] = {UID_SUM, UID_DQ_ACC, UID_DK_FULL, UID_DV_FULL};

/* Builds g (initialised by the caller) for the forward or the backward; scratch[i] the bytes of
 * each scratch tensor the graph uses (0: unused). false with g->err on failure. */
bool sdpa_build(struct cg *g, const struct sdpa_shape *s, bool backward, enum sdpa_route route,
                int64_t scratch[SCRATCH_COUNT]);

/* Whether the fused SDPA operation can take this problem with the loaded version. */
bool sdpa_fused_fits(const struct sdpa_shape *s, bool backward, size_t version);

#endif
