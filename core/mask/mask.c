/* The 14 patterns: names, canonical definitions, parameters, and the mask object's queries
 * (area, elementwise truth). Compilation lives in mask_static.c and mask_sparse.c. */
#include "core/mask/mask.h"
#include "core/mask/mask_rule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DOCS MASK_USES_DOCLEN | MASK_USES_SEED

static const struct {
    const char *name;
    const char *summary;
    unsigned uses;
} patterns[MASK_PATTERN_COUNT] = {
    [MASK_FULL] = {"full", "every query sees every key", 0},
    [MASK_CAUSAL] = {"causal", "k <= q", 0},
    [MASK_FULL_DOCUMENT] = {"full_document", "doc(q) = doc(k) (varlen full)", DOCS},
    [MASK_CAUSAL_DOCUMENT] = {"causal_document", "doc(q) = doc(k) and k <= q (varlen causal)", DOCS},
    [MASK_SLIDING_WINDOW] = {"sliding_window", "|q - k| <= W (bidirectional band; default W = 1024)", MASK_USES_WINDOW},
    [MASK_SLIDING_WINDOW_CAUSAL] = {"sliding_window_causal", "0 <= q - k <= W (default W = 1024)", MASK_USES_WINDOW},
    [MASK_SHARED_QUESTION] = {"shared_question",
                              "doc 0 is the question (causal); answer docs see all of doc 0 and are causal "
                              "within themselves",
                              DOCS},
    [MASK_CAUSAL_BLOCKWISE] = {"causal_blockwise",
                               "causal within each doc; the last doc sees every earlier token and is causal "
                               "within itself",
                               DOCS},
    [MASK_PREFIX_LM_CAUSAL] = {"prefix_lm_causal",
                               "k < p or k <= q; p uniform in [1, S] by seed (canonical: k < p; LongCA's flex "
                               "code has k <= p)",
                               MASK_USES_PREFIX | MASK_USES_SEED},
    [MASK_PREFIX_LM_DOCUMENT] = {"prefix_lm_document",
                                 "per doc [s, e): the first p tokens see [s, s+p) both ways, the rest is causal "
                                 "within the doc; p uniform in [1, shortest doc] by seed",
                                 DOCS | MASK_USES_PREFIX},
    [MASK_GLOBAL_SLIDING_WINDOW] = {"global_sliding_window",
                                    "the first G tokens see and are seen by all, plus |q - k| <= W; default G = W = 1024 "
                                    "(canonical Longformer form; LongCA draws G at random)",
                                    MASK_USES_GLOBAL | MASK_USES_WINDOW},
    [MASK_BLOCK_CAUSAL_DOCUMENT] = {"block_causal_document",
                                    "docs of 1-8 blocks of B (default 1024, seeded); block j of a doc sees the doc's "
                                    "first (j+1)*B tokens (Magi-1 video)",
                                    MASK_USES_BLOCK | MASK_USES_SEED},
    [MASK_BLOCK_SPARSE] = {"block_sparse",
                           "B x B blocks (B = 64 or 128); per KV head and query block keep the top "
                           "floor(density * key blocks) by seeded random score (density = kept fraction, default 0.5)",
                           MASK_USES_BLOCK | MASK_USES_DENSITY | MASK_USES_SEED},
    [MASK_VARIABLE_BLOCK_SPARSE] = {"variable_block_sparse",
                                    "seeded random blocks >= 128 tokens of mean 128/256/512/1024 (default 256), rows and "
                                    "columns apart; same keep rule as block_sparse",
                                    MASK_USES_BLOCK | MASK_USES_DENSITY | MASK_USES_SEED},
};

const char *mask_pattern_name(enum mask_pattern p)
{
    return (unsigned)p < MASK_PATTERN_COUNT ? patterns[p].name : "?";
}

const char *mask_pattern_summary(enum mask_pattern p)
{
    return (unsigned)p < MASK_PATTERN_COUNT ? patterns[p].summary : "?";
}

unsigned mask_pattern_params(enum mask_pattern p) { return (unsigned)p < MASK_PATTERN_COUNT ? patterns[p].uses : 0; }

int mask_pattern_parse(const char *name, enum mask_pattern *out)
{
    for (int i = 0; name && i < MASK_PATTERN_COUNT; i++) {
        if (!strcmp(name, patterns[i].name)) {
            *out = (enum mask_pattern)i;
            return 0;
        }
    }
    return -1;
}

