/* The kernel registry and capability checks against a run spec. */
#include "core/engine/kernel.h"

#include <stdio.h>
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

static bool head_dim_supported(const struct kernel_ops *k, int head_dim)
{
    if (!k->head_dims) return true;
    for (const int *d = k->head_dims; *d; d++)
        if (*d == head_dim) return true;
    return false;
}

enum lc_status kernel_check_spec(const struct kernel_ops *k, const struct run_spec *spec, char *why)
{
    if (!(k->dtypes & (1u << spec->dtype)))
        return lc_fail(why, LC_ERR_UNSUPPORTED, "kernel %s does not support dtype %s", k->name,
                       dtype_name(spec->dtype));
    if ((k->directions & (unsigned)spec->direction) != (unsigned)spec->direction)
        return lc_fail(why, LC_ERR_UNSUPPORTED, "kernel %s does not support direction %s", k->name,
                       direction_name(spec->direction));
    if (!head_dim_supported(k, spec->head_dim)) {
        char dims[64] = "";
        size_t used = 0;
        for (const int *d = k->head_dims; *d && used < sizeof dims - 8; d++)
            used += (size_t)snprintf(dims + used, sizeof dims - used, "%s%d", used ? "," : "", *d);
        return lc_fail(why, LC_ERR_UNSUPPORTED, "kernel %s supports head dims %s, not %d", k->name, dims,
                       spec->head_dim);
    }
    bool sparse = mask_pattern_is_block_sparse(spec->mask);
    if (sparse ? !k->block_sparse_masks : !k->static_masks)
        return lc_fail(why, LC_ERR_UNSUPPORTED, "kernel %s does not support mask %s", k->name,
                       mask_pattern_name(spec->mask));
    return LC_OK;
}
