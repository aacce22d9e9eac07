/* The kernel registry, the checks a table passes before it is registered, and the calls through
 * a table. */
#include "core/engine/kernel.h"

#include <stdio.h>
#include <string.h>

static const struct longca_kernel *registry[KERNEL_MAX];
static const char *origins[KERNEL_MAX];
static int registered;

static bool name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 31) return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
            return false;
    return true;
}

/* What a table must hold before anything calls through it. */
static enum lc_status table_check(const struct longca_kernel *k, char *err)
{
    if (k->abi_version != LONGCA_KERNEL_ABI_VERSION)
        return lc_fail(err, LC_ERR_INVALID, "a kernel table says ABI %u, longca speaks %u", k->abi_version,
                       LONGCA_KERNEL_ABI_VERSION);
    if (!name_ok(k->name))
        return lc_fail(err, LC_ERR_INVALID, "a kernel's name '%.40s' is not 1-31 characters of [a-z0-9_]",
                       k->name ? k->name : "(null)");
    const char *missing = !k->summary                                   ? "summary"
                          : !k->plan                                    ? "plan"
                          : !k->forward && (k->directions & LONGCA_FWD) ? "forward"
                          : !k->backward && (k->directions & LONGCA_BWD) ? "backward"
                          : !k->destroy                                 ? "destroy"
                                                                        : NULL;
    if (missing) return lc_fail(err, LC_ERR_INVALID, "kernel %s has no %s", k->name, missing);
    if (k->device != LONGCA_DEVICE_CPU && k->device != LONGCA_DEVICE_CUDA)
        return lc_fail(err, LC_ERR_INVALID, "kernel %s names device %d (0 = CPU, 1 = CUDA)", k->name, k->device);
    if (!k->dtypes || (k->dtypes & ~((1u << LC_DTYPE_COUNT) - 1)))
        return lc_fail(err, LC_ERR_INVALID, "kernel %s declares dtypes 0x%x", k->name, k->dtypes);
    if (!k->directions || (k->directions & ~(LONGCA_FWD | LONGCA_BWD)))
        return lc_fail(err, LC_ERR_INVALID, "kernel %s declares directions 0x%x", k->name, k->directions);
    if (!k->mask_forms)
        return lc_fail(err, LC_ERR_INVALID, "kernel %s takes no mask form", k->name);
    if (kernel_find(k->name)) return lc_fail(err, LC_ERR_INVALID, "a kernel named %s is already registered", k->name);
    if (registered == KERNEL_MAX) return lc_fail(err, LC_ERR_INVALID, "more than %d kernels", KERNEL_MAX);
    return LC_OK;
}

enum lc_status kernel_register(const struct longca_kernel *k, const char *origin, char *err)
{
    enum lc_status st = table_check(k, err);
    if (st) return st;
    origins[registered] = origin;
    registry[registered++] = k;
    return LC_OK;
}

const struct longca_kernel *kernel_find(const char *name)
{
    for (int i = 0; i < registered; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

int kernel_count(void) { return registered; }

const struct longca_kernel *kernel_at(int index) { return index >= 0 && index < registered ? registry[index] : NULL; }

const char *kernel_origin(const struct longca_kernel *k)
{
    for (int i = 0; i < registered; i++)
        if (registry[i] == k) return origins[i];
    return NULL;
}

/* A kernel's status and message as longca reports them. */
static enum lc_status answered(const struct longca_kernel *k, int status, const char *what, char *err)
{
    if (status == LONGCA_OK) return LC_OK;
    enum lc_status st = status == LONGCA_ERR_INVALID || status == LONGCA_ERR_UNSUPPORTED || status == LONGCA_ERR_OOM ||
                                status == LONGCA_ERR_DEVICE
                            ? (enum lc_status)status
                            : LC_ERR_INTERNAL;
    if (!err) return st;
    char said[LC_ERRMSG_LEN];
    memcpy(said, err, sizeof said);
    said[sizeof said - 1] = '\0';
    size_t n = strlen(k->name);
    if (!said[0]) snprintf(said, sizeof said, "%s failed with status %d and no message", what, status);
    else if (!strncmp(said, k->name, n) && (said[n] == ':' || said[n] == ' ')) return st; /* named already */
    snprintf(err, LC_ERRMSG_LEN, "kernel %s: %.*s", k->name, LC_ERRMSG_LEN - 16, said);
    return st;
}

enum lc_status kernel_supports(const struct longca_kernel *k, const struct longca_problem *p, unsigned directions,
                               char *err)
{
    if (!k->supports) return LC_OK;
    if (err) err[0] = '\0';
    return answered(k, k->supports(p, directions, err), "supports", err);
}

enum lc_status kernel_plan(const struct longca_kernel *k, const struct longca_problem *p, unsigned directions,
                           void **plan, size_t *workspace_bytes, char *err)
{
    *plan = NULL;
    *workspace_bytes = 0;
    if (err) err[0] = '\0';
    return answered(k, k->plan(p, directions, plan, workspace_bytes, err), "plan", err);
}

enum lc_status kernel_forward(const struct longca_kernel *k, void *plan, const struct longca_tensors *t,
                              void *workspace, void *stream, char *err)
{
    if (err) err[0] = '\0';
    return answered(k, k->forward(plan, t, workspace, stream, err), "forward", err);
}

enum lc_status kernel_backward(const struct longca_kernel *k, void *plan, const struct longca_tensors *t,
                               void *workspace, void *stream, char *err)
{
    if (err) err[0] = '\0';
    return answered(k, k->backward(plan, t, workspace, stream, err), "backward", err);
}

void kernel_destroy(const struct longca_kernel *k, void *plan)
{
    if (plan) k->destroy(plan);
}

int kernel_libraries(const char **out, int max)
{
    int n = 0;
    for (int i = 0; i < registered; i++) {
        bool seen = !origins[i];
        for (int j = 0; j < n && !seen; j++) seen = !strcmp(out[j], origins[i]);
        if (!seen && n < max) out[n++] = origins[i];
    }
    return n;
}