bool mask_pattern_is_block_sparse(enum mask_pattern p) { return p == MASK_BLOCK_SPARSE || p == MASK_VARIABLE_BLOCK_SPARSE; }

bool mask_pattern_uses_documents(enum mask_pattern p)
{
    return (mask_pattern_params(p) & MASK_USES_DOCLEN) || p == MASK_BLOCK_CAUSAL_DOCUMENT;
}

void mask_free(struct mask *m)
{
    free(m->doc_bounds);
    free(m->slices);
    free(m->qblock_bounds);
    free(m->kblock_bounds);
    free(m->keep_bits);
    memset(m, 0, sizeof *m);
}

bool mask_block_kept(const struct mask *m, int head, int qblock, int kblock)
{
    if (!m->keep_bits || head < 0 || head >= m->n_heads || qblock < 0 || qblock >= m->n_qblocks || kblock < 0 ||
        kblock >= m->n_kblocks)
        return false;
    const uint64_t *row = m->keep_bits + ((size_t)head * m->n_qblocks + qblock) * m->words_per_row;
    return (row[kblock / 64] >> (kblock % 64)) & 1;
}

/* The block holding position x: bounds[i] <= x < bounds[i + 1]. */
static int block_of(const int64_t *bounds, int n, int64_t x)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (bounds[mid] <= x) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

bool mask_visible(const struct mask *m, int head, int64_t q, int64_t k)
{
    if (q < 0 || q >= m->seqlen || k < 0 || k >= m->seqlen) return false;
    if (mask_pattern_is_block_sparse(m->pattern))
        return mask_block_kept(m, head, block_of(m->qblock_bounds, m->n_qblocks, q),
                               block_of(m->kblock_bounds, m->n_kblocks, k));
    for (int i = 0; i < m->n_slices; i++) {
        struct longca_rule r = mask_slice_rule(&m->slices[i]);
        if (mask_rule_visible(&r, q, k)) return true;
    }
    return false;
}

/* Tokens in the kept key blocks of one block row. */
static int64_t kept_columns(const struct mask *m, const uint64_t *row)
{
    int64_t cols = 0;
    for (int w = 0; w < m->words_per_row; w++)
        for (uint64_t bits = row[w]; bits; bits &= bits - 1) {
            int kb = w * 64 + __builtin_ctzll(bits);
            cols += m->kblock_bounds[kb + 1] - m->kblock_bounds[kb];
        }
    return cols;
}

int64_t mask_area_head(const struct mask *m, int head)
{
    int64_t area = 0;
    if (!mask_pattern_is_block_sparse(m->pattern)) {
        for (int i = 0; i < m->n_slices; i++) {
            struct longca_rule r = mask_slice_rule(&m->slices[i]);
            area += mask_rule_area_in(&r, 0, m->seqlen, 0, m->seqlen);
        }
        return area;
    }
    if (head < 0 || head >= m->n_heads) return 0;
    for (int qb = 0; qb < m->n_qblocks; qb++) {
        const uint64_t *row = m->keep_bits + ((size_t)head * m->n_qblocks + qb) * m->words_per_row;
        area += (m->qblock_bounds[qb + 1] - m->qblock_bounds[qb]) * kept_columns(m, row);
    }
    return area;
}

int64_t mask_area_sum(const struct mask *m)
{
    if (!mask_pattern_is_block_sparse(m->pattern)) return mask_area_head(m, 0);
    int64_t sum = 0;
    for (int h = 0; h < m->n_heads; h++) sum += mask_area_head(m, h);
    return sum;
}

double mask_density(const struct mask *m)
{
    int heads = mask_pattern_is_block_sparse(m->pattern) ? m->n_heads : 1;
    return (double)mask_area_sum(m) / ((double)heads * (double)m->seqlen * (double)m->seqlen);
}

double mask_area_for_heads(const struct mask *m, int heads_q, int heads_kv)
{
    if (!mask_pattern_is_block_sparse(m->pattern)) return (double)heads_q * (double)mask_area_head(m, 0);
    /* Each KV head's map is shared by the heads_q / heads_kv query heads of its group. */
    (void)heads_kv; /* the mask holds one map per KV head: n_heads == heads_kv */
    return (double)heads_q / (double)m->n_heads * (double)mask_area_sum(m);
}
