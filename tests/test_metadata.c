/* A GPU worker's hello names its stack: driver and CUDA from the device, NCCL from the
 * communication layer, cuDNN from the kernel that loads it (the cudnn plugin names "cuDNN X.Y.Z"
 * as its version); without such a kernel no cuDNN runs and the header says null. Checked with a
 * stand-in device and kernel, since the machine may have no GPU. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "core/engine/kernel.h"
#include "core/io/metadata.h"

static void stand_in_versions(char *driver, size_t driver_len, char *cuda, size_t cuda_len)
{
    snprintf(driver, driver_len, "580.65.06");
    snprintf(cuda, cuda_len, "13.0");
}

static int stand_in_plan(const struct longca_problem *p, unsigned directions, void **plan, size_t *workspace,
                         char *message)
{
    return LONGCA_ERR_UNSUPPORTED;
}
static int stand_in_forward(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *message)
{
    return LONGCA_ERR_UNSUPPORTED;
}
static void stand_in_destroy(void *plan) {}

/* The header's workers array as metadata_write_json prints it for this hello. */
static char *header_of(const struct ev_hello *hello)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    struct event session;
    metadata_session(&session);
    int rank = 1;
    metadata_write_json(f, &session.u.session, hello, &rank, 1);
    fclose(f);
    return text;
}

int main(void)
{
    const struct device_ops gpu = {.name = "cuda", .kind = DEVICE_CUDA, .stack_versions = stand_in_versions};
    struct ev_hello hello;
    memset(&hello, 0, sizeof hello);
    metadata_fill_stack(&hello, &gpu);
    CHECK(!strcmp(hello.driver, "580.65.06") && !strcmp(hello.cuda, "13.0"), "%s %s", hello.driver, hello.cuda);
    CHECK(hello.cudnn[0] == 0, "cuDNN '%s' with no kernel running one", hello.cudnn);
    char *header = header_of(&hello);
    CHECK(header && strstr(header, "\"cuda\":\"13.0\"") && strstr(header, "\"cudnn\":null"), "%s", header);
    free(header);

    const struct longca_kernel cudnn = {
        .abi_version = LONGCA_KERNEL_ABI_VERSION, .name = "stand_in_cudnn", .summary = "a stand-in",
        .version = "cuDNN 9.19.0 (/usr/lib/libcudnn.so.9)", .device = LONGCA_DEVICE_CUDA,
        .dtypes = 1u << LC_BF16, .directions = LONGCA_FWD, .mask_forms = LONGCA_FORM_DOCUMENTS,
        .plan = stand_in_plan, .forward = stand_in_forward, .destroy = stand_in_destroy};
    char err[LC_ERRMSG_LEN];
    CHECK(kernel_register(&cudnn, NULL, err) == LC_OK, "%s", err);
    memset(&hello, 0, sizeof hello);
    metadata_fill_stack(&hello, &gpu);
    CHECK(!strcmp(hello.cudnn, "9.19.0"), "cuDNN '%s'", hello.cudnn);
    header = header_of(&hello);
    CHECK(header && strstr(header, "\"cudnn\":\"9.19.0\""), "%s", header);
    free(header);
    return check_report("metadata");
}
