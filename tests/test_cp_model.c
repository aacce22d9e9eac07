/* `longca model`'s pieces without running anything: every method's schedule covers exactly the
 * work its prediction (and so its run) reports, rank by rank, and simulates to the end; the
 * simulator's overlap rules on cases worked out by hand; the calibration fit recovers known
 * costs, with and without a row-length term, and its file reads back (a damaged one is refused,
 * one of the format before the row-length term reads as none); `longca model`'s one planning
 * answers as the method's separate predict and schedule do; and 1,024-GPU predictions of a
 * 1M-token document mask complete (one core's CPU time printed). */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"
#include "core/engine/cp_method.h"
#include "core/engine/kernel.h"
#include "cp/cp.h"
#include "cp/sim_calibration.h"
#include "cp/sim_predict.h"
#include "kernels/kernels.h"
#include "core/mask/doclen.h"

static struct run_spec spec_for(const char *method, enum mask_pattern mask, int gpus, enum run_direction dir)
{
    struct run_spec s;
    run_spec_defaults(&s, false);
    snprintf(s.cp_method, sizeof s.cp_method, "%s", method);
    s.mask = mask;
    s.mask_params.window = 100;
    s.seqlen = 1024;
    s.heads_q = 8;
    s.heads_kv = 8;
    s.cp_degree = gpus;
    s.direction = dir;
    return s;
}

static bool same_op(const struct cp_sched_op *a, const struct cp_sched_op *b)
{
    return a->kind == b->kind && a->lane == b->lane && a->coll == b->coll && a->backward == b->backward &&
           a->step == b->step && a->peer == b->peer && a->ref == b->ref && a->stride == b->stride &&
           a->size == b->size && a->bytes == b->bytes;
}

/* cp_method_model (one planning where the method offers it) gives what predict and schedule give. */
static void model_matches(const struct run_spec *s, const struct cp_prediction *p, const struct cp_schedule *sch)
{
    char err[LC_ERRMSG_LEN] = "";
    struct cp_prediction pm;
    struct cp_schedule sm;
    if (cp_method_model(s, &pm, &sm, err) != LC_OK) {
        CHECK(false, "model: %s", err);
        return;
    }
    const size_t P = (size_t)s->cp_degree;
    CHECK(pm.imbalance == p->imbalance && pm.max_bytes == p->max_bytes && !memcmp(pm.work, p->work, P * sizeof *p->work) &&
              !memcmp(pm.bytes, p->bytes, P * sizeof *p->bytes),
          "the model's prediction differs from predict's");
    bool same = sm.n_ops == sch->n_ops && sm.n_work == sch->n_work && sm.tile == sch->tile &&
                !memcmp(sm.rank_offsets, sch->rank_offsets, (P + 1) * sizeof *sm.rank_offsets) &&
                !memcmp(sm.work, sch->work, (size_t)sm.n_work * sizeof *sm.work);
    for (int64_t i = 0; same && i < sm.n_ops; i++) same = same_op(&sm.ops[i], &sch->ops[i]);
    CHECK(same, "the model's schedule differs from schedule's");
    cp_schedule_free(&sm);
    cp_prediction_free(&pm);
}

/* The schedule's forward blocks of each rank add up to the work its prediction reports. */
static void schedule_matches_prediction(const char *method, enum mask_pattern mask, int gpus)
{
    char err[LC_ERRMSG_LEN] = "", ctx[96];
    snprintf(ctx, sizeof ctx, "%s %s P=%d", method, mask_pattern_name(mask), gpus);
    check_context = ctx;
    const struct run_spec s = spec_for(method, mask, gpus, DIR_FWD_BWD);
    struct cp_prediction p;
    struct cp_schedule sch;
    if (cp_method_predict(&s, &p, err) != LC_OK) {
        CHECK(false, "predict: %s", err);
        cp_prediction_free(&p);
        return;
    }
    if (cp_method_schedule(&s, &sch, err) != LC_OK) {
        CHECK(false, "schedule: %s", err);
        cp_prediction_free(&p);
        return;
    }
    for (int r = 0; r < gpus; r++) {
        double fwd = 0, bwd = 0;
        for (int64_t i = sch.rank_offsets[r]; i < sch.rank_offsets[r + 1]; i++) {
            const struct cp_sched_op *op = &sch.ops[i];
            if (op->kind != CP_SCHED_COMPUTE) continue;
            const double w = sch.work[op->ref].area * sch.work[op->ref].heads;
            *(op->backward ? &bwd : &fwd) += w;
        }
        CHECK(fwd == p.work[r] && bwd == p.work[r], "rank %d: schedule %.0f fwd %.0f bwd, prediction %.0f", r, fwd, bwd,
              p.work[r]);
    }
    model_matches(&s, &p, &sch);
    struct cp_topology topo;
    cp_topology_defaults(&topo);
    struct cp_cost cost;
    cp_cost_assumed(&cost, 100, sch.tile, s.head_dim);
    struct cp_sim_result res;
    CHECK(cp_simulate(&sch, &topo, &cost, 0, &res, err) == LC_OK, "simulate: %s", err);
    CHECK(res.slowest_s > 0 && res.mean_s <= res.slowest_s * (1 + 1e-12));
    cp_sim_result_free(&res);
    cp_schedule_free(&sch);
    cp_prediction_free(&p);
    check_context = NULL;
}

