/* CUPTI range profiler and PM sampling from C. cupti_profiler_host.h includes <string>: this file
 * is compiled with profiling/cuda/shim first on the include path, whose empty `string` lets C
 * read the header (its structs hold no C++ types, so layouts match the library's). The current
 * context comes from cuCtxGetCurrent reached through cudaGetDriverEntryPointByVersion: libcuda
 * is never linked. */
#define _POSIX_C_SOURCE 200809L
#include "profiling/cuda/counters.h"

#include <cuda.h>
#include <cuda_runtime_api.h>
#include <cupti_pmsampling.h>
#include <cupti_profiler_host.h>
#include <cupti_profiler_target.h>
#include <cupti_range_profiler.h>
#include <cupti_target.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_OF(a) (sizeof(a) / sizeof *(a))

/* ncu metric names. Each list is tried in turn until the device accepts one. */
static const char *const range_full[] = {
    "sm__throughput.avg.pct_of_peak_sustained_elapsed",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed",
    "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
    "sm__warps_active.avg.pct_of_peak_sustained_active",
    "sm__cycles_active.avg.pct_of_peak_sustained_elapsed",
    "gpu__time_duration.sum",
};
static const char *const *const range_single_pass = range_full + 1;
#define RANGE_SINGLE_PASS_COUNT (N_OF(range_full) - 1)

static const char *const pm_with_nvlink[] = {
    "gpu__dram_throughput.avg.pct_of_peak_sustained_elapsed",
    "sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_active",
    "sm__warps_active.avg.pct_of_peak_sustained_active",
    "sm__cycles_active.avg.pct_of_peak_sustained_elapsed",
    "nvlrx__bytes.sum",
    "nvltx__bytes.sum",
};
#define PM_BASE_COUNT 4 /* the list without the NVLink metrics */

#define RANGES_PER_PASS 16
#define PM_MAX_SAMPLES 500          /* ~40 KB each in the counter-data image */
#define PM_HW_BUFFER (64u << 20)
#define PM_DECODE_PERIOD_MS 50
#define MAX_METRICS 8

static const char *cupti_error(CUptiResult r)
{
    const char *s = NULL;
    if (cuptiGetResultString(r, &s) != CUPTI_SUCCESS || !s) s = "unknown CUPTI error";
    return s;
}

/* A failed CUPTI call as LC_ERR_UNSUPPORTED naming the call. */
#define TRY(what, call)                                                                              \
    do {                                                                                             \
        CUptiResult try_r = (call);                                                                  \
        if (try_r != CUPTI_SUCCESS) return lc_fail(err, LC_ERR_UNSUPPORTED, "%s: %s", what, cupti_error(try_r)); \
    } while (0)

/* ------------------------------------------------------------------ samples */

static struct {
    pthread_mutex_t lock;
    struct counter_sample *items;
    int n, cap;
} samples = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void add_sample(int64_t t_ns, const char *metric, double value)
{
    pthread_mutex_lock(&samples.lock);
    if (samples.n == samples.cap) {
        int cap = samples.cap ? samples.cap * 2 : 1024;
        struct counter_sample *grown = realloc(samples.items, (size_t)cap * sizeof *grown);
        if (grown) samples.items = grown, samples.cap = cap;
    }
    if (samples.n < samples.cap) {
        struct counter_sample *s = &samples.items[samples.n++];
        memset(s, 0, sizeof *s);
        s->t_ns = t_ns;
        snprintf(s->metric, sizeof s->metric, "%s", metric);
        s->value = value;
    }
    pthread_mutex_unlock(&samples.lock);
}

int prof_counters_take(struct counter_sample **out)
{
    pthread_mutex_lock(&samples.lock);
    int n = samples.n;
    *out = samples.items;
    samples.items = NULL;
    samples.n = samples.cap = 0;
    pthread_mutex_unlock(&samples.lock);
    return n;
}

/* ------------------------------------------------------------------ shared set-up */

static CUptiResult profiler_init_result;
static pthread_once_t profiler_once = PTHREAD_ONCE_INIT;

static void profiler_init(void)
{
    CUpti_Profiler_Initialize_Params p = {.structSize = CUpti_Profiler_Initialize_Params_STRUCT_SIZE};
    profiler_init_result = cuptiProfilerInitialize(&p);
}

