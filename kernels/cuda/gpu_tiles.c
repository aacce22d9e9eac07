/* Tile lists for the CUDA kernels: core's per-query-tile lists, transposed for the backward,
 * packed into one entry array and uploaded. */
#include "kernels/cuda/gpu_tiles.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_backend.h"
#include "core/mask/mask_rule.h"
#include "core/mask/mask_tiles.h"

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The same pairs with the roles of query and key swapped: k - q in [lo, hi] becomes
 * q - k in [-hi, -lo]. An involution, so it also maps transposed rules back. */
static struct longca_rule rule_transpose(struct longca_rule r)
{
    struct longca_rule t = {r.k_begin, r.k_end, r.q_begin, r.q_end, MASK_DIAG_NONE_LO, MASK_DIAG_NONE_HI};
    if (r.diag_hi != MASK_DIAG_NONE_HI) t.diag_lo = -r.diag_hi;
    if (r.diag_lo != MASK_DIAG_NONE_LO) t.diag_hi = -r.diag_lo;
    return t;
}

static enum lc_status view_transpose(const struct longca_mask *v, struct longca_mask *out, char *err)
{
    int64_t n = v->rule_offsets[v->n_heads];
    out->n_heads = v->n_heads;
    out->seqlen_q = v->seqlen_k;
    out->seqlen_k = v->seqlen_q;
    out->rule_offsets = malloc(((size_t)v->n_heads + 1) * sizeof *out->rule_offsets);
    out->rules = malloc(((size_t)n + 1) * sizeof *out->rules);
    if (!out->rule_offsets || !out->rules) {
        free(out->rule_offsets);
        free(out->rules);
        return lc_fail(err, LC_ERR_OOM, "out of host memory transposing the mask");
    }
    memcpy(out->rule_offsets, v->rule_offsets, ((size_t)v->n_heads + 1) * sizeof *out->rule_offsets);
    for (int64_t i = 0; i < n; i++) out->rules[i] = rule_transpose(v->rules[i]);
    return LC_OK;
}

/* Rows to launch first: heaviest first, so the long rows of a causal mask do not end the
 * launch alone; ascending when the deterministic backward needs key tiles in order. */
static const int64_t *sort_counts_offsets;
static int cmp_heavier(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    int64_t nx = sort_counts_offsets[x + 1] - sort_counts_offsets[x];
    int64_t ny = sort_counts_offsets[y + 1] - sort_counts_offsets[y];
    if (nx != ny) return nx > ny ? -1 : 1;
    return (x > y) - (x < y);
}

static enum lc_status upload(const void *host, size_t bytes, void **dev, char *err)
{
    enum lc_status st = device_cuda.alloc(bytes ? bytes : 1, dev, err);
    if (st || !bytes) return st;
    return device_cuda.upload(*dev, host, bytes, err);
}

enum lc_status gpu_tiles_build(const struct longca_mask *v, int tile_q, int tile_k, bool by_key, bool ascending,
                               struct gpu_tiles *out, char *err)
{
    memset(out, 0, sizeof *out);
    struct longca_mask tv = {0};
    struct mask_tiles mt = {0};
    enum lc_status st;
    if (by_key && (st = view_transpose(v, &tv, err))) return st;
    st = by_key ? mask_tiles_build(&tv, tile_k, tile_q, &mt, err) : mask_tiles_build(v, tile_q, tile_k, &mt, err);
    if (by_key) {
        free(tv.rule_offsets);
        free(tv.rules);
    }
    if (st) return st;

    const int64_t s_row = mt.seqlen_q, s_col = mt.seqlen_k;
    const int64_t n_rows_all = (int64_t)mt.n_heads * mt.n_qtiles;
    out->by_key = by_key;
    out->row_tile = mt.tile_q;
    out->col_tile = mt.tile_k;
    out->n_heads = mt.n_heads;
    out->n_rows = mt.n_qtiles;
    out->n_cols = mt.n_ktiles;
    out->n_entries = mt.n_entries;

    /* A full tile that overhangs the sequence end still needs its out-of-range rows or columns
     * masked: it gets the in-range rectangle as its one rule. */
    int64_t n_rules = mt.n_rules;
    for (int64_t r = 0; r < n_rows_all; r++)
        for (int64_t e = mt.row_offsets[r]; e < mt.row_offsets[r + 1]; e++)
            if (mt.full[e] && ((r % mt.n_qtiles + 1) * mt.tile_q > s_row || (int64_t)(mt.k_tile[e] + 1) * mt.tile_k > s_col))
                n_rules++;

