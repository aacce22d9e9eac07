/* Ulysses all-to-all around (double) ring attention: USP's 2D scheme, of which Ulysses (rings of
 * one rank), ring and double ring (no all-to-all) are the corners.
 *
 * Ranks form all-to-all groups of u consecutive ranks (the fast links, as USP's
 * use_ulysses_low) and r = P / u rings of the ranks with the same position in their group. The
 * sequence is laid out zigzag over the r ring positions (documents padded per document), and
 * each ring position's rows are split into u contiguous pieces, one per group member. Forward:
 * one all-to-all trades sequence for heads (each member then holds its ring position's rows for
 * H/u query heads), the ring runs on those, one all-to-all trades back (O and LSE). Backward:
 * dO goes over, the ring's backward runs on the forward's head-sharded tensors, dQ, dK, dV come
 * back. With fewer KV heads than u, every member gets the one KV head its query heads read
 * (replicas), and the gradients of the replicas are summed in fp32 on the way back. */
#include <stdlib.h>
#include <string.h>

#include "core/model/event.h"
#include "cp/block_work.h"
#include "cp/methods.h"
#include "cp/ring.h"
#include "core/mask/mask_view.h"

struct hybrid {
    int u, r, ui, ri;
    int hq, hkv;           /* heads of each member after the all-to-all */
    int64_t rows_ring;     /* rows of one ring position (Nr) */
    int64_t rows_local;    /* rows of one member before the all-to-all (Np = Nr / u) */
    struct cp_layout *ring_layouts;
    struct cp_ring ring;
    struct cp_comm *a2a;
    /* Head-sharded tensors; without an all-to-all they are the shard's own. */
    void *q, *kv, *o, *d_o, *dq, *dkv;
    float *lse;
    char *send, *recv;
    float *dkv_sum; /* replicated KV heads: gradients summed here */
};

static int kv_head_of(const struct hybrid *h, int member, int heads_kv) { return member * heads_kv / h->u; }

/* Element counts of one member's piece (Np rows) of Q-like / K-like tensors with local heads. */
static size_t piece_q(const struct cp_exec *run, const struct hybrid *h)
{
    return (size_t)run->spec->batch * (size_t)h->rows_local * cp_row_elems(run, h->hq);
}
static size_t piece_k(const struct cp_exec *run, const struct hybrid *h)
{
    return (size_t)run->spec->batch * (size_t)h->rows_local * cp_row_elems(run, h->hkv);
}

/* Bytes each peer gets in the two all-to-alls that carry Q, K, V (or dQ, dK, dV) and O with LSE. */
static size_t block_qkv(const struct cp_exec *run, const struct hybrid *h) { return (piece_q(run, h) + 2 * piece_k(run, h)) * run->esize; }
static size_t block_lse(const struct cp_exec *run, const struct hybrid *h)
{
    return (size_t)run->spec->batch * (size_t)h->hq * (size_t)h->rows_local * sizeof(float);
}
static size_t block_out(const struct cp_exec *run, const struct hybrid *h) { return block_lse(run, h) + piece_q(run, h) * run->esize; }

