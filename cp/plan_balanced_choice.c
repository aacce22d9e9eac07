/* The choice of the balanced method's plan over whole nodes: each solver variant's schedule
 * (cp/method_balanced.c) played with per-stage work estimated from the plan and an assumed
 * kernel, and the variant that ends first kept. It depends on the spec and the mask alone, so
 * every rank, `--dry-run` and `longca model` take the same plan. */
#include <stdlib.h>
#include <string.h>

#include "core/model/spec.h"
#include "cp/plan_balanced.h"
#include "cp/sim.h"

/* The kernel of the plans' estimate (cp_balanced_plan_choose): every key tile at this rate, and a cost per call
 * and, in the backward, per query tile in about the ratios the H100 calibration of the flash
 * kernel in bench/calibrations has; the choice rests on those ratios, not on the device. */
#define ESTIMATE_TFLOPS 500.0
#define ESTIMATE_CALL_FWD_S 50e-6
#define ESTIMATE_CALL_BWD_S 100e-6
#define ESTIMATE_Q_TILE_BWD 4.0 /* key tiles' worth */

/* The estimate's schedule (cp/method_balanced.c's schedule_rank) played by the simulator's rules (cp/sim.c) a stage at
 * a time, without building it: every rank takes the stages in the same order and stage k pairs
 * each rank with the same two peers, so the operation a rank's lane starts at stage k waits only
 * for that lane's previous one and for the peers' at stage k. The times are the simulator's to
 * the bit; at 1,024 ranks this is a pass over P^2 numbers where building and simulating the
 * schedule took a second per variant. */
struct estimate {
    const struct cp_balanced_plan *p;
    const struct cp_topology *topo;
    double memory_bps;
    double *clock, *start;   /* per rank: its time; the start of its lane's operation at a stage */
    double *lane_free[2];    /* per rank: when its KV lane (0) and its dK, dV lane (1) free up */
    /* [stage * P + rank], as the stages are played: */
    double *done;            /* when the rank's exchange of the stage ends */
    double *kernel;          /* its attention's time; < 0 where it has none */
    int64_t *sent, *recv;    /* chunks it sends the peer ahead, and receives from the one behind */
    int *by_owner, *owned;   /* chunks grouped by owner, in order; rank r's from owned[r] */
    int *stage, *seen;       /* per rank: estimate_work's */
    struct cp_tile_work *work;
};

/* Rank me's work at each stage as the plan alone tells it: each of its chunks' exact work spread
 * evenly over the KV chunks the chunk attends to, in full tiles, and the chunk's query tiles at
 * every stage it has KV in. */
static void estimate_work(struct estimate *e, const struct run_spec *spec, int me, int tile)
{
    const struct cp_balanced_plan *p = e->p;
    const int P = p->ranks;
    struct cp_tile_work *work = e->work;
    for (int k = 0; k < P; k++) {
        work[k] = (struct cp_tile_work){.heads = (float)(spec->heads_q * spec->batch)};
        e->seen[k] = -1;
        e->stage[k] = cp_balanced_stage_of(p, me, k); /* of the chunks rank k owns */
    }
    for (int n = e->owned[me]; n < e->owned[me + 1]; n++) {
        const int i = e->by_owner[n];
        int64_t attended = 0;
        for (int64_t j = p->range_offsets[i]; j < p->range_offsets[i + 1]; j++)
            attended += p->ranges[2 * j + 1] - p->ranges[2 * j];
        const double share = p->work[i] / (double)attended;
        const float q_tiles = (float)(p->chunk / tile);
        for (int64_t j = p->range_offsets[i]; j < p->range_offsets[i + 1]; j++)
            for (int c = p->ranges[2 * j]; c < p->ranges[2 * j + 1]; c++) {
                const int k = e->stage[p->owner[c]];
                work[k].area += share;
                if (e->seen[k] != i) work[k].q_tiles += q_tiles;
                e->seen[k] = i;
            }
    }
    for (int k = 0; k < P; k++) work[k].full_tiles = (float)(work[k].area / ((double)tile * tile));
}

/* Whether rank exchanges rows at stage k, either way. */
static bool exchanges(const struct estimate *e, int rank, int k)
{
    const size_t at = (size_t)k * e->p->ranks + rank;
    return e->recv[at] > 0 || e->sent[at] > 0;
}

/* Stage k's exchange on a lane, posted by each rank at its clock: the KV (ahead: it sends what
 * the peer ahead needs and receives from the one behind), or the dK, dV going back. An
 * operation starts when posted and its lane is free; each side's transfer when both ends have
 * started; it ends with its later side. */