/* Ring forward on 2 ranks: step 0 posts the KV transfer, then computes; step 1 waits for the
 * block. The rank's time is max(step 0, transfer) + step 1, and what it waits is exposed. */
static void ring_overlap_by_hand(void)
{
    char err[LC_ERRMSG_LEN] = "";
    const struct run_spec s = spec_for("ring", MASK_FULL, 2, DIR_FWD);
    struct cp_schedule sch;
    if (cp_method_schedule(&s, &sch, err) != LC_OK) {
        CHECK(false, "%s", err);
        return;
    }
    struct cp_cost cost;
    cp_cost_assumed(&cost, 0.001, sch.tile, s.head_dim);
    const double step = cp_kernel_time(&cost, &sch.work[0], false);
    CHECK(sch.n_work == 4 && fabs(cp_kernel_time(&cost, &sch.work[1], false) - step) < 1e-12);
    const double bytes = 2.0 * 512 * 8 * s.head_dim * 4; /* K and V of 512 rows, fp32 */
    struct cp_topology topo;
    cp_topology_defaults(&topo);
    for (int slow = 0; slow < 2; slow++) {
        /* A fast link hides the transfer; a slow one exposes what exceeds the attention. */
        topo.intra_gbs = slow ? bytes / (3 * step) / 1e9 : 1e6;
        topo.intra_us = 0;
        struct cp_sim_result res;
        if (cp_simulate(&sch, &topo, &cost, 2, &res, err) != LC_OK) {
            CHECK(false, "%s", err);
            continue;
        }
        const double transfer = bytes / (topo.intra_gbs * 1e9);
        const double want = (transfer > step ? transfer : step) + step;
        CHECK(fabs(res.slowest_s - want) < 1e-9 * want, "slow %d: %.9f s, want %.9f", slow, res.slowest_s, want);
        CHECK(fabs(res.rank[0].exposed - (transfer > step ? transfer - step : 0)) < 1e-9 * want);
        CHECK(res.n_trace == 2 * (2 + 2), "%d intervals: per rank a compute per step, its send and its receive",
              res.n_trace);
        cp_sim_result_free(&res);
    }
    /* Across nodes the same transfer takes the network's figures. */
    topo.gpus_per_node = 1;
    topo.inter_gbs = bytes / (5 * step) / 1e9;
    topo.inter_us = 0;
    struct cp_sim_result res;
    if (cp_simulate(&sch, &topo, &cost, 0, &res, err) == LC_OK)
        CHECK(fabs(res.slowest_s - 6 * step) < 1e-9 * step, "%.9f s, want %.9f", res.slowest_s, 6 * step);
    cp_sim_result_free(&res);
    cp_schedule_free(&sch);
}

/* Operations on one lane run in posting order, as on a communicator's stream: rank 0 posts a
 * send to rank 2, then one to rank 1; rank 2 posts its receive only after an attention of C
 * seconds, so the second send, whose receiver is ready at once, still starts after the first
 * has ended: rank 1 finishes at C + 2T, not T. */
