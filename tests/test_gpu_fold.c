/* Folding blocks (core/engine/kernel.h, struct longca_fold) in the fused kernels: a causal problem's keys
 * cut into four blocks, each block's attention folded into the running fp32 results (first,
 * two middle, last), equals one whole call of the same kernel: O, LSE and dQ at the end, and
 * each block's fp32 dK, dV against the whole call's rows of that block. Both designs, with GQA
 * (dK, dV summed over the group into the fp32 buffer) and without (written in place). S = 2048,
 * d = 128, bf16. Skipped (77) where no GPU is visible. */
#include "cp/shard.h"
#include "tests/gpu_test_util.h"
#include "core/mask/mask_view.h"

#define SEQLEN 2048
#define BLOCKS 4
#define BLOCK (SEQLEN / BLOCKS)

struct dev_buf {
    void *q, *k, *v, *d_o, *o, *dq, *ws;
    float *lse, *o_acc, *dq_acc, *dkv_acc;
};

static enum lc_status upload_as(const float *x, size_t n, enum lc_dtype dtype, void **out, char *err)
{
    const size_t bytes = n * dtype_size(dtype);
    void *host = test_alloc(bytes);
    dtype_from_f32(dtype, host, x, n);
    enum lc_status st = device_cuda.alloc(bytes, out, err);
    if (!st) st = device_cuda.upload(*out, host, bytes, err);
    free(host);
    return st;
}

static enum lc_status download_as(float *x, const void *src, size_t n, enum lc_dtype dtype, char *err)
{
    const size_t bytes = n * dtype_size(dtype);
    void *host = test_alloc(bytes);
    enum lc_status st = device_cuda.download(host, src, bytes, err);
    dtype_to_f32(dtype, x, host, n);
    free(host);
    return st;
}

/* Each block's plan: the causal view between all query rows and the block's keys. */
static enum lc_status make_plans(const struct longca_kernel *ops, const struct longca_problem *whole,
                                 struct longca_mask views[BLOCKS], void *plans[BLOCKS], size_t *ws_bytes, char *err)
{
    struct cp_segment all_seg = {0, SEQLEN};
    struct cp_layout all = {&all_seg, 1, SEQLEN};
    enum lc_status st = LC_OK;
    for (int j = 0; j < BLOCKS && !st; j++) {
        struct cp_layout block;
        st = cp_layout_slice(&all, (int64_t)j * BLOCK, (int64_t)(j + 1) * BLOCK, &block, err);
        if (st) break;
        st = cp_view_between(whole->mask, &all, &block, &views[j], err);
        cp_layout_free(&block);
        struct longca_problem p = *whole;
        p.seqlen_k = BLOCK;
        p.mask = &views[j];
        size_t bytes = 0;
        if (!st) st = kernel_plan(ops, &p, DIR_FWD_BWD, &plans[j], &bytes, err);
        if (bytes > *ws_bytes) *ws_bytes = bytes;
    }
    return st;
}

/* Folds the blocks on the GPU; fills o, lse, dq at the end and dk, dv block by block (fp32). */
static enum lc_status fold_blocks(const struct longca_kernel *ops, const struct longca_problem *p, float *const in[],
                                  float *out[], char *err)
{
    size_t in_n[GT_IN_COUNT], out_n[GT_OUT_COUNT];
    gt_sizes(p, in_n, out_n);
    const size_t es = dtype_size(p->dtype), kv_row = (size_t)p->heads_kv * p->head_dim, block_kv = BLOCK * kv_row;
    struct longca_mask views[BLOCKS] = {0};
    void *plans[BLOCKS] = {0};
    size_t ws_bytes = 0;
    struct dev_buf d = {0};
    enum lc_status st = make_plans(ops, p, views, plans, &ws_bytes, err);
    if (!st) st = upload_as(in[GT_Q], in_n[GT_Q], p->dtype, &d.q, err);
    if (!st) st = upload_as(in[GT_K], in_n[GT_K], p->dtype, &d.k, err);
    if (!st) st = upload_as(in[GT_V], in_n[GT_V], p->dtype, &d.v, err);
    if (!st) st = upload_as(in[GT_DO], in_n[GT_DO], p->dtype, &d.d_o, err);
    if (!st) st = device_cuda.alloc(out_n[GT_O] * es, &d.o, err);
    if (!st) st = device_cuda.alloc(out_n[GT_DQ] * es, &d.dq, err);
    if (!st) st = device_cuda.alloc(out_n[GT_LSE] * 4, (void **)&d.lse, err);
    if (!st) st = device_cuda.alloc(out_n[GT_O] * 4, (void **)&d.o_acc, err);
    if (!st) st = device_cuda.alloc(out_n[GT_DQ] * 4, (void **)&d.dq_acc, err);
    if (!st) st = device_cuda.alloc(2 * block_kv * 4, (void **)&d.dkv_acc, err);
    if (!st && ws_bytes) st = device_cuda.alloc(ws_bytes, &d.ws, err);
    /* poisoned: anything a fold leaves unwritten fails the comparison */
    if (!st) st = device_cuda.fill_nan(d.o, out_n[GT_O] * es, err);
    if (!st) st = device_cuda.fill_nan(d.o_acc, out_n[GT_O] * 4, err);
    if (!st) st = device_cuda.fill_nan(d.lse, out_n[GT_LSE] * 4, err);
    for (int j = 0; j < BLOCKS && !st; j++) {
        const struct longca_fold f = {j == 0, j == BLOCKS - 1, d.o_acc, d.dq_acc, d.dkv_acc};
        struct longca_tensors t = {.q = d.q, .k = (char *)d.k + j * block_kv * es, .v = (char *)d.v + j * block_kv * es,
                                 .o = d.o, .lse = d.lse, .fold = &f};
        st = kernel_forward(ops, plans[j], &t, d.ws, device_cuda.stream(), err);
    }
    for (int j = 0; j < BLOCKS && !st; j++) {
        const struct longca_fold f = {j == 0, j == BLOCKS - 1, d.o_acc, d.dq_acc, d.dkv_acc};
        struct longca_tensors t = {.q = d.q, .k = (char *)d.k + j * block_kv * es, .v = (char *)d.v + j * block_kv * es,
                                 .o = d.o, .lse = d.lse, .d_o = d.d_o, .dq = d.dq, .fold = &f};
        if (!st) st = device_cuda.fill_nan(d.dkv_acc, 2 * block_kv * 4, err);
        if (!st) st = kernel_backward(ops, plans[j], &t, d.ws, device_cuda.stream(), err);
        if (!st) st = download_as(out[GT_DK] + j * block_kv, d.dkv_acc, block_kv, LC_FP32, err);
        if (!st) st = download_as(out[GT_DV] + j * block_kv, d.dkv_acc + block_kv, block_kv, LC_FP32, err);
    }
    if (!st) st = download_as(out[GT_O], d.o, out_n[GT_O], p->dtype, err);
    if (!st) st = download_as(out[GT_LSE], d.lse, out_n[GT_LSE], LC_FP32, err);
    if (!st) st = download_as(out[GT_DQ], d.dq, out_n[GT_DQ], p->dtype, err);
    for (int j = 0; j < BLOCKS; j++) {
        if (plans[j]) kernel_destroy(ops, plans[j]);
        mask_view_free(&views[j]);
    }
    void *bufs[] = {d.q, d.k, d.v, d.d_o, d.o, d.dq, d.ws, d.lse, d.o_acc, d.dq_acc, d.dkv_acc};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) device_cuda.free(bufs[i]);
    return st;
}

