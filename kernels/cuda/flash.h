/* The fused attention kernels' launch interface, shared by the plan (C) and the kernels (CUDA).
 * Two designs share it: "flash" (warpgroup wgmma, sm_90a) and "flash_mma" (warp-level
 * mma.sync m16n8k16, the FlashAttention-2 design). Tile shapes are fixed by the kernels; the
 * plan builds its tile lists with these. */
#ifndef LC_FLASH_H
#define LC_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model/dtype.h"
#include "core/model/status.h"
#include "kernels/cuda/gpu_tiles.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Forward: a CTA owns TILE_Q query rows and walks key tiles of TILE_K; flash also runs on
 * FINE_TILE x FINE_TILE lists, chosen by the plan for masks whose 128-tiles are mostly empty,
 * and, at head dim 128, on TILE_Q x WIDE_TILE_K lists where the mask fills the wider tiles
 * (more GEMM per softmax row and per barrier). */
#define FLASH_FWD_TILE_Q 128
#define FLASH_FWD_TILE_K 128
#define FLASH_FWD_FINE_TILE 64
#define FLASH_FWD_WIDE_TILE_K 176
#define FLASH_MMA_FWD_TILE_Q 128
#define FLASH_MMA_FWD_TILE_K 64
/* Backward: a CTA owns TILE_K keys and walks query tiles of TILE_Q. */
#define FLASH_BWD_TILE_Q 64
#define FLASH_BWD_TILE_K 128
#define FLASH_MMA_BWD_TILE_Q 64
#define FLASH_MMA_BWD_TILE_K 128

struct flash_shape {
    int batch, heads_q, heads_kv, head_dim;
    int64_t seqlen_q, seqlen_k;
    enum lc_dtype dtype;
    float scale;
};

/* How a forward stores its rows. Folding blocks (core/engine/kernel.h), a block merges into the running
 * fp32 (o_acc, lse), the first one into nothing. Each is its own kernel instance, so the plain
 * one keeps its registers. */
enum flash_store {
    STORE_PLAIN,      /* O and LSE */
    STORE_MERGE_KEEP, /* merged, kept in (o_acc, lse) */
    STORE_MERGE_OUT,  /* merged, written as O and LSE */
};

struct flash_fwd_args {
    struct flash_shape shape;
    const void *q, *k, *v;
    void *o;
    float *lse;
    const struct gpu_tiles *tiles; /* by query tile */
    float *o_acc;
    enum flash_store store;
    bool first_block;
};

/* The backward's fp32 scratch, carved from the caller's workspace by the plan. */
struct flash_bwd_buffers {
    float *dq_acc;       /* [b, S_q, heads_q, d]: dQ summed over key tiles */
    float *dk_acc, *dv_acc; /* fp32 partials of dK, dV, summed over each GQA group last: [b, S_k,
                               heads_q / heads per item, d]; NULL where items take whole groups */
    float *dsum;         /* [b, heads_q, S_q]: rowsum(dO * O) */
    int *turns;          /* deterministic dQ order: [b, heads_q, query tiles] */
    size_t turns_bytes;
    int *next_item;      /* persistent backward: the next work item to hand out */
};

struct flash_bwd_args {
    struct flash_shape shape;
    const void *q, *k, *v, *o, *d_o;
    const float *lse;
    void *dq, *dk, *dv;
    const struct gpu_tiles *tiles; /* by key tile */
    bool deterministic;
    int heads_per_item; /* query heads a work item takes: the plan's choice, for which buf was sized */
    /* flash, head dim 128, not deterministic: the two 64-key halves of a key tile run apart (each
     * skips the steps whose keys of it the mask leaves unseen) */
    bool halves_apart;
    struct flash_bwd_buffers buf;
    /* Folding blocks (core/engine/kernel.h): buf.dq_acc is the caller's running dQ, started only when
     * dq_first, written to dq only when dq_last; dK | dV go to dkv_f32 in fp32, not dk, dv. */
    bool folding, dq_first, dq_last;
    float *dkv_f32;
};

enum lc_status flash_fwd_launch(const struct flash_fwd_args *a, void *stream, char *err);
enum lc_status flash_bwd_launch(const struct flash_bwd_args *a, void *stream, char *err);
/* Query heads a work item of flash_bwd_launch takes (1 or the GQA group) on the current device,
 * for tile lists t: the plan asks once and passes it as flash_bwd_args.heads_per_item; below the
 * whole group it needs buf.dk_acc, buf.dv_acc for [b, S_k, heads_q / that, d] fp32. */
int flash_bwd_heads_per_item(const struct flash_shape *s, const struct gpu_tiles *t, bool deterministic);
enum lc_status flash_mma_fwd_launch(const struct flash_fwd_args *a, void *stream, char *err);
enum lc_status flash_mma_bwd_launch(const struct flash_bwd_args *a, void *stream, char *err);

#ifdef __cplusplus
}
#endif

#endif