    struct gpu_tile_entry *entries = malloc(((size_t)mt.n_entries + 1) * sizeof *entries);
    struct longca_rule *rules = malloc(((size_t)n_rules + 1) * sizeof *rules);
    int32_t *order = malloc(((size_t)n_rows_all + 1) * sizeof *order);
    int32_t *visits = by_key ? calloc((size_t)mt.n_heads * mt.n_ktiles + 1, sizeof *visits) : NULL;
    if (!entries || !rules || !order || (by_key && !visits)) {
        st = lc_fail(err, LC_ERR_OOM, "out of host memory packing the tile lists");
        goto done;
    }
    if (n_rules > INT32_MAX || mt.n_entries > INT32_MAX) {
        st = lc_fail(err, LC_ERR_UNSUPPORTED, "mask too fine for the tile lists (%lld rules)", (long long)n_rules);
        goto done;
    }
    int64_t next_rule = 0;
    for (int64_t r = 0; r < n_rows_all; r++) {
        const int head = (int)(r / mt.n_qtiles);
        const int64_t row = r % mt.n_qtiles;
        int64_t n_here = mt.row_offsets[r + 1] - mt.row_offsets[r];
        if (n_here > out->max_row_entries) out->max_row_entries = n_here;
        int32_t lo = INT32_MAX, hi = -1;
        for (int64_t e = mt.row_offsets[r]; e < mt.row_offsets[r + 1]; e++) {
            if (mt.k_tile[e] < lo) lo = mt.k_tile[e];
            if (mt.k_tile[e] > hi) hi = mt.k_tile[e];
        }
        if (hi >= lo && hi - lo + 1 > out->max_row_span) out->max_row_span = hi - lo + 1;
        for (int64_t e = mt.row_offsets[r]; e < mt.row_offsets[r + 1]; e++) {
            const int32_t col = mt.k_tile[e];
            struct gpu_tile_entry *g = &entries[e];
            g->tile = col;
            g->rule_begin = (int32_t)next_rule;
            g->rank = by_key ? visits[(int64_t)head * mt.n_ktiles + col]++ : 0;
            if (!mt.full[e]) {
                for (int64_t i = mt.rule_offsets[e]; i < mt.rule_offsets[e + 1]; i++)
                    rules[next_rule++] = by_key ? rule_transpose(mt.rules[i]) : mt.rules[i];
            } else if ((row + 1) * mt.tile_q > s_row || (int64_t)(col + 1) * mt.tile_k > s_col) {
                struct longca_rule rect = {(int32_t)(row * mt.tile_q), (int32_t)min64((row + 1) * mt.tile_q, s_row),
                                         (int32_t)((int64_t)col * mt.tile_k),
                                         (int32_t)min64((int64_t)(col + 1) * mt.tile_k, s_col), MASK_DIAG_NONE_LO,
                                         MASK_DIAG_NONE_HI};
                rules[next_rule++] = by_key ? rule_transpose(rect) : rect;
            }
            g->rule_count = (int32_t)(next_rule - g->rule_begin);
            out->n_partial += g->rule_count > 0;
        }
    }
    for (int64_t r = 0; r < n_rows_all; r++) order[r] = (int32_t)(r % mt.n_qtiles);
    if (!ascending) {
        sort_counts_offsets = mt.row_offsets;
        for (int h = 0; h < mt.n_heads; h++) {
            int32_t *o = order + (int64_t)h * mt.n_qtiles;
            for (int i = 0; i < mt.n_qtiles; i++) o[i] = h * mt.n_qtiles + i; /* global row ids to sort */
            qsort(o, (size_t)mt.n_qtiles, sizeof *o, cmp_heavier);
            for (int i = 0; i < mt.n_qtiles; i++) o[i] -= h * mt.n_qtiles;
        }
    }

    if ((st = upload(mt.row_offsets, ((size_t)n_rows_all + 1) * sizeof *mt.row_offsets, (void **)&out->row_offsets, err)) ||
        (st = upload(entries, (size_t)mt.n_entries * sizeof *entries, (void **)&out->entries, err)) ||
        (st = upload(rules, (size_t)next_rule * sizeof *rules, (void **)&out->rules, err)) ||
        (st = upload(order, (size_t)n_rows_all * sizeof *order, (void **)&out->row_order, err)))
        gpu_tiles_free(out);

done:
    free(entries);
    free(rules);
    free(order);
    free(visits);
    mask_tiles_free(&mt);
    return st;
}

void gpu_tiles_free(struct gpu_tiles *t)
{
    device_cuda.free(t->row_offsets);
    device_cuda.free(t->entries);
    device_cuda.free(t->rules);
    device_cuda.free(t->row_order);
    memset(t, 0, sizeof *t);
}