static enum lc_status current_device(int *device, const char **chip, char *err)
{
    pthread_once(&profiler_once, profiler_init);
    TRY("cuptiProfilerInitialize", profiler_init_result);
    if (cudaGetDevice(device) != cudaSuccess) return lc_fail(err, LC_ERR_DEVICE, "counters: no current CUDA device");
    CUpti_Device_GetChipName_Params cn = {.structSize = CUpti_Device_GetChipName_Params_STRUCT_SIZE};
    cn.deviceIndex = (size_t)*device;
    TRY("cuptiDeviceGetChipName", cuptiDeviceGetChipName(&cn));
    *chip = cn.pChipName;
    return LC_OK;
}

static CUcontext current_context(void)
{
    void *fn = NULL;
    enum cudaDriverEntryPointQueryResult found;
    if (cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &fn, 12000, cudaEnableDefault, &found) != cudaSuccess ||
        !fn)
        return NULL;
    CUcontext ctx = NULL;
    ((CUresult(*)(CUcontext *))fn)(&ctx);
    return ctx;
}

/* A metric configuration: host object, config image, passes. */
struct config {
    CUpti_Profiler_Host_Object *host;
    uint8_t *image;
    size_t image_size, passes;
    const char *metrics[MAX_METRICS];
    size_t n_metrics;
};

static void config_free(struct config *c)
{
    if (c->host) {
        CUpti_Profiler_Host_Deinitialize_Params d = {.structSize = CUpti_Profiler_Host_Deinitialize_Params_STRUCT_SIZE};
        d.pHostObject = c->host;
        cuptiProfilerHostDeinitialize(&d);
    }
    free(c->image);
    memset(c, 0, sizeof *c);
}

static enum lc_status config_build(CUpti_ProfilerType type, const char *chip, const uint8_t *availability,
                                   const char *const *metrics, size_t n, struct config *c, char *err)
{
    memset(c, 0, sizeof *c);
    CUpti_Profiler_Host_Initialize_Params hi = {.structSize = CUpti_Profiler_Host_Initialize_Params_STRUCT_SIZE};
    hi.profilerType = type;
    hi.pChipName = chip;
    hi.pCounterAvailabilityImage = availability;
    TRY("cuptiProfilerHostInitialize", cuptiProfilerHostInitialize(&hi));
    c->host = hi.pHostObject;
    for (size_t k = 0; k < n; k++) c->metrics[k] = metrics[k];
    c->n_metrics = n;

    CUpti_Profiler_Host_ConfigAddMetrics_Params am = {.structSize = CUpti_Profiler_Host_ConfigAddMetrics_Params_STRUCT_SIZE};
    am.pHostObject = c->host;
    am.ppMetricNames = c->metrics;
    am.numMetrics = n;
    CUpti_Profiler_Host_GetConfigImageSize_Params sz = {.structSize = CUpti_Profiler_Host_GetConfigImageSize_Params_STRUCT_SIZE};
    sz.pHostObject = c->host;
    CUptiResult r = cuptiProfilerHostConfigAddMetrics(&am);
    if (r == CUPTI_SUCCESS) r = cuptiProfilerHostGetConfigImageSize(&sz);
    if (r == CUPTI_SUCCESS && !(c->image = malloc(sz.configImageSize))) r = CUPTI_ERROR_OUT_OF_MEMORY;
    if (r == CUPTI_SUCCESS) {
        CUpti_Profiler_Host_GetConfigImage_Params gi = {.structSize = CUpti_Profiler_Host_GetConfigImage_Params_STRUCT_SIZE};
        gi.pHostObject = c->host;
        gi.configImageSize = c->image_size = sz.configImageSize;
        gi.pConfigImage = c->image;
        r = cuptiProfilerHostGetConfigImage(&gi);
    }
    if (r == CUPTI_SUCCESS) {
        CUpti_Profiler_Host_GetNumOfPasses_Params np = {.structSize = CUpti_Profiler_Host_GetNumOfPasses_Params_STRUCT_SIZE};
        np.configImageSize = c->image_size;
        np.pConfigImage = c->image;
        r = cuptiProfilerHostGetNumOfPasses(&np);
        c->passes = np.numOfPasses;
    }
    if (r != CUPTI_SUCCESS) {
        config_free(c);
        return lc_fail(err, LC_ERR_UNSUPPORTED, "metric configuration (%s, ...): %s", metrics[0], cupti_error(r));
    }
    return LC_OK;
}

