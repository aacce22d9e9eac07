/* The Chrome trace exporter end to end: a capture with several ranks, streams, runs, CP steps,
 * counters and intervals that overlap without nesting goes through `longca export`; the JSON is
 * read back with core/io/json.c and checked: required fields of every event, nesting on every
 * track, HTA's name classification, per-rank files, and the overlap breakdown recomputed from
 * the exported events equal to what the tool reported and to the breakdown of the intervals
 * generated. Then 100K kernels are exported against the clock. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"
#include "core/io/capture.h"
#include "cli/commands.h"
#include "core/io/json.h"
#include "core/model/spec.h"
#include "profiling/overlap.h"
#include "profiling/trace_export.h"

enum { RANKS = 3, RUNS = 3, ITERS = 4, STEPS = 3, MAX_IVS = 4096 };

/* ------------------------------------------------------------------ the generated capture */

struct truth {
    struct interval ivs[RANKS + 1][RUNS][MAX_IVS]; /* what was generated, per rank and run */
    int n[RANKS + 1][RUNS];
    int total, forced_overflow, finite_samples;
};

struct gen {
    struct capture_writer *cap;
    struct prof_trace *mem;
    uint64_t rng;
    struct truth *truth;
};

static uint64_t next_rand(struct gen *g)
{
    g->rng = g->rng * 6364136223846793005ull + 1442695040888963407ull;
    return g->rng >> 33;
}

static void emit(struct gen *g, struct event *ev)
{
    capture_write(g->cap, ev);
    prof_trace_add(g->mem, ev);
    event_free(ev);
}

static struct interval make_iv(enum interval_kind kind, const char *name, int64_t s, int64_t e, int stream, int iter,
                               int step, uint32_t corr)
{
    struct interval iv;
    memset(&iv, 0, sizeof iv);
    iv.kind = (uint8_t)kind;
    iv.start_ns = s;
    iv.end_ns = e;
    iv.stream = (int16_t)stream;
    iv.iter = iter;
    iv.cp_step = step;
    iv.correlation = corr;
    iv.grid[0] = 132, iv.grid[1] = 4, iv.grid[2] = 1;
    iv.block[0] = 256, iv.block[1] = iv.block[2] = 1;
    iv.bytes = kind == IV_COMPUTE ? 0 : 1u << 20;
    snprintf(iv.name, sizeof iv.name, "%s", name);
    return iv;
}

/* One timed iteration of a CP run on one rank: per step a compute kernel on stream 7, a
 * communication kernel on stream 13 that starts half way through it, sometimes a copy on
 * stream 14, a host stamp on stream 0, and now and then a second compute kernel on stream 7
 * that starts inside the first and ends after it (it cannot nest: an overflow track). */
static int64_t gen_iteration(struct gen *g, int rank, int run, int iter, int64_t t, uint32_t *corr)
{
    struct interval batch[STEPS * 6];
    int n = 0;
    for (int step = 0; step < STEPS; step++) {
        int64_t d = 20000 + (int64_t)(next_rand(g) % 30000), c = 10000 + (int64_t)(next_rand(g) % 40000);
        batch[n++] = make_iv(IV_COMPUTE, "_flash_fwd_kernel", t, t + d, 7, iter, step, (*corr)++);
        batch[n++] = make_iv(IV_COMM, rank == 2 ? "mpi_sendrecv" : "ncclDevKernel_SendRecv", t + d / 2,
                             t + d / 2 + c, 13, iter, step, (*corr)++);
        if (next_rand(g) % 3 == 0)
            batch[n++] = make_iv(IV_MEMORY, rank == 3 ? "kv_copy" : "Memcpy DtoD (Device -> Device)", t + 100,
                                 t + 3000, 14, iter, step, (*corr)++);
        batch[n++] = make_iv(IV_OTHER, "host_merge \"lse\"", t + 10, t + 500, 0, iter, step, 0);
        if (next_rand(g) % 4 == 0) {
            batch[n++] = make_iv(IV_COMPUTE, "_flash_fwd_kernel", t + d / 2, t + d + 5000, 7, iter, step, (*corr)++);
            g->truth->forced_overflow++;
        }
        t += d + c + (int64_t)(next_rand(g) % 5000);
    }
    struct event ev;
    event_init(&ev, EV_INTERVALS, run, rank);
    ev.intervals = malloc(sizeof batch);
    memcpy(ev.intervals, batch, (size_t)n * sizeof *batch);
    ev.n_intervals = n;
    struct truth *tr = g->truth;
    for (int k = 0; k < n; k++) tr->ivs[rank][run][tr->n[rank][run]++] = batch[k];
    tr->total += n;
    emit(g, &ev);
    return t;
}