static void lane_runs_in_posting_order(void)
{
    char err[LC_ERRMSG_LEN] = "";
    struct cp_schedule sch;
    if (cp_schedule_init(&sch, 3, 128, err) != LC_OK) {
        CHECK(false, "%s", err);
        return;
    }
    const double bytes = 1e9, C = 0.5;
    const struct cp_tile_work work = {.q_tiles = 1, .full_tiles = 1, .heads = 1, .area = 1};
    cp_schedule_rank(&sch, 0);
    cp_schedule_send_recv(&sch, 1, 2, bytes, -1, 0, 0);
    cp_schedule_wait(&sch, cp_schedule_send_recv(&sch, 1, 1, bytes, -1, 0, 0), 0);
    cp_schedule_rank(&sch, 1);
    cp_schedule_wait(&sch, cp_schedule_send_recv(&sch, 1, -1, 0, 0, bytes, 0), 0);
    cp_schedule_rank(&sch, 2);
    cp_schedule_compute(&sch, &work, false, 0);
    cp_schedule_wait(&sch, cp_schedule_send_recv(&sch, 1, -1, 0, 0, bytes, 0), 0);
    CHECK(cp_schedule_finish(&sch, err) == LC_OK, "%s", err);
    struct cp_topology topo;
    cp_topology_defaults(&topo);
    topo.intra_gbs = 1; /* T = 1 s */
    topo.intra_us = 0;
    struct cp_cost cost = {0};
    cost.fwd.full_tile = C;
    struct cp_sim_result res;
    if (cp_simulate(&sch, &topo, &cost, 0, &res, err) == LC_OK) {
        CHECK(fabs(res.rank[2].total - (C + 1)) < 1e-12, "rank 2 ends at %.9f s, want %.9f", res.rank[2].total, C + 1);
        CHECK(fabs(res.rank[1].total - (C + 2)) < 1e-12, "rank 1 ends at %.9f s, want %.9f", res.rank[1].total, C + 2);
        CHECK(fabs(res.rank[0].total - (C + 2)) < 1e-12, "rank 0 ends at %.9f s, want %.9f", res.rank[0].total, C + 2);
        cp_sim_result_free(&res);
    } else {
        CHECK(false, "%s", err);
    }
    cp_schedule_free(&sch);
}

/* Times of the calibration sweep's runs under known costs. */
static double *sweep_times(const struct cp_cost *truth, const struct run_spec *specs, int n)
{
    char err[LC_ERRMSG_LEN] = "";
    double *seconds = calloc((size_t)n, sizeof *seconds);
    for (int i = 0; i < n; i++) {
        struct run_spec local = specs[i];
        struct cp_schedule sch;
        if (cp_method_schedule(&local, &sch, err) != LC_OK) {
            CHECK(false, "%s", err);
            continue;
        }
        seconds[i] = cp_kernel_time(truth, &sch.work[0], specs[i].direction == DIR_BWD);
        cp_schedule_free(&sch);
    }
    return seconds;
}

static void check_cost(const char *dir, const struct cp_kernel_cost *got, const struct cp_kernel_cost *want)
{
    const double g[7] = {got->call, got->q_tile, got->full_tile, got->partial_tile, got->key_tile, got->key_knot,
                         got->key_top};
    const double w[7] = {want->call, want->q_tile, want->full_tile, want->partial_tile, want->key_tile, want->key_knot,
                         want->key_top};
    for (int i = 0; i < 7; i++)
        CHECK(w[i] ? fabs(g[i] / w[i] - 1) < 1e-6 : g[i] == 0, "%s coefficient %d: %g, want %g", dir, i, g[i], w[i]);
}

/* Times made from known costs come back from the fit; the file keeps them. */
static void calibration_round_trip(void)
{
    char err[LC_ERRMSG_LEN] = "";
    struct run_spec *specs;
    int n;
    if (cp_calibration_specs("cpu", LC_FP32, 64, &specs, &n, err) != LC_OK) {
        CHECK(false, "%s", err);
        return;
    }
    const struct cp_cost truth = {.fwd = {.call = 20e-6, .q_tile = 3e-9, .full_tile = 40e-9, .partial_tile = 55e-9},
                                  .bwd = {.call = 35e-6, .q_tile = 9e-9, .full_tile = 100e-9, .partial_tile = 130e-9},
                                  .calibrated = true};
    double *seconds = sweep_times(&truth, specs, n);
    struct cp_calibration cal;
    CHECK(cp_calibration_fit(specs, seconds, n, &cal, err) == LC_OK, "%s", err);
    check_cost("fwd", &cal.cost.fwd, &truth.fwd);
    check_cost("bwd", &cal.cost.bwd, &truth.bwd);
    CHECK(cal.fwd_err < 1e-9 && cal.bwd_err < 1e-9 && cal.samples == n);
    char path[] = "/tmp/longca_calibration_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    snprintf(cal.device, sizeof cal.device, "test device");
    snprintf(cal.version, sizeof cal.version, "v1");
    struct cp_calibration back;
    CHECK(cp_calibration_write(path, &cal, err) == LC_OK, "%s", err);
    CHECK(cp_calibration_read(path, &back, err) == LC_OK, "%s", err);
    CHECK(!strcmp(back.device, "test device") && back.head_dim == 64 && back.dtype == LC_FP32 &&
          fabs(back.cost.bwd.partial_tile / cal.cost.bwd.partial_tile - 1) < 1e-8);
    FILE *f = fopen(path, "w");
    fprintf(f, "longca-calibration 1\ndevice x\nkernel cpu\ndtype fp32\nhead_dim 64\ntile 64\nfwd 1e9 0 0 0 0\nbwd 0 0 0 0 0\n");
    fclose(f);
    CHECK(cp_calibration_read(path, &back, err) == LC_ERR_INVALID, "a cost of 1e9 s must be refused");
    unlink(path);
    free(seconds);
    free(specs);
}