static int check_fold(const struct longca_kernel *ops, int heads_kv)
{
    struct mask m;
    struct longca_mask view;
    if (gt_build_mask(MASK_CAUSAL, SEQLEN, heads_kv, &m, &view)) return 1;
    struct longca_problem p = {1, 8, heads_kv, 128, SEQLEN, SEQLEN, LC_BF16, (float)(1.0 / sqrt(128.0)), &view, false};
    size_t in_n[GT_IN_COUNT], out_n[GT_OUT_COUNT];
    gt_sizes(&p, in_n, out_n);
    float *in[GT_IN_COUNT], *whole[GT_OUT_COUNT], *folded[GT_OUT_COUNT];
    for (int i = 0; i < GT_IN_COUNT; i++) {
        in[i] = test_alloc(in_n[i] * 4);
        test_fill(in[i], in_n[i], 5, (uint64_t)i + 1, i == GT_Q ? 2.0f : 1.0f, LC_BF16);
    }
    for (int i = 0; i < GT_OUT_COUNT; i++) whole[i] = test_alloc(out_n[i] * 4), folded[i] = test_alloc(out_n[i] * 4);
    char err[LC_ERRMSG_LEN] = "";
    int failed = 0;
    if (gpu_run_kernel(ops, &p, in, whole, true, err) || fold_blocks(ops, &p, in, folded, err)) {
        printf("FAIL %s %d:%d: %s\n", ops->name, p.heads_q, heads_kv, err);
        failed = 1;
    }
    char detail[256] = "";
    size_t used = 0;
    for (int i = 0; i < GT_OUT_COUNT && !failed; i++) {
        size_t worst;
        double e = gt_error_ratio(folded[i], whole[i], out_n[i], i == GT_LSE ? LC_FP32 : LC_BF16, &worst);
        used += (size_t)snprintf(detail + used, sizeof detail - used, " %s %.2f", gt_out_name[i], e);
        if (!(e <= 1)) {
            printf("    %s: worst at %zu: folded %.6g whole %.6g\n", gt_out_name[i], worst, folded[i][worst],
                   whole[i][worst]);
            failed = 1;
        }
    }
    if (used) printf("%-4s %-9s %d:%d %d blocks folded vs whole (error / allowance:%s)\n", failed ? "FAIL" : "pass",
                     ops->name, p.heads_q, heads_kv, BLOCKS, detail);
    for (int i = 0; i < GT_IN_COUNT; i++) free(in[i]);
    for (int i = 0; i < GT_OUT_COUNT; i++) free(whole[i]), free(folded[i]);
    mask_view_free(&view);
    mask_free(&m);
    return failed;
}

int main(void)
{
    kernels_register_all(NULL);
    int rc = gpu_open_or_skip();
    if (rc) return rc;
    const char *names[] = {"flash", "flash_mma"};
    const int heads_kv[] = {8, 2};
    int failed = 0;
    for (int k = 0; k < 2; k++)
        for (int h = 0; h < 2; h++) failed += check_fold(kernel_find(names[k]), heads_kv[h]);
    printf("%s\n", failed ? "FAILED" : "all folds equal the whole calls");
    return failed ? 1 : 0;
}