static void gen_capture(struct gen *g)
{
    const int64_t epoch = 1763860000000000000ll; /* realistic CLOCK_REALTIME: precision matters */
    struct run_spec spec;
    run_spec_defaults(&spec, false);
    for (int rank = 1; rank <= RANKS; rank++) {
        struct event ev;
        event_init(&ev, EV_HELLO, -1, rank);
        snprintf(ev.u.hello.host, sizeof ev.u.hello.host, "node%d", rank);
        snprintf(ev.u.hello.device, sizeof ev.u.hello.device, "NVIDIA H200, 132 SMs");
        snprintf(ev.u.hello.backend, sizeof ev.u.hello.backend, "cuda");
        ev.u.hello.local_index = rank - 1;
        emit(g, &ev);
    }
    for (int run = 0; run < RUNS; run++) {
        struct event queued;
        event_init(&queued, EV_RUN_QUEUED, run, 0);
        queued.u.spec = spec;
        queued.u.spec.seqlen = 1024 << run;
        emit(g, &queued);
        for (int rank = 1; rank <= RANKS; rank++) {
            int64_t t = epoch + (int64_t)run * 1000000000 + rank * 777;
            uint32_t corr = 1000u * (uint32_t)run;
            struct event ev;
            event_init(&ev, EV_RUN_STARTED, run, rank);
            ev.t_ns = t;
            emit(g, &ev);
            t += 5000;
            for (int iter = 0; iter < ITERS; iter++) t = gen_iteration(g, rank, run, iter, t, &corr) + 20000;
            if (rank == 1) {
                event_init(&ev, EV_COUNTERS, run, rank);
                ev.n_samples = 3;
                ev.samples = calloc(3, sizeof *ev.samples);
                for (int k = 0; k < 3; k++) {
                    ev.samples[k].t_ns = t - 1000 * (3 - k);
                    snprintf(ev.samples[k].metric, sizeof ev.samples[k].metric,
                             "dram__throughput.avg.pct_of_peak_sustained_elapsed");
                    ev.samples[k].value = k == 1 ? NAN : 40.0 + k;
                }
                g->truth->finite_samples += 2;
                emit(g, &ev);
            }
            if (!(rank == 2 && run == RUNS - 1)) { /* rank 2's last run never reports: incomplete */
                event_init(&ev, EV_RESULT, run, rank);
                ev.t_ns = t + 1000;
                ev.u.result.status = LC_OK;
                emit(g, &ev);
            }
        }
        struct event merged;
        event_init(&merged, EV_RESULT, run, -1);
        emit(g, &merged);
    }
}

/* ------------------------------------------------------------------ reading the trace back */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool is_int(const struct json_value *v) { return v && v->type == JSON_NUMBER && v->is_int; }
static bool is_num(const struct json_value *v) { return v && v->type == JSON_NUMBER; }
static bool is_str(const struct json_value *v) { return v && v->type == JSON_STRING; }

static int64_t ns_of(const struct json_value *us) { return llround(us->number * 1000.0); }

/* HTA's patterns, written out independently of the exporter: communication "^nccl.*Kernel"
 * (hta/utils/utils.py, 0.5) and the older "^nccl|^hip|^hccl|.*ncclKernel.*" must both agree. */
