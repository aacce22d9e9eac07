/* CUPTI Activity API recorder. Device records wait in a pending list until the external
 * correlation record of their launch has been seen (the two can arrive in different buffers),
 * then go to the timeline; a forced flush hands over whatever is left. */
#define _POSIX_C_SOURCE 200809L
#include "profiling/cuda/cupti_trace.h"

#include <cupti.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiling/cuda/counters.h"
#include "profiling/kernel_names.h"
#include "profiling/nvtx.h"

#define BUFFER_BYTES (8u << 20)
#define FLUSH_PERIOD_MS 100
#define TAG_SLOTS 65536 /* launches that may be in flight between a mark and its kernel's record */
#define CORRELATION_KIND CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0

static const CUpti_ActivityKind traced_kinds[] = {
    CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMCPY, CUPTI_ACTIVITY_KIND_MEMCPY2,
    CUPTI_ACTIVITY_KIND_MEMSET, CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_ACTIVITY_KIND_DRIVER,
    CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION,
};
#define N_KINDS (sizeof traced_kinds / sizeof *traced_kinds)

struct tag {
    uint32_t correlation; /* 0: empty */
    int32_t iter, cp_step;
    uint32_t api_correlation; /* the launch's runtime/driver API record, 0: not seen */
    uint64_t api_start, api_end;
};

static struct {
    pthread_mutex_t lock; /* everything below; the timeline has its own lock */
    struct timeline *tl;  /* NULL while stopped */
    struct tag tags[TAG_SLOTS];
    struct interval *pending;
    int n_pending, cap_pending;
    struct prof_cupti_stats stats;
} rec = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Host side, touched only by the thread that marks (the driver's, cp/driver.c). */
static int pushed_correlation;

static const char *cupti_error(CUptiResult r)
{
    const char *s = NULL;
    if (cuptiGetResultString(r, &s) != CUPTI_SUCCESS || !s) s = "unknown CUPTI error";
    return s;
}

/* (iter, cp_step) in one 64-bit external id: each shifted by one so -1 fits. */
static uint64_t encode_position(int iter, int cp_step)
{
    return ((uint64_t)(uint32_t)(iter + 1) << 32) | (uint32_t)(cp_step + 1);
}

static void decode_position(uint64_t id, struct tag *t)
{
    t->iter = (int32_t)(uint32_t)(id >> 32) - 1;
    t->cp_step = (int32_t)(uint32_t)id - 1;
}

/* ------------------------------------------------------------------ records -> intervals */

static void memcpy_name(uint8_t copy_kind, char *out, size_t len)
{
    static const char *const names[] = {"Memcpy", "Memcpy HtoD", "Memcpy DtoH", "Memcpy HtoA", "Memcpy AtoH",
                                        "Memcpy AtoA", "Memcpy AtoD", "Memcpy DtoA", "Memcpy DtoD",
                                        "Memcpy HtoH", "Memcpy PtoP"};
    snprintf(out, len, "%s", copy_kind < sizeof names / sizeof *names ? names[copy_kind] : "Memcpy");
}

static int16_t stream_id(uint32_t id) { return (int16_t)(id > INT16_MAX ? INT16_MAX : id); }

/* Caller holds rec.lock. */
static void keep_pending(const struct interval *iv)
{
    if (rec.n_pending == rec.cap_pending) {
        int cap = rec.cap_pending ? rec.cap_pending * 2 : 4096;
        struct interval *grown = realloc(rec.pending, (size_t)cap * sizeof *grown);
        if (!grown) {
            rec.stats.dropped++;
            return;
        }
        rec.pending = grown;
        rec.cap_pending = cap;
    }
    rec.pending[rec.n_pending++] = *iv;
}

/* What a copy or a memset records the same way, whichever CUPTI record carried it. */
static void memory_activity(struct interval *iv, uint64_t start, uint64_t end, uint32_t stream, uint32_t correlation,
                            uint64_t bytes)
{
    iv->kind = IV_MEMORY;
    iv->start_ns = (int64_t)start, iv->end_ns = (int64_t)end;
    iv->stream = stream_id(stream);
    iv->correlation = correlation;
    iv->bytes = bytes;
}

static void device_record(const CUpti_Activity *r)
{
    struct interval iv;
    memset(&iv, 0, sizeof iv);
    iv.iter = iv.cp_step = -1;
    switch (r->kind) {
    case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
        const CUpti_ActivityKernel10 *k = (const CUpti_ActivityKernel10 *)r;
        const char *name = k->name ? k->name : "kernel";
        iv.kind = (uint8_t)prof_kernel_kind(name);
        prof_kernel_short_name(name, iv.name, sizeof iv.name);
        iv.start_ns = (int64_t)k->start, iv.end_ns = (int64_t)k->end;
        iv.stream = stream_id(k->streamId);
        iv.correlation = k->correlationId;
        iv.grid[0] = (uint32_t)k->gridX, iv.grid[1] = (uint32_t)k->gridY, iv.grid[2] = (uint32_t)k->gridZ;
        iv.block[0] = (uint32_t)k->blockX, iv.block[1] = (uint32_t)k->blockY, iv.block[2] = (uint32_t)k->blockZ;
        rec.stats.kernels++;
        break;
    }
    case CUPTI_ACTIVITY_KIND_MEMCPY: {
        const CUpti_ActivityMemcpy6 *m = (const CUpti_ActivityMemcpy6 *)r;
        memcpy_name(m->copyKind, iv.name, sizeof iv.name);
        memory_activity(&iv, m->start, m->end, m->streamId, m->correlationId, m->bytes);
        rec.stats.memcpys++;
        break;
    }
    case CUPTI_ACTIVITY_KIND_MEMCPY2: {
        const CUpti_ActivityMemcpyPtoP4 *m = (const CUpti_ActivityMemcpyPtoP4 *)r;
        snprintf(iv.name, sizeof iv.name, "Memcpy PtoP (device %u -> %u)", m->srcDeviceId, m->dstDeviceId);
        memory_activity(&iv, m->start, m->end, m->streamId, m->correlationId, m->bytes);
        rec.stats.memcpys++;
        break;
    }
    case CUPTI_ACTIVITY_KIND_MEMSET: {
        const CUpti_ActivityMemset4 *m = (const CUpti_ActivityMemset4 *)r;
        snprintf(iv.name, sizeof iv.name, "Memset");
        memory_activity(&iv, m->start, m->end, m->streamId, m->correlationId, m->bytes);
        rec.stats.memsets++;
        break;
    }
    default: return;
    }
    keep_pending(&iv);
}

