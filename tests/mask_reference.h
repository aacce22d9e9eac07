/* An independent dense reference of the 14 patterns, written from the canonical definitions
 * `longca list masks` prints (never from the slice form), for the mask tests. */
#ifndef LC_TEST_MASK_REFERENCE_H
#define LC_TEST_MASK_REFERENCE_H

#include <stdio.h>
#include <stdlib.h>

#include "tests/check.h"
#include "core/mask/mask.h"
#include "core/model/rng.h"

/* doc[i] = index of the document holding position i (all 0 without documents); caller frees. */
static inline int *ref_doc_index(const struct mask *m)
{
    int *doc = calloc((size_t)m->seqlen + 1, sizeof *doc);
    for (int d = 0; d < m->n_docs; d++)
        for (int64_t i = m->doc_bounds[d]; i < m->doc_bounds[d + 1]; i++) doc[i] = d;
    return doc;
}

/* Static patterns: visible(q, k) from the definitions; documents and resolved parameters are
 * taken from the built mask (they are data, drawn by seed), the geometry is not. */
static inline bool ref_static_visible(const struct mask *m, const int *doc, int64_t q, int64_t k)
{
    const int64_t *cu = m->doc_bounds;
    const int n = m->n_docs;
    const int64_t W = m->params.window, G = m->params.global_tokens, p = m->params.prefix;
    int dq = doc[q], dk = doc[k];
    switch (m->pattern) {
    case MASK_FULL: return true;
    case MASK_CAUSAL: return k <= q;
    case MASK_FULL_DOCUMENT: return dq == dk;
    case MASK_CAUSAL_DOCUMENT: return dq == dk && k <= q;
    case MASK_SLIDING_WINDOW: return llabs(q - k) <= W;
    case MASK_SLIDING_WINDOW_CAUSAL: return q - k >= 0 && q - k <= W;
    case MASK_SHARED_QUESTION:
        if (dq == 0) return dk == 0 && k <= q;
        return dk == 0 || (dk == dq && k <= q);
    case MASK_CAUSAL_BLOCKWISE:
        if (dq == n - 1) return k <= q;
        return dk == dq && k <= q;
    case MASK_PREFIX_LM_CAUSAL: return k < p || k <= q;
    case MASK_PREFIX_LM_DOCUMENT: {
        if (dq != dk) return false;
        int64_t s = cu[dq];
        if (q < s + p) return k < s + p;
        return k <= q;
    }
    case MASK_GLOBAL_SLIDING_WINDOW: return q < G || k < G || llabs(q - k) <= W;
    case MASK_BLOCK_CAUSAL_DOCUMENT: {
        if (dq != dk) return false;
        int64_t s = cu[dq], j = (q - s) / m->params.block;
        return k < s + (j + 1) * m->params.block;
    }
    default: return false;
    }
}

struct ref_score {
    uint64_t score;
    int index;
};

static inline int ref_cmp_score_desc(const void *a, const void *b)
{
    const struct ref_score *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->index - y->index;
}

/* Block-sparse keep sets recomputed by a full sort of the seeded scores. */
static inline bool *ref_block_keep(const struct mask *m)
{
    int nq = m->n_qblocks, nk = m->n_kblocks;
    bool *keep = calloc((size_t)m->n_heads * nq * nk + 1, 1);
    struct ref_score *s = malloc(((size_t)nk + 1) * sizeof *s);
    int kept = (int)(m->params.density * nk + 1e-9);
    for (int h = 0; h < m->n_heads; h++)
        for (int qb = 0; qb < nq; qb++) {
            /* key block j's score: the j-th draw of splitmix64 keyed by (seed, head, query block) */
            uint64_t state = rng_hash3(m->params.seed, (uint64_t)h, (uint64_t)qb);
            for (int kb = 0; kb < nk; kb++) s[kb] = (struct ref_score){rng_splitmix64(&state), kb};
            qsort(s, (size_t)nk, sizeof *s, ref_cmp_score_desc);
            for (int i = 0; i < kept; i++) keep[((size_t)h * nq + qb) * nk + s[i].index] = true;
        }
    free(s);
    return keep;
}

#endif