static void exchange(struct estimate *e, int k, bool ahead, double row_bytes)
{
    const struct cp_balanced_plan *p = e->p;
    const int P = p->ranks;
    double *lane_free = e->lane_free[!ahead];
    for (int r = 0; r < P; r++)
        e->start[r] = !exchanges(e, r, k) ? -1 : e->clock[r] > lane_free[r] ? e->clock[r] : lane_free[r];
    for (int r = 0; r < P; r++) {
        if (e->start[r] < 0) continue;
        const int to = cp_balanced_peer(p, r, k, ahead), from = cp_balanced_peer(p, r, k, !ahead);
        const size_t at = (size_t)k * P + r;
        const int64_t ahead_rows = e->sent[at] * p->chunk, behind_rows = e->recv[at] * p->chunk;
        const int64_t out = ahead ? ahead_rows : behind_rows, in = ahead ? behind_rows : ahead_rows;
        double done = 0;
        if (out > 0)
            done = (e->start[to] > e->start[r] ? e->start[to] : e->start[r]) +
                   cp_message_time(e->topo, r, to, (double)out * row_bytes);
        if (in > 0) {
            const double end = (e->start[from] > e->start[r] ? e->start[from] : e->start[r]) +
                               cp_message_time(e->topo, from, r, (double)in * row_bytes);
            if (end > done) done = end;
        }
        lane_free[r] = e->done[at] = done;
    }
}

/* One pass of every rank, as cp/method_balanced.c's schedule_rank orders it. */
static void estimate_pass(struct estimate *e, const struct run_spec *spec, bool backward)
{
    const struct cp_balanced_plan *p = e->p;
    const int P = p->ranks;
    const double row = 2.0 * spec->batch * spec->heads_kv * spec->head_dim;
    const double row_bytes = row * (double)dtype_size(spec->dtype), grad_row = row * sizeof(float);
    for (int i = 1; i < P; i++) {
        const int k = cp_balanced_stage_at(p, i, backward);
        for (int r = 0; r < P; r++) /* pack_kv */
            if (exchanges(e, r, k))
                e->clock[r] += 2 * ((double)(e->sent[(size_t)k * P + r] * p->chunk) * row_bytes) / e->memory_bps;
        exchange(e, k, true, row_bytes);
    }
    for (int i = 0; i < P; i++) {
        const int k = cp_balanced_stage_at(p, i, backward);
        for (int r = 0; r < P; r++) {
            const size_t at = (size_t)k * P + r;
            if (k && exchanges(e, r, k) && e->done[at] > e->clock[r]) e->clock[r] = e->done[at];
            if (e->kernel[at] >= 0) e->clock[r] += e->kernel[at];
        }
        if (backward && k) exchange(e, k, false, grad_row);
    }
    if (!backward) return;
    for (int i = 1; i < P; i++) { /* take_grads */
        const int k = cp_balanced_stage_at(p, i, true);
        for (int r = 0; r < P; r++) {
            const size_t at = (size_t)k * P + r;
            if (exchanges(e, r, k) && e->done[at] > e->clock[r]) e->clock[r] = e->done[at];
            e->clock[r] += 3.0 * (double)(e->sent[at] * p->chunk) * grad_row / e->memory_bps;
        }
    }
    const double own = (double)(p->n_chunks / P * p->chunk) * row * (sizeof(float) + (double)dtype_size(spec->dtype));
    for (int r = 0; r < P; r++) e->clock[r] += own / e->memory_bps;
}

/* Seconds the plan's schedule takes with the estimated work, the estimate's kernel and the
 * default links. */
