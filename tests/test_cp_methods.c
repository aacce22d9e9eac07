/* Every CP method against the single-device reference, run by every rank of MPI_COMM_WORLD as
 * one CP group (tests/cp_mpi_test.sh starts it with mpirun -np 4 and -np 2; alone it runs the
 * one-rank case): methods x {full, causal, causal_document, sliding_window_causal} x
 * {fwd, bwd} x {MHA 8:8, GQA 8:2} at S = 512 (--quick: S = 256, causal and causal_document
 * only; the masks left out run forward + backward), plus batch 2 in bf16 with several reps, every
 * run's work, bytes and imbalance equal to what its method predicts without running, the communication
 * volume against nccl-tests' definitions, the zigzag balance, the timeline intervals, and the
 * bad-input messages. Rank 0 prints the table. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "core/engine/cp_method.h"
#include "core/engine/device.h"
#include "core/engine/kernel.h"
#include "core/engine/engine.h"
#include "core/model/timeline.h"
#include "cp/cp.h"
#include "kernels/kernels.h"
#include "core/mask/mask_view.h"

static int world_rank, world_size;
static int64_t seqlen = 512;

struct seen {
    int results, errors, progress, compute_iv, comm_iv;
    int comm_steps; /* comm intervals carrying a cp_step */
    char error[LC_ERRMSG_LEN];
};

static void collect(void *ctx, const struct event *ev)
{
    struct seen *s = ctx;
    switch (ev->type) {
    case EV_RESULT: s->results++; break;
    case EV_ERROR:
        s->errors++;
        snprintf(s->error, sizeof s->error, "%s", ev->u.error.message);
        break;
    case EV_PROGRESS: s->progress++; break;
    case EV_INTERVALS:
        for (int i = 0; i < ev->n_intervals; i++) {
            s->compute_iv += ev->intervals[i].kind == IV_COMPUTE;
            s->comm_iv += ev->intervals[i].kind == IV_COMM;
            s->comm_steps += ev->intervals[i].kind == IV_COMM && ev->intervals[i].cp_step >= 0;
        }
        break;
    default: break;
    }
}

static struct run_spec base_spec(const char *method, enum mask_pattern mask, enum run_direction dir, int hq, int hkv)
{
    struct run_spec s;
    run_spec_defaults(&s, false);
    snprintf(s.cp_method, sizeof s.cp_method, "%s", method);
    s.mask = mask;
    s.mask_params.window = 100; /* below S, so the window cuts */
    s.seqlen = seqlen;
    s.heads_q = hq;
    s.heads_kv = hkv;
    s.head_dim = 32;
    s.direction = dir;
    s.cp_degree = world_size;
    s.warmup = 0;
    s.iters = 1;
    s.check = true;
    return s;
}

/* Bytes each rank puts on the wire per rep for ring and all-gather without documents (no
 * padding): (P - 1) KV shards per pass over K and V; the backward adds P fp32 dK/dV messages
 * (ring) or a reduce-scatter of them (all-gather). */
static double expected_ring_bytes(const struct run_spec *s, bool allgather)
{
    const double P = world_size, n = (double)s->seqlen / P, kv = 2.0 * s->batch * n * s->heads_kv * s->head_dim;
    const double kv_bytes = kv * (double)dtype_size(s->dtype);
    double bytes = 0;
    if (s->direction & DIR_FWD) bytes += (P - 1) * kv_bytes;
    if (s->direction & DIR_BWD) bytes += (P - 1) * kv_bytes + (allgather ? (P - 1) * kv * 4 : P * kv * 4);
    return bytes;
}

/* What the method predicts without running (its own planning code): this rank's work and bytes
 * per rep, and the group's work imbalance as the driver computes it. */