static enum lc_status plan_buffers(struct cp_exec *run, struct hybrid *h, char *err)
{
    const struct run_spec *s = run->spec;
    const bool bwd = s->direction & DIR_BWD;
    const size_t e = run->esize, b = (size_t)s->batch, nr = (size_t)h->rows_ring;
    const size_t q_bytes = b * nr * cp_row_elems(run, h->hq) * e, kv_bytes = 2 * b * nr * cp_row_elems(run, h->hkv) * e;
    size_t stage = block_qkv(run, h) > block_out(run, h) ? block_qkv(run, h) : block_out(run, h);
    stage *= (size_t)h->u;
    enum lc_status st;
    if ((st = cp_exec_alloc(run, q_bytes, &h->q, err)) || (st = cp_exec_alloc(run, kv_bytes, &h->kv, err)) ||
        (st = cp_exec_alloc(run, q_bytes, &h->o, err)) ||
        (st = cp_exec_alloc(run, b * (size_t)h->hq * nr * sizeof(float), (void **)&h->lse, err)) ||
        (st = cp_exec_alloc(run, stage, (void **)&h->send, err)) || (st = cp_exec_alloc(run, stage, (void **)&h->recv, err)))
        return st;
    if (!bwd) return LC_OK;
    if ((st = cp_exec_alloc(run, q_bytes, &h->d_o, err)) || (st = cp_exec_alloc(run, q_bytes, &h->dq, err)) ||
        (st = cp_exec_alloc(run, kv_bytes, &h->dkv, err)))
        return st;
    if (h->u > s->heads_kv) {
        size_t local_half = b * (size_t)h->rows_local * cp_row_elems(run, s->heads_kv);
        st = cp_exec_alloc(run, 2 * local_half * sizeof(float), (void **)&h->dkv_sum, err);
    }
    return st;
}

/* The shape of rank `rank`'s part: degrees, heads after the all-to-all, and every ring
 * position's layout (zigzag over the rings, each position's rows split over its group). */
static enum lc_status hybrid_shape(const struct run_spec *s, const struct mask *m, const struct cp_degrees *degrees,
                                   int rank, struct hybrid *h, char *err)
{
    h->u = degrees->ulysses;
    h->r = s->cp_degree / h->u;
    h->ui = rank % h->u;
    h->ri = rank / h->u;
    h->hq = s->heads_q / h->u;
    h->hkv = s->heads_kv >= h->u ? s->heads_kv / h->u : 1;
    const int64_t multiple = (h->r > 1 ? 2 * (int64_t)h->r : 1) * h->u;
    h->ring_layouts = calloc((size_t)h->r, sizeof *h->ring_layouts);
    if (!h->ring_layouts) return lc_fail(err, LC_ERR_OOM, "out of host memory");
    enum lc_status st = LC_OK;
    for (int g = 0; g < h->r && !st; g++) st = cp_layout_zigzag(m, h->r, g, multiple, &h->ring_layouts[g], err);
    if (st) return st;
    h->rows_ring = h->ring_layouts[0].rows;
    h->rows_local = h->rows_ring / h->u;
    return LC_OK;
}

static void free_layouts(struct hybrid *h)
{
    for (int g = 0; h->ring_layouts && g < h->r; g++) cp_layout_free(&h->ring_layouts[g]);
    free(h->ring_layouts);
    h->ring_layouts = NULL;
}

static struct cp_ring_config ring_config(const struct hybrid *h, int window)
{
    return (struct cp_ring_config){.size = h->r, .window = window, .rank = h->ri, .ring_id = h->ui,
                                   .heads_q = h->hq, .heads_kv = h->hkv};
}

static enum lc_status hybrid_plan(struct cp_exec *run, char *err)
{
    struct hybrid *h = calloc(1, sizeof *h);
    if (!h) return lc_fail(err, LC_ERR_OOM, "out of host memory");
    run->state = h;
    enum lc_status st = hybrid_shape(run->spec, &run->mask, &run->degrees, run->rank, h, err);
    if (st) return st;
    if ((st = cp_layout_slice(&h->ring_layouts[h->ri], h->ui * h->rows_local, (h->ui + 1) * h->rows_local, &run->layout,
                              err)))
        return st;
    if (h->u > 1 && (st = cp_exec_split(run, h->ri, h->ui, "a2a", &h->a2a, err))) return st;
    const struct cp_ring_config cfg = ring_config(h, run->degrees.window);
    if ((st = cp_ring_plan(run, &h->ring, &cfg, h->ring_layouts, err))) return st;
    run->work = h->ring.work;
    return h->u > 1 ? plan_buffers(run, h, err) : LC_OK;
}

