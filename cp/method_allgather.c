/* Llama-3 style context parallelism (cp.md B7): every rank keeps its zigzag rows of Q, gathers
 * every rank's K and V, and computes its rows against the whole sequence in one kernel call,
 * the mask deciding what each row sees (any static mask, documents included). The backward
 * gathers K and V again, computes dK and dV for the whole sequence, and a reduce-scatter in fp32
 * hands each rank the sum for its own rows. The all-gather is not overlapped (as in
 * TransformerEngine's all_gather mode): it is small against the attention with GQA. */
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "cp/methods.h"

struct allgather {
    struct cp_layout *layouts; /* every rank's rows */
    struct cp_layout gathered; /* the rows of the gathered K and V, rank after rank */
    struct mask_view view;
    void *plan;
    struct cp_comm *comm;
    char *kv_ranks;   /* as gathered: [P][K_r | V_r], each [b, N, Hkv, d] */
    char *kv;         /* [K | V], each [b, P * N, Hkv, d] */
    char *dkv;        /* the kernel's dK, dV over the gathered rows */
    float *grad_send; /* [P][dK_r | dV_r] in fp32 */
    float *grad_recv; /* this rank's [dK | dV] summed over ranks */
};

/* Elements of one rank's K (or V): [b, N, Hkv, d]. */
static size_t rank_k(const struct cp_run *run)
{
    return (size_t)run->spec->batch * (size_t)run->layout.rows * cp_row_elems(run, run->spec->heads_kv);
}

static enum lc_status allgather_plan(struct cp_run *run, char *err)
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
    if ((st = cp_run_plan_kernel(run, s->heads_q, s->heads_kv, &g->view, &g->plan, err))) return st;
    if ((st = cp_run_split(run, 0, run->rank, "allgather", &g->comm, err))) return st;
    const size_t kv_bytes = 2 * rank_k(run) * run->esize * (size_t)P;
    if ((st = cp_run_alloc(run, kv_bytes, (void **)&g->kv_ranks, err)) || (st = cp_run_alloc(run, kv_bytes, (void **)&g->kv, err)))
        return st;
    if (!(s->direction & DIR_BWD)) return LC_OK;
    const size_t grads = 2 * rank_k(run);
    if ((st = cp_run_alloc(run, kv_bytes, (void **)&g->dkv, err)) ||
        (st = cp_run_alloc(run, grads * (size_t)P * sizeof(float), (void **)&g->grad_send, err)) ||
        (st = cp_run_alloc(run, grads * sizeof(float), (void **)&g->grad_recv, err)))
        return st;
    return LC_OK;
}

static void allgather_release(struct cp_run *run)
{
    struct allgather *g = run->state;
    if (!g) return;
    if (g->plan) run->kernel->plan_destroy(g->plan);
    mask_view_free(&g->view);
    cp_layout_free(&g->gathered);
    for (int r = 0; g->layouts && r < run->size; r++) cp_layout_free(&g->layouts[r]);
    free(g->layouts);
    free(g);
    run->state = NULL;
}

/* Rank r's rows of batch b sit at rows r * N of batch b in the gathered K and V. */
static enum lc_status copy_rank_rows(const struct cp_run *run, void *dst, enum lc_dtype dst_type, size_t dst_at,
                                     const void *src, size_t src_at, char *err)
{
    const size_t n = (size_t)run->layout.rows * cp_row_elems(run, run->spec->heads_kv);
    const size_t ed = dtype_size(dst_type);
    return run->arr->copy2d((char *)dst + dst_at * ed, dst_type, n, (const char *)src + src_at * run->esize,
                            run->spec->dtype, n, n, 1, false, err);
}