static void predict_rank(const struct run_spec *s, double *work, double *bytes, double *imbalance)
{
    struct mask m;
    struct longca_mask v;
    char err[LC_ERRMSG_LEN];
    *work = *bytes = *imbalance = -1;
    double *works = calloc((size_t)world_size, sizeof *works), *all_bytes = calloc((size_t)world_size, sizeof *all_bytes);
    if (works && all_bytes && !mask_build(s->mask, &s->mask_params, s->seqlen, s->heads_kv, &m, err)) {
        if (!mask_view_build(&m, &v, err)) {
            if (!cp_method_find(s->cp_method)->predict(s, &m, &v, works, all_bytes, err)) {
                double top = 0, total = 0;
                for (int r = 0; r < world_size; r++) total += works[r], top = works[r] > top ? works[r] : top;
                *work = works[world_rank];
                *bytes = all_bytes[world_rank];
                *imbalance = total > 0 ? top / (total / world_size) : 0;
            }
            mask_view_free(&v);
        }
        mask_free(&m);
    }
    free(works);
    free(all_bytes);
}

static void run_one(struct cp_group *g, const struct run_spec *s, int run_id, const char *heads)
{
    char err[LC_ERRMSG_LEN] = "";
    if (run_spec_validate(s, err) != LC_OK) {
        CHECK(false, "%s %s: validation: %s", s->cp_method, mask_pattern_name(s->mask), err);
        return;
    }
    struct timeline tl;
    timeline_init(&tl);
    struct seen seen;
    memset(&seen, 0, sizeof seen);
    struct engine_env env = {.device = &device_cpu, .rank = world_rank + 1, .sink = {collect, &seen},
                             .timeline = &tl, .cp = g};
    struct run_result res;
    const struct cp_method_ops *m = cp_method_find(s->cp_method);
    m->execute(&env, s, run_id, &res);
    timeline_destroy(&tl);
    const bool multi = world_size > 1;
    CHECK(res.status == LC_OK && seen.results == 1 && seen.errors == 0, "%s %s %s: status %s: %s", s->cp_method,
          mask_pattern_name(s->mask), direction_name(s->direction), lc_status_name(res.status),
          seen.errors ? seen.error : res.message);
    CHECK(!s->check || (res.check_ran && res.check_pass), "%s %s %s %s b=%d %s: check failed, max abs %.3g rel %.3g", s->cp_method,
          mask_pattern_name(s->mask), direction_name(s->direction), heads, s->batch, dtype_name(s->dtype),
          res.max_abs_err, res.max_rel_err);
    CHECK(seen.compute_iv >= s->iters && seen.progress >= 1 + s->iters, "%s: %d compute intervals, %d progress events",
          s->cp_method, seen.compute_iv, seen.progress);
    if (multi) {
        CHECK(seen.comm_iv > 0 && res.comm_bytes > 0 && res.algbw_gbs > 0 && res.busbw_gbs > 0,
              "%s: no communication recorded (%d intervals, %.0f bytes)", s->cp_method, seen.comm_iv, res.comm_bytes);
        if ((!strcmp(s->cp_method, "ring") || !strcmp(s->cp_method, "allgather")) && !mask_pattern_uses_documents(s->mask)) {
            double want = expected_ring_bytes(s, !strcmp(s->cp_method, "allgather"));
            CHECK(fabs(res.comm_bytes - want) < 0.5, "%s %s: %.0f bytes on the wire, expected %.0f", s->cp_method,
                  direction_name(s->direction), res.comm_bytes, want);
        }
        if (!strcmp(s->cp_method, "ring") || !strcmp(s->cp_method, "double_ring") || !strcmp(s->cp_method, "balanced"))
            CHECK(seen.comm_steps == seen.comm_iv, "%s: %d of %d comm intervals without a CP step", s->cp_method,
                  seen.comm_iv - seen.comm_steps, seen.comm_iv);
    }
    /* Each rank reports its own measurements; merged as rank 0 of a session merges them. */
    struct run_result *all = malloc((size_t)world_size * sizeof *all), merged;
    MPI_Allgather(&res, (int)sizeof res, MPI_BYTE, all, (int)sizeof res, MPI_BYTE, MPI_COMM_WORLD);
    run_result_merge(all, world_size, 1, &merged);
    free(all);
    CHECK(merged.ranks == world_size && merged.tflops > 0 && merged.work > 0, "%s: merged %d ranks, %.3g TFLOP/s",
          s->cp_method, merged.ranks, merged.tflops);
    double work, bytes, imbalance;
    predict_rank(s, &work, &bytes, &imbalance);
    CHECK(res.work == work && res.comm_bytes == bytes && merged.work_imbalance == imbalance,
          "%s %s %s: ran work %.0f, %.0f bytes, imbalance %.9f; predicted %.0f, %.0f, %.9f", s->cp_method,
          mask_pattern_name(s->mask), direction_name(s->direction), res.work, res.comm_bytes, merged.work_imbalance,
          work, bytes, imbalance);
    /* Zigzag puts the same causal area on every rank; Ulysses splits heads, which is even too. */
    if ((s->mask == MASK_CAUSAL || s->mask == MASK_FULL) && strcmp(s->cp_method, "balanced"))
        CHECK(fabs(merged.work_imbalance - 1.0) < 1e-9, "%s %s: imbalance %.6f", s->cp_method,
              mask_pattern_name(s->mask), merged.work_imbalance);
    if (world_rank == 0)
        printf("%-12s %-22s %-7s %-4s b=%d %-4s %-4s  max_abs %.2e  %7.2f ms  imb %.3f  %9.0f B  algbw %6.3f busbw %6.3f GB/s\n",
               s->cp_method, mask_pattern_name(s->mask), direction_name(s->direction), heads, s->batch,
               dtype_name(s->dtype), !s->check ? "-" : res.check_pass ? "PASS" : "FAIL", res.max_abs_err, res.ms_median,
               merged.work_imbalance, res.comm_bytes, res.algbw_gbs, res.busbw_gbs);
}

