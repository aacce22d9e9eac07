/* A plugin missing longca_kernel_get: longca must name the symbol and refuse it. */
#include "longca_kernel.h"

unsigned longca_kernel_abi(void) { return LONGCA_KERNEL_ABI_VERSION; }