/* Caller holds rec.lock. Hands pending intervals whose launch tag is known (or all, when
 * forced) to the timeline, keeping the rest in order. */
static void release_pending(bool force)
{
    int kept = 0;
    for (int i = 0; i < rec.n_pending; i++) {
        struct interval *iv = &rec.pending[i];
        const struct tag *t = &rec.tags[iv->correlation % TAG_SLOTS];
        bool tagged = iv->correlation != 0 && t->correlation == iv->correlation;
        if (!tagged && !force) {
            rec.pending[kept++] = *iv;
            continue;
        }
        if (tagged) iv->iter = t->iter, iv->cp_step = t->cp_step;
        else rec.stats.untagged++;
        if (iv->correlation != 0 && t->api_correlation == iv->correlation)
            iv->launch_ns = (int64_t)t->api_start, iv->launch_end_ns = (int64_t)t->api_end;
        if (rec.tl) timeline_add_interval(rec.tl, iv);
        else rec.stats.late++;
    }
    rec.n_pending = kept;
}

static void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records)
{
    *buffer = aligned_alloc(8, BUFFER_BYTES);
    *size = *buffer ? BUFFER_BYTES : 0;
    *max_records = 0;
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buffer, size_t size, size_t valid)
{
    pthread_mutex_lock(&rec.lock);
    CUpti_Activity *r = NULL;
    while (cuptiActivityGetNextRecord(buffer, valid, &r) == CUPTI_SUCCESS) {
        if (r->kind == CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION) {
            const CUpti_ActivityExternalCorrelation *x = (const CUpti_ActivityExternalCorrelation *)r;
            if (x->externalKind != CORRELATION_KIND) continue;
            struct tag *t = &rec.tags[x->correlationId % TAG_SLOTS];
            t->correlation = x->correlationId;
            decode_position(x->externalId, t);
            rec.stats.correlations++;
        } else if (r->kind == CUPTI_ACTIVITY_KIND_RUNTIME || r->kind == CUPTI_ACTIVITY_KIND_DRIVER) {
            const CUpti_ActivityAPI *a = (const CUpti_ActivityAPI *)r;
            struct tag *t = &rec.tags[a->correlationId % TAG_SLOTS];
            /* A runtime launch also makes a driver record with its own id; the first seen wins. */
            if (a->correlationId != 0 && t->api_correlation != a->correlationId)
                t->api_correlation = a->correlationId, t->api_start = a->start, t->api_end = a->end;
            rec.stats.api_records++;
        } else {
            device_record(r);
        }
    }
    size_t dropped = 0;
    if (cuptiActivityGetNumDroppedRecords(ctx, stream, &dropped) == CUPTI_SUCCESS) rec.stats.dropped += dropped;
    release_pending(false);
    pthread_mutex_unlock(&rec.lock);
    free(buffer);
}