/* The values of c's metrics over range (or sample) `index` of a counter data image. */
static CUptiResult config_evaluate(struct config *c, const uint8_t *data, size_t data_size, size_t index,
                                   double *values)
{
    CUpti_Profiler_Host_EvaluateToGpuValues_Params ev = {.structSize = CUpti_Profiler_Host_EvaluateToGpuValues_Params_STRUCT_SIZE};
    ev.pHostObject = c->host;
    ev.pCounterDataImage = data;
    ev.counterDataImageSize = data_size;
    ev.rangeIndex = index;
    ev.ppMetricNames = c->metrics;
    ev.numMetrics = c->n_metrics;
    ev.pMetricValues = values;
    return cuptiProfilerHostEvaluateToGpuValues(&ev);
}

/* ------------------------------------------------------------------ PM sampling */

static struct {
    pthread_mutex_t lock; /* decoding and the fields below */
    bool running;
    CUpti_PmSampling_Object *object;
    struct config cfg;
    uint8_t *data;
    size_t data_size;
    bool seen_first;
    uint64_t last_end;
    pthread_t thread;
    bool thread_started, thread_quit;
    pthread_cond_t wake;
} pm = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static CUptiResult pm_reset_image(void)
{
    CUpti_PmSampling_CounterDataImage_Initialize_Params ci = {.structSize = CUpti_PmSampling_CounterDataImage_Initialize_Params_STRUCT_SIZE};
    ci.pPmSamplingObject = pm.object;
    ci.counterDataSize = pm.data_size;
    ci.pCounterData = pm.data;
    return cuptiPmSamplingCounterDataImageInitialize(&ci);
}

/* Caller holds pm.lock. Moves every completed sample into the sample list, then empties the
 * image; repeats while the image filled up before the hardware buffer was drained. */
static void pm_decode_locked(void)
{
    for (int round = 0; round < 64; round++) {
        CUpti_PmSampling_DecodeData_Params dd = {.structSize = CUpti_PmSampling_DecodeData_Params_STRUCT_SIZE};
        dd.pPmSamplingObject = pm.object;
        dd.pCounterDataImage = pm.data;
        dd.counterDataImageSize = pm.data_size;
        if (cuptiPmSamplingDecodeData(&dd) != CUPTI_SUCCESS) return;
        CUpti_PmSampling_GetCounterDataInfo_Params di = {.structSize = CUpti_PmSampling_GetCounterDataInfo_Params_STRUCT_SIZE};
        di.pCounterDataImage = pm.data;
        di.counterDataImageSize = pm.data_size;
        if (cuptiPmSamplingGetCounterDataInfo(&di) != CUPTI_SUCCESS) return;
        for (size_t i = 0; i < di.numCompletedSamples; i++) {
            CUpti_PmSampling_CounterData_GetSampleInfo_Params si = {.structSize = CUpti_PmSampling_CounterData_GetSampleInfo_Params_STRUCT_SIZE};
            si.pPmSamplingObject = pm.object;
            si.pCounterDataImage = pm.data;
            si.counterDataImageSize = pm.data_size;
            si.sampleIndex = i;
            if (cuptiPmSamplingCounterDataGetSampleInfo(&si) != CUPTI_SUCCESS) continue;
            if (!pm.seen_first) { /* it started before Start: its values cover unknown time */
                pm.seen_first = true;
                pm.last_end = si.endTimestamp;
                continue;
            }
            if (si.endTimestamp <= si.startTimestamp) continue; /* stale, left by a full decode */
            if (pm.last_end && si.startTimestamp > pm.last_end + PROF_PM_INTERVAL_NS / 2)
                for (size_t m = 0; m < pm.cfg.n_metrics; m++) add_sample((int64_t)pm.last_end, pm.cfg.metrics[m], NAN);
            double values[MAX_METRICS];
            if (config_evaluate(&pm.cfg, pm.data, pm.data_size, i, values) != CUPTI_SUCCESS) continue;
            for (size_t m = 0; m < pm.cfg.n_metrics; m++) add_sample((int64_t)si.endTimestamp, pm.cfg.metrics[m], values[m]);
            pm.last_end = si.endTimestamp;
        }
        if (pm_reset_image() != CUPTI_SUCCESS || dd.decodeStopReason != CUPTI_PM_SAMPLING_DECODE_STOP_REASON_COUNTER_DATA_FULL)
            return;
    }
}