static bool hta_comm(const char *n)
{
    const char *kernel = strstr(n, "Kernel");
    bool now = !strncmp(n, "nccl", 4) && kernel && kernel >= n + 4;
    bool before = !strncmp(n, "nccl", 4) || !strncmp(n, "hip", 3) || !strncmp(n, "hccl", 4) || strstr(n, "ncclKernel");
    return now && before;
}
static bool hta_memory(const char *n)
{
    return !strncmp(n, "Memcpy", 6) || !strncmp(n, "Memset", 6) || !strncmp(n, "hipMemcpy", 9) ||
           !strncmp(n, "hipMemset", 9) || !strncmp(n, "dma", 3);
}

struct xev {
    int pid, tid, run;
    int64_t start, end;
    int kind; /* -1: a host range */
};

static int xev_cmp(const void *pa, const void *pb)
{
    const struct xev *a = pa, *b = pb;
    if (a->pid != b->pid) return a->pid - b->pid;
    if (a->tid != b->tid) return a->tid - b->tid;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    if (a->end != b->end) return a->end > b->end ? -1 : 1;
    return 0;
}

static int kind_of(const char *name)
{
    for (int k = 0; k < IV_KIND_COUNT; k++)
        if (!strcmp(name, interval_kind_name((enum interval_kind)k))) return k;
    return -1;
}

static void check_event(const struct json_value *e, struct xev *xs, int *nx, int *n_kernel_x, int *n_c,
                        int *n_overflow)
{
    const struct json_value *ph = json_get(e, "ph"), *args = json_get(e, "args");
    CHECK(e->type == JSON_OBJECT && is_str(ph) && is_int(json_get(e, "pid")) && is_str(json_get(e, "name")));
    CHECK(args && args->type == JSON_OBJECT);
    if (!is_str(ph) || !args) return;
    const char *name = json_get(e, "name")->string;
    if (!strcmp(ph->string, "M")) {
        CHECK(is_int(json_get(e, "tid")));
        CHECK(is_str(json_get(args, "name")) || is_int(json_get(args, "sort_index")) || is_str(json_get(args, "labels")));
        return;
    }
    if (!strcmp(ph->string, "C")) {
        CHECK(is_num(json_get(e, "ts")) && is_num(json_get(args, "value")));
        (*n_c)++;
        return;
    }
    CHECK(!strcmp(ph->string, "X"));
    const struct json_value *ts = json_get(e, "ts"), *dur = json_get(e, "dur"), *cat = json_get(e, "cat");
    CHECK(is_num(ts) && is_num(dur) && is_str(cat) && is_int(json_get(e, "tid")) && is_int(json_get(args, "run")));
    if (!is_num(ts) || !is_num(dur) || !is_str(cat) || !is_int(json_get(e, "tid"))) return;
    CHECK(ts->number >= 0 && dur->number >= 0);
    struct xev x = {(int)json_get(e, "pid")->i, (int)json_get(e, "tid")->i, (int)json_get(args, "run")->i,
                    ns_of(ts), 0, -1};
    x.end = x.start + ns_of(dur);
    if (json_get(args, "overflow_of_stream")) (*n_overflow)++;
    if (strcmp(cat->string, "user_annotation") != 0) {
        CHECK(!strcmp(cat->string, "kernel") || !strcmp(cat->string, "gpu_memcpy") || !strcmp(cat->string, "gpu_memset"));
        static const char *const required[] = {"device", "stream", "correlation", "bytes", "cp_step", "iter"};
        for (size_t k = 0; k < sizeof required / sizeof *required; k++) CHECK(is_int(json_get(args, required[k])));
        const struct json_value *grid = json_get(args, "grid"), *block = json_get(args, "block");
        CHECK(grid && grid->type == JSON_ARRAY && grid->count == 3 && block && block->type == JSON_ARRAY &&
              block->count == 3);
        const struct json_value *kind = json_get(args, "kind");
        CHECK(is_str(kind) && kind_of(kind->string) >= 0);
        if (!is_str(kind)) return;
        x.kind = kind_of(kind->string);
        /* HTA must classify every event as we did. */
        if (x.kind == IV_COMM) CHECK(hta_comm(name));
        else CHECK(strncmp(name, "nccl", 4) != 0 && !strstr(name, "ncclKernel"));
        if (x.kind == IV_MEMORY) CHECK(hta_memory(name));
        if (x.kind == IV_COMPUTE) CHECK(!hta_memory(name));
        (*n_kernel_x)++;
    }
    xs[(*nx)++] = x;
}