/* The row length (key tiles per query tile) of a run's one call. */
static double sweep_row(const struct run_spec *spec)
{
    char err[LC_ERRMSG_LEN] = "";
    struct run_spec local = *spec;
    struct cp_schedule sch;
    if (cp_method_schedule(&local, &sch, err) != LC_OK) {
        CHECK(false, "%s", err);
        return 0;
    }
    const double row = cp_row_tiles(&sch.work[0]);
    cp_schedule_free(&sch);
    return row;
}

/* A kernel whose key tiles cost more per doubling of the row length past that of the full mask
 * at 2,048 tokens, up to the sweep's longest row: the fit finds the rate, the knot and the top
 * from the sweep, and beyond the top the cost is held. (Without a term in the times, the round
 * trip above finds none.) */
static void calibration_row_length(void)
{
    char err[LC_ERRMSG_LEN] = "";
    struct run_spec *specs;
    int n;
    if (cp_calibration_specs("cpu", LC_FP32, 64, &specs, &n, err) != LC_OK) {
        CHECK(false, "%s", err);
        return;
    }
    double knot = 0, top = 0;
    for (int i = 0; i < n; i++) {
        const double row = sweep_row(&specs[i]);
        if (specs[i].mask == MASK_FULL && specs[i].seqlen == 2048) knot = row;
        if (row > top) top = row;
    }
    CHECK(knot >= 1 && top > knot, "rows: knot %g, top %g", knot, top);
    const struct cp_cost truth = {
        .fwd = {.call = 20e-6, .q_tile = 3e-9, .full_tile = 40e-9, .partial_tile = 55e-9, .key_tile = 6e-9,
                .key_knot = knot, .key_top = top},
        .bwd = {.call = 35e-6, .q_tile = 9e-9, .full_tile = 100e-9, .partial_tile = 130e-9, .key_tile = 15e-9,
                .key_knot = knot, .key_top = top},
        .calibrated = true};
    double *seconds = sweep_times(&truth, specs, n);
    struct cp_calibration cal;
    CHECK(cp_calibration_fit(specs, seconds, n, &cal, err) == LC_OK, "%s", err);
    check_cost("fwd", &cal.cost.fwd, &truth.fwd);
    check_cost("bwd", &cal.cost.bwd, &truth.bwd);
    CHECK(cal.fwd_err < 1e-9 && cal.bwd_err < 1e-9, "fit within %g / %g", cal.fwd_err, cal.bwd_err);
    const struct cp_tile_work at_top = {.q_tiles = 1, .full_tiles = (float)top, .heads = 1},
                              beyond = {.q_tiles = 1, .full_tiles = (float)(8 * top), .heads = 1};
    CHECK(fabs(cp_kernel_time(&cal.cost, &beyond, false) - cal.cost.fwd.call -
               8 * (cp_kernel_time(&cal.cost, &at_top, false) - cal.cost.fwd.call - cal.cost.fwd.q_tile) -
               cal.cost.fwd.q_tile) < 1e-15,
          "a key tile's cost must stop growing at the longest row calibrated");
    free(seconds);
    free(specs);
}

/* A file of format 1 (before the row-length lines) reads as costs without a row-length term; the
 * row-length lines are bounded. */