static void *pm_decoder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pm.lock);
    while (!pm.thread_quit) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += PM_DECODE_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&pm.wake, &pm.lock, &until);
        if (pm.running) pm_decode_locked();
    }
    pthread_mutex_unlock(&pm.lock);
    return NULL;
}

static void pm_release(void)
{
    if (pm.object) {
        CUpti_PmSampling_Disable_Params d = {.structSize = CUpti_PmSampling_Disable_Params_STRUCT_SIZE};
        d.pPmSamplingObject = pm.object;
        cuptiPmSamplingDisable(&d);
    }
    config_free(&pm.cfg);
    free(pm.data);
    pm.object = NULL;
    pm.data = NULL;
    pm.running = false;
}

static enum lc_status pm_setup(char *err)
{
    int device;
    const char *chip;
    enum lc_status st = current_device(&device, &chip, err);
    if (st) return st;
    CUpti_PmSampling_GetCounterAvailability_Params av = {.structSize = CUpti_PmSampling_GetCounterAvailability_Params_STRUCT_SIZE};
    av.deviceIndex = (size_t)device;
    TRY("PM sampling: cuptiPmSamplingGetCounterAvailability", cuptiPmSamplingGetCounterAvailability(&av));
    uint8_t *availability = malloc(av.counterAvailabilityImageSize);
    if (!availability) return lc_fail(err, LC_ERR_OOM, "PM sampling: no memory");
    av.pCounterAvailabilityImage = availability;
    CUptiResult r = cuptiPmSamplingGetCounterAvailability(&av);
    if (r == CUPTI_SUCCESS) {
        st = config_build(CUPTI_PROFILER_TYPE_PM_SAMPLING, chip, availability, pm_with_nvlink, N_OF(pm_with_nvlink),
                          &pm.cfg, err);
        if (st || pm.cfg.passes != 1) {
            config_free(&pm.cfg);
            st = config_build(CUPTI_PROFILER_TYPE_PM_SAMPLING, chip, availability, pm_with_nvlink, PM_BASE_COUNT,
                              &pm.cfg, err);
        }
    }
    free(availability);
    if (r != CUPTI_SUCCESS)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "PM sampling: cuptiPmSamplingGetCounterAvailability: %s", cupti_error(r));
    if (st) return st;
    if (pm.cfg.passes != 1)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "PM sampling: the metric set needs %zu passes, sampling takes 1",
                       pm.cfg.passes);

    CUpti_PmSampling_Enable_Params en = {.structSize = CUpti_PmSampling_Enable_Params_STRUCT_SIZE};
    en.deviceIndex = (size_t)device;
    TRY("PM sampling: cuptiPmSamplingEnable", cuptiPmSamplingEnable(&en));
    pm.object = en.pPmSamplingObject;

    CUpti_PmSampling_SetConfig_Params sc = {.structSize = CUpti_PmSampling_SetConfig_Params_STRUCT_SIZE};
    sc.pPmSamplingObject = pm.object;
    sc.configSize = pm.cfg.image_size;
    sc.pConfig = pm.cfg.image;
    sc.hardwareBufferSize = PM_HW_BUFFER;
    sc.samplingInterval = PROF_PM_INTERVAL_NS;
    sc.triggerMode = CUPTI_PM_SAMPLING_TRIGGER_MODE_GPU_TIME_INTERVAL;
    sc.hwBufferAppendMode = CUPTI_PM_SAMPLING_HARDWARE_BUFFER_APPEND_MODE_KEEP_OLDEST; /* decodable after Stop */
    TRY("PM sampling: cuptiPmSamplingSetConfig", cuptiPmSamplingSetConfig(&sc));

    CUpti_PmSampling_GetCounterDataSize_Params ds = {.structSize = CUpti_PmSampling_GetCounterDataSize_Params_STRUCT_SIZE};
    ds.pPmSamplingObject = pm.object;
    ds.pMetricNames = pm.cfg.metrics;
    ds.numMetrics = pm.cfg.n_metrics;
    ds.maxSamples = PM_MAX_SAMPLES;
    TRY("PM sampling: cuptiPmSamplingGetCounterDataSize", cuptiPmSamplingGetCounterDataSize(&ds));
    pm.data_size = ds.counterDataSize;
    if (!(pm.data = malloc(pm.data_size))) return lc_fail(err, LC_ERR_OOM, "PM sampling: no memory for %zu bytes", pm.data_size);
    TRY("PM sampling: cuptiPmSamplingCounterDataImageInitialize", pm_reset_image());

    CUpti_PmSampling_Start_Params sp = {.structSize = CUpti_PmSampling_Start_Params_STRUCT_SIZE};
    sp.pPmSamplingObject = pm.object;
    TRY("PM sampling: cuptiPmSamplingStart", cuptiPmSamplingStart(&sp));
    pm.seen_first = false;
    pm.last_end = 0;
    pm.running = true;
    return LC_OK;
}