/* Duration events on one (pid, tid) must nest. */
static void check_nesting(struct xev *xs, int nx)
{
    qsort(xs, (size_t)nx, sizeof *xs, xev_cmp);
    int64_t stack[256];
    int depth = 0, bad = 0;
    for (int k = 0; k < nx; k++) {
        if (k == 0 || xs[k].pid != xs[k - 1].pid || xs[k].tid != xs[k - 1].tid) depth = 0;
        while (depth > 0 && stack[depth - 1] <= xs[k].start) depth--;
        if (depth > 0 && xs[k].end > stack[depth - 1]) bad++;
        if (depth < 256) stack[depth++] = xs[k].end;
    }
    CHECK(bad == 0);
}

static bool same_breakdown(const struct prof_breakdown *a, const struct json_value *o)
{
    struct {
        const char *key;
        int64_t value;
    } ns[] = {{"span_ns", a->span_ns},         {"busy_ns", a->busy_ns},           {"compute_ns", a->union_ns[IV_COMPUTE]},
              {"comm_ns", a->union_ns[IV_COMM]}, {"compute_only_ns", a->compute_only_ns}, {"comm_only_ns", a->comm_only_ns},
              {"overlapped_ns", a->overlapped_ns}, {"other_only_ns", a->other_only_ns}, {"idle_ns", a->idle_ns}};
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
        const struct json_value *v = json_get(o, ns[k].key);
        if (!is_int(v) || v->i != ns[k].value) {
            fprintf(stderr, "breakdown field %s: exported %lld, recomputed %lld\n", ns[k].key,
                    v && v->is_int ? (long long)v->i : -1ll, (long long)ns[k].value);
            return false;
        }
    }
    double hta;
    const struct json_value *h = json_get(o, "hta_overlap_pct");
    if (!h || !json_as_double(h, &hta)) return false;
    return isnan(a->hta_overlap_pct) ? isnan(hta) : fabs(hta - a->hta_overlap_pct) < 1e-9;
}

/* Recomputes the breakdown of (pid, run) from the exported kernel events (run -1: all). */
static void recompute(const struct xev *xs, int nx, int pid, int run, struct prof_breakdown *b)
{
    struct interval *iv = calloc((size_t)nx, sizeof *iv);
    int n = 0;
    for (int k = 0; k < nx; k++) {
        if (xs[k].pid != pid || xs[k].kind < 0 || (run >= 0 && xs[k].run != run)) continue;
        iv[n].start_ns = xs[k].start;
        iv[n].end_ns = xs[k].end;
        iv[n].kind = (uint8_t)xs[k].kind;
        n++;
    }
    prof_breakdown_compute(iv, n, b, NULL);
    free(iv);
}

