/* Which elementwise table serves a device (cp/array.h). */
#include "cp/array.h"

enum lc_status cp_array_ops_for(const struct device_ops *dev, const struct cp_array_ops **out, char *err)
{
    if (dev->kind == DEVICE_CPU) {
        *out = &cp_array_host;
        return LC_OK;
    }
#ifdef LONGCA_HAVE_CUDA
    if (dev->kind == DEVICE_CUDA) {
        *out = &cp_array_cuda;
        return LC_OK;
    }
#endif
    return lc_fail(err, LC_ERR_UNSUPPORTED, "context parallelism on %s devices is not in this build", dev->name);
}