enum lc_status prof_pm_start(char *err)
{
    pthread_mutex_lock(&pm.lock);
    enum lc_status st = pm.running ? LC_OK : pm_setup(err);
    if (st) pm_release();
    pthread_mutex_unlock(&pm.lock);
    if (st == LC_OK && !pm.thread_started) {
        pm.thread_quit = false;
        pm.thread_started = pthread_create(&pm.thread, NULL, pm_decoder, NULL) == 0;
    }
    return st;
}

void prof_pm_poll(void)
{
    pthread_mutex_lock(&pm.lock);
    if (pm.running) pm_decode_locked();
    pthread_mutex_unlock(&pm.lock);
}

void prof_pm_stop(void)
{
    pthread_mutex_lock(&pm.lock);
    if (pm.running) {
        CUpti_PmSampling_Stop_Params sp = {.structSize = CUpti_PmSampling_Stop_Params_STRUCT_SIZE};
        sp.pPmSamplingObject = pm.object;
        cuptiPmSamplingStop(&sp);
        pm_decode_locked();
        pm_release();
    }
    pm.thread_quit = true;
    pthread_cond_signal(&pm.wake);
    pthread_mutex_unlock(&pm.lock);
    if (pm.thread_started) pthread_join(pm.thread, NULL);
    pm.thread_started = false;
}

/* ------------------------------------------------------------------ range profiler */

static struct {
    bool ready;
    char refused[LC_ERRMSG_LEN]; /* set once the device said no: not asked again */
    CUpti_RangeProfiler_Object *object;
    struct config cfg;
    uint8_t *data;
    size_t data_size;
    bool in_session;  /* passes of one range under way */
    bool per_kernel;  /* this session: one range per kernel (auto ranges, kernel replay) */
    bool resume_pm;   /* PM sampling paused for the session */
} rp;