static void check_trace(const char *path, const struct truth *truth, int only_rank, int *x_count)
{
    char *text = slurp(path);
    CHECK(text != NULL);
    if (!text) return;
    struct json_value root;
    char err[LC_ERRMSG_LEN];
    enum lc_status st = json_parse(text, &root, err);
    free(text);
    if (st != LC_OK) fprintf(stderr, "%s: %s\n", path, err);
    CHECK(st == LC_OK);
    if (st != LC_OK) return;

    const struct json_value *unit = json_get(&root, "displayTimeUnit"), *info = json_get(&root, "distributedInfo");
    const struct json_value *events = json_get(&root, "traceEvents"), *longca = json_get(&root, "longca");
    CHECK(is_str(unit) && !strcmp(unit->string, "ns"));
    CHECK(info && is_int(json_get(info, "world_size")) && json_get(info, "world_size")->i == RANKS);
    /* HTA's ranks count the ranks shown from 0; the workers are MPI ranks 1.. */
    if (only_rank > 0) CHECK(is_int(json_get(info, "rank")) && json_get(info, "rank")->i == only_rank - 1);
    else CHECK(json_get(info, "rank") == NULL);
    CHECK(events && events->type == JSON_ARRAY);
    CHECK(longca && json_get(longca, "breakdown") && json_get(longca, "breakdown")->type == JSON_ARRAY);
    if (!events || events->type != JSON_ARRAY || !longca || !json_get(longca, "breakdown")) {
        json_free(&root);
        return;
    }

    struct xev *xs = calloc((size_t)events->count, sizeof *xs);
    int nx = 0, n_kernel_x = 0, n_c = 0, n_overflow = 0;
    for (int k = 0; k < events->count; k++) {
        check_event(&events->items[k], xs, &nx, &n_kernel_x, &n_c, &n_overflow);
        if (only_rank > 0) CHECK(json_get(&events->items[k], "pid")->i == only_rank);
    }
    *x_count = n_kernel_x;
    int expect_kernels = 0;
    for (int rank = 1; rank <= RANKS; rank++)
        for (int run = 0; run < RUNS; run++)
            if (only_rank < 0 || rank == only_rank) expect_kernels += truth->n[rank][run];
    CHECK(n_kernel_x == expect_kernels);
    if (only_rank < 0) {
        CHECK(n_kernel_x == truth->total);
        CHECK(n_c == truth->finite_samples);
        CHECK(n_overflow >= truth->forced_overflow);
        printf("%s: %d events, %d kernels, %d counters, %d on overflow tracks (%d forced)\n", path, events->count,
               n_kernel_x, n_c, n_overflow, truth->forced_overflow);
    }

    /* Breakdowns: reported in "longca", recomputed from the exported events, and computed from the
     * generated intervals must all agree, to the nanosecond. */
    const struct json_value *bd = json_get(longca, "breakdown");
    int checked = 0;
    for (int k = 0; k < bd->count; k++) {
        const struct json_value *o = &bd->items[k];
        int rank = (int)json_get(o, "mpi_rank")->i, run = (int)json_get(o, "run")->i;
        CHECK(json_get(o, "rank")->i == rank - 1);
        struct prof_breakdown from_export, from_truth;
        recompute(xs, nx, rank, run, &from_export);
        CHECK(same_breakdown(&from_export, o));
        if (run >= 0) {
            prof_breakdown_compute(truth->ivs[rank][run], truth->n[rank][run], &from_truth, NULL);
            CHECK(same_breakdown(&from_truth, o));
        }
        checked++;
    }
    CHECK(checked == (only_rank < 0 ? RANKS : 1) * (RUNS + 1));

    /* The run ranges carry the same figures. */
    int run_ranges = 0;
    for (int k = 0; k < events->count; k++) {
        const struct json_value *e = &events->items[k], *cat = json_get(e, "cat");
        const struct json_value *args = json_get(e, "args");
        if (!is_str(cat) || strcmp(cat->string, "user_annotation") || !json_get(args, "status")) continue;
        struct prof_breakdown b;
        recompute(xs, nx, (int)json_get(e, "pid")->i, (int)json_get(args, "run")->i, &b);
        CHECK(same_breakdown(&b, args));
        bool incomplete = !strcmp(json_get(args, "status")->string, "incomplete");
        CHECK(incomplete == (json_get(e, "pid")->i == 2 && json_get(args, "run")->i == RUNS - 1));
        run_ranges++;
    }
    CHECK(run_ranges == (only_rank < 0 ? RANKS : 1) * RUNS);

    check_nesting(xs, nx);
    free(xs);
    json_free(&root);
}

static bool files_equal(const char *a, const char *b)
{
    char *x = slurp(a), *y = slurp(b);
    bool eq = x && y && !strcmp(x, y);
    free(x);
    free(y);
    return eq;
}

static int count_partial_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".partial-") != NULL;
    closedir(d);
    return n;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char path[4096];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) remove_tree(path);
    }
    closedir(d);
    rmdir(dir);
}

/* ------------------------------------------------------------------ 100K kernels */

