/* Masks as rules per head: the form kernels and CP consume. */
#include <stdlib.h>
#include <string.h>

#include "core/mask/mask.h"
#include "core/mask/mask_rule.h"
#include "core/mask/mask_view.h"

struct rule_list {
    struct longca_rule *v;
    int64_t n, cap;
};

static int push_rule(struct rule_list *l, const struct longca_rule *r)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        struct longca_rule *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *r;
    return 0;
}

/* Kept blocks of one query-block row, consecutive ones merged into one rectangle. */
static int push_block_row(struct rule_list *l, const struct mask *m, int head, int qb)
{
    const uint64_t *row = m->keep_bits + ((size_t)head * m->n_qblocks + qb) * m->words_per_row;
#define KEPT(kb) ((row[(kb) / 64] >> ((kb) % 64)) & 1)
    for (int kb = 0; kb < m->n_kblocks;) {
        if (!row[kb / 64]) { /* a whole word of dropped blocks */
            kb = (kb / 64 + 1) * 64;
            continue;
        }
        if (!KEPT(kb)) {
            kb++;
            continue;
        }
        int end = kb + 1;
        while (end < m->n_kblocks && KEPT(end)) end++;
        struct longca_rule r = {(int32_t)m->qblock_bounds[qb], (int32_t)m->qblock_bounds[qb + 1],
                              (int32_t)m->kblock_bounds[kb], (int32_t)m->kblock_bounds[end], MASK_DIAG_NONE_LO,
                              MASK_DIAG_NONE_HI};
        if (push_rule(l, &r)) return -1;
        kb = end;
    }
#undef KEPT
    return 0;
}

static enum lc_status view_alloc(struct longca_mask *out, int n_heads, int64_t sq, int64_t sk, char *err)
{
    memset(out, 0, sizeof *out);
    out->n_heads = n_heads;
    out->seqlen_q = sq;
    out->seqlen_k = sk;
    out->rule_offsets = calloc((size_t)n_heads + 1, sizeof *out->rule_offsets);
    if (!out->rule_offsets) return lc_fail(err, LC_ERR_OOM, "out of host memory for a mask view");
    return LC_OK;
}

/* The maps of heads [first, first + count) (static masks: the one map) as a view. */
static enum lc_status build_heads(const struct mask *m, int first, int count, struct longca_mask *out, char *err)
{
    enum lc_status st = view_alloc(out, count, m->seqlen, m->seqlen, err);
    if (st != LC_OK) return st;
    struct rule_list l = {0};
    int fail = 0;
    if (!mask_pattern_is_block_sparse(m->pattern)) {
        for (int i = 0; i < m->n_slices && !fail; i++) {
            struct longca_rule r, whole = mask_slice_rule(&m->slices[i]);
            /* clipping drops rows and columns that see nothing, and implied diagonals */
            if (mask_rule_clip(&whole, 0, m->seqlen, 0, m->seqlen, &r)) fail = push_rule(&l, &r);
        }
        out->rule_offsets[1] = l.n;
    } else {
        for (int h = 0; h < count && !fail; h++) {
            for (int qb = 0; qb < m->n_qblocks && !fail; qb++) fail = push_block_row(&l, m, first + h, qb);
            out->rule_offsets[h + 1] = l.n;
        }
    }
    out->rules = l.v;
    if (fail) {
        mask_view_free(out);
        return lc_fail(err, LC_ERR_OOM, "out of host memory for a mask view");
    }
    if (mask_pattern_is_block_sparse(m->pattern) && first == 0 && count == m->n_heads) {
        out->n_qblocks = m->n_qblocks, out->n_kblocks = m->n_kblocks, out->words_per_row = m->words_per_row;
        out->qblock_bounds = m->qblock_bounds, out->kblock_bounds = m->kblock_bounds, out->keep_bits = m->keep_bits;
    }
    if ((st = mask_view_find_documents(out, err))) mask_view_free(out);
    return st;
}

