/* How a sequence is spread over CP ranks, and what each rank's attention blocks see.
 *
 * A layout lists, in local row order, the global tokens a rank holds: runs of consecutive
 * tokens and runs of padding rows (which see nothing and are seen by nothing). The zigzag
 * layout (DualChunkSwap) cuts each balancing unit into 2R chunks and gives ring rank r chunks r
 * and 2R-1-r, so causal work is even; the unit is each document for document masks (padded to
 * a multiple of 2R, as LongCA-bench and TransformerEngine's THD format do) and the whole
 * sequence otherwise. With R = 1 the layout is the sequence itself, unpadded.
 *
 * The mask of a (Q layout, KV layout) block comes from the global rules clipped to every pair of
 * runs and moved to local coordinates: one view per block, whatever the runs, so one kernel call
 * does a whole ring step and the visible area of the view is the step's exact work. */
#ifndef LC_CP_SHARD_H
#define LC_CP_SHARD_H

#include <stdint.h>

#include "core/mask/mask.h"
#include "core/model/status.h"

#define CP_PAD (-1) /* segment source of padding rows */

struct cp_segment {
    int64_t src; /* first global token, or CP_PAD */
    int64_t len;
};

struct cp_layout {
    struct cp_segment *seg;
    int n;
    int64_t rows; /* sum of len */
};

/* Rows every ring rank holds for ring size `ring` when the padded total must also be a multiple
 * of `multiple` (a multiple of 2 * ring, or anything for ring 1): documents are padded one by
 * one, then a run of padding closes the sequence. */
int64_t cp_zigzag_rows(const struct mask *m, int ring, int64_t multiple);
enum lc_status cp_layout_zigzag(const struct mask *m, int ring, int ring_rank, int64_t multiple, struct cp_layout *out,
                                char *err);
/* Rows [begin, end) of a layout, and layouts one after another. */
enum lc_status cp_layout_slice(const struct cp_layout *in, int64_t begin, int64_t end, struct cp_layout *out,
                               char *err);
enum lc_status cp_layout_concat(const struct cp_layout *parts, int n, struct cp_layout *out, char *err);
void cp_layout_free(struct cp_layout *l);
/* Number of real (non-padding) rows. */
int64_t cp_layout_tokens(const struct cp_layout *l);

/* Host copies between a [batch, rows, row_bytes] global array and a layout's local rows: gather
 * zeroes padding rows, scatter skips them. LSE-like [batch, heads, rows] arrays pass
 * batch * heads as batch and 4 bytes a row. */
void cp_layout_gather(const struct cp_layout *l, void *dst, const void *src, int64_t batch, int64_t src_rows,
                      size_t row_bytes);
void cp_layout_scatter(const struct cp_layout *l, void *dst, const void *src, int64_t batch, int64_t dst_rows,
                       size_t row_bytes);

/* The mask seen by local Q rows `q` against local KV rows `k`, from the global view. */
enum lc_status cp_view_between(const struct longca_mask *global, const struct cp_layout *q, const struct cp_layout *k,
                               struct longca_mask *out, char *err);
/* The global view's rules by first row, head by head: what every cut searches. A schedule that
 * cuts many blocks from one mask (P^2 for a ring of P) sorts them once, not per block. */
struct cp_view_index {
    const struct longca_mask *global;
    int64_t *by_row;   /* rule indices, each head's from its rule_offsets entry, by q_begin */
    int32_t *reach;    /* reach[i]: the furthest row end among its head's by_row entries up to i */
    int64_t max_rules; /* the most rules of one head: how many candidates a cut may find */
};
enum lc_status cp_view_index_build(const struct longca_mask *global, struct cp_view_index *ix, char *err);
void cp_view_index_free(struct cp_view_index *ix);
/* The rules of `head` that reach rows [begin, end) at all, as indices into the global rules, into
 * cand (room for max_rules); returns their count. */
int64_t cp_view_candidates(const struct cp_view_index *ix, int head, int64_t begin, int64_t end, int64_t *cand);
/* KV layouts' runs of tokens sorted by first token (padding left out): the key side of cuts and
 * counts, prepared once where many blocks share them (allgather's gathered KV, a ring's P
 * layouts). The layouts hold distinct tokens, so sorted by start the runs are sorted by end too,
 * and a rule finds the runs its columns meet by bisection. */
struct cp_key_run {
    int64_t src, end; /* global tokens [src, end) */
    int64_t off;      /* the local row of src in its layout */
    int layout, seg;  /* which layout, and which of its segments */
};
struct cp_view_keys {
    const struct cp_layout *layouts;
    int n_layouts;
    struct cp_key_run *runs;
    int64_t n_runs;
};
enum lc_status cp_view_keys_build(const struct cp_layout *layouts, int n, struct cp_view_keys *keys, char *err);
void cp_view_keys_free(struct cp_view_keys *keys);
/* The first of the sorted runs that ends after column `col` (n_runs when none does). */
int64_t cp_view_keys_first(const struct cp_view_keys *k, int64_t col);
/* cp_view_between from the prepared index and a layout (the view owns copies of its rules). */
enum lc_status cp_view_cut_rows(const struct cp_view_index *ix, const struct cp_layout *q, const struct cp_layout *k,
                                struct longca_mask *out, char *err);
/* Visible pairs of a view summed over its heads (static masks have one). */
int64_t cp_view_area(const struct longca_mask *v);
/* Visible pairs of a layout's rows against every key of a static mask's global view: the work
 * of whatever blocks those rows meet, summed. */
int64_t cp_layout_area(const struct longca_mask *global, const struct cp_layout *l);

/* max / mean of per-rank work (1 = perfectly even; 0 when there is no work at all). */
double cp_imbalance(const double *work, int n);

#endif