static void time_large_export(const char *dir)
{
    enum { TOTAL = 100000, PER_EVENT = 1000, BIG_RANKS = 4 };
    struct prof_trace *t;
    char err[LC_ERRMSG_LEN];
    CHECK(prof_trace_create(&t, err) == LC_OK);
    int64_t clock[BIG_RANKS + 1] = {0};
    for (int done = 0, n = 0; done < TOTAL; done += PER_EVENT, n++) {
        int rank = 1 + n % BIG_RANKS;
        struct event ev;
        event_init(&ev, EV_INTERVALS, 0, rank);
        ev.intervals = calloc(PER_EVENT, sizeof *ev.intervals);
        ev.n_intervals = PER_EVENT;
        for (int k = 0; k < PER_EVENT; k++) {
            int64_t s = 1763860000000000000ll + clock[rank];
            int kind = k % 3 == 2 ? IV_COMM : IV_COMPUTE;
            ev.intervals[k] = make_iv((enum interval_kind)kind, kind == IV_COMM ? "ncclDevKernel_AllGather_RING_LL" : "attn_fwd",
                                      s, s + 2500, kind == IV_COMM ? 13 : 7 + k % 2, k / 30, -1, (uint32_t)k);
            clock[rank] += 3000;
        }
        prof_trace_add(t, &ev);
        event_free(&ev);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/big.json", dir);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct prof_trace_summary sum;
    enum lc_status st = prof_trace_write(t, path, &sum, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st) fprintf(stderr, "large export: %s\n", err);
    CHECK(st == LC_OK && sum.kernels == TOTAL);
    printf("exported %lld kernels (%d ranks, %lld moved to overflow tracks) in %.3f s\n", (long long)sum.kernels,
           BIG_RANKS, (long long)sum.moved, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    prof_trace_free(t);
}

int main(void)
{
    char dir[] = "/tmp/longca-trace-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char cap_path[4096], out_path[4096], mem_path[4096], rank_dir[4096];
    snprintf(cap_path, sizeof cap_path, "%s/capture.jsonl", dir);
    snprintf(out_path, sizeof out_path, "%s/trace.json", dir);
    snprintf(mem_path, sizeof mem_path, "%s/from_memory.json", dir);
    snprintf(rank_dir, sizeof rank_dir, "%s/ranks", dir);

    static struct truth truth;
    struct gen g = {.rng = 42, .truth = &truth};
    char err[LC_ERRMSG_LEN];
    CHECK(capture_open(cap_path, &g.cap, err) == LC_OK);
    CHECK(prof_trace_create(&g.mem, err) == LC_OK);
    gen_capture(&g);
    CHECK(capture_close(g.cap, err) == LC_OK);

    /* Through the command, as a user runs it. */
    char *argv[] = {"export", cap_path, "-o", out_path, "--per-rank", rank_dir, NULL};
    CHECK(cmd_export(6, argv) == LC_EXIT_OK);
    int x_all = 0;
    check_trace(out_path, &truth, -1, &x_all);

    /* Events built in memory give the same file as the capture read back. */
    CHECK(prof_trace_write(g.mem, mem_path, NULL, err) == LC_OK);
    CHECK(files_equal(out_path, mem_path));

    int x_sum = 0;
    for (int rank = 1; rank <= RANKS; rank++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/rank%d.json", rank_dir, rank - 1);
        int x = 0;
        check_trace(path, &truth, rank, &x);
        x_sum += x;
    }
    CHECK(x_sum == x_all);
    CHECK(count_partial_files(dir) == 0 && count_partial_files(rank_dir) == 0);

    /* A destination in a missing folder (bad input) fails whole, with a message, leaving nothing behind. */
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/no/such/dir/trace.json", dir);
    CHECK(prof_trace_write(g.mem, bad, NULL, err) == LC_ERR_INVALID && strstr(err, "no/such/dir"));
    prof_trace_free(g.mem);

    time_large_export(dir);
    CHECK(count_partial_files(dir) == 0);
    if (!getenv("LONGCA_KEEP_TRACE")) remove_tree(dir);
    else printf("kept %s\n", dir);

    return check_report("test_trace_export");
}
