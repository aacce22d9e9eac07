/* The fused attention kernels' launch interface, shared by the plan (C) and the kernels (CUDA).
 * Tile shapes are fixed by the kernels; the plan builds its tile lists with these. */
#ifndef LC_FLASH_H
#define LC_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/cuda/gpu_tiles.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Forward: a CTA owns FLASH_FWD_TILE_Q query rows and walks key tiles of FLASH_FWD_TILE_K. */
#define FLASH_FWD_TILE_Q 128
#define FLASH_FWD_TILE_K 64
/* Backward: a CTA owns FLASH_BWD_TILE_K keys and walks query tiles of FLASH_BWD_TILE_Q. */
#define FLASH_BWD_TILE_Q 64
#define FLASH_BWD_TILE_K 128

struct flash_shape {
    int batch, heads_q, heads_kv, head_dim;
    int64_t seqlen_q, seqlen_k;
    enum lc_dtype dtype;
    float scale;
};

struct flash_fwd_args {
    struct flash_shape shape;
    const void *q, *k, *v;
    void *o;
    float *lse;
    const struct gpu_tiles *tiles; /* by query tile, FLASH_FWD_TILE_Q x FLASH_FWD_TILE_K */
};

struct flash_bwd_args {
    struct flash_shape shape;
    const void *q, *k, *v, *o, *d_o;
    const float *lse;
    void *dq, *dk, *dv;
    const struct gpu_tiles *tiles; /* by key tile, FLASH_BWD_TILE_Q x FLASH_BWD_TILE_K */
    bool deterministic;
    void *workspace; /* flash_bwd_workspace_bytes(shape) bytes */
};

enum lc_status flash_fwd_launch(const struct flash_fwd_args *a, void *stream, char *err);
size_t flash_bwd_workspace_bytes(const struct flash_shape *s);
enum lc_status flash_bwd_launch(const struct flash_bwd_args *a, void *stream, char *err);

#ifdef __cplusplus
}
#endif

#endif