static void hybrid_release(struct cp_exec *run)
{
    struct hybrid *h = run->state;
    if (!h) return;
    cp_ring_release(run, &h->ring);
    free_layouts(h);
    free(h);
    run->state = NULL;
}

/* copy2d on the run's dtype (or fp32), offsets in elements. */
static enum lc_status copy_rows(const struct cp_exec *run, void *dst, size_t dst_at, size_t dst_ld, const void *src,
                                size_t src_at, size_t src_ld, size_t cols, size_t rows, enum lc_dtype type, bool acc_f32,
                                char *err)
{
    const size_t es = dtype_size(type), ed = acc_f32 ? sizeof(float) : es;
    return run->arr->copy2d((char *)dst + dst_at * ed, acc_f32 ? LC_FP32 : type, dst_ld, (const char *)src + src_at * es,
                            type, src_ld, cols, rows, acc_f32, err);
}

/* Sequence-sharded [b, Np, H, d] rows of `src` into peer blocks of its heads: Q-like tensors
 * (query heads, at offset `at` in each block) or K and V (the KV heads each peer reads). */
static enum lc_status pack_heads(const struct cp_exec *run, const struct hybrid *h, const void *src, int heads,
                                 int local_heads, bool kv_heads, size_t at, size_t block, char *err)
{
    const size_t d = (size_t)run->spec->head_dim, np = (size_t)h->rows_local;
    enum lc_status st = LC_OK;
    for (int p = 0; p < h->u && !st; p++) {
        int first = kv_heads ? kv_head_of(h, p, heads) : p * local_heads;
        for (int b = 0; b < run->spec->batch && !st; b++)
            st = copy_rows(run, h->send + (size_t)p * block, at + (size_t)b * np * local_heads * d, (size_t)local_heads * d,
                           src, ((size_t)b * np * heads + (size_t)first) * d, (size_t)heads * d, (size_t)local_heads * d,
                           np, run->spec->dtype, false, err);
    }
    return st;
}

/* Peer blocks (from `at`) of [b, Np, h, d] into the head-sharded [b, Nr, h, d]: member s's rows
 * are rows s * Np of each batch. */
static enum lc_status unpack_rows(const struct cp_exec *run, const struct hybrid *h, void *dst, int local_heads, size_t at,
                                  size_t block, char *err)
{
    const size_t d = (size_t)run->spec->head_dim, np = (size_t)h->rows_local, nr = (size_t)h->rows_ring;
    const size_t n = np * (size_t)local_heads * d;
    enum lc_status st = LC_OK;
    for (int s = 0; s < h->u && !st; s++)
        for (int b = 0; b < run->spec->batch && !st; b++)
            st = copy_rows(run, dst, ((size_t)b * nr + (size_t)s * np) * local_heads * d, n, h->recv + (size_t)s * block,
                           at + (size_t)b * n, n, n, 1, run->spec->dtype, false, err);
    return st;
}

/* Head-sharded [b, Nr, h, d] rows of piece p into peer p's block (from `at`). */
static enum lc_status pack_rows(const struct cp_exec *run, const struct hybrid *h, const void *src, int local_heads,
                                size_t at, size_t block, char *err)
{
    const size_t d = (size_t)run->spec->head_dim, np = (size_t)h->rows_local, nr = (size_t)h->rows_ring;
    const size_t n = np * (size_t)local_heads * d;
    enum lc_status st = LC_OK;
    for (int p = 0; p < h->u && !st; p++)
        for (int b = 0; b < run->spec->batch && !st; b++)
            st = copy_rows(run, h->send + (size_t)p * block, at + (size_t)b * n, n, src,
                           ((size_t)b * nr + (size_t)p * np) * local_heads * d, n, n, 1, run->spec->dtype, false, err);
    return st;
}

/* Member s's block (from `at`) of [b, Np, h, d] into the heads it holds of [b, Np, H, d]; KV
 * gradients of replicated heads add up in fp32 (dst is then fp32). */
