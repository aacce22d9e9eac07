/* A plugin built for another kernel ABI version: longca must refuse it with one line. */
#include "longca_kernel.h"

unsigned longca_kernel_abi(void) { return LONGCA_KERNEL_ABI_VERSION + 41; }

const struct longca_kernel *longca_kernel_get(int index) { return 0; }