/* Gathered K, V of every rank, in the layout order of the gathered view. */
static enum lc_status gather_kv(struct cp_run *run, struct allgather *g, char *err)
{
    const size_t rk = rank_k(run), n = (size_t)run->layout.rows * cp_row_elems(run, run->spec->heads_kv);
    const size_t all_k = rk * (size_t)run->size;
    uint64_t ticket = 0;
    cp_comm_tag(g->comm, -1, "kv");
    enum lc_status st = g->comm->ops->all_gather(g->comm, run->shard.kv, g->kv_ranks, 2 * rk * run->esize, &ticket, err);
    if (!st) st = g->comm->ops->wait(g->comm, ticket, err);
    int64_t t0 = lc_now_ns();
    for (int r = 0; r < run->size && !st; r++)
        for (int half = 0; half < 2 && !st; half++)
            for (int b = 0; b < run->spec->batch && !st; b++)
                st = copy_rank_rows(run, g->kv, run->spec->dtype, half * all_k + ((size_t)b * run->size + (size_t)r) * n,
                                    g->kv_ranks, (2 * (size_t)r + (size_t)half) * rk + (size_t)b * n, err);
    cp_run_stamp(run, "kv_unpack", t0, -1);
    return st;
}

static enum lc_status allgather_forward(struct cp_run *run, char *err)
{
    struct allgather *g = run->state;
    enum lc_status st = gather_kv(run, g, err);
    if (st) return st;
    struct attn_tensors t = {.q = run->shard.q, .k = g->kv, .v = g->kv + rank_k(run) * run->size * run->esize,
                             .o = run->shard.o, .lse = run->shard.lse};
    return cp_run_attention(run, g->plan, false, &t, 0, err);
}

static enum lc_status allgather_backward(struct cp_run *run, char *err)
{
    struct allgather *g = run->state;
    const size_t rk = rank_k(run), all_k = rk * (size_t)run->size, n = (size_t)run->layout.rows * cp_row_elems(run, run->spec->heads_kv);
    enum lc_status st = gather_kv(run, g, err);
    if (st) return st;
    struct cp_shard *sh = &run->shard;
    struct attn_tensors t = {.q = sh->q, .k = g->kv, .v = g->kv + all_k * run->esize, .o = sh->o, .lse = sh->lse,
                             .d_o = sh->d_o, .dq = sh->dq, .dk = g->dkv, .dv = g->dkv + all_k * run->esize};
    if ((st = cp_run_attention(run, g->plan, true, &t, 0, err))) return st;
    /* Back to rank order in fp32: block r holds [dK | dV] of rank r's rows. */
    int64_t t0 = lc_now_ns();
    for (int r = 0; r < run->size && !st; r++)
        for (int half = 0; half < 2 && !st; half++)
            for (int b = 0; b < run->spec->batch && !st; b++)
                st = copy_rank_rows(run, g->grad_send, LC_FP32, (2 * (size_t)r + (size_t)half) * rk + (size_t)b * n, g->dkv,
                                    half * all_k + ((size_t)b * run->size + (size_t)r) * n, err);
    cp_run_stamp(run, "grad_pack", t0, -1);
    uint64_t ticket = 0;
    cp_comm_tag(g->comm, -1, "dkv");
    if (!st) st = g->comm->ops->reduce_scatter_f32(g->comm, g->grad_send, g->grad_recv, 2 * rk, &ticket, err);
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
    return cp_validate_common(spec, spec->gpus > 1 ? 2 * (int64_t)spec->gpus : 1, "zigzag chunks: 2 x GPUs", err);
}

static enum lc_status allgather_execute(const struct runner_env *env, const struct run_spec *spec, int run_id,
                                        struct run_result *out)
{
    const struct cp_degrees degrees = {1, spec->gpus};
    return cp_execute(env, spec, run_id, out, &cp_allgather_algo, &degrees);
}

const struct cp_method_ops cp_method_allgather = {
    .name = "allgather",
    .summary = "Llama-3 style: all-gather K,V, zigzag Q rows, reduce-scatter dK,dV (fp32)",
    .validate = allgather_validate,
    .execute = allgather_execute,
};
