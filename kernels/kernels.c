#include "kernels/kernels.h"

#include "core/kernel.h"
#include "kernels/cpu_kernels.h"

void kernels_register_all(void)
{
    /* CPU kernels exist in every build; the reference first, so listings lead with it. */
    kernel_register(&kernel_cpu_ref);
    kernel_register(&kernel_cpu_flash);
    /* GPU kernels (kernels/cuda/) follow, under #ifdef LONGCA_HAVE_CUDA. */
}