static enum lc_status unpack_heads(const struct cp_exec *run, const struct hybrid *h, void *dst, int heads, int local_heads,
                                   bool kv_heads, bool sum_f32, size_t at, size_t block, char *err)
{
    const size_t d = (size_t)run->spec->head_dim, np = (size_t)h->rows_local;
    enum lc_status st = LC_OK;
    for (int s = 0; s < h->u && !st; s++) {
        int first = kv_heads ? kv_head_of(h, s, heads) : s * local_heads;
        for (int b = 0; b < run->spec->batch && !st; b++)
            st = copy_rows(run, dst, ((size_t)b * np * heads + (size_t)first) * d, (size_t)heads * d,
                           h->recv + (size_t)s * block, at + (size_t)b * np * local_heads * d, (size_t)local_heads * d,
                           (size_t)local_heads * d, np, run->spec->dtype, sum_f32, err);
    }
    return st;
}

static enum lc_status exchange(struct cp_exec *run, struct hybrid *h, size_t block, const char *label, char *err)
{
    uint64_t ticket = 0;
    cp_comm_tag(h->a2a, -1, label);
    enum lc_status st = h->a2a->ops->all_to_all(h->a2a, h->send, h->recv, block, &ticket, err);
    return st ? st : h->a2a->ops->wait(h->a2a, ticket, err);
}

static enum lc_status scatter_heads_in(struct cp_exec *run, struct hybrid *h, char *err)
{
    const struct run_spec *s = run->spec;
    const size_t blk = block_qkv(run, h), pq = piece_q(run, h), pk = piece_k(run, h);
    const size_t local_half = (size_t)s->batch * (size_t)h->rows_local * cp_row_elems(run, s->heads_kv);
    const size_t ring_half = (size_t)s->batch * (size_t)h->rows_ring * cp_row_elems(run, h->hkv);
    const char *kv = run->shard.kv;
    int64_t t0 = lc_now_ns();
    enum lc_status st = pack_heads(run, h, run->shard.q, s->heads_q, h->hq, false, 0, blk, err);
    if (!st) st = pack_heads(run, h, kv, s->heads_kv, h->hkv, true, pq, blk, err);
    if (!st) st = pack_heads(run, h, kv + local_half * run->esize, s->heads_kv, h->hkv, true, pq + pk, blk, err);
    cp_exec_stamp(run, "a2a_pack", t0, -1);
    if (!st) st = exchange(run, h, blk, "qkv", err);
    t0 = lc_now_ns();
    if (!st) st = unpack_rows(run, h, h->q, h->hq, 0, blk, err);
    if (!st) st = unpack_rows(run, h, h->kv, h->hkv, pq, blk, err);
    if (!st) st = unpack_rows(run, h, (char *)h->kv + ring_half * run->esize, h->hkv, pq + pk, blk, err);
    cp_exec_stamp(run, "a2a_unpack", t0, -1);
    return st;
}

