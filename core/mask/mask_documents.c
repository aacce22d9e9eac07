/* The documents form of a view (struct longca_mask, DOCUMENTS): consecutive rectangles with one
 * band of diagonals inside each, what libraries with cu_seqlens and a window take (cuDNN's
 * ragged offsets with a causal or sliding-window mask). Found from the rules themselves, so CP
 * pieces of such masks have it too: group the rules into boxes, take each box's band, require one
 * band for all, and accept only when that describes exactly the visible area. */
#include <stdlib.h>
#include <string.h>

#include "core/mask/mask.h"
#include "core/mask/mask_rule.h"
#include "core/mask/mask_view.h"

bool mask_pattern_has_documents(enum mask_pattern p)
{
    return p == MASK_FULL || p == MASK_CAUSAL || p == MASK_FULL_DOCUMENT || p == MASK_CAUSAL_DOCUMENT ||
           p == MASK_SLIDING_WINDOW || p == MASK_SLIDING_WINDOW_CAUSAL;
}

struct doc_box {
    int64_t qa, qb, ka, kb;
    int64_t lo, hi; /* the band its rules cover, in the box's own coordinates */
};

static int by_q_then_k(const void *a, const void *b)
{
    const struct longca_rule *x = a, *y = b;
    if (x->q_begin != y->q_begin) return x->q_begin < y->q_begin ? -1 : 1;
    return (x->k_begin > y->k_begin) - (x->k_begin < y->k_begin);
}

/* The diagonals (k - q) a rule really reaches, shifted by the box origin. */
static void rule_band(const struct longca_rule *r, const struct doc_box *b, int64_t *lo, int64_t *hi)
{
    int64_t reach_lo = (int64_t)r->k_begin - (r->q_end - 1), reach_hi = (int64_t)(r->k_end - 1) - r->q_begin;
    if (r->diag_lo > reach_lo) reach_lo = r->diag_lo;
    if (r->diag_hi < reach_hi) reach_hi = r->diag_hi;
    *lo = reach_lo - (b->ka - b->qa);
    *hi = reach_hi - (b->ka - b->qa);
}

/* Groups sorted rules into boxes ordered along the diagonal; -1 when the boxes do not tile the view. */
static int group_boxes(const struct longca_mask *v, const struct longca_rule *r, int64_t n, struct doc_box *box)
{
    int nb = 0;
    for (int64_t i = 0; i < n; i++) {
        struct doc_box *cur = nb ? &box[nb - 1] : NULL;
        if (cur && (r[i].q_begin < cur->qb || r[i].k_begin < cur->kb)) {
            if (r[i].q_end > cur->qb) cur->qb = r[i].q_end;
            if (r[i].k_end > cur->kb) cur->kb = r[i].k_end;
            if (r[i].k_begin < cur->ka) cur->ka = r[i].k_begin;
            continue;
        }
        box[nb++] = (struct doc_box){r[i].q_begin, r[i].q_end, r[i].k_begin, r[i].k_end, 0, 0};
    }
    for (int i = 0; i < nb; i++) {
        int64_t q0 = i ? box[i - 1].qb : 0, k0 = i ? box[i - 1].kb : 0;
        if (box[i].qa != q0 || box[i].ka != k0) return -1;
    }
    if (!nb || box[nb - 1].qb != v->seqlen_q || box[nb - 1].kb != v->seqlen_k) return -1;
    return nb;
}

/* One bound for every box: boxes where the bound constrains must agree; NONE when none does. */
static bool agree(const struct doc_box *box, int nb, bool upper, int64_t *out)
{
    bool found = false;
    for (int i = 0; i < nb; i++) {
        int64_t bound = upper ? box[i].hi : box[i].lo;
        bool constrains = upper ? bound < box[i].kb - box[i].ka - 1 : bound > -(box[i].qb - box[i].qa - 1);
        if (!constrains) continue;
        if (found && bound != *out) return false;
        *out = bound;
        found = true;
    }
    if (!found) *out = upper ? LONGCA_DIAG_NONE_HI : LONGCA_DIAG_NONE_LO;
    return true;
}

static bool describe(const struct longca_mask *v, struct longca_rule *r, int64_t n, struct doc_box *box, int *n_box,
                     int64_t *lo, int64_t *hi)
{
    qsort(r, (size_t)n, sizeof *r, by_q_then_k);
    int nb = group_boxes(v, r, n, box);
    if (nb <= 0) return false;
    for (int i = 0, j = 0; i < nb; i++) {
        box[i].lo = INT64_MAX, box[i].hi = INT64_MIN;
        for (; j < n && r[j].q_begin < box[i].qb; j++) {
            int64_t a, b;
            rule_band(&r[j], &box[i], &a, &b);
            if (a < box[i].lo) box[i].lo = a;
            if (b > box[i].hi) box[i].hi = b;
        }
    }
    if (!agree(box, nb, false, lo) || !agree(box, nb, true, hi)) return false;
    /* Every rule inside the common band, and the band's area the visible area: the same set. */
    int64_t area = 0;
    for (int i = 0; i < nb; i++) {
        if ((*lo != LONGCA_DIAG_NONE_LO && box[i].lo < *lo) || (*hi != LONGCA_DIAG_NONE_HI && box[i].hi > *hi))
            return false;
        int64_t shift = box[i].ka - box[i].qa;
        struct longca_rule band = {(int32_t)box[i].qa, (int32_t)box[i].qb, (int32_t)box[i].ka, (int32_t)box[i].kb,
                                   *lo == LONGCA_DIAG_NONE_LO ? LONGCA_DIAG_NONE_LO : (int32_t)(*lo + shift),
                                   *hi == LONGCA_DIAG_NONE_HI ? LONGCA_DIAG_NONE_HI : (int32_t)(*hi + shift)};
        area += mask_rule_area_in(&band, box[i].qa, box[i].qb, box[i].ka, box[i].kb);
    }
    *n_box = nb;
    return area == mask_view_area(v, 0);
}

enum lc_status mask_view_find_documents(struct longca_mask *v, char *err)
{
    int64_t n = v->n_heads == 1 ? v->rule_offsets[1] : 0;
    if (n <= 0) return LC_OK;
    struct longca_rule *r = malloc((size_t)n * sizeof *r);
    struct doc_box *box = malloc((size_t)n * sizeof *box);
    if (!r || !box) {
        free(r), free(box);
        return lc_fail(err, LC_ERR_OOM, "out of host memory for a mask's documents");
    }
    memcpy(r, v->rules, (size_t)n * sizeof *r);
    int nb = 0;
    int64_t lo = LONGCA_DIAG_NONE_LO, hi = LONGCA_DIAG_NONE_HI;
    enum lc_status st = LC_OK;
    if (describe(v, r, n, box, &nb, &lo, &hi)) {
        v->cu_seqlens_q = malloc(((size_t)nb + 1) * sizeof *v->cu_seqlens_q);
        v->cu_seqlens_k = malloc(((size_t)nb + 1) * sizeof *v->cu_seqlens_k);
        if (v->cu_seqlens_q && v->cu_seqlens_k) {
            for (int i = 0; i < nb; i++) v->cu_seqlens_q[i] = box[i].qa, v->cu_seqlens_k[i] = box[i].ka;
            v->cu_seqlens_q[nb] = v->seqlen_q, v->cu_seqlens_k[nb] = v->seqlen_k;
            v->n_docs = nb;
            v->doc_diag_lo = (int32_t)lo, v->doc_diag_hi = (int32_t)hi;
        } else {
            st = lc_fail(err, LC_ERR_OOM, "out of host memory for a mask's documents");
        }
    }
    free(r), free(box);
    return st;
}
