/* Kernel classification and short names, on symbols g++ mangled and names CUPTI reports. */
#include <stdio.h>
#include <string.h>

#include "profiling/kernel_names.h"

static int failures;

static void expect_name(const char *mangled, size_t len, const char *want)
{
    char out[LC_IV_NAME_LEN];
    prof_kernel_short_name(mangled, out, len);
    if (strcmp(out, want) != 0) {
        fprintf(stderr, "short name of %s (len %zu): got \"%s\", want \"%s\"\n", mangled, len, out, want);
        failures++;
    }
}

static void expect_kind(const char *name, enum interval_kind want)
{
    enum interval_kind got = prof_kernel_kind(name);
    if (got != want) {
        fprintf(stderr, "kind of %s: got %s, want %s\n", name, interval_kind_name(got), interval_kind_name(want));
        failures++;
    }
}

int main(void)
{
    expect_name("_Z31ncclDevKernel_AllGather_RING_LL24ncclDevKernelArgsStorageILm4096EE", 48,
                "ncclDevKernel_AllGather_RING_LL");
    expect_name("_ZN5flash16flash_fwd_kernelILi128ELi64EEEvPi", 48, "flash::flash_fwd_kernel");
    expect_name("_Z15attn_fwd_kernelILi128ELb1EEvPKs", 48, "attn_fwd_kernel");
    expect_name("_ZL12local_kerneli", 48, "local_kernel");
    expect_name("_ZN12_GLOBAL__N_111anon_kernelEf", 48, "(anonymous namespace)::anon_kernel");
    expect_name("_ZN6longca2cp16ring_step_kernelIfEEvT_", 48, "longca::cp::ring_step_kernel");
    /* Too long: leading scopes go first, then the last one is cut. */
    expect_name("_ZN6longca2cp16ring_step_kernelIfEEvT_", 21, "cp::ring_step_kernel");
    expect_name("_ZN6longca2cp16ring_step_kernelIfEEvT_", 20, "ring_step_kernel");
    expect_name("_ZN6longca2cp16ring_step_kernelIfEEvT_", 8, "ring_st");
    /* Template arguments holding identifiers with 'E' and nested names. */
    expect_name("_ZN4cute10gemm_Etile12kernel_EntryINS_5ShapeILi64EEELb0EEEvv", 48, "cute::gemm_Etile::kernel_Entry");
    /* Not mangled, or beyond this reader: copied. */
    expect_name("Memcpy DtoD (Device -> Device)", 48, "Memcpy DtoD (Device -> Device)");
    /* A timeline name holds a vendor kernel's whole name, its configuration included. */
    expect_name("cudnn_generated_fort_native_sdpa_sm90_flash_bprop_wgmma_f16_knob_26_64x64x128_1x4x1_cga1x1x1_kernel0_0",
                LC_IV_NAME_LEN,
                "cudnn_generated_fort_native_sdpa_sm90_flash_bprop_wgmma_f16_knob_26_64x64x128_1x4x1_cga1x1x1_kernel0_0");
    expect_name("_ZN2ab3cdeC1Ev", 48, "_ZN2ab3cdeC1Ev");
    expect_name("_Z99short", 48, "_Z99short");
    expect_name("_ZN", 48, "_ZN");

    expect_kind("_Z31ncclDevKernel_AllGather_RING_LL24ncclDevKernelArgsStorageILm4096EE", IV_COMM);
    expect_kind("ncclDevKernel_SendRecv", IV_COMM);
    expect_kind("_Z30ncclSymkDevKernel_AllGather_LL", IV_COMM);
    expect_kind("ncclKernel_AllReduce_RING_LL_Sum_float", IV_COMM);
    expect_kind("Memcpy HtoD (Pageable -> Device)", IV_MEMORY);
    expect_kind("Memset (Device)", IV_MEMORY);
    expect_kind("_ZN3cub17DeviceMemcpyKernelEv", IV_MEMORY);
    expect_kind("_ZN5flash16flash_fwd_kernelILi128ELi64EEEvPi", IV_COMPUTE);
    expect_kind("attn_fwd", IV_COMPUTE);
    expect_kind("mem", IV_COMPUTE);

    if (failures) {
        fprintf(stderr, "test_kernel_names: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_kernel_names: all checks passed\n");
    return 0;
}