static enum lc_status gather_heads_out(struct cp_exec *run, struct hybrid *h, char *err)
{
    const struct run_spec *s = run->spec;
    const size_t blk = block_out(run, h), lse_bytes = block_lse(run, h), np = (size_t)h->rows_local;
    const size_t nr = (size_t)h->rows_ring, lse_elems = lse_bytes / sizeof(float);
    int64_t t0 = lc_now_ns();
    enum lc_status st = LC_OK;
    /* Each block is [LSE (fp32) | O]: LSE first keeps both aligned. */
    for (int p = 0; p < h->u && !st; p++)
        for (int b = 0; b < s->batch && !st; b++)
            st = copy_rows(run, h->send + (size_t)p * blk, (size_t)b * h->hq * np, np, h->lse,
                           (size_t)b * h->hq * nr + (size_t)p * np, nr, np, (size_t)h->hq, LC_FP32, false, err);
    if (!st) st = pack_rows(run, h, h->o, h->hq, lse_bytes / run->esize, blk, err);
    cp_exec_stamp(run, "a2a_pack", t0, -1);
    if (!st) st = exchange(run, h, blk, "o lse", err);
    t0 = lc_now_ns();
    for (int m = 0; m < h->u && !st; m++)
        for (int b = 0; b < s->batch && !st; b++)
            st = copy_rows(run, run->shard.lse, ((size_t)b * s->heads_q + (size_t)m * h->hq) * np, lse_elems,
                           h->recv + (size_t)m * blk, (size_t)b * h->hq * np, lse_elems, (size_t)h->hq * np, 1, LC_FP32,
                           false, err);
    if (!st) st = unpack_heads(run, h, run->shard.o, s->heads_q, h->hq, false, false, lse_bytes / run->esize, blk, err);
    cp_exec_stamp(run, "a2a_unpack", t0, -1);
    return st;
}

static enum lc_status hybrid_forward(struct cp_exec *run, char *err)
{
    struct hybrid *h = run->state;
    if (h->u == 1) return cp_ring_forward(run, &h->ring, run->shard.q, run->shard.kv, run->shard.o, run->shard.lse, err);
    enum lc_status st = scatter_heads_in(run, h, err);
    if (!st) st = cp_ring_forward(run, &h->ring, h->q, h->kv, h->o, h->lse, err);
    if (!st) st = gather_heads_out(run, h, err);
    return st;
}

static enum lc_status gather_grads_out(struct cp_exec *run, struct hybrid *h, char *err)
{
    const struct run_spec *s = run->spec;
    const size_t blk = block_qkv(run, h), pq = piece_q(run, h), pk = piece_k(run, h);
    const size_t ring_half = (size_t)s->batch * (size_t)h->rows_ring * cp_row_elems(run, h->hkv);
    const size_t local_half = (size_t)s->batch * (size_t)h->rows_local * cp_row_elems(run, s->heads_kv);
    const bool replicas = h->u > s->heads_kv;
    int64_t t0 = lc_now_ns();
    enum lc_status st = pack_rows(run, h, h->dq, h->hq, 0, blk, err);
    if (!st) st = pack_rows(run, h, h->dkv, h->hkv, pq, blk, err);
    if (!st) st = pack_rows(run, h, (char *)h->dkv + ring_half * run->esize, h->hkv, pq + pk, blk, err);
    cp_exec_stamp(run, "a2a_pack", t0, -1);
    if (!st) st = exchange(run, h, blk, "grads", err);
    t0 = lc_now_ns();
    if (!st) st = unpack_heads(run, h, run->shard.dq, s->heads_q, h->hq, false, false, 0, blk, err);
    void *dk = replicas ? (void *)h->dkv_sum : run->shard.dkv;
    void *dv = replicas ? (void *)(h->dkv_sum + local_half) : (char *)run->shard.dkv + local_half * run->esize;
    if (!st && replicas) st = run->arr->fill_f32(h->dkv_sum, 2 * local_half, 0.0f, err);
    if (!st) st = unpack_heads(run, h, dk, s->heads_kv, h->hkv, true, replicas, pq, blk, err);
    if (!st) st = unpack_heads(run, h, dv, s->heads_kv, h->hkv, true, replicas, pq + pk, blk, err);
    if (!st && replicas)
        st = run->arr->copy2d(run->shard.dkv, s->dtype, 2 * local_half, h->dkv_sum, LC_FP32, 2 * local_half,
                              2 * local_half, 1, false, err);
    cp_exec_stamp(run, "a2a_unpack", t0, -1);
    return st;
}

