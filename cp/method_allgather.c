/* Llama-3 style context parallelism: every rank keeps its zigzag rows of Q, gathers
 * every rank's K and V, and computes its rows against the whole sequence in one kernel call,
 * the mask deciding what each row sees (any static mask, documents included). The backward
 * gathers K and V again, computes dK and dV for the whole sequence in fp32 (cp/fold.h), and a
 * reduce-scatter hands each rank the sum for its own rows. Gathers and reduce-scatters go one
 * per tensor and batch, so every rank's rows land in place and leave from it: no packing. They
 * are not overlapped (as in TransformerEngine's all_gather mode): they are small against the
 * attention with GQA. */
#include <stdlib.h>
#include <string.h>

#include "cp/block_work.h"
#include "cp/fold.h"
#include "cp/methods.h"
#include "core/mask/mask_view.h"

struct allgather {
    struct cp_layout *layouts; /* every rank's rows */
    struct cp_layout gathered; /* the rows of the gathered K and V, rank after rank */
    struct longca_mask view;
    void *plan;
    struct cp_comm *comm;
    char *kv;         /* [K | V], each [b, P * N, Hkv, d]: batch b's rows rank after rank */
    float *dq_acc;    /* the kernel's dQ in fp32 */
    float *grad;      /* the kernel's [dK | dV] over the gathered rows, fp32 */
    float *grad_recv; /* this rank's [dK | dV] summed over ranks */
    struct cp_fold_scratch scratch;
};

/* Elements of one rank's K (or V): [b, N, Hkv, d]. */
static size_t rank_k(const struct cp_exec *run)
{
    return (size_t)run->spec->batch * (size_t)run->layout.rows * cp_row_elems(run, run->spec->heads_kv);
}

static enum lc_status allgather_plan(struct cp_exec *run, char *err)
{
    const struct run_spec *s = run->spec;
    struct allgather *g = calloc(1, sizeof *g);
    if (!g) return lc_fail(err, LC_ERR_OOM, "out of host memory");
    run->state = g;
    const int P = run->size;
    g->layouts = calloc((size_t)P, sizeof *g->layouts);
    if (!g->layouts) return lc_fail(err, LC_ERR_OOM, "out of host memory");
    enum lc_status st = LC_OK;
    for (int r = 0; r < P && !st; r++) st = cp_layout_zigzag(&run->mask, P, r, P > 1 ? 2 * P : 1, &g->layouts[r], err);
    if (!st) st = cp_layout_slice(&g->layouts[run->rank], 0, g->layouts[run->rank].rows, &run->layout, err);
    if (!st) st = cp_layout_concat(g->layouts, P, &g->gathered, err);
    if (!st) st = cp_view_between(&run->view, &run->layout, &g->gathered, &g->view, err);
    if (st) return st;
    run->work = (double)cp_view_area(&g->view) * s->heads_q * s->batch;
    if ((st = cp_exec_plan_kernel(run, s->heads_q, s->heads_kv, &g->view, &g->plan, err))) return st;
    if ((st = cp_exec_split(run, 0, run->rank, "allgather", &g->comm, err))) return st;
    const size_t grads = 2 * rank_k(run), q_elems = (size_t)s->batch * (size_t)run->layout.rows * cp_row_elems(run, s->heads_q);
    if ((st = cp_exec_alloc(run, grads * (size_t)P * run->esize, (void **)&g->kv, err))) return st;
    if (!(s->direction & DIR_BWD)) return LC_OK;
    if ((st = cp_fold_prepare(run, &g->scratch, run->layout.rows, g->gathered.rows, s->heads_q, s->heads_kv, err)) ||
        (st = cp_exec_alloc(run, q_elems * sizeof(float), (void **)&g->dq_acc, err)) ||
        (st = cp_exec_alloc(run, grads * (size_t)P * sizeof(float), (void **)&g->grad, err)) ||
        (st = cp_exec_alloc(run, grads * sizeof(float), (void **)&g->grad_recv, err)))
        return st;
    return LC_OK;
}

static void allgather_release(struct cp_exec *run)
{
    struct allgather *g = run->state;
    if (!g) return;
    if (g->plan) kernel_destroy(run->kernel, g->plan);
    mask_view_free(&g->view);
    cp_layout_free(&g->gathered);
    for (int r = 0; g->layouts && r < run->size; r++) cp_layout_free(&g->layouts[r]);
    free(g->layouts);
    free(g);
    run->state = NULL;
}

