/* The host version of CP's elementwise work (cp/array.h). */
#include <string.h>

#include "cp/array.h"

#define CHUNK 256 /* elements converted through the stack at a time */

static enum lc_status host_copy2d(void *dst, enum lc_dtype dst_type, size_t dst_ld, const void *src,
                                  enum lc_dtype src_type, size_t src_ld, size_t cols, size_t rows, bool accumulate,
                                  char *err)
{
    if (accumulate && dst_type != LC_FP32) return lc_fail(err, LC_ERR_INTERNAL, "copy2d: accumulating into a %s buffer", dtype_name(dst_type));
    const size_t dsize = dtype_size(dst_type), ssize = dtype_size(src_type);
    const int64_t n_rows = (int64_t)rows;
#pragma omp parallel for schedule(static) if (rows * cols > (1u << 16))
    for (int64_t r = 0; r < n_rows; r++) {
        char *d = (char *)dst + (size_t)r * dst_ld * dsize;
        const char *s = (const char *)src + (size_t)r * src_ld * ssize;
        if (!accumulate && dst_type == src_type) {
            memcpy(d, s, cols * dsize);
            continue;
        }
        float tmp[CHUNK];
        for (size_t c0 = 0; c0 < cols; c0 += CHUNK) {
            size_t n = cols - c0 < CHUNK ? cols - c0 : CHUNK;
            dtype_to_f32(src_type, tmp, s + c0 * ssize, n);
            if (accumulate) {
                float *df = (float *)d + c0;
                for (size_t c = 0; c < n; c++) df[c] += tmp[c];
            } else {
                dtype_from_f32(dst_type, d + c0 * dsize, tmp, n);
            }
        }
    }
    return LC_OK;
}

static enum lc_status host_fill_f32(float *dst, size_t n, float value, char *err)
{
    for (size_t i = 0; i < n; i++) dst[i] = value;
    return LC_OK;
}

static enum lc_status host_lse_merge(float *acc_o, float *acc_lse, const void *part_o, enum lc_dtype part_type,
                                     const float *part_lse, int batch, int64_t rows, int heads, int head_dim, char *err)
{
    if (head_dim > CP_MAX_HEAD_DIM) return lc_fail(err, LC_ERR_UNSUPPORTED, "LSE merge: head dim %d above %d", head_dim, CP_MAX_HEAD_DIM);
    cp_lse_merge_host(acc_o, acc_lse, part_o, part_type, part_lse, batch, rows, heads, head_dim);
    return LC_OK;
}

const struct cp_array_ops cp_array_host = {
    .copy2d = host_copy2d,
    .fill_f32 = host_fill_f32,
    .lse_merge = host_lse_merge,
};
