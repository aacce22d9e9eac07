/* The registry of the methods a run spreads over ranks by (filled by cp/). */
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
    if (!strcmp(name, "none")) name = CP_METHOD_LOCAL;
    for (int i = 0; i < registered; i++)
        if (!strcmp(methods[i]->name, name)) return methods[i];
    return NULL;
}

bool run_spec_is_cp(const struct run_spec *spec)
{
    const struct cp_method_ops *m = cp_method_find(spec->cp_method);
    return !m || !m->single_device;
}

int cp_method_count(void) { return registered; }

const struct cp_method_ops *cp_method_at(int index) { return index >= 0 && index < registered ? methods[index] : NULL; }
