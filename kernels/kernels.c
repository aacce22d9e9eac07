#include "kernels/kernels.h"

#include "core/engine/kernel.h"
#include "kernels/cpu/cpu_kernels.h"
#ifdef LONGCA_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

void kernels_register_all(void)
{
    /* CPU kernels exist in every build; the reference first, so listings lead with it. */
    kernel_register(&kernel_cpu_ref);
    kernel_register(&kernel_cpu_flash);
#ifdef LONGCA_HAVE_CUDA
    /* The CUDA device and its kernels: registered in every CUDA build, the device answers
     * count() == 0 where no GPU or driver is present. */
    device_register(&device_cuda);
    kernel_register(&kernel_flash);
    kernel_register(&kernel_flash_mma);
    kernel_register(&kernel_naive);
#endif
}