static enum lc_status hybrid_backward(struct cp_exec *run, char *err)
{
    struct hybrid *h = run->state;
    struct cp_shard *sh = &run->shard;
    if (h->u == 1) return cp_ring_backward(run, &h->ring, sh->q, sh->kv, sh->o, sh->lse, sh->d_o, sh->dq, sh->dkv, err);
    const size_t blk = piece_q(run, h) * run->esize;
    int64_t t0 = lc_now_ns();
    enum lc_status st = pack_heads(run, h, sh->d_o, run->spec->heads_q, h->hq, false, 0, blk, err);
    cp_exec_stamp(run, "a2a_pack", t0, -1);
    if (!st) st = exchange(run, h, blk, "do", err);
    t0 = lc_now_ns();
    if (!st) st = unpack_rows(run, h, h->d_o, h->hq, 0, blk, err);
    cp_exec_stamp(run, "a2a_unpack", t0, -1);
    if (!st) st = cp_ring_backward(run, &h->ring, h->q, h->kv, h->o, h->lse, h->d_o, h->dq, h->dkv, err);
    if (!st) st = gather_grads_out(run, h, err);
    return st;
}

const struct cp_algo cp_hybrid_algo = {
    .plan = hybrid_plan,
    .forward = hybrid_forward,
    .backward = hybrid_backward,
    .release = hybrid_release,
};

/* Bytes one all-to-all of `block` per peer records. */
static double a2a_bytes(const struct hybrid *h, size_t block)
{
    double alg, bus;
    cp_op_bytes(CP_OP_ALL_TO_ALL, h->u, (double)block, &alg, &bus);
    return bus;
}

enum lc_status cp_hybrid_predict(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                 const struct cp_degrees *degrees, double *work, double *bytes, char *err)
{
    /* The sizes come from the functions the run sizes its buffers and messages with; every rank
     * has the same shape but for its place (ui, ri), and every member of a ring position the
     * same work. */
    struct cp_exec run = {.spec = spec, .esize = dtype_size(spec->dtype)};
    const bool fwd = spec->direction & DIR_FWD, bwd = spec->direction & DIR_BWD;
    struct hybrid h;
    memset(&h, 0, sizeof h);
    enum lc_status st = hybrid_shape(spec, m, degrees, 0, &h, err);
    double *position_work = st ? NULL : malloc((size_t)h.r * sizeof *position_work);
    if (!st && !position_work) st = lc_fail(err, LC_ERR_OOM, "out of host memory");
    for (int g = 0; !st && g < h.r; g++)
        position_work[g] = (double)cp_layout_area(view, &h.ring_layouts[g]) * h.hq * spec->batch;
    for (int rank = 0; !st && rank < spec->cp_degree; rank++) {
        h.ui = rank % h.u;
        h.ri = rank / h.u;
        work[rank] = position_work[h.ri];
        double b = 0, alg, kv_bus, dkv_bus;
        if (h.u > 1) {
            if (fwd) b += a2a_bytes(&h, block_qkv(&run, &h)) + a2a_bytes(&h, block_out(&run, &h));
            if (bwd) b += a2a_bytes(&h, piece_q(&run, &h) * run.esize) + a2a_bytes(&h, block_qkv(&run, &h));
        }
        const struct cp_ring_config cfg = ring_config(&h, degrees->window);
        const size_t k = (size_t)spec->batch * (size_t)h.rows_ring * cp_row_elems(&run, h.hkv);
        cp_op_bytes(CP_OP_SEND_RECV, h.r, (double)(2 * k * run.esize), &alg, &kv_bus);
        cp_op_bytes(CP_OP_SEND_RECV, h.r, (double)(2 * k * sizeof(float)), &alg, &dkv_bus);
        int kv, dkv;
        cp_ring_messages(&cfg, false, &kv, &dkv);
        if (fwd) b += kv * kv_bus;
        cp_ring_messages(&cfg, true, &kv, &dkv);
        if (bwd) b += kv * kv_bus + dkv * dkv_bus;
        bytes[rank] = b;
    }
    free(position_work);
    free_layouts(&h);
    return st;
}

