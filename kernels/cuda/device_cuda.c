/* The CUDA device: one GPU per process, one compute stream, allocations counted so the peak is
 * the peak of bytes live through alloc (as on the CPU backend), CUDA events on the compute
 * stream, and an L2 flush that writes 256 MB. Only the runtime API is used (cudart is linked
 * statically), so count() answers 0 on a machine without a driver instead of failing. */
#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_backend.h"

#define CUDA_FLUSH_BYTES ((size_t)256 << 20)

struct device_event {
    cudaEvent_t event;
};

/* Sizes of live allocations, so free() keeps the live count exact (open addressing, by pointer). */
struct alloc_slot {
    void *ptr;
    size_t bytes;
};

static struct {
    bool open;
    int index;
    cudaStream_t stream;
    void *flush_buffer;
    struct alloc_slot *slots;
    size_t n_slots, n_used;
    size_t live_bytes, peak_bytes;
} dev;

static enum lc_status cuda_status(cudaError_t e, char *err, const char *what)
{
    if (e == cudaSuccess) return LC_OK;
    (void)cudaGetLastError(); /* clear a sticky-free error so the next call starts clean */
    return lc_fail(err, e == cudaErrorMemoryAllocation ? LC_ERR_OOM : LC_ERR_DEVICE, "%s: %s", what,
                   cudaGetErrorString(e));
}

static size_t slot_of(const void *ptr)
{
    size_t h = ((size_t)ptr >> 8) * 0x9e3779b97f4a7c15ull;
    return h & (dev.n_slots - 1);
}

static bool slots_insert(void *ptr, size_t bytes)
{
    if ((dev.n_used + 1) * 2 > dev.n_slots) {
        size_t old_n = dev.n_slots;
        struct alloc_slot *old = dev.slots;
        size_t n = old_n ? old_n * 2 : 64;
        struct alloc_slot *fresh = calloc(n, sizeof *fresh);
        if (!fresh) return false;
        dev.slots = fresh;
        dev.n_slots = n;
        dev.n_used = 0;
        for (size_t i = 0; i < old_n; i++)
            if (old[i].ptr) slots_insert(old[i].ptr, old[i].bytes);
        free(old);
    }
    size_t i = slot_of(ptr);
    while (dev.slots[i].ptr) i = (i + 1) & (dev.n_slots - 1);
    dev.slots[i] = (struct alloc_slot){ptr, bytes};
    dev.n_used++;
    return true;
}

/* Removes ptr and returns its size (0 if unknown); re-inserts the run after it (linear probing). */
static size_t slots_remove(const void *ptr)
{
    if (!dev.n_slots) return 0;
    size_t i = slot_of(ptr);
    while (dev.slots[i].ptr && dev.slots[i].ptr != ptr) i = (i + 1) & (dev.n_slots - 1);
    if (!dev.slots[i].ptr) return 0;
    size_t bytes = dev.slots[i].bytes;
    dev.slots[i] = (struct alloc_slot){NULL, 0};
    dev.n_used--;
    for (size_t j = (i + 1) & (dev.n_slots - 1); dev.slots[j].ptr; j = (j + 1) & (dev.n_slots - 1)) {
        struct alloc_slot moved = dev.slots[j];
        dev.slots[j] = (struct alloc_slot){NULL, 0};
        dev.n_used--;
        slots_insert(moved.ptr, moved.bytes);
    }
    return bytes;
}

static int cuda_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

static void cuda_close(void)
{
    if (!dev.open) return;
    cudaStreamSynchronize(dev.stream);
    cudaFree(dev.flush_buffer);
    cudaStreamDestroy(dev.stream);
    free(dev.slots);
    memset(&dev, 0, sizeof dev);
}

static enum lc_status cuda_open(int index, char *describe, size_t describe_len, char *err)
{
    if (dev.open) {
        if (index == dev.index) return LC_OK;
        cuda_close();
    }
    int n = cuda_count();
    if (index < 0 || index >= n)
        return lc_fail(err, LC_ERR_DEVICE, "GPU %d requested, %d visible", index, n);
    enum lc_status st = cuda_status(cudaSetDevice(index), err, "cudaSetDevice");
    if (st) return st;
    struct cudaDeviceProp prop;
    if ((st = cuda_status(cudaGetDeviceProperties(&prop, index), err, "cudaGetDeviceProperties"))) return st;
    if (prop.major < 9)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "%s is compute capability %d.%d; longca's kernels are built for sm_90a",
                       prop.name, prop.major, prop.minor);
    if ((st = cuda_status(cudaStreamCreateWithFlags(&dev.stream, cudaStreamNonBlocking), err, "cudaStreamCreate")))
        return st;
    if ((st = cuda_status(cudaMalloc(&dev.flush_buffer, CUDA_FLUSH_BYTES), err, "L2 flush buffer"))) {
        cudaStreamDestroy(dev.stream);
        return st;
    }
    dev.open = true;
    dev.index = index;
    if (describe)
        snprintf(describe, describe_len, "%s, %d SMs, %.1f GiB", prop.name, prop.multiProcessorCount,
                 (double)prop.totalGlobalMem / (1u << 30));
    return LC_OK;
}