/* Gathered K, V of every rank: per tensor and batch, rank r's N rows land at rows r * N. */
static enum lc_status gather_kv(struct cp_exec *run, struct allgather *g, char *err)
{
    const size_t rk = rank_k(run), all_k = rk * (size_t)run->size, e = run->esize;
    const size_t n = (size_t)run->layout.rows * cp_row_elems(run, run->spec->heads_kv);
    uint64_t ticket = 0;
    enum lc_status st = LC_OK;
    cp_comm_tag(g->comm, -1, "kv");
    for (int half = 0; half < 2 && !st; half++)
        for (int b = 0; b < run->spec->batch && !st; b++)
            st = g->comm->ops->all_gather(g->comm, (const char *)run->shard.kv + (half * rk + b * n) * e,
                                          g->kv + (half * all_k + b * run->size * n) * e, n * e, &ticket, err);
    return st ? st : g->comm->ops->wait(g->comm, ticket, err);
}

static enum lc_status allgather_forward(struct cp_exec *run, char *err)
{
    struct allgather *g = run->state;
    enum lc_status st = gather_kv(run, g, err);
    if (st) return st;
    struct longca_tensors t = {.q = run->shard.q, .k = g->kv, .v = g->kv + rank_k(run) * run->size * run->esize,
                             .o = run->shard.o, .lse = run->shard.lse};
    return cp_exec_attention(run, g->plan, false, &t, 0, err);
}

static enum lc_status allgather_backward(struct cp_exec *run, char *err)
{
    struct allgather *g = run->state;
    const size_t rk = rank_k(run), all_k = rk * (size_t)run->size;
    const size_t n = (size_t)run->layout.rows * cp_row_elems(run, run->spec->heads_kv);
    enum lc_status st = gather_kv(run, g, err);
    if (st) return st;
    struct cp_shard *sh = &run->shard;
    /* One block, first and last: dQ straight out, dK | dV in fp32 over the gathered rows. */
    const struct longca_fold f = {.first = true, .last = true, .dq_acc = g->dq_acc, .dkv_acc = g->grad};
    struct longca_tensors t = {.q = sh->q, .k = g->kv, .v = g->kv + all_k * run->esize, .o = sh->o, .lse = sh->lse,
                             .d_o = sh->d_o, .dq = sh->dq, .fold = &f};
    if ((st = cp_fold_attention(run, g->plan, true, &t, &g->scratch, 0, err))) return st;
    uint64_t ticket = 0;
    cp_comm_tag(g->comm, -1, "dkv");
    for (int half = 0; half < 2 && !st; half++)
        for (int b = 0; b < run->spec->batch && !st; b++)
            st = g->comm->ops->reduce_scatter_f32(g->comm, g->grad + half * all_k + b * run->size * n,
                                                  g->grad_recv + half * rk + b * n, n, &ticket, err);
    if (!st) st = g->comm->ops->wait(g->comm, ticket, err);
    if (!st) st = run->arr->copy2d(sh->dkv, run->spec->dtype, 2 * rk, g->grad_recv, LC_FP32, 2 * rk, 2 * rk, 1, false, err);
    return st;
}

const struct cp_algo cp_allgather_algo = {
    .plan = allgather_plan,
    .forward = allgather_forward,
    .backward = allgather_backward,
    .release = allgather_release,
};

static enum lc_status allgather_validate(const struct run_spec *spec, char *err)
{
    return cp_validate_common(spec, spec->cp_degree > 1 ? 2 * (int64_t)spec->cp_degree : 1, "zigzag chunks: 2 x GPUs", err);
}

static enum lc_status allgather_execute(const struct engine_env *env, const struct run_spec *spec, int run_id,
                                        struct run_result *out)
{
    const struct cp_degrees degrees = {1, spec->cp_degree};
    return cp_execute(env, spec, run_id, out, &cp_allgather_algo, &degrees);
}

/* Per rank: its zigzag rows against every key; 2 x batch gathers of its K or V rows (again in the
 * backward) and as many reduce-scatters of fp32 dK or dV. */
