/* An attention kernel behind one interface, and the registry the other rooms fill in.
 *
 * Tensors are [batch, seq, heads, head_dim] contiguous (BSHD, as FlashAttention), in the
 * problem's dtype; lse is fp32 [batch, heads_q, seqlen_q], natural log with the softmax
 * scale included; a fully masked row has lse = -inf and o = 0. GQA: query head h reads KV
 * head h / (heads_q / heads_kv). */
#ifndef LC_KERNEL_H
#define LC_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/engine/device.h"
#include "core/model/dtype.h"
#include "core/mask/mask.h"
#include "core/model/spec.h"
#include "core/model/status.h"

struct attn_problem {
    int batch, heads_q, heads_kv, head_dim;
    int64_t seqlen_q, seqlen_k;
    enum lc_dtype dtype;
    float softmax_scale;
    const struct mask_view *mask; /* local coordinates; one head, or heads_kv heads (block-sparse) */
    bool deterministic;
};

/* Context parallelism computes a rank's rows against KV blocks one after another and folds the
 * blocks' results into fp32 running sums. A kernel with folds_blocks does that in its
 * own epilogues, saving the passes over O and dQ a separate merge would take. Forward: the first
 * block writes (o_acc, lse), a later one merges itself into them, the last one writes o in the
 * dtype (and lse). Backward: dQ adds up in dq_acc (the first block starts it, the last one
 * writes dq in the dtype); this block's dK | dV go to dkv_acc in fp32 ([2][b, Sk, hkv, d]),
 * not to dk, dv. First and last together are a whole call. */
struct attn_fold {
    bool first, last;
    float *o_acc;   /* [b, Sq, hq, d] */
    float *dq_acc;  /* [b, Sq, hq, d] */
    float *dkv_acc; /* dK then dV */
};

struct attn_tensors {
    const void *q, *k, *v;
    void *o;
    float *lse;
    /* backward */
    const void *d_o;
    void *dq, *dk, *dv;
    const struct attn_fold *fold; /* NULL: o, lse (dq, dk, dv) are this call's own */
};

struct kernel_ops {
    const char *name;
    const char *summary;
    enum lc_device_kind device;
    unsigned dtypes;          /* bit (1 << enum lc_dtype) */
    unsigned directions;      /* DIR_FWD | DIR_BWD */
    const int *head_dims;     /* 0-terminated list, NULL = any */
    bool static_masks;        /* the 12 slice patterns */
    bool block_sparse_masks;  /* the 2 block-map patterns */
    bool folds_blocks;        /* takes attn_tensors.fold */
    int tile_q;               /* query rows of its largest tile (forward or backward): CP chunks are multiples */

    /* Optional finer check ("needs S*S*4 bytes of scores"); NULL = capabilities above suffice. */
    enum lc_status (*supports)(const struct attn_problem *p, enum run_direction dir, char *why);
    /* Prepares everything mask- and shape-dependent (tile lists on the device, cuBLAS handles).
     * workspace_bytes: device memory the caller allocates and passes to forward/backward. */
    enum lc_status (*plan_create)(const struct attn_problem *p, enum run_direction dir, void **plan,
                                  size_t *workspace_bytes, char *err);
    enum lc_status (*forward)(void *plan, const struct attn_tensors *t, void *workspace, char *err);
    enum lc_status (*backward)(void *plan, const struct attn_tensors *t, void *workspace, char *err);
    void (*plan_destroy)(void *plan);
};

#define KERNEL_MAX 32
void kernel_register(const struct kernel_ops *ops);
const struct kernel_ops *kernel_find(const char *name);
int kernel_count(void);
const struct kernel_ops *kernel_at(int index);


/* The CPU reference every kernel and CP method is checked against (registered by kernels/). */
#define KERNEL_REFERENCE_NAME "cpu_ref"

#endif
