/* "flash": our fused attention. The plan holds the mask's tile lists on the device (by query
 * tile for the forward, by key tile for the backward) and the shape; the kernels live in
 * flash_fwd.cu and flash_bwd.cu. */
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/flash.h"

struct flash_plan {
    struct flash_shape shape;
    bool deterministic;
    bool has_bwd;
    struct gpu_tiles fwd, bwd;
};

static enum lc_status flash_supports(const struct attn_problem *p, enum run_direction dir, char *why)
{
    if (p->dtype != LC_BF16 && p->dtype != LC_FP16)
        return lc_fail(why, LC_ERR_UNSUPPORTED, "flash runs bf16 and fp16 (tensor cores), not %s", dtype_name(p->dtype));
    if (p->head_dim != 64 && p->head_dim != 128)
        return lc_fail(why, LC_ERR_UNSUPPORTED, "flash supports head dims 64 and 128, not %d", p->head_dim);
    if (p->heads_kv < 1 || p->heads_q % p->heads_kv)
        return lc_fail(why, LC_ERR_INVALID, "query heads %d not divisible by KV heads %d", p->heads_q, p->heads_kv);
    if (p->mask->n_heads != 1 && p->mask->n_heads != p->heads_kv)
        return lc_fail(why, LC_ERR_INVALID, "mask has %d heads; flash needs 1 or one per KV head (%d)",
                       p->mask->n_heads, p->heads_kv);
    if (p->seqlen_q > (1ll << 30) || p->seqlen_k > (1ll << 30))
        return lc_fail(why, LC_ERR_UNSUPPORTED, "flash indexes positions in 32 bits: at most 1G tokens");
    return LC_OK;
}

static void flash_plan_destroy(void *plan)
{
    struct flash_plan *fp = plan;
    if (!fp) return;
    gpu_tiles_free(&fp->fwd);
    gpu_tiles_free(&fp->bwd);
    free(fp);
}

static enum lc_status flash_plan_create(const struct attn_problem *p, enum run_direction dir, void **plan,
                                        size_t *workspace_bytes, char *err)
{
    enum lc_status st = flash_supports(p, dir, err);
    if (st) return st;
    struct flash_plan *fp = calloc(1, sizeof *fp);
    if (!fp) return lc_fail(err, LC_ERR_OOM, "out of host memory for the flash plan");
    fp->shape = (struct flash_shape){p->batch, p->heads_q, p->heads_kv, p->head_dim, p->seqlen_q, p->seqlen_k,
                                     p->dtype, p->softmax_scale};
    fp->deterministic = p->deterministic;
    fp->has_bwd = (dir & DIR_BWD) != 0;
    /* The forward runs in every direction: the backward needs its O and LSE. */
    st = gpu_tiles_build(p->mask, FLASH_FWD_TILE_Q, FLASH_FWD_TILE_K, false, false, &fp->fwd, err);
    if (!st && fp->has_bwd)
        st = gpu_tiles_build(p->mask, FLASH_BWD_TILE_Q, FLASH_BWD_TILE_K, true, fp->deterministic, &fp->bwd, err);
    if (st) {
        flash_plan_destroy(fp);
        return st;
    }
    *workspace_bytes = fp->has_bwd ? flash_bwd_workspace_bytes(&fp->shape) : 0;
    *plan = fp;
    return LC_OK;
}

static enum lc_status flash_forward(void *plan, const struct attn_tensors *t, void *workspace, char *err)
{
    const struct flash_plan *fp = plan;
    struct flash_fwd_args a = {fp->shape, t->q, t->k, t->v, t->o, t->lse, &fp->fwd};
    return flash_fwd_launch(&a, device_cuda.stream(), err);
}

static enum lc_status flash_backward(void *plan, const struct attn_tensors *t, void *workspace, char *err)
{
    const struct flash_plan *fp = plan;
    if (!fp->has_bwd) return lc_fail(err, LC_ERR_INTERNAL, "flash plan was made without the backward");
    struct flash_bwd_args a = {fp->shape, t->q, t->k, t->v, t->o, t->d_o, t->lse, t->dq, t->dk, t->dv,
                               &fp->bwd, fp->deterministic, workspace};
    return flash_bwd_launch(&a, device_cuda.stream(), err);
}

static const int flash_head_dims[] = {64, 128, 0};

const struct kernel_ops kernel_flash = {
    .name = "flash",
    .summary = "fused tiled attention on tensor cores (mma.sync), mask tile lists, GQA in place, LSE out",
    .device = DEVICE_CUDA,
    .dtypes = (1u << LC_BF16) | (1u << LC_FP16),
    .directions = DIR_FWD | DIR_BWD,
    .head_dims = flash_head_dims,
    .static_masks = true,
    .block_sparse_masks = true,
    .supports = flash_supports,
    .plan_create = flash_plan_create,
    .forward = flash_forward,
    .backward = flash_backward,
    .plan_destroy = flash_plan_destroy,
};
