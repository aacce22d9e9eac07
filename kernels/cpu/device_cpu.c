/* The CPU backend: host memory with a live-byte count (so peak memory is reported the same way
 * as on GPUs), clock-stamp events, and a cache flush that overwrites a buffer larger than the LLC. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/engine/device.h"
#include "core/engine/host_memory.h"
#include "core/model/event.h"

struct device_event {
    int64_t ns;
};

/* Each allocation carries its size in a header, so free() can keep the live count exact. */
struct alloc_header {
    size_t bytes;
    size_t pad; /* keeps the payload 16-byte aligned */
};

static size_t live_bytes, peak_bytes;
static unsigned char *flush_buffer;
#define CPU_FLUSH_BYTES (64u << 20)

static int cpu_count(void) { return 1; }

static size_t cpu_memory_total(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
}

static enum lc_status cpu_open(int index, char *describe, size_t len, char *err)
{
    char model[64] = "CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!strncmp(line, "model name", 10) && colon) {
                snprintf(model, sizeof model, "%s", colon + 2);
                model[strcspn(model, "\n")] = 0;
                break;
            }
        }
        fclose(f);
    }
    if (describe)
        snprintf(describe, len, "%s, %d threads, %.1f GiB", model, omp_get_max_threads(),
                 (double)cpu_memory_total() / (1u << 30));
    return LC_OK;
}

static void cpu_close(void)
{
    free(flush_buffer);
    flush_buffer = NULL;
}

static enum lc_status cpu_alloc(size_t bytes, void **ptr, char *err)
{
    size_t share = host_memory_share();
    /* Refuse what cannot fit rather than let the kernel's OOM killer take the worker. */
    if (share && (bytes > share || live_bytes + bytes > share)) {
        int n = host_memory_sharers();
        return lc_fail(err, LC_ERR_OOM, "needs %.2f GiB more host memory, %.2f GiB of this process's %.2f GiB in use%s",
                       (double)bytes / (1u << 30), (double)live_bytes / (1u << 30), (double)share / (1u << 30),
                       n > 1 ? " (its share among the CPU workers of this host)" : "");
    }
    struct alloc_header *h = malloc(sizeof *h + bytes);
    if (!h) return lc_fail(err, LC_ERR_OOM, "could not allocate %.2f GiB of host memory", (double)bytes / (1u << 30));
    h->bytes = bytes;
    live_bytes += bytes;
    if (live_bytes > peak_bytes) peak_bytes = live_bytes;
    *ptr = h + 1;
    return LC_OK;
}

static void cpu_free(void *ptr)
{
    if (!ptr) return;
    struct alloc_header *h = (struct alloc_header *)ptr - 1;
    live_bytes -= h->bytes;
    free(h);
}

static enum lc_status cpu_copy(void *dst, const void *src, size_t bytes, char *err)
{
    memcpy(dst, src, bytes);
    return LC_OK;
}

static enum lc_status cpu_fill_nan(void *ptr, size_t bytes, char *err)
{
    memset(ptr, 0xff, bytes); /* all-ones is a NaN in fp32, bf16 and fp16 */
    return LC_OK;
}

static enum lc_status cpu_sync(char *err) { return LC_OK; }
static void *cpu_stream(void) { return NULL; }

static struct device_event *cpu_event_create(void) { return calloc(1, sizeof(struct device_event)); }
static void cpu_event_destroy(struct device_event *ev) { free(ev); }
static void cpu_event_record(struct device_event *ev) { ev->ns = lc_now_ns(); }
static double cpu_event_elapsed_ms(struct device_event *from, struct device_event *to)
{
    return (double)(to->ns - from->ns) / 1e6;
}

static void cpu_flush_cache(void)
{
    if (!flush_buffer) flush_buffer = malloc(CPU_FLUSH_BYTES);
    if (flush_buffer) memset(flush_buffer, (int)(lc_now_ns() & 0x7f), CPU_FLUSH_BYTES);
}

static size_t cpu_peak_memory(void) { return peak_bytes; }
static void cpu_reset_peak(void) { peak_bytes = live_bytes; }

const struct device_ops device_cpu = {
    .name = "cpu",
    .kind = DEVICE_CPU,
    .count = cpu_count,
    .open = cpu_open,
    .close = cpu_close,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .fill_nan = cpu_fill_nan,
    .sync = cpu_sync,
    .stream = cpu_stream,
    .event_create = cpu_event_create,
    .event_destroy = cpu_event_destroy,
    .event_record = cpu_event_record,
    .event_elapsed_ms = cpu_event_elapsed_ms,
    .flush_cache = cpu_flush_cache,
    .memory_total = cpu_memory_total,
    .peak_memory = cpu_peak_memory,
    .reset_peak = cpu_reset_peak,
};
