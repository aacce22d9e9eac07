/* The CUDA device table: peak memory is the peak of bytes live through alloc, an impossible
 * allocation is LC_ERR_OOM naming the bytes, fill_nan poisons, copies round-trip, events time
 * the 256 MB L2 flush. Skipped (77) where no GPU is visible; count() itself must not crash. */
#include "tests/gpu_test_util.h"

static int failures;

static void expect(bool ok, const char *what)
{
    printf("%s %s\n", ok ? "pass" : "FAIL", what);
    failures += !ok;
}

int main(void)
{
    int skip = gpu_open_or_skip();
    if (skip) return skip;
    const struct device_ops *d = &device_cuda;
    char err[LC_ERRMSG_LEN] = "";

    d->reset_peak();
    size_t base = d->peak_memory();
    void *a = NULL, *b = NULL, *huge = NULL;
    expect(d->alloc(48u << 20, &a, err) == LC_OK && d->alloc(16u << 20, &b, err) == LC_OK, "two allocations");
    expect(d->peak_memory() == base + (64u << 20), "peak counts both");
    d->free(a);
    d->free(b);
    d->reset_peak();
    expect(d->peak_memory() == base, "frees bring the live count back");

    size_t total = d->memory_total();
    expect(total > (1ull << 30), "memory_total reports the card");
    enum lc_status st = d->alloc(total * 4, &huge, err);
    expect(st == LC_ERR_OOM && strstr(err, "bytes") != NULL, "impossible allocation is OOM with the bytes asked");
    printf("     (%s)\n", err);
    expect(d->peak_memory() == base, "a failed allocation does not count");

    const size_t n = 1 << 20;
    unsigned char *host = test_alloc(n), *back = test_alloc(n);
    for (size_t i = 0; i < n; i++) host[i] = (unsigned char)(i * 7 + 3);
    expect(d->alloc(n, &a, err) == LC_OK && d->upload(a, host, n, err) == LC_OK &&
               d->download(back, a, n, err) == LC_OK && !memcmp(host, back, n),
           "upload / download round trip");
    expect(d->fill_nan(a, n, err) == LC_OK && d->download(back, a, n, err) == LC_OK, "fill_nan");
    bool all_ones = true;
    for (size_t i = 0; i < n; i++) all_ones &= back[i] == 0xff;
    expect(all_ones, "fill_nan writes all-ones (NaN in fp32, bf16, fp16)");
    d->free(a);

    struct device_event *e0 = d->event_create(), *e1 = d->event_create();
    expect(e0 && e1, "events");
    d->event_record(e0);
    d->flush_cache();
    d->event_record(e1);
    expect(d->sync(err) == LC_OK, "sync");
    double ms = d->event_elapsed_ms(e0, e1);
    /* 256 MB at no more than ~5 TB/s takes at least 0.05 ms */
    expect(ms > 0.05 && ms < 1000, "events time the 256 MB flush");
    printf("     (flush: %.3f ms, %.0f GB/s)\n", ms, (double)(256u << 20) / (ms * 1e-3) / 1e9);
    d->event_destroy(e0);
    d->event_destroy(e1);
    expect(d->stream() != NULL, "a compute stream");
    d->close();
    free(host);
    free(back);
    printf("%s\n", failures ? "FAIL" : "pass");
    return failures ? 1 : 0;
}
