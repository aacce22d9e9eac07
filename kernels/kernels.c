#include "kernels/kernels.h"

#include "core/engine/kernel.h"
#include "kernels/cpu/cpu_kernels.h"
#ifdef LONGCA_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

enum lc_status kernels_register_all(char *err)
{
    /* CPU kernels exist in every build; the reference first, so listings lead with it. */
    const struct longca_kernel *builtin[] = {
        &kernel_cpu_ref, &kernel_cpu_flash,
#ifdef LONGCA_HAVE_CUDA
        &kernel_flash, &kernel_flash_mma, &kernel_naive,
#endif
    };
#ifdef LONGCA_HAVE_CUDA
    /* The CUDA device: registered in every CUDA build, it answers count() == 0 where no GPU or
     * driver is present. */
    device_register(&device_cuda);
#endif
    for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++) {
        enum lc_status st = kernel_register(builtin[i], NULL, err);
        if (st) return st;
    }
    return LC_OK;
}
