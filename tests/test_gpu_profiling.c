/* The GPU profiling path on a real device (skipped without one): the CUPTI recorder on a flash
 * run (intervals named, classified and inside the run's host time window, nothing dropped),
 * mark() tagging launches with iteration and CP step, the tracing overhead (the same run with
 * tracing off and on), the range profiler on one forward kernel and PM samples (figures printed
 * for comparison with ncu), and with two GPUs and NCCL an all-reduce beside a flash forward:
 * NCCL kernels classified as communication and the overlap breakdown.
 * `test_gpu_profiling --kernel-only` runs just the forward kernel (no CUPTI) for ncu. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "core/engine/engine.h"
#include "cp/cp.h"
#include "tests/gpu_test_util.h"
#include "profiling/cuda/cupti_trace.h"
#include "profiling/overlap.h"
#include "core/mask/mask_view.h"

#if defined(LONGCA_HAVE_NCCL)
#include <cuda_runtime_api.h>
#include <nccl.h>
#endif

static const struct timeline_recorder *const rec = &prof_cupti_recorder;

/* ------------------------------------------------------------------ a flash forward, by hand */

struct fwd {
    const struct longca_kernel *kernel;
    struct mask mask;
    struct longca_mask view;
    struct longca_problem p;
    struct longca_tensors t;
    void *plan, *ws;
};

static enum lc_status fwd_setup(struct fwd *f, int64_t seqlen, char *err)
{
    memset(f, 0, sizeof *f);
    f->kernel = kernel_find("flash");
    if (!f->kernel) return lc_fail(err, LC_ERR_UNSUPPORTED, "no flash kernel in this build");
    struct mask_params mp = {0};
    enum lc_status st;
    if ((st = mask_build(MASK_CAUSAL, &mp, seqlen, 16, &f->mask, err)) || (st = mask_view_build(&f->mask, &f->view, err)))
        return st;
    f->p = (struct longca_problem){.batch = 1, .heads_q = 16, .heads_kv = 16, .head_dim = 128, .seqlen_q = seqlen,
                                 .seqlen_k = seqlen, .dtype = LC_BF16, .softmax_scale = 1.0f / sqrtf(128.0f),
                                 .mask = &f->view};
    size_t ws_bytes = 0, n = (size_t)seqlen * 16 * 128, bytes = n * dtype_size(LC_BF16);
    if ((st = kernel_plan(f->kernel, &f->p, DIR_FWD, &f->plan, &ws_bytes, err))) return st;
    void *q, *k, *v, *o, *lse;
    const struct device_ops *d = &device_cuda;
    if ((st = d->alloc(bytes, &q, err)) || (st = d->alloc(bytes, &k, err)) || (st = d->alloc(bytes, &v, err)) ||
        (st = d->alloc(bytes, &o, err)) || (st = d->alloc((size_t)seqlen * 16 * sizeof(float), &lse, err)) ||
        (ws_bytes && (st = d->alloc(ws_bytes, &f->ws, err))))
        return st;
    void *zeros = calloc(1, bytes);
    if (!zeros) return lc_fail(err, LC_ERR_OOM, "no host memory");
    if ((st = d->upload(q, zeros, bytes, err)) || (st = d->upload(k, zeros, bytes, err)) ||
        (st = d->upload(v, zeros, bytes, err))) {
        free(zeros);
        return st;
    }
    free(zeros);
    f->t = (struct longca_tensors){.q = q, .k = k, .v = v, .o = o, .lse = lse};
    return d->sync(err);
}

static enum lc_status fwd_launch(struct fwd *f, char *err) { return kernel_forward(f->kernel, f->plan, &f->t, f->ws, device_cuda.stream(), err); }

/* ------------------------------------------------------------------ a run through the driver */

struct collect {
    struct interval *ivs;
    int n;
    struct run_result result;
    bool have_result;
};

