/* Tensor maps for the bulk tensor copy engine (TMA), encoded on the host by the driver's
 * cuTensorMapEncodeTiled, reached through the runtime (libcuda is never linked). */
#ifndef LC_TENSOR_MAP_H
#define LC_TENSOR_MAP_H

#include <cuda.h>
#include <stdint.h>

#include "core/model/status.h"

/* A map of a [batch, seqlen, heads, head_dim] tensor of 2-byte elements whose boxes are
 * box_rows positions of one head and 64 dims (128 bytes), 128-byte swizzled: the layout wgmma's
 * swizzled descriptors read. Boxes reaching past seqlen are zero-filled. */
enum lc_status tensor_map_bshd(CUtensorMap *map, const void *base, int batch, int64_t seqlen, int heads, int head_dim,
                               int box_rows, char *err);

/* The same for fp32 [batch, seqlen, heads, head_dim] (the backward's dQ accumulator): boxes of
 * box_rows positions and 32 elements (128 bytes), 128-byte swizzled, for bulk reduce-adds into it;
 * rows past seqlen are skipped. */
enum lc_status tensor_map_bshd_f32(CUtensorMap *map, const float *base, int batch, int64_t seqlen, int heads,
                                   int head_dim, int box_rows, char *err);

#endif
