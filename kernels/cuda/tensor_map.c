/* Tensor maps through the driver entry point: the runtime looks the function up once. */
#include "kernels/cuda/tensor_map.h"

#include <cuda_runtime_api.h>
#include <cudaTypedefs.h>

static PFN_cuTensorMapEncodeTiled_v12000 encode_fn(void)
{
    static PFN_cuTensorMapEncodeTiled_v12000 fn;
    if (!fn) {
        void *p = NULL;
        enum cudaDriverEntryPointQueryResult found;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &found) ==
                cudaSuccess &&
            found == cudaDriverEntryPointSuccess)
            fn = (PFN_cuTensorMapEncodeTiled_v12000)p;
    }
    return fn;
}

/* [batch, seqlen, heads, head_dim] of elem_bytes-byte elements, boxes of box_rows positions of one
 * head and box_cols elements (128 bytes), 128-byte swizzled. */
static enum lc_status encode_bshd(CUtensorMap *map, CUtensorMapDataType type, int elem_bytes, const void *base,
                                  int batch, int64_t seqlen, int heads, int head_dim, int box_rows, int box_cols,
                                  char *err)
{
    PFN_cuTensorMapEncodeTiled_v12000 encode = encode_fn();
    if (!encode) return lc_fail(err, LC_ERR_DEVICE, "the driver has no cuTensorMapEncodeTiled");
    /* innermost first: dims, heads, positions, batch */
    const cuuint64_t dims[4] = {(cuuint64_t)head_dim, (cuuint64_t)heads, (cuuint64_t)seqlen, (cuuint64_t)batch};
    const cuuint64_t row = (cuuint64_t)head_dim * (cuuint64_t)elem_bytes;
    const cuuint64_t strides[3] = {row, row * (cuuint64_t)heads, row * (cuuint64_t)heads * (cuuint64_t)seqlen};
    const cuuint32_t box[4] = {(cuuint32_t)box_cols, 1, (cuuint32_t)box_rows, 1};
    const cuuint32_t step[4] = {1, 1, 1, 1};
    CUresult r = encode(map, type, 4, (void *)base, dims, strides, box, step, CU_TENSOR_MAP_INTERLEAVE_NONE,
                        CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS)
        return lc_fail(err, LC_ERR_DEVICE, "cuTensorMapEncodeTiled failed (%d) for a [%d, %lld, %d, %d] tensor",
                       (int)r, batch, (long long)seqlen, heads, head_dim);
    return LC_OK;
}

enum lc_status tensor_map_bshd(CUtensorMap *map, const void *base, int batch, int64_t seqlen, int heads, int head_dim,
                               int box_rows, char *err)
{
    return encode_bshd(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, base, batch, seqlen, heads, head_dim, box_rows, 64, err);
}

enum lc_status tensor_map_bshd_f32(CUtensorMap *map, const float *base, int batch, int64_t seqlen, int heads,
                                   int head_dim, int box_rows, char *err)
{
    return encode_bshd(map, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 4, base, batch, seqlen, heads, head_dim, box_rows, 32,
                       err);
}
