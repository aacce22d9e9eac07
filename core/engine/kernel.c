/* The kernel registry. */
#include "core/engine/kernel.h"

#include <string.h>

static const struct kernel_ops *registry[KERNEL_MAX];
static int registered;

void kernel_register(const struct kernel_ops *ops)
{
    if (registered < KERNEL_MAX && !kernel_find(ops->name)) registry[registered++] = ops;
}

const struct kernel_ops *kernel_find(const char *name)
{
    for (int i = 0; i < registered; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

int kernel_count(void) { return registered; }

const struct kernel_ops *kernel_at(int index) { return index >= 0 && index < registered ? registry[index] : NULL; }
