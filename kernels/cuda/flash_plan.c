/* The fused attention kernels as longca kernels: "flash" (wgmma, flash_fwd.cu / flash_bwd.cu)
 * and "flash_mma" (mma.sync, flash_mma_fwd.cu / flash_mma_bwd.cu). A plan holds the mask's
 * tile lists on the device (by query tile for the forward, by key tile for the backward) in
 * the design's tile shapes, and carves the backward's fp32 scratch out of the workspace. */
#include <stdlib.h>
#include <string.h>

#include "core/mask/mask_view.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/flash.h"

struct flash_design {
    int fwd_tile_q, fwd_tile_k, bwd_tile_q, bwd_tile_k;
    int fwd_fine_tile;   /* square forward tiles the design also runs, 0 for none */
    int fwd_wide_tile_k; /* wider forward key tiles it runs at head dim 128, 0 for none */
    bool bwd_halves_apart; /* runs the two 64-key halves of a backward key tile apart (head dim 128) */
    /* query heads a backward work item takes (NULL: one) */
    int (*bwd_heads_per_item)(const struct flash_shape *s, const struct gpu_tiles *t, bool deterministic);
    enum lc_status (*fwd)(const struct flash_fwd_args *a, void *stream, char *err);
    enum lc_status (*bwd)(const struct flash_bwd_args *a, void *stream, char *err);
};

static const struct flash_design design_wgmma = {
    FLASH_FWD_TILE_Q,      FLASH_FWD_TILE_K, FLASH_BWD_TILE_Q,         FLASH_BWD_TILE_K, FLASH_FWD_FINE_TILE,
    FLASH_FWD_WIDE_TILE_K, true,             flash_bwd_heads_per_item, flash_fwd_launch, flash_bwd_launch};
static const struct flash_design design_mma = {
    FLASH_MMA_FWD_TILE_Q, FLASH_MMA_FWD_TILE_K, FLASH_MMA_BWD_TILE_Q, FLASH_MMA_BWD_TILE_K, 0, 0, false, NULL,
    flash_mma_fwd_launch, flash_mma_bwd_launch};

struct flash_plan {
    const struct flash_design *design;
    struct flash_shape shape;
    bool deterministic;
    bool has_bwd;
    struct gpu_tiles fwd, bwd;
    int bwd_heads_per_item; /* asked of the design once, here; the launch takes it */
    bool bwd_halves_apart;
    /* backward workspace layout: byte offsets */
    size_t dq_acc, dk_acc, dv_acc, dsum, turns, turns_bytes, next_item, total;
};

static size_t align_up(size_t x) { return (x + 255) & ~(size_t)255; }

static int flash_supports(const struct longca_problem *p, unsigned dir, char *why)
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

/* The fraction of the listed tiles' pairs that the mask shows. */
static double tile_coverage(const struct longca_mask *v, const struct gpu_tiles *t)
{
    int64_t area = 0;
    for (int h = 0; h < v->n_heads; h++) area += mask_view_area(v, h);
    return t->n_entries ? (double)area / ((double)t->n_entries * t->row_tile * t->col_tile) : 1.0;
}

/* Where the forward's tiles would be mostly empty (64-blocks of a block-sparse mask, say),
 * fine lists replace them if they cut the listed pairs enough to pay for the smaller tiles. */
static enum lc_status pick_fine_tiles(const struct flash_design *design, const struct longca_mask *v,
                                      struct gpu_tiles *fwd, char *err)
{
    const double coarse = tile_coverage(v, fwd);
    if (!design->fwd_fine_tile || coarse >= 0.7) return LC_OK;
    struct gpu_tiles fine;
    enum lc_status st = gpu_tiles_build(v, design->fwd_fine_tile, design->fwd_fine_tile, false, false, &fine, err);
    if (st) return st;
    if (tile_coverage(v, &fine) < 1.25 * coarse) {
        gpu_tiles_free(&fine);
        return LC_OK;
    }
    gpu_tiles_free(fwd);
    *fwd = fine;
    return LC_OK;
}

#ifndef LC_FWD_WIDE_PAIR_COST
#define LC_FWD_WIDE_PAIR_COST 0.96
#endif

/* At head dim 128, wide key tiles replace the 128-key ones where they list about as few pairs:
 * a pair on a wide tile costs LC_FWD_WIDE_PAIR_COST of one on a 128-key tile (fewer softmax
 * steps, rescales and barriers per key), and the extra pairs they list (the overhang of a
 * diagonal, a window or the sequence end) cost in full. */
