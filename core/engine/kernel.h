/* The kernel registry: every kernel, built in or loaded from a plugin, is one struct
 * longca_kernel (kernels/longca_kernel.h, the public ABI) registered here. */
#ifndef LC_KERNEL_H
#define LC_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/engine/device.h"
#include "core/mask/mask.h"
#include "core/model/dtype.h"
#include "core/model/status.h"
#include "kernels/longca_kernel.h"

/* The ABI's numbers are core's own, so statuses, dtypes and directions pass through unchanged. */
_Static_assert(LONGCA_OK == LC_OK && LONGCA_ERR_INVALID == LC_ERR_INVALID &&
                   LONGCA_ERR_UNSUPPORTED == LC_ERR_UNSUPPORTED && LONGCA_ERR_OOM == LC_ERR_OOM &&
                   LONGCA_ERR_DEVICE == LC_ERR_DEVICE && LONGCA_ERR_INTERNAL == LC_ERR_INTERNAL,
               "kernel ABI statuses");
_Static_assert(LONGCA_FP32 == LC_FP32 && LONGCA_BF16 == LC_BF16 && LONGCA_FP16 == LC_FP16, "kernel ABI dtypes");
_Static_assert(LONGCA_DEVICE_CPU == DEVICE_CPU && LONGCA_DEVICE_CUDA == DEVICE_CUDA, "kernel ABI devices");
_Static_assert(LONGCA_MESSAGE_LEN == LC_ERRMSG_LEN, "kernel ABI message length");

#define KERNEL_MAX 64
/* Registers k, from the plugin file origin (NULL: built in; the string must outlive the registry);
 * LC_ERR_INVALID with the reason when its table is incomplete or its name taken. */
enum lc_status kernel_register(const struct longca_kernel *k, const char *origin, char *err);
const struct longca_kernel *kernel_find(const char *name);
int kernel_count(void);
const struct longca_kernel *kernel_at(int index);
const char *kernel_origin(const struct longca_kernel *k); /* NULL = built in */
/* The distinct plugin files of the registered kernels, in load order (at most max); their count. */
int kernel_libraries(const char **out, int max);

/* The one way callers reach a kernel's functions: a failure's message names the kernel
 * ("kernel cudnn: ..."), a status outside the ABI's reads as LC_ERR_INTERNAL, and a kernel that
 * fails without saying why is said to. supports is optional (LC_OK when absent). */
enum lc_status kernel_supports(const struct longca_kernel *k, const struct longca_problem *p, unsigned directions,
                               char *err);
enum lc_status kernel_plan(const struct longca_kernel *k, const struct longca_problem *p, unsigned directions,
                           void **plan, size_t *workspace_bytes, char *err);
enum lc_status kernel_forward(const struct longca_kernel *k, void *plan, const struct longca_tensors *t,
                              void *workspace, void *stream, char *err);
enum lc_status kernel_backward(const struct longca_kernel *k, void *plan, const struct longca_tensors *t,
                               void *workspace, void *stream, char *err);
void kernel_destroy(const struct longca_kernel *k, void *plan); /* NULL plan: nothing */


/* The CPU reference every kernel and CP method is checked against (registered by kernels/). */
#define KERNEL_REFERENCE_NAME "cpu_ref"

#endif
