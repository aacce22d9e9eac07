/* The 12 static patterns compiled to non-overlapping slices.
 *
 * Every pattern is a union of disjoint "regions": a box [qb, qe) x [kmin, kmax) intersected
 * with a diagonal band dlo <= k - q <= dhi. Row q of a region sees [L(q), R(q)] with
 * L = max(kmin, q + dlo) and R = min(kmax - 1, q + dhi); cutting the rows where L or R switches
 * between constant and slope 1 leaves pieces that are exactly FULL (both constant), CAUSAL
 * (R slope 1), INV_CAUSAL (L slope 1) or BICAUSAL (both) slices inside the box. */
#include <stdlib.h>

#include "core/mask/mask_build.h"

static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

struct slice_list {
    struct mask_slice *v;
    int n, cap;
    bool oom;
};

static void push(struct slice_list *l, int64_t qb, int64_t qe, int64_t kb, int64_t ke, enum mask_slice_type t)
{
    if (l->oom || qb >= qe || kb >= ke) return;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        struct mask_slice *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            l->oom = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (struct mask_slice){qb, qe, kb, ke, t};
}

/* Rows [qb, qe) of one piece, where L is constant (kmin) or q + dlo, R constant (kmax - 1) or q + dhi. */
static void emit_piece(struct slice_list *l, int64_t qb, int64_t qe, int64_t kmin, int64_t kmax, int64_t dlo,
                       int64_t dhi, bool l_slope, bool r_slope)
{
    if (qb >= qe) return;
    if (!l_slope && !r_slope) {
        push(l, qb, qe, kmin, kmax, SLICE_FULL);
    } else if (!l_slope) { /* rows before kmin - dhi see nothing */
        qb = max64(qb, kmin - dhi);
        push(l, qb, qe, kmin, qe + dhi, SLICE_CAUSAL);
    } else if (!r_slope) { /* rows from kmax - dlo on see nothing */
        qe = min64(qe, kmax - dlo);
        push(l, qb, qe, qb + dlo, kmax, SLICE_INV_CAUSAL);
    } else if (dlo <= dhi) {
        push(l, qb, qe, qb + dlo, qe + dhi, SLICE_BICAUSAL);
    }
}

static void emit_region(struct slice_list *l, int64_t qb, int64_t qe, int64_t kmin, int64_t kmax, int64_t dlo,
                        int64_t dhi)
{
    /* Empty when the band misses the box (diagonals beyond the box change nothing). */
    if (qb >= qe || kmin >= kmax || max64(dlo, kmin - (qe - 1)) > min64(dhi, (kmax - 1) - qb)) return;
    /* L has slope 1 from q_l on, R is constant from q_r on. Where both forms agree (one row), L
     * takes the constant form and R the slope, so a causal box stays one slice. */
    int64_t q_l = kmin - dlo + 1, q_r = kmax - dhi;
    int64_t cuts[4] = {qb, min64(max64(q_l, qb), qe), min64(max64(q_r, qb), qe), qe};
    if (cuts[1] > cuts[2]) {
        int64_t t = cuts[1];
        cuts[1] = cuts[2];
        cuts[2] = t;
    }
    for (int i = 0; i < 3; i++) {
        int64_t first = cuts[i]; /* the piece's first row decides its shape */
        if (cuts[i] < cuts[i + 1])
            emit_piece(l, cuts[i], cuts[i + 1], kmin, kmax, dlo, dhi, first >= q_l, first < q_r);
    }
}

/* "No diagonal": far enough to never bind, small enough that sums cannot overflow. */
#define NO_DIAG_LO INT64_MIN / 4
#define NO_DIAG_HI INT64_MAX / 4

static void box(struct slice_list *l, int64_t qb, int64_t qe, int64_t kb, int64_t ke)
{
    emit_region(l, qb, qe, kb, ke, NO_DIAG_LO, NO_DIAG_HI);
}

static void causal_box(struct slice_list *l, int64_t qb, int64_t qe, int64_t kb, int64_t ke)
{
    emit_region(l, qb, qe, kb, ke, NO_DIAG_LO, 0);
}

static void compile(const struct mask *m, struct slice_list *l)
{
    const int64_t S = m->seqlen, W = min64(m->params.window, S), G = min64(m->params.global_tokens, S);
    const int64_t *cu = m->doc_bounds;
    const int n = m->n_docs;
    switch (m->pattern) {
    case MASK_FULL: box(l, 0, S, 0, S); break;
    case MASK_CAUSAL: causal_box(l, 0, S, 0, S); break;
    case MASK_FULL_DOCUMENT:
        for (int i = 0; i < n; i++) box(l, cu[i], cu[i + 1], cu[i], cu[i + 1]);
        break;
    case MASK_CAUSAL_DOCUMENT:
        for (int i = 0; i < n; i++) causal_box(l, cu[i], cu[i + 1], cu[i], cu[i + 1]);
        break;
    case MASK_SLIDING_WINDOW: emit_region(l, 0, S, 0, S, -W, W); break;
    case MASK_SLIDING_WINDOW_CAUSAL: emit_region(l, 0, S, 0, S, -W, 0); break;
    case MASK_SHARED_QUESTION:
        causal_box(l, 0, cu[1], 0, cu[1]);
        for (int i = 1; i < n; i++) {
            box(l, cu[i], cu[i + 1], 0, cu[1]);
            causal_box(l, cu[i], cu[i + 1], cu[i], cu[i + 1]);
        }
        break;
    case MASK_CAUSAL_BLOCKWISE:
        for (int i = 0; i < n - 1; i++) causal_box(l, cu[i], cu[i + 1], cu[i], cu[i + 1]);
        causal_box(l, cu[n - 1], S, 0, S); /* the last doc: every earlier token, causal within */
        break;
    case MASK_PREFIX_LM_CAUSAL:
        box(l, 0, S, 0, m->params.prefix);
        causal_box(l, 0, S, m->params.prefix, S);
        break;
    case MASK_PREFIX_LM_DOCUMENT:
        for (int i = 0; i < n; i++) {
            int64_t prefix_end = min64(cu[i] + m->params.prefix, cu[i + 1]);
            box(l, cu[i], prefix_end, cu[i], prefix_end);
            causal_box(l, prefix_end, cu[i + 1], cu[i], cu[i + 1]);
        }
        break;
    case MASK_GLOBAL_SLIDING_WINDOW:
        box(l, 0, G, 0, S);
        box(l, G, S, 0, G);
        emit_region(l, G, S, G, S, -W, W);
        break;
    case MASK_BLOCK_CAUSAL_DOCUMENT:
        for (int i = 0; i < n; i++)
            for (int64_t b = cu[i]; b < cu[i + 1]; b += m->params.block) {
                int64_t e = min64(b + m->params.block, cu[i + 1]);
                box(l, b, e, cu[i], e);
            }
        break;
    default: break;
    }
}

enum lc_status mask_compile_static(struct mask *m, char *err)
{
    struct slice_list l = {0};
    compile(m, &l);
    if (l.oom) {
        free(l.v);
        return lc_fail(err, LC_ERR_OOM, "out of host memory compiling %s", mask_pattern_name(m->pattern));
    }
    m->slices = l.v;
    m->n_slices = l.n;
    return LC_OK;
}
