/* A compute device behind a table of functions (as nvtop's GPU back ends): the CPU backend
 * lives in kernels/cpu/, the CUDA one in kernels/cuda/. The driver (cp/driver.c) only ever talks to this. */
#ifndef LC_DEVICE_H
#define LC_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "core/model/status.h"

enum lc_device_kind { DEVICE_CPU = 0, DEVICE_CUDA };

struct device_event; /* opaque timestamp: a CUDA event or a host clock reading */

struct device_ops {
    const char *name; /* "cpu", "cuda" */
    enum lc_device_kind kind;
    int (*count)(void); /* devices visible to this process (0 = none) */
    /* Binds this process to device `index` and creates its streams; describe gets e.g.
     * "NVIDIA H200, 132 SMs, 140.4 GiB". */
    enum lc_status (*open)(int index, char *describe, size_t describe_len, char *err);
    void (*close)(void);

    enum lc_status (*alloc)(size_t bytes, void **ptr, char *err); /* LC_ERR_OOM with the bytes asked */
    void (*free)(void *ptr);
    enum lc_status (*upload)(void *dst, const void *src, size_t bytes, char *err);
    enum lc_status (*download)(void *dst, const void *src, size_t bytes, char *err);
    enum lc_status (*fill_nan)(void *ptr, size_t bytes, char *err); /* poison outputs before a run */
    enum lc_status (*sync)(char *err);
    void *(*stream)(void); /* the compute stream kernels run on (NULL on the CPU) */

    struct device_event *(*event_create)(void);
    void (*event_destroy)(struct device_event *ev);
    void (*event_record)(struct device_event *ev);
    double (*event_elapsed_ms)(struct device_event *from, struct device_event *to); /* after sync */

    void (*flush_cache)(void); /* evict L2 before a timed rep (write 256 MB) */
    size_t (*memory_total)(void);
    /* Peak bytes live through alloc since the last reset. */
    size_t (*peak_memory)(void);
    void (*reset_peak)(void);
    /* The kernel driver's and the runtime's versions ("580.65.06", "13.0"), "" where unknown;
     * NULL on the CPU. */
    void (*stack_versions)(char *driver, size_t driver_len, char *runtime, size_t runtime_len);
};

extern const struct device_ops device_cpu;

/* Back ends other than the CPU register here (kernels/ registers CUDA when built with it). */
void device_register(const struct device_ops *ops);
/* The back end of that kind with at least one device visible, or NULL (the CPU always is). */
const struct device_ops *device_for(enum lc_device_kind kind);

#endif