static enum lc_status allgather_predict(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                        double *work, double *bytes, char *err)
{
    const int P = spec->cp_degree;
    const bool fwd = spec->direction & DIR_FWD, bwd = spec->direction & DIR_BWD;
    for (int r = 0; r < P; r++) {
        struct cp_layout l;
        enum lc_status st = cp_layout_zigzag(m, P, r, P > 1 ? 2 * P : 1, &l, err);
        if (st) return st;
        work[r] = (double)cp_layout_area(view, &l) * spec->heads_q * spec->batch;
        const double n = (double)l.rows * spec->heads_kv * spec->head_dim, ops = 2.0 * spec->batch;
        double alg, gather, scatter;
        cp_op_bytes(CP_OP_ALL_GATHER, P, n * (double)dtype_size(spec->dtype), &alg, &gather);
        cp_op_bytes(CP_OP_REDUCE_SCATTER, P, n * sizeof(float), &alg, &scatter);
        bytes[r] = (fwd ? ops * gather : 0) + (bwd ? ops * (gather + scatter) : 0);
        cp_layout_free(&l);
    }
    return LC_OK;
}

/* Per rank: the gathers (2 x batch, waited for together), its rows against the gathered KV; the
 * backward gathers again, computes, reduce-scatters fp32 dK, dV and converts them. */
static enum lc_status allgather_schedule(const struct run_spec *spec, const struct mask *m,
                                         const struct longca_mask *view, struct cp_schedule *out, char *err)
{
    const int P = spec->cp_degree, ops = 2 * spec->batch;
    const size_t e = dtype_size(spec->dtype);
    struct cp_layout *layouts = calloc((size_t)P, sizeof *layouts);
    if (!layouts) return lc_fail(err, LC_ERR_OOM, "out of host memory");
    struct cp_layout gathered;
    memset(&gathered, 0, sizeof gathered);
    enum lc_status st = LC_OK;
    for (int r = 0; r < P && !st; r++) st = cp_layout_zigzag(m, P, r, P > 1 ? 2 * P : 1, &layouts[r], err);
    if (!st) st = cp_layout_concat(layouts, P, &gathered, err);
    struct cp_view_index index = {0};
    struct cp_view_keys keys = {0};
    struct cp_block_work counter = {0};
    if (!st) st = cp_view_index_build(view, &index, err);
    if (!st) st = cp_view_keys_build(&gathered, 1, &keys, err);
    if (!st) st = cp_block_work_init(&counter, &index, &keys, out->tile, err);
    for (int r = 0; r < P && !st; r++) {
        struct cp_tile_work work;
        cp_block_work_count(&counter, &layouts[r], spec->heads_q * spec->batch, &work);
        const double n = (double)layouts[r].rows * spec->heads_kv * spec->head_dim;
        cp_schedule_rank(out, r);
        for (int pass = 0; pass < 2; pass++) {
            const bool backward = pass == 1;
            if (!(spec->direction & (backward ? DIR_BWD : DIR_FWD))) continue;
            int ticket = 0;
            for (int i = 0; i < ops; i++) ticket = cp_schedule_coll(out, 0, CP_COLL_ALL_GATHER, 0, 1, P, n * e, -1);
            cp_schedule_wait(out, ticket, -1);
            cp_schedule_compute(out, &work, backward, 0);
            if (!backward) continue;
            for (int i = 0; i < ops; i++)
                ticket = cp_schedule_coll(out, 0, CP_COLL_REDUCE_SCATTER, 0, 1, P, n * sizeof(float), -1);
            cp_schedule_wait(out, ticket, -1);
            cp_schedule_copy(out, ops * n * (sizeof(float) + e), -1); /* fp32 dK, dV to the dtype */
        }
    }
    cp_block_work_free(&counter);
    cp_view_keys_free(&keys);
    cp_view_index_free(&index);
    for (int r = 0; r < P; r++) cp_layout_free(&layouts[r]);
    free(layouts);
    cp_layout_free(&gathered);
    return st;
}

const struct cp_method_ops cp_method_allgather = {
    .name = "allgather",
    .summary = "Llama-3 style: all-gather K,V, zigzag Q rows, reduce-scatter dK,dV (fp32)",
    .validate = allgather_validate,
    .execute = allgather_execute,
    .predict = allgather_predict,
    .schedule = allgather_schedule,
};
