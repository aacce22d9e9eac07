/* Registers every kernel this build has into core's registry (CPU always, CUDA when built), each
 * through the same table a plugin gives (kernels/longca_kernel.h). */
#ifndef LC_KERNELS_H
#define LC_KERNELS_H

#include "core/model/status.h"

enum lc_status kernels_register_all(char *err);

#endif
