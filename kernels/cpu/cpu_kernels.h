/* The CPU kernels' tables, registered by kernels_register_all (kernels/kernels.c). */
#ifndef LC_CPU_KERNELS_H
#define LC_CPU_KERNELS_H

#include "core/engine/kernel.h"

extern const struct kernel_ops kernel_cpu_ref;   /* "cpu_ref": the reference (kernels/cpu/cpu_ref.c) */
extern const struct kernel_ops kernel_cpu_flash; /* "cpu": tiled online softmax (kernels/cpu/cpu_flash.c) */

#endif
