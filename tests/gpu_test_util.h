/* Helpers of the GPU kernel tests: skip without a GPU, run a CUDA kernel on host fp32 values
 * (outputs poisoned with NaN first, so an unwritten element fails), masks with small
 * parameters, and the check's comparison rule. */
#ifndef LC_GPU_TEST_UTIL_H
#define LC_GPU_TEST_UTIL_H

#include "tests/attn_test_util.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/kernels.h"

/* Opens GPU 0, or prints why not and returns 77 (ctest's skip code). */
static inline int gpu_open_or_skip(void)
{
    char describe[128] = "", err[LC_ERRMSG_LEN] = "";
    if (device_cuda.count() == 0) {
        printf("SKIP: no CUDA GPU visible to this process (driver missing or no device)\n");
        return 77;
    }
    if (device_cuda.open(0, describe, sizeof describe, err) != LC_OK) {
        printf("SKIP: GPU 0 cannot be used: %s\n", err);
        return 77;
    }
    printf("GPU: %s\n", describe);
    return 0;
}

enum { GT_Q, GT_K, GT_V, GT_DO, GT_IN_COUNT };
enum { GT_O, GT_LSE, GT_DQ, GT_DK, GT_DV, GT_OUT_COUNT };
static const char *const gt_out_name[GT_OUT_COUNT] = {"O", "LSE", "dQ", "dK", "dV"};

static inline void gt_sizes(const struct longca_problem *p, size_t in_n[GT_IN_COUNT], size_t out_n[GT_OUT_COUNT])
{
    size_t qn = (size_t)p->batch * p->seqlen_q * p->heads_q * p->head_dim;
    size_t kn = (size_t)p->batch * p->seqlen_k * p->heads_kv * p->head_dim;
    in_n[GT_Q] = qn, in_n[GT_K] = kn, in_n[GT_V] = kn, in_n[GT_DO] = qn;
    out_n[GT_O] = qn, out_n[GT_LSE] = (size_t)p->batch * p->heads_q * p->seqlen_q;
    out_n[GT_DQ] = qn, out_n[GT_DK] = kn, out_n[GT_DV] = kn;
}

/* Runs a CUDA kernel forward (and backward when bwd) on fp32 host inputs converted to p->dtype.
 * Fills out[] (fp32) and returns LC_OK, or the failing status with err. */
static inline enum lc_status gpu_run_kernel(const struct longca_kernel *ops, const struct longca_problem *p,
                                            float *const in[GT_IN_COUNT], float *out[GT_OUT_COUNT], bool bwd, char *err)
{
    const struct device_ops *dev = &device_cuda;
    size_t in_n[GT_IN_COUNT], out_n[GT_OUT_COUNT];
    gt_sizes(p, in_n, out_n);
    const size_t es = dtype_size(p->dtype);
    void *din[GT_IN_COUNT] = {0}, *dout[GT_OUT_COUNT] = {0}, *plan = NULL, *ws = NULL;
    size_t ws_bytes = 0;
    enum lc_status st = LC_OK;
    const int n_in = bwd ? GT_IN_COUNT : GT_DO, n_out = bwd ? GT_OUT_COUNT : GT_DQ;
    for (int i = 0; i < n_in && !st; i++) {
        void *host = test_alloc(in_n[i] * es);
        dtype_from_f32(p->dtype, host, in[i], in_n[i]);
        st = dev->alloc(in_n[i] * es, &din[i], err);
        if (!st) st = dev->upload(din[i], host, in_n[i] * es, err);
        free(host);
    }
    for (int i = 0; i < n_out && !st; i++) {
        size_t bytes = out_n[i] * (i == GT_LSE ? 4 : es);
        st = dev->alloc(bytes, &dout[i], err);
        if (!st) st = dev->fill_nan(dout[i], bytes, err);
    }
    if (!st) st = kernel_plan(ops, p, bwd ? DIR_FWD_BWD : DIR_FWD, &plan, &ws_bytes, err);
    if (!st && ws_bytes) st = dev->alloc(ws_bytes, &ws, err);
    struct longca_tensors t = {.q = din[GT_Q], .k = din[GT_K], .v = din[GT_V], .o = dout[GT_O], .lse = dout[GT_LSE],
                             .d_o = din[GT_DO], .dq = dout[GT_DQ], .dk = dout[GT_DK], .dv = dout[GT_DV]};
    if (!st) st = kernel_forward(ops, plan, &t, ws, device_cuda.stream(), err);
    if (!st && bwd) st = kernel_backward(ops, plan, &t, ws, device_cuda.stream(), err);
    if (!st) st = dev->sync(err);
    for (int i = 0; i < n_out && !st; i++) {
        size_t bytes = out_n[i] * (i == GT_LSE ? 4 : es);
        void *host = test_alloc(bytes);
        st = dev->download(host, dout[i], bytes, err);
        if (i == GT_LSE) memcpy(out[i], host, bytes);
        else dtype_to_f32(p->dtype, out[i], host, out_n[i]);
        free(host);
    }
    if (plan) kernel_destroy(ops, plan);
    dev->free(ws);
    for (int i = 0; i < GT_IN_COUNT; i++) dev->free(din[i]);
    for (int i = 0; i < GT_OUT_COUNT; i++) dev->free(dout[i]);
    return st;
}

/* The check's rule: |got - want| <= atol * max(1, max|want|) + rtol * |want|. Returns the
 * worst ratio of error to allowance (<= 1 passes). */
static inline double gt_error_ratio(const float *got, const float *want_f, size_t n, enum lc_dtype dtype,
                                    size_t *worst)
{
    double atol, rtol, ref_max = 0;
    dtype_tolerance(dtype, &atol, &rtol);
    for (size_t i = 0; i < n; i++)
        if (isfinite(want_f[i]) && fabs(want_f[i]) > ref_max) ref_max = fabs(want_f[i]);
    double *want = test_to_double(want_f, n);
    double e = test_error_ratio(got, want, n, atol * (ref_max > 1 ? ref_max : 1), rtol, worst);
    free(want);
    return e;
}

/* A mask with parameters scaled to S, so windows, prefixes and blocks cross tile edges. */
static inline int gt_build_mask(enum mask_pattern pat, int64_t seqlen, int heads_kv, struct mask *m,
                                struct longca_mask *v)
{
    struct mask_params params = {.window = seqlen / 9, .global_tokens = seqlen / 15, .seed = 11, .density = 0.4};
    if (pat == MASK_BLOCK_CAUSAL_DOCUMENT) params.block = seqlen / 12;
    if (pat == MASK_VARIABLE_BLOCK_SPARSE) params.block = 256;
    return test_build_mask(pat, &params, seqlen, heads_kv, m, v);
}

#endif