static enum lc_status rp_setup(char *err)
{
    int device;
    const char *chip;
    enum lc_status st = current_device(&device, &chip, err);
    if (st) return st;
    CUcontext ctx = current_context();
    if (!ctx) return lc_fail(err, LC_ERR_UNSUPPORTED, "range profiler: no current CUDA context");
    CUpti_Profiler_GetCounterAvailability_Params av = {.structSize = CUpti_Profiler_GetCounterAvailability_Params_STRUCT_SIZE};
    av.ctx = ctx;
    TRY("range profiler: cuptiProfilerGetCounterAvailability", cuptiProfilerGetCounterAvailability(&av));
    uint8_t *availability = malloc(av.counterAvailabilityImageSize);
    if (!availability) return lc_fail(err, LC_ERR_OOM, "range profiler: no memory");
    av.pCounterAvailabilityImage = availability;
    CUptiResult r = cuptiProfilerGetCounterAvailability(&av);
    if (r == CUPTI_SUCCESS) {
        st = config_build(CUPTI_PROFILER_TYPE_RANGE_PROFILER, chip, availability, range_full, N_OF(range_full), &rp.cfg,
                          err);
        if (st)
            st = config_build(CUPTI_PROFILER_TYPE_RANGE_PROFILER, chip, availability, range_single_pass,
                              RANGE_SINGLE_PASS_COUNT, &rp.cfg, err);
    }
    free(availability);
    if (r != CUPTI_SUCCESS)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "range profiler: cuptiProfilerGetCounterAvailability: %s", cupti_error(r));
    if (st) return st;

    CUpti_RangeProfiler_Enable_Params en = {.structSize = CUpti_RangeProfiler_Enable_Params_STRUCT_SIZE};
    en.ctx = ctx;
    TRY("range profiler: cuptiRangeProfilerEnable", cuptiRangeProfilerEnable(&en));
    rp.object = en.pRangeProfilerObject;
    CUpti_RangeProfiler_GetCounterDataSize_Params ds = {.structSize = CUpti_RangeProfiler_GetCounterDataSize_Params_STRUCT_SIZE};
    ds.pRangeProfilerObject = rp.object;
    ds.pMetricNames = rp.cfg.metrics;
    ds.numMetrics = rp.cfg.n_metrics;
    ds.maxNumOfRanges = RANGES_PER_PASS;
    ds.maxNumRangeTreeNodes = RANGES_PER_PASS;
    TRY("range profiler: cuptiRangeProfilerGetCounterDataSize", cuptiRangeProfilerGetCounterDataSize(&ds));
    rp.data_size = ds.counterDataSize;
    if (!(rp.data = malloc(rp.data_size))) return lc_fail(err, LC_ERR_OOM, "range profiler: no memory");
    rp.ready = true;
    return LC_OK;
}

/* A new session: an empty counter-data image and the configuration. Per kernel: CUPTI makes a
 * range of every kernel and replays it for each pass itself (it serialises kernels, which only
 * profiling iterations without NCCL kernels afford); otherwise one user range replayed by us. */
static enum lc_status rp_open_session(char *err)
{
    CUpti_RangeProfiler_CounterDataImage_Initialize_Params ci = {.structSize = CUpti_RangeProfiler_CounterDataImage_Initialize_Params_STRUCT_SIZE};
    ci.pRangeProfilerObject = rp.object;
    ci.counterDataSize = rp.data_size;
    ci.pCounterData = rp.data;
    TRY("range profiler: cuptiRangeProfilerCounterDataImageInitialize", cuptiRangeProfilerCounterDataImageInitialize(&ci));
    CUpti_RangeProfiler_SetConfig_Params sc = {.structSize = CUpti_RangeProfiler_SetConfig_Params_STRUCT_SIZE};
    sc.pRangeProfilerObject = rp.object;
    sc.configSize = rp.cfg.image_size;
    sc.pConfig = rp.cfg.image;
    sc.counterDataImageSize = rp.data_size;
    sc.pCounterDataImage = rp.data;
    sc.range = rp.per_kernel ? CUPTI_AutoRange : CUPTI_UserRange;
    sc.replayMode = rp.per_kernel ? CUPTI_KernelReplay : CUPTI_UserReplay;
    sc.maxRangesPerPass = RANGES_PER_PASS;
    sc.numNestingLevels = 1;
    sc.minNestingLevel = 1;
    sc.passIndex = 0;
    sc.targetNestingLevel = 1;
    TRY("range profiler: cuptiRangeProfilerSetConfig", cuptiRangeProfilerSetConfig(&sc));
    return LC_OK;
}

/* Gives the counters back (PM sampling cannot start while the range profiler is enabled:
 * HARDWARE_BUSY) and lets PM sampling run again if the session paused it. */
static void rp_release(void)
{
    if (rp.object) {
        CUpti_RangeProfiler_Disable_Params d = {.structSize = CUpti_RangeProfiler_Disable_Params_STRUCT_SIZE};
        d.pRangeProfilerObject = rp.object;
        cuptiRangeProfilerDisable(&d);
    }
    config_free(&rp.cfg);
    free(rp.data);
    rp.object = NULL;
    rp.data = NULL;
    rp.ready = rp.in_session = false;
    if (rp.resume_pm) {
        char why[LC_ERRMSG_LEN];
        prof_pm_start(why); /* it ran before: a refusal now would only repeat itself, quietly */
    }
}