enum lc_status mask_view_build(const struct mask *m, struct longca_mask *out, char *err)
{
    return build_heads(m, 0, mask_pattern_is_block_sparse(m->pattern) ? m->n_heads : 1, out, err);
}

enum lc_status mask_view_build_head(const struct mask *m, int head, struct longca_mask *out, char *err)
{
    int heads = mask_pattern_is_block_sparse(m->pattern) ? m->n_heads : 1;
    if (head < 0 || head >= heads) {
        memset(out, 0, sizeof *out);
        return lc_fail(err, LC_ERR_INVALID, "head %d of a mask with %d head map%s", head, heads, heads == 1 ? "" : "s");
    }
    return build_heads(m, head, 1, out, err);
}

enum lc_status mask_view_sub(const struct longca_mask *src, int64_t q_begin, int64_t q_end, int64_t k_begin,
                             int64_t k_end, struct longca_mask *out, char *err)
{
    if (q_begin < 0 || q_begin > q_end || q_end > src->seqlen_q || k_begin < 0 || k_begin > k_end ||
        k_end > src->seqlen_k) {
        memset(out, 0, sizeof *out);
        return lc_fail(err, LC_ERR_INVALID, "sub-view [%lld, %lld) x [%lld, %lld) outside the %lld x %lld mask",
                       (long long)q_begin, (long long)q_end, (long long)k_begin, (long long)k_end,
                       (long long)src->seqlen_q, (long long)src->seqlen_k);
    }
    enum lc_status st = view_alloc(out, src->n_heads, q_end - q_begin, k_end - k_begin, err);
    if (st != LC_OK) return st;
    struct rule_list l = {0};
    int fail = 0;
    for (int h = 0; h < src->n_heads; h++) {
        for (int64_t i = src->rule_offsets[h]; i < src->rule_offsets[h + 1] && !fail; i++) {
            struct longca_rule r;
            if (!mask_rule_clip(&src->rules[i], q_begin, q_end, k_begin, k_end, &r)) continue;
            /* Shift to local coordinates; k - q moves by q_begin - k_begin. */
            int32_t dq = (int32_t)q_begin, dk = (int32_t)k_begin;
            r.q_begin -= dq, r.q_end -= dq, r.k_begin -= dk, r.k_end -= dk;
            if (r.diag_lo != MASK_DIAG_NONE_LO) r.diag_lo += dq - dk;
            if (r.diag_hi != MASK_DIAG_NONE_HI) r.diag_hi += dq - dk;
            fail = push_rule(&l, &r);
        }
        out->rule_offsets[h + 1] = l.n;
    }
    out->rules = l.v;
    if (fail) {
        mask_view_free(out);
        return lc_fail(err, LC_ERR_OOM, "out of host memory for a mask sub-view");
    }
    if ((st = mask_view_find_documents(out, err))) mask_view_free(out);
    return st;
}

void mask_view_free(struct longca_mask *v)
{
    free(v->rule_offsets);
    free(v->rules);
    free(v->cu_seqlens_q);
    free(v->cu_seqlens_k);
    memset(v, 0, sizeof *v); /* the block map was borrowed */
}

int64_t mask_view_area(const struct longca_mask *v, int head)
{
    if (head < 0 || head >= v->n_heads) return 0;
    int64_t area = 0;
    for (int64_t i = v->rule_offsets[head]; i < v->rule_offsets[head + 1]; i++)
        area += mask_rule_area_in(&v->rules[i], 0, v->seqlen_q, 0, v->seqlen_k);
    return area;
}

bool mask_view_visible(const struct longca_mask *v, int head, int64_t q, int64_t k)
{
    if (head < 0 || head >= v->n_heads) return false;
    for (int64_t i = v->rule_offsets[head]; i < v->rule_offsets[head + 1]; i++)
        if (mask_rule_visible(&v->rules[i], q, k)) return true;
    return false;
}