static void collect_emit(void *ctx, const struct event *ev)
{
    struct collect *c = ctx;
    if (ev->type == EV_INTERVALS && ev->n_intervals > 0) {
        struct interval *grown = realloc(c->ivs, (size_t)(c->n + ev->n_intervals) * sizeof *grown);
        if (!grown) return;
        c->ivs = grown;
        memcpy(c->ivs + c->n, ev->intervals, (size_t)ev->n_intervals * sizeof *grown);
        c->n += ev->n_intervals;
    } else if (ev->type == EV_RESULT) {
        c->result = ev->u.result;
        c->have_result = true;
    }
}

static struct run_spec flash_spec(void)
{
    struct run_spec s;
    run_spec_defaults(&s, true);
    snprintf(s.kernel, sizeof s.kernel, "flash");
    s.mask = MASK_CAUSAL;
    s.seqlen = 16384;
    s.warmup = 5;
    s.iters = 30;
    s.check = false;
    return s;
}

/* One run; with_recorder: CUPTI traces it. Returns the median ms (0 on failure). */
static double run_flash(bool with_recorder, struct collect *c, int64_t *t0, int64_t *t1)
{
    struct timeline tl;
    timeline_init(&tl);
    char err[LC_ERRMSG_LEN] = "";
    if (with_recorder && rec->start(&tl, err) != LC_OK) {
        fprintf(stderr, "recorder start: %s\n", err);
        failures++;
        timeline_destroy(&tl);
        return 0;
    }
    if (err[0]) printf("  recorder started without a part: %s\n", err);
    struct engine_env env = {.device = &device_cuda, .rank = 1, .sink = {collect_emit, c}, .timeline = &tl,
                             .recorder = with_recorder ? rec : NULL};
    struct run_spec spec = flash_spec();
    struct run_result out;
    *t0 = lc_now_ns();
    enum lc_status st = engine_execute(&env, &spec, 0, &out);
    *t1 = lc_now_ns();
    if (with_recorder) rec->stop();
    timeline_destroy(&tl);
    CHECK(st == LC_OK && out.status == LC_OK);
    return st == LC_OK ? out.ms_median : 0;
}

static void check_tracing(void)
{
    printf("-- tracing a flash run (S=16384 causal bf16, 30 timed iterations)\n");
    struct collect c = {0};
    int64_t t0, t1;
    run_flash(true, &c, &t0, &t1);
    int compute = 0, inside = 0, named = 0;
    for (int i = 0; i < c.n; i++) {
        compute += c.ivs[i].kind == IV_COMPUTE;
        inside += c.ivs[i].start_ns >= t0 && c.ivs[i].end_ns <= t1 && c.ivs[i].end_ns >= c.ivs[i].start_ns;
        named += strstr(c.ivs[i].name, "flash") != NULL;
    }
    struct prof_cupti_stats s;
    prof_cupti_stats(&s);
    printf("  %d intervals (%d compute, %d named *flash*), %d inside the run's host window\n", c.n, compute, named,
           inside);
    printf("  CUPTI: %llu kernels, %llu memcpy, %llu memset, %llu API records, %llu dropped, %llu untagged\n",
           (unsigned long long)s.kernels, (unsigned long long)s.memcpys, (unsigned long long)s.memsets,
           (unsigned long long)s.api_records, (unsigned long long)s.dropped, (unsigned long long)s.untagged);
    if (c.n) printf("  first: %s [%d] stream %d grid %u,%u,%u block %u\n", c.ivs[0].name, c.ivs[0].kind,
                    c.ivs[0].stream, c.ivs[0].grid[0], c.ivs[0].grid[1], c.ivs[0].grid[2], c.ivs[0].block[0]);
    CHECK(c.n >= 30 && compute >= 30 && named >= 30);
    CHECK(inside == c.n); /* CUPTI's clock is lc_now_ns's: every kernel lies inside the host window */
    CHECK(s.dropped == 0 && s.api_records > 0 && s.memcpys > 0);
    free(c.ivs);
}

