/* The CUDA backend as the rest of longca sees it: the device table and the kernels' tables
 * (registered by kernels/kernels.c when built with CUDA). */
#ifndef LC_CUDA_BACKEND_H
#define LC_CUDA_BACKEND_H

#include "core/engine/device.h"
#include "core/engine/kernel.h"
#include "core/model/spec.h" /* enum run_direction */

extern const struct device_ops device_cuda;     /* kernels/cuda/device_cuda.c */
extern const struct longca_kernel kernel_naive;    /* "naive": cuBLAS QK^T, masked softmax, cuBLAS PV */
extern const struct longca_kernel kernel_flash;     /* "flash": fused attention on wgmma (sm_90a), fwd + bwd */
extern const struct longca_kernel kernel_flash_mma; /* "flash_mma": the same on mma.sync (FlashAttention-2 design) */

#endif