/* The device said no: remember why (it is not asked again) and give everything back. */
static enum lc_status rp_refuse(enum lc_status st, char *err)
{
    snprintf(rp.refused, sizeof rp.refused, "%s", err);
    rp_release();
    return st;
}

enum lc_status prof_range_begin(const char *range_name, char *err)
{
    if (rp.refused[0]) return lc_fail(err, LC_ERR_UNSUPPORTED, "%s", rp.refused);
    enum lc_status st;
    if (!rp.in_session) {
        pthread_mutex_lock(&pm.lock);
        rp.resume_pm = pm.running; /* the range profiler and PM sampling cannot share the counters */
        pthread_mutex_unlock(&pm.lock);
        if (rp.resume_pm) prof_pm_stop();
        rp.per_kernel = range_name == NULL;
        if (!rp.ready && (st = rp_setup(err))) return rp_refuse(st, err);
        if ((st = rp_open_session(err))) return rp_refuse(st, err);
        rp.in_session = true;
    }
    CUpti_RangeProfiler_Start_Params sp = {.structSize = CUpti_RangeProfiler_Start_Params_STRUCT_SIZE};
    sp.pRangeProfilerObject = rp.object;
    TRY("range profiler: cuptiRangeProfilerStart", cuptiRangeProfilerStart(&sp));
    if (rp.per_kernel) return LC_OK;
    CUpti_RangeProfiler_PushRange_Params pr = {.structSize = CUpti_RangeProfiler_PushRange_Params_STRUCT_SIZE};
    pr.pRangeProfilerObject = rp.object;
    pr.pRangeName = range_name;
    TRY("range profiler: cuptiRangeProfilerPushRange", cuptiRangeProfilerPushRange(&pr));
    return LC_OK;
}

static enum lc_status rp_collect(char *err)
{
    CUpti_RangeProfiler_DecodeData_Params dd = {.structSize = CUpti_RangeProfiler_DecodeData_Params_STRUCT_SIZE};
    dd.pRangeProfilerObject = rp.object;
    TRY("range profiler: cuptiRangeProfilerDecodeData", cuptiRangeProfilerDecodeData(&dd));
    CUpti_RangeProfiler_GetCounterDataInfo_Params di = {.structSize = CUpti_RangeProfiler_GetCounterDataInfo_Params_STRUCT_SIZE};
    di.pCounterDataImage = rp.data;
    di.counterDataImageSize = rp.data_size;
    TRY("range profiler: cuptiRangeProfilerGetCounterDataInfo", cuptiRangeProfilerGetCounterDataInfo(&di));
    int64_t now = lc_now_ns();
    for (size_t i = 0; i < di.numTotalRanges; i++) {
        double values[MAX_METRICS];
        TRY("range profiler: cuptiProfilerHostEvaluateToGpuValues",
            config_evaluate(&rp.cfg, rp.data, rp.data_size, i, values));
        for (size_t m = 0; m < rp.cfg.n_metrics; m++) add_sample(now, rp.cfg.metrics[m], values[m]);
    }
    return LC_OK;
}

enum lc_status prof_range_end(bool *replay, char *err)
{
    *replay = false;
    if (!rp.in_session) return lc_fail(err, LC_ERR_INTERNAL, "range profiler: end without begin");
    CUpti_RangeProfiler_PopRange_Params pp = {.structSize = CUpti_RangeProfiler_PopRange_Params_STRUCT_SIZE};
    pp.pRangeProfilerObject = rp.object;
    CUpti_RangeProfiler_Stop_Params sp = {.structSize = CUpti_RangeProfiler_Stop_Params_STRUCT_SIZE};
    sp.pRangeProfilerObject = rp.object;
    CUptiResult r = rp.per_kernel ? CUPTI_SUCCESS : cuptiRangeProfilerPopRange(&pp);
    if (r == CUPTI_SUCCESS) r = cuptiRangeProfilerStop(&sp);
    enum lc_status st = LC_OK;
    if (r != CUPTI_SUCCESS) st = lc_fail(err, LC_ERR_UNSUPPORTED, "range profiler: pop/stop: %s", cupti_error(r));
    else if (!sp.isAllPassSubmitted) {
        *replay = true;
        return LC_OK;
    } else {
        st = rp_collect(err);
    }
    rp_release();
    return st;
}