static void check_mark(struct fwd *f)
{
    printf("-- mark(): launches carry the iteration and CP step\n");
    struct timeline tl;
    timeline_init(&tl);
    char err[LC_ERRMSG_LEN] = "";
    CHECK(rec->start(&tl, err) == LC_OK);
    rec->mark(7, 5, 2);
    CHECK(fwd_launch(f, err) == LC_OK);
    rec->mark(7, 5, 3);
    CHECK(fwd_launch(f, err) == LC_OK);
    rec->mark(-1, -1, -1);
    CHECK(device_cuda.sync(err) == LC_OK);
    rec->flush();
    struct interval *ivs = NULL;
    int n = timeline_take(&tl, &ivs);
    int step2 = 0, step3 = 0;
    for (int i = 0; i < n; i++) {
        step2 += ivs[i].iter == 5 && ivs[i].cp_step == 2;
        step3 += ivs[i].iter == 5 && ivs[i].cp_step == 3;
    }
    printf("  %d intervals: %d tagged iter 5 step 2, %d tagged iter 5 step 3\n", n, step2, step3);
    CHECK(step2 >= 1 && step3 >= 1);
    free(ivs);
    rec->stop();
    timeline_destroy(&tl);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void check_overhead(void)
{
    printf("-- overhead: the same run with tracing off and on, alternated 5 times\n");
    double off[5], on[5];
    for (int k = 0; k < 5; k++) {
        struct collect a = {0}, b = {0};
        int64_t t0, t1;
        off[k] = run_flash(false, &a, &t0, &t1);
        on[k] = run_flash(true, &b, &t0, &t1);
        free(a.ivs);
        free(b.ivs);
    }
    qsort(off, 5, sizeof *off, cmp_double);
    qsort(on, 5, sizeof *on, cmp_double);
    double ratio = on[2] / off[2];
    printf("  median of medians: off %.4f ms, on %.4f ms, on/off %.4f (%+.2f %%; target <= +2 %%)\n", off[2], on[2],
           ratio, 100.0 * (ratio - 1.0));
    if (ratio > 1.02) printf("  VERIFY: tracing overhead above the 2 %% target\n");
}

static void check_counters(struct fwd *f)
{
    printf("-- range profiler, a range per kernel, on one flash forward (compare with ncu, see profiling/gpu_check.sh)\n");
    char err[LC_ERRMSG_LEN] = "";
    struct counter_sample *earlier = NULL;
    rec->take_samples(&earlier); /* PM samples gathered so far are not the range's figures */
    free(earlier);
    bool replay = true;
    int passes = 0;
    enum lc_status st = LC_OK;
    while (replay && st == LC_OK && passes < 64) {
        if ((st = rec->counters_begin(NULL, err))) break;
        st = fwd_launch(f, err);
        if (!st) st = device_cuda.sync(err);
        if (!st) st = rec->counters_end(&replay, err);
        passes++;
    }
    if (st == LC_ERR_UNSUPPORTED) {
        printf("  counters refused, carrying on without them: %s\n", err);
    } else {
        CHECK(st == LC_OK);
        struct counter_sample *s = NULL;
        int n = rec->take_samples(&s);
        printf("  %d pass(es), %d values\n", passes, n);
        for (int i = 0; i < n; i++) printf("  %-72s %10.3f\n", s[i].metric, s[i].value);
        CHECK(n >= 5);
        free(s);
    }

    printf("-- PM sampling during 200 forwards\n");
    struct timeline tl;
    timeline_init(&tl);
    err[0] = '\0';
    CHECK(rec->start(&tl, err) == LC_OK);
    if (err[0]) printf("  PM sampling refused: %s\n", err);
    for (int i = 0; i < 200; i++) fwd_launch(f, err);
    device_cuda.sync(err);
    rec->flush();
    rec->stop();
    struct counter_sample *s = NULL;
    int n = rec->take_samples(&s), gaps = 0;
    for (int i = 0; i < n; i++) gaps += isnan(s[i].value);
    printf("  %d PM values (%d NaN marks of lost data)\n", n, gaps);
    for (int i = 0; i < n && i < 12; i++) printf("  t=%lld %-64s %8.2f\n", (long long)s[i].t_ns, s[i].metric, s[i].value);
    free(s);
    struct interval *traced = NULL;
    timeline_take(&tl, &traced);
    free(traced);
    timeline_destroy(&tl);
}

#if defined(LONGCA_HAVE_NCCL)
static void check_nccl_overlap(struct fwd *f)
{
    int ndev = 0;
    cudaGetDeviceCount(&ndev);
    if (ndev < 2) {
        printf("-- NCCL overlap: skipped, it needs 2 GPUs (this machine has %d)\n", ndev);
        return;
    }
    printf("-- NCCL all-reduce on GPUs 0 and 1 beside a flash forward on GPU 0\n");
    int devs[2] = {0, 1};
    ncclComm_t comms[2];
    if (ncclCommInitAll(comms, 2, devs) != ncclSuccess) {
        printf("  ncclCommInitAll failed\n");
        failures++;
        return;
    }
    size_t count = 64u << 20; /* 256 MB of floats */
    float *buf[2];
    cudaStream_t streams[2];
    for (int d = 0; d < 2; d++) {
        cudaSetDevice(d);
        cudaMalloc((void **)&buf[d], count * sizeof(float));
        cudaStreamCreateWithFlags(&streams[d], cudaStreamNonBlocking);
    }
    cudaSetDevice(0);
    struct timeline tl;
    timeline_init(&tl);
    char err[LC_ERRMSG_LEN] = "";
    CHECK(rec->start(&tl, err) == LC_OK);
    for (int rep = 0; rep < 5; rep++) {
        rec->mark(0, rep, -1);
        fwd_launch(f, err);
        ncclGroupStart();
        for (int d = 0; d < 2; d++) ncclAllReduce(buf[d], buf[d], count, ncclFloat, ncclSum, comms[d], streams[d]);
        ncclGroupEnd();
        for (int d = 0; d < 2; d++) {
            cudaSetDevice(d);
            cudaDeviceSynchronize();
        }
        cudaSetDevice(0);
    }
    rec->mark(-1, -1, -1);
    rec->flush();
    rec->stop();
    struct interval *ivs = NULL;
    int n = timeline_take(&tl, &ivs), comm = 0;
    for (int i = 0; i < n; i++)
        if (ivs[i].kind == IV_COMM) {
            if (!comm) printf("  first communication kernel: %s, grid %u, block %u\n", ivs[i].name, ivs[i].grid[0], ivs[i].block[0]);
            comm++;
        }
    struct prof_breakdown b;
    prof_breakdown_compute(ivs, n, &b, NULL);
    char hta[16];
    printf("  %d intervals (%d communication; both GPUs' kernels, the timeline has no device field)\n", n, comm);
    printf("  span %.3f ms: compute-only %.1f %%, comm-only %.1f %%, overlapped %.1f %%, idle %.1f %%, HTA overlap %s %%\n",
           (double)b.span_ns / 1e6, b.compute_only_pct, b.comm_only_pct, b.overlapped_pct, b.idle_pct,
           prof_pct_format(b.hta_overlap_pct, hta, sizeof hta));
    CHECK(comm >= 10); /* 5 all-reduces x 2 GPUs */
    if (b.overlapped_ns <= 0) printf("  VERIFY: no overlap measured between the all-reduce and the forward\n");
    free(ivs);
    timeline_destroy(&tl);
    for (int d = 0; d < 2; d++) {
        cudaSetDevice(d);
        cudaFree(buf[d]);
        cudaStreamDestroy(streams[d]);
        ncclCommDestroy(comms[d]);
    }
    cudaSetDevice(0);
}
#endif

int main(int argc, char **argv)
{
    kernels_register_all(NULL);
    cp_register_all(); /* runs go through the local method */
    int skip = gpu_open_or_skip();
    if (skip) return skip;
    struct fwd f;
    char err[LC_ERRMSG_LEN];
    if (fwd_setup(&f, 16384, err) != LC_OK) {
        fprintf(stderr, "flash forward setup: %s\n", err);
        return 1;
    }
    if (argc > 1 && !strcmp(argv[1], "--kernel-only")) {
        for (int i = 0; i < 5; i++) fwd_launch(&f, err);
        return device_cuda.sync(err) == LC_OK ? 0 : 1;
    }
    check_tracing();
    check_mark(&f);
    check_overhead();
    check_counters(&f);
#if defined(LONGCA_HAVE_NCCL)
    check_nccl_overlap(&f);
#else
    printf("-- NCCL overlap: skipped, built without NCCL\n");
#endif
    return check_report("test_gpu_profiling");
}