static enum lc_status cuda_alloc(size_t bytes, void **ptr, char *err)
{
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        if (e == cudaErrorMemoryAllocation)
            return lc_fail(err, LC_ERR_OOM, "out of device memory: asked %zu bytes (%.2f GiB), %.2f GiB free of %.2f GiB",
                           bytes, (double)bytes / (1u << 30), (double)free_b / (1u << 30),
                           (double)total_b / (1u << 30));
        return cuda_status(e, err, "cudaMalloc");
    }
    if (!slots_insert(p, bytes)) {
        cudaFree(p);
        return lc_fail(err, LC_ERR_OOM, "out of host memory tracking a device allocation");
    }
    dev.live_bytes += bytes;
    if (dev.live_bytes > dev.peak_bytes) dev.peak_bytes = dev.live_bytes;
    *ptr = p;
    return LC_OK;
}

static void cuda_free(void *ptr)
{
    if (!ptr) return;
    dev.live_bytes -= slots_remove(ptr);
    cudaFree(ptr);
}

static enum lc_status cuda_copy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind, char *err)
{
    enum lc_status st = cuda_status(cudaMemcpyAsync(dst, src, bytes, kind, dev.stream), err, "cudaMemcpy");
    if (st) return st;
    return cuda_status(cudaStreamSynchronize(dev.stream), err, "cudaMemcpy");
}

static enum lc_status cuda_upload(void *dst, const void *src, size_t bytes, char *err)
{
    return cuda_copy(dst, src, bytes, cudaMemcpyHostToDevice, err);
}

static enum lc_status cuda_download(void *dst, const void *src, size_t bytes, char *err)
{
    return cuda_copy(dst, src, bytes, cudaMemcpyDeviceToHost, err);
}

static enum lc_status cuda_fill_nan(void *ptr, size_t bytes, char *err)
{
    /* all-ones is a NaN in fp32, bf16 and fp16 */
    return cuda_status(cudaMemsetAsync(ptr, 0xff, bytes, dev.stream), err, "cudaMemset");
}

static enum lc_status cuda_sync(char *err)
{
    enum lc_status st = cuda_status(cudaStreamSynchronize(dev.stream), err, "device");
    if (st) return st;
    return cuda_status(cudaGetLastError(), err, "kernel");
}

static void *cuda_stream(void) { return dev.stream; }

static struct device_event *cuda_event_create(void)
{
    struct device_event *ev = calloc(1, sizeof *ev);
    if (ev && cudaEventCreate(&ev->event) != cudaSuccess) {
        (void)cudaGetLastError();
        free(ev);
        return NULL;
    }
    return ev;
}

static void cuda_event_destroy(struct device_event *ev)
{
    if (!ev) return;
    cudaEventDestroy(ev->event);
    free(ev);
}

static void cuda_event_record(struct device_event *ev) { cudaEventRecord(ev->event, dev.stream); }

static double cuda_event_elapsed_ms(struct device_event *from, struct device_event *to)
{
    float ms = 0;
    if (cudaEventElapsedTime(&ms, from->event, to->event) != cudaSuccess) {
        (void)cudaGetLastError();
        return -1;
    }
    return ms;
}

static void cuda_flush_cache(void)
{
    static unsigned char value;
    if (dev.flush_buffer) cudaMemsetAsync(dev.flush_buffer, ++value, CUDA_FLUSH_BYTES, dev.stream);
}

static size_t cuda_memory_total(void)
{
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
    return total_b;
}

static size_t cuda_peak_memory(void) { return dev.peak_bytes; }
static void cuda_reset_peak(void) { dev.peak_bytes = dev.live_bytes; }

/* The driver's version is the kernel module's ("NVRM version: NVIDIA UNIX x86_64 Kernel Module
 * 580.65.06 ..."): read from the text file it publishes, as libnvidia-ml is not linked. */
static void cuda_stack_versions(char *driver, size_t driver_len, char *runtime, size_t runtime_len)
{
    snprintf(driver, driver_len, "%s", "");
    FILE *f = fopen("/proc/driver/nvidia/version", "r");
    char line[256];
    if (f && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, "Kernel Module");
        char version[32];
        if (at && sscanf(at + strlen("Kernel Module"), " %31s", version) == 1) snprintf(driver, driver_len, "%s", version);
    }
    if (f) fclose(f);
    int v = 0;
    if (cudaRuntimeGetVersion(&v) == cudaSuccess) snprintf(runtime, runtime_len, "%d.%d", v / 1000, v % 1000 / 10);
    else snprintf(runtime, runtime_len, "%s", "");
}

const struct device_ops device_cuda = {
    .name = "cuda",
    .kind = DEVICE_CUDA,
    .count = cuda_count,
    .open = cuda_open,
    .close = cuda_close,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .fill_nan = cuda_fill_nan,
    .sync = cuda_sync,
    .stream = cuda_stream,
    .event_create = cuda_event_create,
    .event_destroy = cuda_event_destroy,
    .event_record = cuda_event_record,
    .event_elapsed_ms = cuda_event_elapsed_ms,
    .flush_cache = cuda_flush_cache,
    .memory_total = cuda_memory_total,
    .peak_memory = cuda_peak_memory,
    .reset_peak = cuda_reset_peak,
    .stack_versions = cuda_stack_versions,
};