/* One rank's all-to-all of `block` per peer in its group, with the packing before and the
 * unpacking after (each reads and writes every block). */
static void schedule_a2a(struct cp_schedule *s, const struct hybrid *h, double block)
{
    cp_schedule_copy(s, 2.0 * h->u * block, -1);
    cp_schedule_wait(s, cp_schedule_coll(s, 0, CP_COLL_ALL_TO_ALL, h->ri * h->u, 1, h->u, block, -1), -1);
    cp_schedule_copy(s, 2.0 * h->u * block, -1);
}

/* The tile-list work of every step of ring position h->ri (shared by the members of its group),
 * from its rows' work against every position's KV. */
static void ring_work(const struct run_spec *spec, struct cp_block_work *counter, const struct hybrid *h,
                      const struct cp_ring_config *cfg, struct cp_tile_work *by_position, struct cp_tile_work *work)
{
    cp_block_work_count(counter, &h->ring_layouts[h->ri], h->hq * spec->batch, by_position);
    for (int step = 0; step < h->r; step++) work[step] = by_position[cp_ring_member_at(cfg, step)];
}

enum lc_status cp_hybrid_schedule(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                  const struct cp_degrees *degrees, struct cp_schedule *out, char *err)
{
    struct cp_exec run = {.spec = spec, .esize = dtype_size(spec->dtype)};
    const bool fwd = spec->direction & DIR_FWD, bwd = spec->direction & DIR_BWD;
    struct hybrid h;
    memset(&h, 0, sizeof h);
    enum lc_status st = hybrid_shape(spec, m, degrees, 0, &h, err);
    struct cp_tile_work *work = st ? NULL : malloc(2 * (size_t)h.r * sizeof *work);
    if (!st && !work) st = lc_fail(err, LC_ERR_OOM, "out of host memory");
    /* every ring position's rows are counted against every other's: the mask's rules and all
     * positions' key runs sorted once */
    struct cp_view_index index = {0};
    struct cp_view_keys keys = {0};
    struct cp_block_work counter = {0};
    if (!st) st = cp_view_index_build(view, &index, err);
    if (!st) st = cp_view_keys_build(h.ring_layouts, h.r, &keys, err);
    if (!st) st = cp_block_work_init(&counter, &index, &keys, out->tile, err);
    const double k = st ? 0 : (double)spec->batch * (double)h.rows_ring * (double)cp_row_elems(&run, h.hkv);
    for (int ri = 0; !st && ri < h.r; ri++) {
        h.ri = ri;
        h.ui = 0;
        struct cp_ring_config cfg = ring_config(&h, degrees->window);
        ring_work(spec, &counter, &h, &cfg, work + h.r, work);
        for (int ui = 0; ui < h.u; ui++) {
            h.ui = ui;
            cfg.ring_id = ui;
            const struct cp_ring_sched rs = {.cfg = &cfg, .work = work, .rank_base = ui, .rank_stride = h.u,
                                             .kv_bytes = 2 * k * (double)run.esize, .dkv_bytes = 2 * k * sizeof(float)};
            cp_schedule_rank(out, ri * h.u + ui);
            if (fwd) {
                if (h.u > 1) schedule_a2a(out, &h, (double)block_qkv(&run, &h));
                cp_ring_schedule(out, &rs, false);
                if (h.u > 1) schedule_a2a(out, &h, (double)block_out(&run, &h));
            }
            if (bwd) {
                if (h.u > 1) schedule_a2a(out, &h, (double)(piece_q(&run, &h) * run.esize));
                cp_ring_schedule(out, &rs, true);
                if (h.u > 1) schedule_a2a(out, &h, (double)block_qkv(&run, &h));
            }
        }
    }
    cp_block_work_free(&counter);
    cp_view_keys_free(&keys);
    cp_view_index_free(&index);
    free(work);
    free_layouts(&h);
    return st;
}
