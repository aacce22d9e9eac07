/* Which compute back ends this build and this machine have. */
#include "core/engine/device.h"

#define DEVICE_BACKENDS_MAX 4

static const struct device_ops *backends[DEVICE_BACKENDS_MAX];
static int n_backends;

void device_register(const struct device_ops *ops)
{
    if (n_backends < DEVICE_BACKENDS_MAX) backends[n_backends++] = ops;
}

const struct device_ops *device_for(enum lc_device_kind kind)
{
    if (kind == DEVICE_CPU) return &device_cpu;
    for (int i = 0; i < n_backends; i++)
        if (backends[i]->kind == kind && backends[i]->count() > 0) return backends[i];
    return NULL;
}
