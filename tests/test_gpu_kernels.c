/* Every CUDA kernel (naive, flash, flash_mma) on every mask (12 static, 2 block-sparse), forward and
 * backward, equals the CPU reference cpu_ref at small sizes: GQA and MHA, bf16 and fp16, head
 * dims 128 and 64, sequence lengths that are not multiples of any tile, batch 2. Outputs are
 * poisoned with NaN before each run. LONGCA_GPU_TEST_QUICK=1 runs a few cases (for
 * compute-sanitizer). Skipped (77) where no GPU is visible. */
#include "tests/gpu_test_util.h"
#include "core/mask/mask_view.h"

struct config {
    int64_t seqlen;
    int batch, heads_q, heads_kv, head_dim;
    enum lc_dtype dtype;
    bool deterministic;
};

static const struct config configs[] = {
    {1000, 1, 4, 2, 128, LC_BF16, false},
    {517, 2, 2, 2, 64, LC_FP16, true},
    {777, 1, 4, 2, 64, LC_FP16, false}, /* GQA at d = 64: fine lists run paired */
    {1111, 1, 4, 1, 128, LC_FP16, true}, /* deterministic fp16 at d = 128, GQA 4:1 */
};

/* compute-sanitizer runs (LONGCA_GPU_TEST_QUICK): small, GQA 2:1; the deterministic backward on
 * four masks, and the default one on block_sparse (B = 64), whose key tiles' halves run apart */
static const struct quick_case {
    struct config c;
    enum mask_pattern mask;
} quick_cases[] = {
    {{300, 1, 2, 1, 128, LC_BF16, true}, MASK_FULL},
    {{300, 1, 2, 1, 128, LC_BF16, true}, MASK_CAUSAL},
    {{300, 1, 2, 1, 128, LC_BF16, true}, MASK_CAUSAL_DOCUMENT},
    {{300, 1, 2, 1, 128, LC_BF16, true}, MASK_BLOCK_SPARSE},
    {{300, 1, 2, 1, 128, LC_BF16, false}, MASK_BLOCK_SPARSE},
};

static const char *const kernel_names[] = {"naive", "flash", "flash_mma"};
#define N_KERNELS 3

/* Compares outputs [first, last) of a GPU run with the reference; prints the worst one. */
static bool outputs_pass(const char *label, const struct longca_problem *p, float *got[], float *want[], int first,
                         int last, const size_t out_n[])
{
    bool pass = true;
    char detail[256] = "";
    size_t used = 0;
    for (int i = first; i < last; i++) {
        size_t worst;
        double e = gt_error_ratio(got[i], want[i], out_n[i], i == GT_LSE ? LC_FP32 : p->dtype, &worst);
        used += (size_t)snprintf(detail + used, sizeof detail - used, " %s %.2f", gt_out_name[i], e);
        if (e > 1) {
            pass = false;
            printf("    %s: %s worst at %zu: got %.6g want %.6g\n", label, gt_out_name[i], worst, got[i][worst],
                   want[i][worst]);
        }
    }
    printf("  %-4s %s  (error / allowance:%s)\n", pass ? "pass" : "FAIL", label, detail);
    return pass;
}

int main(void)
{
    int skip = gpu_open_or_skip();
    if (skip) return skip;
    kernels_register_all(NULL);
    const struct longca_kernel *ref = kernel_find(KERNEL_REFERENCE_NAME);
    if (!ref) {
        printf("FAIL: %s is not registered\n", KERNEL_REFERENCE_NAME);
        return 1;
    }
    const bool quick = getenv("LONGCA_GPU_TEST_QUICK") != NULL;
    const int n_masks = quick ? (int)(sizeof quick_cases / sizeof *quick_cases) : MASK_PATTERN_COUNT;
    const int n_configs = quick ? 1 : (int)(sizeof configs / sizeof *configs);
    int cases = 0, failed = 0;
    for (int ci = 0; ci < n_configs; ci++)
        for (int mi = 0; mi < n_masks; mi++) {
            const struct config *c = quick ? &quick_cases[mi].c : &configs[ci];
            const enum mask_pattern pat = quick ? quick_cases[mi].mask : (enum mask_pattern)mi;
            struct mask m;
            struct longca_mask view;
            if (gt_build_mask(pat, c->seqlen, c->heads_kv, &m, &view)) {
                failed++;
                continue;
            }
            struct longca_problem p = {c->batch, c->heads_q, c->heads_kv, c->head_dim, c->seqlen, c->seqlen,
                                     c->dtype, (float)(1.0 / sqrt((double)c->head_dim)), &view, c->deterministic};
            size_t in_n[GT_IN_COUNT], out_n[GT_OUT_COUNT];
            gt_sizes(&p, in_n, out_n);
            float *in[GT_IN_COUNT], *want[GT_OUT_COUNT], *got[GT_OUT_COUNT];
            for (int i = 0; i < GT_IN_COUNT; i++) {
                in[i] = test_alloc(in_n[i] * 4);
                test_fill(in[i], in_n[i], (uint64_t)(1000 * ci + mi + 1), (uint64_t)i + 1, i == GT_Q ? 2.0f : 1.0f,
                          c->dtype);
            }
            for (int i = 0; i < GT_OUT_COUNT; i++) {
                want[i] = test_alloc(out_n[i] * 4);
                got[i] = test_alloc(out_n[i] * 4);
            }
            struct longca_problem p_ref = p;
            p_ref.dtype = LC_FP32; /* inputs already hold dtype-rounded values */
            printf("%s S=%lld b=%d h=%d:%d d=%d %s%s\n", mask_pattern_name(pat), (long long)c->seqlen, c->batch,
                   c->heads_q, c->heads_kv, c->head_dim, dtype_name(c->dtype), c->deterministic ? " deterministic" : "");
            if (test_run_kernel(ref, &p_ref, in[GT_Q], in[GT_K], in[GT_V], in[GT_DO], want[GT_O], want[GT_LSE],
                                want[GT_DQ], want[GT_DK], want[GT_DV])) {
                printf("FAIL: reference failed\n");
                failed++;
            } else {
                for (int k = 0; k < N_KERNELS; k++) {
                    const struct longca_kernel *ops = kernel_find(kernel_names[k]);
                    char err[LC_ERRMSG_LEN] = "", label[64];
                    cases += 2;
                    if (!ops) {
                        printf("  FAIL %s is not registered\n", kernel_names[k]);
                        failed += 2;
                        continue;
                    }
                    enum lc_status st = gpu_run_kernel(ops, &p, in, got, true, err);
                    if (st) {
                        printf("  FAIL %s: %s\n", kernel_names[k], err);
                        failed += 2;
                        continue;
                    }
                    snprintf(label, sizeof label, "%s fwd", kernel_names[k]);
                    failed += !outputs_pass(label, &p, got, want, GT_O, GT_DQ, out_n);
                    snprintf(label, sizeof label, "%s bwd", kernel_names[k]);
                    failed += !outputs_pass(label, &p, got, want, GT_DQ, GT_OUT_COUNT, out_n);
                }
            }
            for (int i = 0; i < GT_IN_COUNT; i++) free(in[i]);
            for (int i = 0; i < GT_OUT_COUNT; i++) free(want[i]), free(got[i]);
            mask_view_free(&view);
            mask_free(&m);
        }
    device_cuda.close();
    printf("%d of %d kernel x mask x direction checks passed\n", cases - failed, cases);
    return failed ? 1 : 0;
}
