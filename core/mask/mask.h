/* The one mask representation every layer speaks.
 *
 * A static pattern compiles to non-overlapping slices (q range, k range, type), as in
 * MagiAttention; a block-sparse pattern to one block map per KV head. Both reduce to
 * "rules" (mask_rule.h), from which come the exact area (integer arithmetic), the views kernels
 * read (mask_view.h) and, for any tile shape, the per-query-tile lists of full and partial key
 * tiles that kernels and CP consume (mask_tiles.h). This header: the patterns, their
 * parameters, the compiled mask, its building and its area. */
#ifndef LC_MASK_H
#define LC_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mask/doclen.h"
#include "core/model/status.h"
#include "kernels/longca_kernel.h" /* views and rules are the kernel ABI's types */

#define LC_MAX_SEQLEN (1ll << 30) /* 1G tokens: anything beyond is a typo, not a run or a mask */

enum mask_pattern {
    MASK_FULL = 0,
    MASK_CAUSAL,
    MASK_FULL_DOCUMENT,
    MASK_CAUSAL_DOCUMENT,
    MASK_SLIDING_WINDOW,
    MASK_SLIDING_WINDOW_CAUSAL,
    MASK_SHARED_QUESTION,
    MASK_CAUSAL_BLOCKWISE,
    MASK_PREFIX_LM_CAUSAL,
    MASK_PREFIX_LM_DOCUMENT,
    MASK_GLOBAL_SLIDING_WINDOW,
    MASK_BLOCK_CAUSAL_DOCUMENT,
    MASK_BLOCK_SPARSE,
    MASK_VARIABLE_BLOCK_SPARSE,
    MASK_PATTERN_COUNT
};

const char *mask_pattern_name(enum mask_pattern p);
const char *mask_pattern_summary(enum mask_pattern p); /* one line: canonical definition */
int mask_pattern_parse(const char *name, enum mask_pattern *out); /* 0 on success */
bool mask_pattern_is_block_sparse(enum mask_pattern p);
bool mask_pattern_uses_documents(enum mask_pattern p);

/* Which struct mask_params fields a pattern reads (bits), so front ends show only those. */
enum {
    MASK_USES_WINDOW = 1 << 0,
    MASK_USES_GLOBAL = 1 << 1,
    MASK_USES_PREFIX = 1 << 2,
    MASK_USES_BLOCK = 1 << 3,
    MASK_USES_DENSITY = 1 << 4,
    MASK_USES_DOCLEN = 1 << 5,
    MASK_USES_SEED = 1 << 6
};
unsigned mask_pattern_params(enum mask_pattern p);

/* Pattern parameters; 0 means "default" for every field (filled in by mask_build). */
struct mask_params {
    int64_t window;            /* W, sliding windows: default 1024 */
    int64_t global_tokens;     /* G, global_sliding_window: default 1024 */
    int64_t prefix;            /* p, prefix masks: default drawn uniformly from [1, S] (per doc: [1, min doc]) */
    int64_t block;             /* B: block_causal_document 1024; block_sparse 64; variable: mean 256 */
    double density;            /* kept fraction of key blocks, block-sparse: default 0.5 */
    enum doclen_source doclen; /* document length histogram: auto picks by S as LongCA does */
    uint64_t seed;             /* documents, prefix, block scores: default 42 */
};

enum mask_slice_type { SLICE_FULL = 0, SLICE_CAUSAL, SLICE_INV_CAUSAL, SLICE_BICAUSAL };

/* Half-open ranges. CAUSAL is aligned bottom-right (row i of h sees j <= i + w - h),
 * INV_CAUSAL top-left (row i sees j >= i), BICAUSAL both. */
struct mask_slice {
    int64_t q_begin, q_end, k_begin, k_end;
    enum mask_slice_type type;
};

struct mask {
    enum mask_pattern pattern;
    struct mask_params params; /* resolved: defaults filled, random draws made */
    int64_t seqlen;

    int64_t *doc_bounds; /* cu_seqlens, n_docs + 1 entries, for document patterns; else NULL */
    int n_docs;

    struct mask_slice *slices; /* static patterns */
    int n_slices;

    /* Block-sparse patterns: one map per KV head (n_heads = KV heads); static: n_heads = 1. */
    int n_heads;
    int n_qblocks, n_kblocks;
    int64_t *qblock_bounds, *kblock_bounds; /* n + 1 entries each */
    uint64_t *keep_bits;                    /* [n_heads][n_qblocks][words_per_row] */
    int words_per_row;
};

/* Builds the mask for sequence length seqlen (S_q = S_k); heads_kv matters for block-sparse only. */
enum lc_status mask_build(enum mask_pattern pattern, const struct mask_params *params, int64_t seqlen,
                          int heads_kv, struct mask *out, char *err);
/* The same with given document lengths (n_docs entries summing to seqlen) instead of sampled
 * ones; doc_lens NULL samples as mask_build does. Ignored by patterns without documents. */
enum lc_status mask_build_with_docs(enum mask_pattern pattern, const struct mask_params *params,
                                    int64_t seqlen, int heads_kv, const int64_t *doc_lens, int n_docs,
                                    struct mask *out, char *err);
void mask_free(struct mask *m);

bool mask_block_kept(const struct mask *m, int head, int qblock, int kblock);
/* Elementwise truth, for references and tests (O(slices) or O(log blocks)). */
bool mask_visible(const struct mask *m, int head, int64_t q, int64_t k);

int64_t mask_area_head(const struct mask *m, int head); /* head ignored for static masks */
int64_t mask_area_sum(const struct mask *m);            /* summed over n_heads maps */
double mask_density(const struct mask *m);              /* area / (n_heads * S^2) */
/* Visible pairs summed over query heads: the FLOP basis (4 * this * d for a forward). */
double mask_area_for_heads(const struct mask *m, int heads_q, int heads_kv);

#endif
