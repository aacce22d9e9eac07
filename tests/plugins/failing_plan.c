/* A plugin whose plan always fails: the run reports the kernel's name and message. */
#include <stdio.h>

#include "longca_kernel.h"

static int plan(const struct longca_problem *p, unsigned directions, void **out, size_t *workspace_bytes,
                char *message)
{
    snprintf(message, LONGCA_MESSAGE_LEN, "refuses every problem (a test of plan failures)");
    return LONGCA_ERR_INVALID;
}

static int never(void *plan, const struct longca_tensors *t, void *workspace, void *stream, char *message)
{
    return LONGCA_ERR_INTERNAL;
}

static void destroy(void *plan) {}

static const struct longca_kernel failing = {
    .abi_version = LONGCA_KERNEL_ABI_VERSION,
    .name = "failing_plan",
    .summary = "test plugin: plan fails",
    .device = LONGCA_DEVICE_CPU,
    .dtypes = LONGCA_DTYPE_BIT(LONGCA_FP32),
    .directions = LONGCA_FWD,
    .mask_forms = LONGCA_FORM_RULES,
    .plan = plan,
    .forward = never,
    .destroy = destroy,
};

unsigned longca_kernel_abi(void) { return LONGCA_KERNEL_ABI_VERSION; }

const struct longca_kernel *longca_kernel_get(int index) { return index == 0 ? &failing : 0; }
