/* The one mask representation every layer speaks.
 *
 * A static pattern compiles to non-overlapping slices (q range, k range, type), as in
 * MagiAttention; a block-sparse pattern to one block map per KV head. Both reduce to
 * "rules" (a rectangle plus an optional band of diagonals k - q in [diag_lo, diag_hi]),
 * from which come the exact area (integer arithmetic) and, for any tile shape, the
 * per-query-tile lists of full and partial key tiles that kernels and CP consume. */
#ifndef LC_MASK_H
#define LC_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model/status.h"

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

enum doclen_source { DOCLEN_AUTO = 0, DOCLEN_PILE, DOCLEN_PROLONG64K, DOCLEN_PROLONG512K, DOCLEN_LONG };

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
const char *mask_slice_type_name(enum mask_slice_type t);

/* Half-open ranges. CAUSAL is aligned bottom-right (row i of h sees j <= i + w - h),
 * INV_CAUSAL top-left (row i sees j >= i), BICAUSAL both. */
struct mask_slice {
    int64_t q_begin, q_end, k_begin, k_end;
    enum mask_slice_type type;
};

/* visible(q, k) iff q_begin <= q < q_end, k_begin <= k < k_end and diag_lo <= k - q <= diag_hi. */
#define MASK_DIAG_NONE_LO INT32_MIN
#define MASK_DIAG_NONE_HI INT32_MAX
struct mask_rule {
    int32_t q_begin, q_end, k_begin, k_end;
    int32_t diag_lo, diag_hi;
};

struct mask_rule mask_slice_rule(const struct mask_slice *s);
/* Number of visible pairs of a rule inside [qa, qb) x [ka, kb); O(1). */
int64_t mask_rule_area_in(const struct mask_rule *r, int64_t qa, int64_t qb, int64_t ka, int64_t kb);
/* The rule's visible pairs inside [qa, qb) x [ka, kb) as a rule shrunk to the rows and columns
 * that see something, with diagonals the rectangle implies set to NONE; false if none. */
bool mask_rule_clip(const struct mask_rule *r, int64_t qa, int64_t qb, int64_t ka, int64_t kb,
                    struct mask_rule *out);
static inline bool mask_rule_visible(const struct mask_rule *r, int64_t q, int64_t k)
{
    int64_t d = k - q;
    return q >= r->q_begin && q < r->q_end && k >= r->k_begin && k < r->k_end && d >= r->diag_lo &&
           d <= r->diag_hi;
}

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

/* Mask parameter flags shared by `longca mask`, `longca run` and the TUI (core/mask/mask_params.c):
 * --window --global --prefix --block (sizes: 1024, 1k), --density (0, 1], --doclen NAME, --seed N.
 * *consumed = false (and LC_OK) when flag is not one of them; value NULL means it was missing. */
enum lc_status mask_params_parse_flag(const char *flag, const char *value, struct mask_params *p, bool *consumed,
                                      char *err);
/* The parameters a pattern uses, resolved or as given ("W=1024 G=1024", "p=517", "" for none). */
void mask_params_describe(enum mask_pattern pattern, const struct mask_params *p, char *buf, size_t len);

/* Checks parameters against a pattern and sequence length without building anything
 * (one-line reason on failure: "--window -3 is negative", "--prefix 9000 exceeds seqlen 4096"). */
enum lc_status mask_params_check(enum mask_pattern pattern, const struct mask_params *params, int64_t seqlen,
                                 char *err);

/* Parses one mask-parameter flag (--window --global --prefix --block --density --doclen --seed)
 * into p; *consumed is false for flags that are not mask parameters. Shared by every CLI. */
enum lc_status mask_params_parse_flag(const char *flag, const char *value, struct mask_params *p, bool *consumed,
                                      char *err);

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

/* A mask as rules in some coordinate frame: what kernels consume. Rules of head h are
 * rules[rule_offsets[h] .. rule_offsets[h+1]); static masks have one head. The single-device
 * view of a mask is the whole S x S square; CP methods cut sub-views for their (Q chunk, KV
 * chunk) pairs, translated to local coordinates. */
struct mask_view {
    int n_heads;
    int64_t seqlen_q, seqlen_k;
    int64_t *rule_offsets; /* n_heads + 1 */
    struct mask_rule *rules;
};

enum lc_status mask_view_build(const struct mask *m, struct mask_view *out, char *err);
/* The view of one head's map only (a one-head view; static masks: head 0), e.g. to draw it. */
enum lc_status mask_view_build_head(const struct mask *m, int head, struct mask_view *out, char *err);
/* Rules of src inside [q_begin, q_end) x [k_begin, k_end), shifted to start at (0, 0). */
enum lc_status mask_view_sub(const struct mask_view *src, int64_t q_begin, int64_t q_end, int64_t k_begin,
                             int64_t k_end, struct mask_view *out, char *err);
void mask_view_free(struct mask_view *v);
int64_t mask_view_area(const struct mask_view *v, int head);
bool mask_view_visible(const struct mask_view *v, int head, int64_t q, int64_t k);

/* Per-query-tile key tile lists (CSR), one row per (head, q tile): row = head * n_qtiles + qt.
 * Entries are in ascending key tile order; full[i] says the tile needs no elementwise mask.
 * A partial entry i carries the rules clipped to its tile: rules[rule_offsets[i] .. rule_offsets[i+1]),
 * in the view's coordinates (not tile-local).
 * Work proportional to the visible area: empty tiles never appear. */
struct mask_tiles {
    int tile_q, tile_k;
    int n_heads, n_qtiles, n_ktiles;
    int64_t seqlen_q, seqlen_k;
    int64_t *row_offsets;  /* n_heads * n_qtiles + 1 */
    int32_t *k_tile;       /* n_entries */
    uint8_t *full;         /* n_entries */
    int64_t *rule_offsets; /* n_entries + 1 (empty ranges for full tiles) */
    struct mask_rule *rules;
    int64_t n_entries, n_full, n_partial, n_rules;
};

enum lc_status mask_tiles_build(const struct mask_view *v, int tile_q, int tile_k, struct mask_tiles *out,
                                char *err);
void mask_tiles_free(struct mask_tiles *t);

/* Document lengths sampled from the shipped histograms; seeded, sums to seqlen. */
enum lc_status doclen_sample(enum doclen_source source, int64_t seqlen, uint64_t seed, int64_t **lens,
                             int *n_docs, char *err);
const char *doclen_source_name(enum doclen_source s);
int doclen_source_parse(const char *name, enum doclen_source *out);

#endif
