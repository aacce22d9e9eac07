/* Folding a block's attention into running results (cp/fold.h). */
#include "cp/fold.h"

#include "core/model/event.h"

struct fold_sizes {
    size_t q, kv, lse; /* elements: Q-like, one of K / V, LSE */
    int batch, heads_q, head_dim;
    int64_t q_rows;
};

static struct fold_sizes sizes_of(const struct cp_exec *run, const struct cp_fold_scratch *s)
{
    const size_t b = (size_t)run->spec->batch, nq = (size_t)s->q_rows, nk = (size_t)s->kv_rows;
    return (struct fold_sizes){b * nq * cp_row_elems(run, s->heads_q), b * nk * cp_row_elems(run, s->heads_kv),
                               b * (size_t)s->heads_q * nq, run->spec->batch, s->heads_q, run->spec->head_dim,
                               s->q_rows};
}

enum lc_status cp_fold_prepare(struct cp_exec *run, struct cp_fold_scratch *s, int64_t q_rows, int64_t kv_rows,
                               int heads_q, int heads_kv, char *err)
{
    *s = (struct cp_fold_scratch){.q_rows = q_rows, .kv_rows = kv_rows, .heads_q = heads_q, .heads_kv = heads_kv};
    if (run->kernel->folds_blocks) return LC_OK;
    const struct fold_sizes z = sizes_of(run, s);
    const size_t e = run->esize;
    enum lc_status st = cp_exec_alloc(run, z.q * e, &s->o_part, err);
    if (!st) st = cp_exec_alloc(run, z.lse * sizeof(float), (void **)&s->lse_part, err);
    if (st || !(run->spec->direction & DIR_BWD)) return st;
    st = cp_exec_alloc(run, z.q * e, &s->dq_part, err);
    if (!st) st = cp_exec_alloc(run, 2 * z.kv * e, &s->dkv_part, err);
    return st;
}

/* The forward's array passes: the block's (O, LSE) from scratch into (o_acc, lse), O out at the last. */
static enum lc_status fold_output(const struct cp_exec *run, const struct longca_tensors *t,
                                  const struct cp_fold_scratch *s, const struct fold_sizes *z, char *err)
{
    const struct longca_fold *f = t->fold;
    const struct cp_array_ops *a = run->arr;
    const enum lc_dtype dt = run->spec->dtype;
    enum lc_status st;
    if (f->first)
        st = a->copy2d(f->o_acc, LC_FP32, z->q, s->o_part, dt, z->q, z->q, 1, false, err);
    else
        st = a->lse_merge(f->o_acc, t->lse, s->o_part, dt, s->lse_part, z->batch, z->q_rows, z->heads_q, z->head_dim, err);
    if (!st && f->last) st = a->copy2d(t->o, dt, z->q, f->o_acc, LC_FP32, z->q, z->q, 1, false, err);
    return st;
}

/* The backward's: dQ added up in fp32 (out at the last), the block's dK | dV converted to fp32. */
static enum lc_status fold_grads(const struct cp_exec *run, const struct longca_tensors *t,
                                 const struct cp_fold_scratch *s, const struct fold_sizes *z, char *err)
{
    const struct longca_fold *f = t->fold;
    const struct cp_array_ops *a = run->arr;
    const enum lc_dtype dt = run->spec->dtype;
    enum lc_status st = a->copy2d(f->dq_acc, LC_FP32, z->q, s->dq_part, dt, z->q, z->q, 1, !f->first, err);
    if (!st && f->last) st = a->copy2d(t->dq, dt, z->q, f->dq_acc, LC_FP32, z->q, z->q, 1, false, err);
    if (!st) st = a->copy2d(f->dkv_acc, LC_FP32, 2 * z->kv, s->dkv_part, dt, 2 * z->kv, 2 * z->kv, 1, false, err);
    return st;
}

enum lc_status cp_fold_attention(struct cp_exec *run, void *plan, bool backward, const struct longca_tensors *t,
                                 const struct cp_fold_scratch *s, int step, char *err)
{
    if (run->kernel->folds_blocks) return cp_exec_attention(run, plan, backward, t, step, err);
    const struct fold_sizes z = sizes_of(run, s);
    /* The block's own outputs go to scratch; the running ones are the fold's. */
    struct longca_tensors part = *t;
    part.fold = NULL;
    if (backward) {
        part.dq = s->dq_part;
        part.dk = s->dkv_part;
        part.dv = (char *)s->dkv_part + z.kv * run->esize;
    } else {
        part.o = s->o_part;
        if (!t->fold->first) part.lse = s->lse_part;
    }
    enum lc_status st = cp_exec_attention(run, plan, backward, &part, step, err);
    if (st) return st;
    int64_t t0 = lc_now_ns();
    st = backward ? fold_grads(run, t, s, &z, err) : fold_output(run, t, s, &z, err);
    cp_exec_stamp(run, backward ? "grad_sum" : "lse_merge", t0, step);
    return st;
}