/* ------------------------------------------------------------------ the recorder table */

static void disable_kinds(size_t n)
{
    for (size_t k = 0; k < n; k++) cuptiActivityDisable(traced_kinds[k]);
}

static enum lc_status trace_start(struct timeline *tl, char *err)
{
    pthread_mutex_lock(&rec.lock);
    bool running = rec.tl != NULL;
    pthread_mutex_unlock(&rec.lock);
    if (running) return lc_fail(err, LC_ERR_INTERNAL, "CUPTI tracing is already running");

    static bool registered; /* buffers keep flowing to the same callbacks across runs */
    CUptiResult r = registered ? CUPTI_SUCCESS : cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed);
    if (r != CUPTI_SUCCESS)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "CUPTI tracing unavailable: %s", cupti_error(r));
    registered = true;
    for (size_t k = 0; k < N_KINDS; k++) {
        r = cuptiActivityEnable(traced_kinds[k]);
        if (r != CUPTI_SUCCESS) {
            disable_kinds(k);
            return lc_fail(err, LC_ERR_UNSUPPORTED, "CUPTI tracing unavailable (activity kind %d): %s",
                           (int)traced_kinds[k], cupti_error(r));
        }
    }
    cuptiActivityFlushPeriod(FLUSH_PERIOD_MS);
    pthread_mutex_lock(&rec.lock);
    rec.tl = tl;
    pthread_mutex_unlock(&rec.lock);

    /* Counters are a bonus: tracing runs without them. */
    char why[LC_ERRMSG_LEN];
    if (prof_pm_start(why) != LC_OK && err) snprintf(err, LC_ERRMSG_LEN, "%s", why);
    return LC_OK;
}

/* Called at sync points (the driver flushes after each timed iteration's synchronisation), so
 * every record is complete and a forced flush loses nothing. */
static void trace_flush(void)
{
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    pthread_mutex_lock(&rec.lock);
    release_pending(true);
    pthread_mutex_unlock(&rec.lock);
    prof_pm_poll();
}

static void trace_stop(void)
{
    prof_pm_stop();
    trace_flush();
    cuptiActivityFlushPeriod(0);
    disable_kinds(N_KINDS);
    pthread_mutex_lock(&rec.lock);
    rec.tl = NULL;
    pthread_mutex_unlock(&rec.lock);
}

static void trace_mark(int run_id, int iter, int cp_step)
{
    prof_nvtx_mark(run_id, iter, cp_step);
    uint64_t last;
    if (pushed_correlation) cuptiActivityPopExternalCorrelationId(CORRELATION_KIND, &last);
    pushed_correlation = iter >= 0 || cp_step >= 0;
    if (pushed_correlation) cuptiActivityPushExternalCorrelationId(CORRELATION_KIND, encode_position(iter, cp_step));
}

/* Counter samples on rank 0's clock, like the intervals. */
static int trace_take_samples(struct counter_sample **out)
{
    int n = prof_counters_take(out);
    pthread_mutex_lock(&rec.lock);
    int64_t offset = rec.tl ? rec.tl->clock_offset_ns : 0;
    pthread_mutex_unlock(&rec.lock);
    for (int k = 0; k < n; k++) (*out)[k].t_ns += offset;
    return n;
}

void prof_cupti_stats(struct prof_cupti_stats *out)
{
    pthread_mutex_lock(&rec.lock);
    *out = rec.stats;
    pthread_mutex_unlock(&rec.lock);
}

const struct timeline_recorder prof_cupti_recorder = {
    .name = "cupti",
    .start = trace_start,
    .flush = trace_flush,
    .stop = trace_stop,
    .mark = trace_mark,
    .counters_begin = prof_range_begin,
    .counters_end = prof_range_end,
    .take_samples = trace_take_samples,
};