static enum lc_status pick_wide_tiles(const struct flash_design *design, const struct longca_problem *p,
                                      struct gpu_tiles *fwd, char *err)
{
    if (!design->fwd_wide_tile_k || p->head_dim != 128 || fwd->row_tile != design->fwd_tile_q) return LC_OK;
    struct gpu_tiles wide;
    enum lc_status st = gpu_tiles_build(p->mask, design->fwd_tile_q, design->fwd_wide_tile_k, false, false, &wide, err);
    if (st) return st;
    const double pairs = (double)fwd->n_entries * fwd->col_tile, wide_pairs = (double)wide.n_entries * wide.col_tile;
    if (wide_pairs * LC_FWD_WIDE_PAIR_COST >= pairs) {
        gpu_tiles_free(&wide);
        return LC_OK;
    }
    gpu_tiles_free(fwd);
    *fwd = wide;
    return LC_OK;
}

#ifndef LC_BWD_HALVES_APART
#define LC_BWD_HALVES_APART 1
#endif
/* The largest share of the 128-key tiles' 64-key halves that the mask may show for the halves to
 * run apart */
#ifndef LC_BWD_APART_SHARE
#define LC_BWD_APART_SHARE 0.8
#endif

/* At head dim 128, the backward's two 64-key halves of a key tile run apart where the mask leaves
 * many of them unseen (block-sparse at B = 64: at density 0.25, 43 % of the listed halves): a
 * half with no pairs in a step then skips it, where together it would wait at the other's dS
 * barrier and add its zeros into dQ. Apart, each half adds dQ over all columns (twice the
 * reduce-adds), so masks that show nearly every half (full, causal, windows, documents, B = 128)
 * keep them together. The shown halves are counted from the forward's 64 x 64 lists (the same
 * tiles whichever dimension owns the rows) where the plan picked them; elsewhere the 128-tiles
 * were mostly full and so are the halves. Not deterministic: the apart halves add dQ in no fixed
 * order. */
static bool halves_apart_pays(const struct flash_design *design, const struct longca_problem *p, bool deterministic,
                              const struct gpu_tiles *fwd, const struct gpu_tiles *bwd)
{
    if (!LC_BWD_HALVES_APART || !design->bwd_halves_apart || p->head_dim != 128 || deterministic ||
        bwd->row_tile != 2 * design->fwd_fine_tile || fwd->row_tile != design->fwd_fine_tile ||
        fwd->col_tile != design->fwd_fine_tile)
        return false;
    return fwd->n_entries <= LC_BWD_APART_SHARE * 2.0 * bwd->n_entries;
}

static enum lc_status plan_create(const struct flash_design *design, const struct longca_problem *p,
                                  enum run_direction dir, void **plan, size_t *workspace_bytes, char *err)
{
    enum lc_status st = flash_supports(p, dir, err);
    if (st) return st;
    struct flash_plan *fp = calloc(1, sizeof *fp);
    if (!fp) return lc_fail(err, LC_ERR_OOM, "out of host memory for the flash plan");
    fp->design = design;
    fp->shape = (struct flash_shape){p->batch, p->heads_q, p->heads_kv, p->head_dim, p->seqlen_q, p->seqlen_k,
                                     p->dtype, p->softmax_scale};
    fp->deterministic = p->deterministic;
    fp->has_bwd = (dir & DIR_BWD) != 0;
    /* The forward runs in every direction: the backward needs its O and LSE. */
    st = gpu_tiles_build(p->mask, design->fwd_tile_q, design->fwd_tile_k, false, false, &fp->fwd, err);
    if (!st) st = pick_fine_tiles(design, p->mask, &fp->fwd, err);
    if (!st) st = pick_wide_tiles(design, p, &fp->fwd, err);
    if (!st && fp->has_bwd)
        st = gpu_tiles_build(p->mask, design->bwd_tile_q, design->bwd_tile_k, true, fp->deterministic, &fp->bwd, err);
    if (st) {
        flash_plan_destroy(fp);
        return st;
    }
    fp->bwd_halves_apart = fp->has_bwd && halves_apart_pays(design, p, fp->deterministic, &fp->fwd, &fp->bwd);
    if (fp->has_bwd) {
        const size_t n_q = (size_t)p->batch * p->seqlen_q * p->heads_q * p->head_dim;
        /* dK, dV partials where a work item takes part of a GQA group */
        const int per_item = fp->bwd_heads_per_item =
            design->bwd_heads_per_item ? design->bwd_heads_per_item(&fp->shape, &fp->bwd, fp->deterministic) : 1;
        const size_t n_dkv = per_item == p->heads_q / p->heads_kv
                                 ? 0
                                 : (size_t)p->batch * p->seqlen_k * (p->heads_q / per_item) * p->head_dim;
        /* two turns per query tile: designs that add dQ twice per key tile take both */
        const size_t n_turns = (size_t)p->batch * p->heads_q * fp->bwd.n_cols * 2;
        size_t at = 0;
        fp->dq_acc = at, at += align_up(n_q * 4);
        fp->dk_acc = at, at += align_up(n_dkv * 4);
        fp->dv_acc = at, at += align_up(n_dkv * 4);
        fp->dsum = at, at += align_up((size_t)p->batch * p->heads_q * p->seqlen_q * 4);
        fp->turns = at, fp->turns_bytes = n_turns * 4, at += align_up(fp->turns_bytes);
        fp->next_item = at, at += align_up(sizeof(int));
        fp->total = at;
    }
    *workspace_bytes = fp->total;
    *plan = fp;
    return LC_OK;
}

