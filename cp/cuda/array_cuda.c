/* CP's elementwise work on the CUDA device's compute stream (cp/array.h). */
#include <cuda_runtime.h>

#include "cp/array.h"
#include "cp/cuda/array_kernels.h"
#include "kernels/cuda/cuda_backend.h"

static enum lc_status launched(int rc, const char *what, char *err)
{
    if (rc == 0) return LC_OK;
    return lc_fail(err, LC_ERR_DEVICE, "%s: %s", what, cudaGetErrorString((cudaError_t)rc));
}

static enum lc_status cuda_copy2d(void *dst, enum lc_dtype dst_type, size_t dst_ld, const void *src,
                                  enum lc_dtype src_type, size_t src_ld, size_t cols, size_t rows, bool accumulate,
                                  char *err)
{
    if (accumulate && dst_type != LC_FP32) return lc_fail(err, LC_ERR_INTERNAL, "copy2d: accumulating into a %s buffer", dtype_name(dst_type));
    return launched(cp_cuda_copy2d(dst, dst_type, dst_ld, src, src_type, src_ld, cols, rows, accumulate, device_cuda.stream()),
                    "CP copy", err);
}

static enum lc_status cuda_fill_f32(float *dst, size_t n, float value, char *err)
{
    return launched(cp_cuda_fill_f32(dst, n, value, device_cuda.stream()), "CP fill", err);
}

static enum lc_status cuda_lse_merge(float *acc_o, float *acc_lse, const void *part_o, enum lc_dtype part_type,
                                     const float *part_lse, int batch, int64_t rows, int heads, int head_dim, char *err)
{
    return launched(cp_cuda_lse_merge(acc_o, acc_lse, part_o, part_type, part_lse, batch, rows, heads, head_dim,
                                      device_cuda.stream()),
                    "LSE merge", err);
}

const struct cp_array_ops cp_array_cuda = {
    .copy2d = cuda_copy2d,
    .fill_f32 = cuda_fill_f32,
    .lse_merge = cuda_lse_merge,
};