static void calibration_old_format(void)
{
    char err[LC_ERRMSG_LEN] = "", path[] = "/tmp/longca_calibration_XXXXXX";
    const int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    static const char *head = "device x\nkernel cpu\ndtype fp32\nhead_dim 64\ntile 64\n";
    struct cp_calibration c;
    FILE *f = fopen(path, "w");
    fprintf(f, "longca-calibration 1\n%sfwd 1e-5 0 2e-8 3e-8 0.05\nbwd 2e-5 1e-9 5e-8 6e-8 0.02\n", head);
    fclose(f);
    CHECK(cp_calibration_read(path, &c, err) == LC_OK, "%s", err);
    CHECK(c.cost.fwd.full_tile == 2e-8 && c.cost.bwd.partial_tile == 6e-8 && c.cost.fwd.key_tile == 0 &&
          c.cost.bwd.key_tile == 0);
    const struct cp_tile_work w = {.q_tiles = 4, .full_tiles = 1000, .partial_tiles = 2, .heads = 8};
    CHECK(fabs(cp_kernel_time(&c.cost, &w, true) - (2e-5 + 8 * (4e-9 + 1000 * 5e-8 + 2 * 6e-8))) < 1e-15);
    static const char *bad[] = {"fwd_keys 2 1024 4096", "fwd_keys 1e-9 4096 2048", "fwd_keys 1e-9 0 4096",
                                "bwd_keys 1e-9 1024 1e13", "bwd_keys -1e-9 1024 4096"};
    for (int i = 0; i < 5; i++) {
        f = fopen(path, "w");
        fprintf(f, "longca-calibration 2\n%sfwd 1e-5 0 2e-8 3e-8 0.05\nbwd 2e-5 1e-9 5e-8 6e-8 0.02\n%s\n", head, bad[i]);
        fclose(f);
        CHECK(cp_calibration_read(path, &c, err) == LC_ERR_INVALID, "'%s' must be refused", bad[i]);
    }
    f = fopen(path, "w");
    fprintf(f, "longca-calibration 3\n%sfwd 1e-5 0 2e-8 3e-8 0.05\nbwd 2e-5 1e-9 5e-8 6e-8 0.02\n", head);
    fclose(f);
    CHECK(cp_calibration_read(path, &c, err) == LC_ERR_INVALID, "a later format must be refused");
    unlink(path);
}

/* One method at 1,024 GPUs on a 1M-token document mask: it must complete, and the CPU time of
 * the whole prediction is printed (tests assert no timings: bench/RESULTS.md keeps them). */
static void speed_at_scale(const char *method)
{
    struct run_spec s;
    run_spec_defaults(&s, true); /* 64:8 heads, d=128, bf16; the CPU kernel where flash is not built */
    if (!kernel_find(s.kernel)) snprintf(s.kernel, sizeof s.kernel, "cpu");
    snprintf(s.cp_method, sizeof s.cp_method, "%s", method);
    s.mask = MASK_CAUSAL_DOCUMENT;
    s.mask_params.doclen = DOCLEN_PROLONG512K;
    s.seqlen = 1 << 20;
    s.cp_degree = 1024;
    struct cp_topology topo;
    cp_topology_defaults(&topo);
    struct cp_cost cost;
    cp_cost_assumed(&cost, 500, 128, s.head_dim);
    const clock_t t0 = clock();
    struct cp_model_row row;
    cp_model_predict(&s, &topo, &cost, 0, NULL, &row);
    const double cpu_s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("%s: %s, 1024 GPUs, causal_document (ProLong-512K) S=1M, 64:8, fwd: %.2f s of CPU (wall %.2f s), %.1f TFLOP/s "
           "per GPU predicted\n",
           s.kernel, method, cpu_s, row.wall_s, row.tflops);
    CHECK(row.status == LC_OK, "%s: %s", method, row.message);
}

int main(void)
{
    char err[LC_ERRMSG_LEN];
    if (kernels_register_all(err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    cp_register_all();
    static const enum mask_pattern masks[] = {MASK_FULL, MASK_CAUSAL, MASK_CAUSAL_DOCUMENT, MASK_SLIDING_WINDOW_CAUSAL};
    static const char *methods[] = {"ring", "allgather", "ulysses", "usp", "double_ring", "balanced"};
    for (int m = 0; m < 6; m++)
        for (int k = 0; k < 4; k++)
            for (int p = 1; p <= 8; p *= 2) schedule_matches_prediction(methods[m], masks[k], p);
    /* Two nodes: balanced pairs its stages by node and place in the node. */
    for (int k = 0; k < 4; k++) schedule_matches_prediction("balanced", masks[k], 16);
    ring_overlap_by_hand();
    lane_runs_in_posting_order();
    calibration_round_trip();
    calibration_row_length();
    calibration_old_format();
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
    /* every method with P^2 blocks in optimised builds; the sanitizers' build times one */
    static const char *timed[] = {"usp", "ring", "double_ring", "allgather", "balanced"};
    for (int m = 0; m < 5; m++) speed_at_scale(timed[m]);
#else
    speed_at_scale("usp");
#endif
    return check_report("test_cp_model");
}
