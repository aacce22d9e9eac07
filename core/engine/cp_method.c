/* The CP method registry (filled by cp/). */
#include "core/engine/cp_method.h"

#include <string.h>

static const struct cp_method_ops *methods[CP_METHOD_MAX];
static int registered;

void cp_method_register(const struct cp_method_ops *ops)
{
    if (registered < CP_METHOD_MAX && !cp_method_find(ops->name)) methods[registered++] = ops;
}

const struct cp_method_ops *cp_method_find(const char *name)
{
    for (int i = 0; i < registered; i++)
        if (!strcmp(methods[i]->name, name)) return methods[i];
    return NULL;
}

int cp_method_count(void) { return registered; }

const struct cp_method_ops *cp_method_at(int index) { return index >= 0 && index < registered ? methods[index] : NULL; }