static enum lc_status estimate_time(const struct run_spec *spec, const struct cp_balanced_plan *p, int tile,
                                    double *seconds, char *err)
{
    const int P = p->ranks;
    struct cp_topology topo;
    cp_topology_defaults(&topo);
    struct cp_cost cost;
    cp_cost_assumed(&cost, ESTIMATE_TFLOPS, tile, spec->head_dim);
    cost.fwd.call = ESTIMATE_CALL_FWD_S;
    cost.bwd.call = ESTIMATE_CALL_BWD_S;
    cost.bwd.q_tile = ESTIMATE_Q_TILE_BWD * cost.bwd.full_tile;
    struct estimate e = {.p = p, .topo = &topo, .memory_bps = topo.memory_gbs * 1e9};
    double *per_rank = calloc(4 * (size_t)P, sizeof *per_rank);
    int *ints = malloc((4 * (size_t)P + 1 + (size_t)p->n_chunks) * sizeof *ints);
    e.done = malloc((size_t)P * P * sizeof *e.done);
    e.kernel = malloc((size_t)P * P * sizeof *e.kernel);
    e.sent = malloc(2 * (size_t)P * P * sizeof *e.sent);
    e.work = malloc((size_t)P * sizeof *e.work);
    if (!per_rank || !ints || !e.done || !e.kernel || !e.sent || !e.work) {
        free(per_rank), free(ints), free(e.done), free(e.kernel), free(e.sent), free(e.work);
        return lc_fail(err, LC_ERR_OOM, "out of host memory");
    }
    e.clock = per_rank;
    e.start = per_rank + P;
    e.lane_free[0] = per_rank + 2 * P;
    e.lane_free[1] = per_rank + 3 * P;
    e.stage = ints;
    e.seen = ints + P;
    e.owned = ints + 2 * P; /* P + 1 */
    e.by_owner = ints + 3 * P + 1;
    memset(e.owned, 0, ((size_t)P + 1) * sizeof *e.owned);
    for (int i = 0; i < p->n_chunks; i++) e.owned[p->owner[i] + 1]++;
    for (int r = 0; r < P; r++) e.owned[r + 1] += e.owned[r];
    for (int i = 0; i < p->n_chunks; i++) e.by_owner[e.owned[p->owner[i]]++] = i;
    for (int r = P; r > 0; r--) e.owned[r] = e.owned[r - 1]; /* back to each rank's first */
    e.owned[0] = 0;
    e.recv = e.sent + (size_t)P * P;
    for (int r = 0; r < P; r++) /* what r receives at stage k, the peer behind it sends */
        for (int k = 0; k < P; k++) {
            const int64_t got = p->received[(size_t)r * P + k];
            e.recv[(size_t)k * P + r] = got;
            e.sent[(size_t)k * P + cp_balanced_peer(p, r, k, false)] = got;
        }
    for (int pass = 0; pass < 2; pass++) {
        const bool backward = pass == 1;
        if (!(spec->direction & (backward ? DIR_BWD : DIR_FWD))) continue;
        for (int me = 0; me < P; me++) {
            estimate_work(&e, spec, me, tile);
            for (int k = 0; k < P; k++)
                e.kernel[(size_t)k * P + me] = e.work[k].area > 0 ? cp_kernel_time(&cost, &e.work[k], backward) : -1;
        }
        estimate_pass(&e, spec, backward);
    }
    *seconds = 0;
    for (int r = 0; r < P; r++)
        if (e.clock[r] > *seconds) *seconds = e.clock[r];
    free(per_rank), free(ints), free(e.done), free(e.kernel), free(e.sent), free(e.work);
    return LC_OK;
}

/* The variants share the chunks' demand; a variant dealing the chunks as an earlier one did (at
 * 1,024 ranks the rank level's reserve often changes nothing) is not estimated again. */
enum lc_status cp_balanced_plan_choose(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                       int tile_q, struct cp_balanced_plan *out, char *err)
{
    const int P = spec->cp_degree;
    enum lc_status st = cp_balanced_plan_build(m, view, P, tile_q, cp_balanced_variant_at(0), out, err);
    if (st || !cp_balanced_over_nodes(P)) {
        if (st) cp_balanced_plan_free(out);
        return st;
    }
    const size_t n = (size_t)out->n_chunks;
    int *owners = malloc(CP_BALANCED_VARIANTS * n * sizeof *owners); /* each variant's */
    if (!owners) st = lc_fail(err, LC_ERR_OOM, "out of host memory");
    double best = 0;
    int chosen = 0, taken = 0; /* the variant the plan's dealing is */
    for (int i = 0; !st && i < CP_BALANCED_VARIANTS; i++) {
        int *owner = owners + i * n;
        if (i) st = cp_balanced_plan_solve(out, cp_balanced_variant_at(i), owner, err);
        else memcpy(owner, out->owner, n * sizeof *owners);
        if (st) break;
        bool again = false;
        for (int j = 0; j < i && !again; j++) again = !memcmp(owners + j * n, owner, n * sizeof *owners);
        if (again) continue;
        if (i && !(st = cp_balanced_plan_take(out, owner, err))) taken = i;
        double t = 0;
        if (!st && !(st = estimate_time(spec, out, tile_q, &t, err)) && (i == 0 || t < best)) {
            best = t;
            chosen = i;
        }
    }
    if (!st && chosen != taken) st = cp_balanced_plan_take(out, owners + chosen * n, err);
    free(owners);
    if (st) cp_balanced_plan_free(out);
    return st;
}
