/* The elementwise work CP does between attention kernels (packing for all-to-all, accumulating
 * gradients in fp32, merging partial results), on the device's buffers: plain loops on the CPU
 * backend, kernels on the compute stream on GPUs (cp/cuda/). Layouts follow core/engine/kernel.h:
 * O and friends are [batch, rows, heads, head_dim], LSE is fp32 [batch, heads, rows]. */
#ifndef LC_CP_ARRAY_H
#define LC_CP_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/engine/device.h"
#include "core/model/dtype.h"
#include "core/model/status.h"

#define CP_MAX_HEAD_DIM 512 /* run_spec_validate's bound */

struct cp_array_ops {
    /* dst[r * dst_ld + c] = src[r * src_ld + c] (or += with accumulate, which needs an fp32
     * dst) for r < rows, c < cols, converting between dtypes. Strides and cols in elements. */
    enum lc_status (*copy2d)(void *dst, enum lc_dtype dst_type, size_t dst_ld, const void *src,
                             enum lc_dtype src_type, size_t src_ld, size_t cols, size_t rows, bool accumulate,
                             char *err);
    enum lc_status (*fill_f32)(float *dst, size_t n, float value, char *err);
    /* Folds a partial result (o normalized over its key block, lse) into the running fp32
     * (acc_o, acc_lse), as cp/lse_merge.c. Start from acc_o = 0, acc_lse = -inf. */
    enum lc_status (*lse_merge)(float *acc_o, float *acc_lse, const void *part_o, enum lc_dtype part_type,
                                const float *part_lse, int batch, int64_t rows, int heads, int head_dim, char *err);
};

extern const struct cp_array_ops cp_array_host; /* cp/array_cpu.c */
#ifdef LONGCA_HAVE_CUDA
extern const struct cp_array_ops cp_array_cuda; /* cp/cuda/array_cuda.c, on the CUDA device's stream */
#endif

/* The table for dev: the host one on the CPU backend; LC_ERR_UNSUPPORTED where none is built. */
enum lc_status cp_array_ops_for(const struct device_ops *dev, const struct cp_array_ops **out, char *err);

/* The host merge (cp/lse_merge.c), exposed for its test. */
void cp_lse_merge_host(float *acc_o, float *acc_lse, const void *part_o, enum lc_dtype part_type,
                       const float *part_lse, int batch, int64_t rows, int heads, int head_dim);

#endif