static int flash_plan_create(const struct longca_problem *p, unsigned dir, void **plan,
                                        size_t *workspace_bytes, char *err)
{
    return plan_create(&design_wgmma, p, dir, plan, workspace_bytes, err);
}

static int flash_mma_plan_create(const struct longca_problem *p, unsigned dir, void **plan,
                                            size_t *workspace_bytes, char *err)
{
    return plan_create(&design_mma, p, dir, plan, workspace_bytes, err);
}

static int flash_forward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *err)
{
    const struct flash_plan *fp = plan;
    const struct longca_fold *f = t->fold;
    enum flash_store store = !f || (f->first && f->last) ? STORE_PLAIN : f->last ? STORE_MERGE_OUT : STORE_MERGE_KEEP;
    struct flash_fwd_args a = {fp->shape, t->q, t->k, t->v, t->o, t->lse, &fp->fwd, f ? f->o_acc : NULL, store,
                               f && f->first};
    return fp->design->fwd(&a, stream, err);
}

static int flash_backward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *err)
{
    const struct flash_plan *fp = plan;
    if (!fp->has_bwd) return lc_fail(err, LC_ERR_INTERNAL, "flash plan was made without the backward");
    char *ws = workspace;
    const bool partials = fp->dv_acc > fp->dk_acc;
    struct flash_bwd_buffers buf = {(float *)(ws + fp->dq_acc),
                                    partials ? (float *)(ws + fp->dk_acc) : NULL,
                                    partials ? (float *)(ws + fp->dv_acc) : NULL,
                                    (float *)(ws + fp->dsum),
                                    (int *)(ws + fp->turns),
                                    fp->turns_bytes,
                                    (int *)(ws + fp->next_item)};
    const struct longca_fold *f = t->fold;
    if (f) buf.dq_acc = f->dq_acc;
    struct flash_bwd_args a = {fp->shape, t->q, t->k, t->v, t->o, t->d_o, t->lse, t->dq, t->dk, t->dv,
                               &fp->bwd, fp->deterministic, fp->bwd_heads_per_item, fp->bwd_halves_apart, buf, f != NULL,
                               !f || f->first, !f || f->last, f ? f->dkv_acc : NULL};
    return fp->design->bwd(&a, stream, err);
}

static const int flash_head_dims[] = {64, 128, 0};

const struct longca_kernel kernel_flash = {
    .abi_version = LONGCA_KERNEL_ABI_VERSION,
    .name = "flash",
    .summary = "fused attention on Hopper wgmma; forward in the FlashAttention-3 design (TMA producer, ping-pong, "
               "persistent), mask tile lists, GQA in place, LSE out",
    .device = DEVICE_CUDA,
    .dtypes = (1u << LC_BF16) | (1u << LC_FP16),
    .directions = DIR_FWD | DIR_BWD,
    .head_dims = flash_head_dims,
    .mask_forms = LONGCA_FORM_RULES | LONGCA_FORM_HEAD_RULES,
    .writes_lse = true,
    .folds_blocks = true,
    .tile_q = FLASH_FWD_TILE_Q,
    .supports = flash_supports,
    .plan = flash_plan_create,
    .forward = flash_forward,
    .backward = flash_backward,
    .destroy = flash_plan_destroy,
};

const struct longca_kernel kernel_flash_mma = {
    .abi_version = LONGCA_KERNEL_ABI_VERSION,
    .name = "flash_mma",
    .summary = "fused tiled attention, FlashAttention-2 design on warp mma.sync m16n8k16 (ldmatrix, cp.async)",
    .device = DEVICE_CUDA,
    .dtypes = (1u << LC_BF16) | (1u << LC_FP16),
    .directions = DIR_FWD | DIR_BWD,
    .head_dims = flash_head_dims,
    .mask_forms = LONGCA_FORM_RULES | LONGCA_FORM_HEAD_RULES,
    .writes_lse = true,
    .folds_blocks = true,
    .tile_q = FLASH_MMA_FWD_TILE_Q,
    .supports = flash_supports,
    .plan = flash_mma_plan_create,
    .forward = flash_forward,
    .backward = flash_backward,
    .destroy = flash_plan_destroy,
};