/* Bad input is refused with one clear line before anything runs. */
static void test_bad_input(void)
{
    struct {
        const char *method;
        int gpus, hq, hkv, inner;
        int64_t seqlen;
        enum mask_pattern mask;
        const char *expect;
    } cases[] = {
        {"ulysses", 4, 6, 6, 0, 512, MASK_CAUSAL, "6 query heads do not split evenly over 4 GPUs"},
        {"ulysses", 4, 12, 3, 0, 512, MASK_CAUSAL, "3 KV heads neither split evenly over 4 GPUs"},
        {"ring", 4, 8, 2, 0, 500, MASK_CAUSAL, "not divisible by 8"},
        {"allgather", 3, 8, 2, 0, 512, MASK_CAUSAL, "not divisible by 6"},
        {"ulysses", 4, 8, 2, 0, 510, MASK_CAUSAL, "not divisible by 4"},
        {"usp", 4, 8, 2, 3, 512, MASK_CAUSAL, "ulysses degree 3 does not divide 4"},
        {"double_ring", 4, 8, 2, 3, 512, MASK_CAUSAL, "window 3 does not divide 4"},
        {"ring", 2, 8, 2, 0, 512, MASK_BLOCK_SPARSE, "static masks"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct run_spec s;
        run_spec_defaults(&s, false);
        snprintf(s.cp_method, sizeof s.cp_method, "%s", cases[i].method);
        s.cp_degree = cases[i].gpus;
        s.heads_q = cases[i].hq;
        s.heads_kv = cases[i].hkv;
        s.cp_inner = cases[i].inner;
        s.seqlen = cases[i].seqlen;
        s.mask = cases[i].mask;
        char err[LC_ERRMSG_LEN] = "";
        enum lc_status st = run_spec_validate(&s, err);
        CHECK(st != LC_OK && strstr(err, cases[i].expect) && !strchr(err, '\n'), "%s case %zu: got '%s', expected '%s'",
              cases[i].method, i, err, cases[i].expect);
    }
}

/* A stand-in device recorder whose range profiler needs three passes (and refuses on one chosen
 * rank): the CP profiling iterations must replay in lock-step, and stop on every rank when any
 * rank is refused, without hanging and without failing the run. */
static int fake_passes, fake_refusing_rank = -1;

static enum lc_status fake_counters_begin(const char *range_name, char *err)
{
    if (world_rank == fake_refusing_rank) return lc_fail(err, LC_ERR_UNSUPPORTED, "counters refused on purpose");
    fake_passes++;
    return LC_OK;
}

static enum lc_status fake_counters_end(bool *replay, char *err)
{
    *replay = fake_passes % 3 != 0;
    return LC_OK;
}

static int fake_take_samples(struct counter_sample **out)
{
    if (!(*out = calloc(1, sizeof **out))) return 0;
    snprintf((*out)->metric, sizeof (*out)->metric, "sm__throughput.avg.pct_of_peak_sustained_elapsed");
    (*out)->value = fake_passes;
    return 1;
}

static const struct timeline_recorder fake_recorder = {
    .name = "fake",
    .counters_begin = fake_counters_begin,
    .counters_end = fake_counters_end,
    .take_samples = fake_take_samples,
};

static void test_counters_lockstep(struct cp_group *g, int *run_id)
{
    for (int refusing = -1; refusing < (world_size > 1 ? 2 : 0); refusing++) {
        fake_passes = 0;
        fake_refusing_rank = refusing;
        struct run_spec s = base_spec("ring", MASK_CAUSAL, DIR_FWD, 8, 2);
        s.counters = COUNTERS_RANGE;
        struct timeline tl;
        timeline_init(&tl);
        struct seen seen;
        memset(&seen, 0, sizeof seen);
        struct engine_env env = {.device = &device_cpu, .rank = world_rank + 1, .sink = {collect, &seen},
                                 .timeline = &tl, .recorder = &fake_recorder, .cp = g};
        struct run_result res;
        cp_method_find("ring")->execute(&env, &s, (*run_id)++, &res);
        timeline_destroy(&tl);
        CHECK(res.status == LC_OK && res.check_pass, "counters run: %s %s", lc_status_name(res.status), res.message);
        if (refusing < 0) {
            CHECK(fake_passes == 3 && !res.message[0], "range profiler: %d passes (want 3), note '%s'", fake_passes,
                  res.message);
        } else {
            CHECK(strstr(res.message, "counters") != NULL, "a refusal on rank %d left no note: '%s'", refusing,
                  res.message);
            CHECK(fake_passes <= 1, "rank %d went on for %d passes after rank %d refused", world_rank, fake_passes,
                  refusing);
        }
    }
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    char rank_name[32];
    snprintf(rank_name, sizeof rank_name, "rank %d", world_rank);
    check_context = rank_name;
    kernels_register_all(NULL);
    cp_register_all();
    char describe[96], err[LC_ERRMSG_LEN];
    device_cpu.open(0, describe, sizeof describe, err);
    if (world_rank == 0) test_bad_input();

    struct cp_group *g = NULL;
    /* A group whose rank 0 claims a GPU and the others do not (more ranks than GPUs on a node)
     * is refused on every rank at once, before any device communicator is made. */
    if (world_size > 1) {
        struct device_ops gpu_claim = device_cpu;
        gpu_claim.kind = DEVICE_CUDA;
        double t0 = MPI_Wtime();
        enum lc_status st = cp_group_create(MPI_COMM_WORLD, world_rank == 0 ? &gpu_claim : &device_cpu, &g, err);
        CHECK(st == LC_ERR_UNSUPPORTED && !g && strstr(err, "has no GPU") && MPI_Wtime() - t0 < 10,
              "mixed GPU and CPU ranks: %s (%s) after %.1f s", lc_status_name(st), err, MPI_Wtime() - t0);
    }
    if (cp_group_create(MPI_COMM_WORLD, &device_cpu, &g, err) != LC_OK) {
        fprintf(stderr, "rank %d: %s\n", world_rank, err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    CHECK(cp_group_size(g) == world_size && cp_group_rank(g) == world_rank, "group rank %d of %d", cp_group_rank(g),
          cp_group_size(g));
    const char *methods[] = {"allgather", "ring", "ulysses", "usp", "double_ring", "balanced"};
    const enum mask_pattern masks[] = {MASK_FULL, MASK_CAUSAL, MASK_CAUSAL_DOCUMENT, MASK_SLIDING_WINDOW_CAUSAL};
    const enum run_direction dirs[] = {DIR_FWD, DIR_BWD};
    const int heads[][2] = {{8, 8}, {8, 2}};
    /* Alone, the one-rank case of every method is enough; the matrix is for the group runs. */
    /* The sanitizer build of CI sets LONGCA_TEST_QUICK: the same paths on a smaller matrix. */
    const bool quick = (argc > 1 && !strcmp(argv[1], "--quick")) || getenv("LONGCA_TEST_QUICK");
    if (quick) seqlen = 256;
    const int first_mask = quick ? 1 : 0, n_masks = world_size == 1 ? 1 : quick ? 3 : 4;
    int run_id = 0;
    for (size_t m = 0; m < sizeof methods / sizeof *methods; m++)
        for (int k = first_mask; k < n_masks; k++)
            for (int d = 0; d < 2; d++)
                for (int h = 0; h < 2; h++) {
                    struct run_spec s = base_spec(methods[m], masks[k], dirs[d], heads[h][0], heads[h][1]);
                    run_one(g, &s, run_id++, h ? "8:2" : "8:8");
                }
    /* Every method's prediction on the four masks at every group size: the masks the matrix left
     * out, forward and backward in one rep, without the reference (the matrix checks outputs).
     * The sanitizer build leaves them to the release build. */
    for (size_t m = 0; m < sizeof methods / sizeof *methods && !getenv("LONGCA_TEST_QUICK"); m++)
        for (int k = 0; k < 4; k++)
            if (k < first_mask || k >= n_masks) {
                struct run_spec s = base_spec(methods[m], masks[k], DIR_FWD_BWD, 8, 2);
                s.check = false;
                run_one(g, &s, run_id++, "8:2");
            }
    /* Batch 2 in bf16, forward and backward each rep, warm-up and several timed reps (buffers are
     * reused across reps), USP with replicated KV heads, double ring with explicit windows. */
    for (size_t m = 0; m < sizeof methods / sizeof *methods; m++) {
        struct run_spec s = base_spec(methods[m], MASK_CAUSAL_DOCUMENT, DIR_FWD_BWD, 8, 2);
        s.batch = 2;
        s.dtype = LC_BF16;
        s.warmup = 1;
        s.iters = 2;
        if (!strcmp(methods[m], "usp") && world_size == 4) s.cp_inner = 4; /* 2 KV heads over 4: replicas */
        if (!strcmp(methods[m], "double_ring") && world_size == 4) s.cp_inner = 1; /* outer ring only */
        run_one(g, &s, run_id++, "8:2");
    }
    if (world_size == 4) {
        struct run_spec s = base_spec("usp", MASK_SLIDING_WINDOW_CAUSAL, DIR_FWD_BWD, 8, 8);
        s.cp_inner = 2;
        run_one(g, &s, run_id++, "8:8");
        s = base_spec("double_ring", MASK_CAUSAL, DIR_FWD_BWD, 8, 2);
        s.cp_inner = 4; /* one window: the plain ring through the double-ring path */
        run_one(g, &s, run_id++, "8:2");
    }
    test_counters_lockstep(g, &run_id);
    cp_group_destroy(g);
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (world_rank == 0 && total) printf("cp methods on %d rank(s): %d check(s) failed\n", world_size, total);
    if (world_rank == 0 && !total) printf("cp methods on %d rank(s): all %d runs passed\n", world_size, run_id);
    device_cpu.close();
    MPI_Finalize();
    return total ? 1 : 0;
}
