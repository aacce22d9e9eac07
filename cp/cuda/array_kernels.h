/* Launchers of CP's elementwise kernels (cp/cuda/array_kernels.cu) on a given stream; each
 * returns the cudaError_t of the launch as an int (0 = success). */
#ifndef LC_CP_ARRAY_KERNELS_H
#define LC_CP_ARRAY_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/model/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

int cp_cuda_copy2d(void *dst, enum lc_dtype dst_type, size_t dst_ld, const void *src, enum lc_dtype src_type,
                   size_t src_ld, size_t cols, size_t rows, int accumulate, void *stream);
int cp_cuda_fill_f32(float *dst, size_t n, float value, void *stream);
int cp_cuda_lse_merge(float *acc_o, float *acc_lse, const void *part_o, enum lc_dtype part_type, const float *part_lse,
                      int batch, int64_t rows, int heads, int head_dim, void *stream);

#ifdef __cplusplus
}
#endif

#endif
