/* Counting CP blocks' tile lists without cutting their views (cp/block_work.h).
 *
 * A block's view holds, for every (query segment, key segment) pair a rule reaches, the rule
 * clipped to that pair, moved to local rows; its tile lists add up, per (query tile, key tile),
 * the visible pairs of the rules inside. Moving rows keeps counts, so the same sums come from
 * the global rule clipped to each piece of a query segment inside one query tile, against the
 * columns of each key run inside one key tile. Query tiles are walked in order and closed one
 * at a time, as mask_tiles_build does: a key tile with visible pairs is an entry, full when they
 * fill it. */
#include "cp/block_work.h"

#include <stdlib.h>
#include <string.h>

#include "core/mask/mask_rule.h"

/* One key layout's counts for the query layout being counted. */
struct block_count {
    int64_t q_tiles, full, partial, area;
    int64_t seen; /* the last query tile with a visible pair, plus one */
};

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

enum lc_status cp_block_work_init(struct cp_block_work *w, const struct cp_view_index *ix,
                                  const struct cp_view_keys *keys, int tile, char *err)
{
    memset(w, 0, sizeof *w);
    w->ix = ix;
    w->keys = keys;
    w->tile = tile > 0 ? tile : 128;
    const int n = keys->n_layouts, T = w->tile;
    w->tile_base = malloc(((size_t)n + 1) * sizeof *w->tile_base);
    if (!w->tile_base) return lc_fail(err, LC_ERR_OOM, "out of host memory for counting CP blocks");
    w->tile_base[0] = 0;
    for (int l = 0; l < n; l++) w->tile_base[l + 1] = w->tile_base[l] + (keys->layouts[l].rows + T - 1) / T;
    const size_t tiles = (size_t)w->tile_base[n] + 1, runs = (size_t)keys->n_runs + 1;
    w->tile_layout = malloc(tiles * sizeof *w->tile_layout);
    w->tile_width = malloc(tiles * sizeof *w->tile_width);
    w->acc = calloc(tiles, sizeof *w->acc);
    w->touched = malloc(tiles * sizeof *w->touched);
    w->run_tile = malloc(runs * sizeof *w->run_tile);
    w->run_at = malloc(runs * sizeof *w->run_at);
    w->count = malloc(((size_t)n + 1) * sizeof *w->count);
    w->cand = malloc(((size_t)ix->max_rules + 1) * sizeof *w->cand);
    if (!w->tile_layout || !w->tile_width || !w->acc || !w->touched || !w->run_tile || !w->run_at || !w->count ||
        !w->cand) {
        cp_block_work_free(w);
        return lc_fail(err, LC_ERR_OOM, "out of host memory for counting CP blocks");
    }
    for (int l = 0; l < n; l++)
        for (int64_t t = w->tile_base[l]; t < w->tile_base[l + 1]; t++) {
            w->tile_layout[t] = l;
            w->tile_width[t] = (int32_t)min64(T, keys->layouts[l].rows - (t - w->tile_base[l]) * T);
        }
    for (int64_t j = 0; j < keys->n_runs; j++) {
        const struct cp_key_run *r = &keys->runs[j];
        w->run_tile[j] = w->tile_base[r->layout] + r->off / T;
        w->run_at[j] = (int32_t)(r->off % T);
    }
    return LC_OK;
}

void cp_block_work_free(struct cp_block_work *w)
{
    free(w->tile_base);
    free(w->tile_layout);
    free(w->tile_width);
    free(w->acc);
    free(w->touched);
    free(w->run_tile);
    free(w->run_at);
    free(w->count);
    free(w->cand);
    memset(w, 0, sizeof *w);
}

/* The visible pairs of clipped rule r in the columns of key run j, key tile by key tile. Every
 * column of a clipped rule sees something, so each tile met gets some. */
static void count_pair(struct cp_block_work *w, const struct longca_rule *r, int64_t j)
{
    const struct cp_key_run *run = &w->keys->runs[j];
    const int64_t T = w->tile, rows = (int64_t)r->q_end - r->q_begin;
    int64_t x = max64(run->src, r->k_begin), y = min64(run->end, r->k_end);
    int64_t at = w->run_at[j] + (x - run->src), tile = w->run_tile[j];
    if (at >= T) {
        tile += at / T;
        at %= T;
    }
    while (x < y) {
        const int64_t to = min64(y, x + T - at);
        /* columns every row sees, as for a 1-row piece, are a product; the rest an exact count */
        const bool all = x - (r->q_end - 1) >= r->diag_lo && (to - 1) - r->q_begin <= r->diag_hi;
        const int64_t a = all ? rows * (to - x) : mask_rule_area_in(r, r->q_begin, r->q_end, x, to);
        if (!w->acc[tile]) w->touched[w->n_touched++] = tile;
        w->acc[tile] += a;
        x = to;
        at = 0;
        tile++;
    }
}

/* Global rows [qa, qb), inside one query tile, against every key run. */
static void count_rows(struct cp_block_work *w, int64_t qa, int64_t qb)
{
    const struct longca_mask *g = w->ix->global;
    const struct cp_view_keys *k = w->keys;
    const int64_t n_cand = cp_view_candidates(w->ix, 0, qa, qb, w->cand);
    for (int64_t c = 0; c < n_cand; c++) {
        struct longca_rule r;
        if (!mask_rule_clip(&g->rules[w->cand[c]], qa, qb, 0, g->seqlen_k, &r)) continue;
        for (int64_t j = cp_view_keys_first(k, r.k_begin); j < k->n_runs && k->runs[j].src < r.k_end; j++)
            count_pair(w, &r, j);
    }
}

/* Query tile qt of a layout of q_rows rows is done: its key tiles become entries. */
static void close_query_tile(struct cp_block_work *w, int64_t qt, int64_t q_rows)
{
    const int64_t rows = min64(w->tile, q_rows - qt * w->tile);
    for (int64_t i = 0; i < w->n_touched; i++) {
        const int64_t t = w->touched[i], a = w->acc[t];
        struct block_count *c = &w->count[w->tile_layout[t]];
        w->acc[t] = 0;
        c->area += a;
        if (a == rows * w->tile_width[t]) c->full++;
        else c->partial++;
        if (c->seen != qt + 1) {
            c->seen = qt + 1;
            c->q_tiles++;
        }
    }
    w->n_touched = 0;
}

void cp_block_work_count(struct cp_block_work *w, const struct cp_layout *q, int heads, struct cp_tile_work *out)
{
    const int n = w->keys->n_layouts;
    const int64_t T = w->tile;
    memset(w->count, 0, (size_t)n * sizeof *w->count);
    int64_t at = 0, qt = -1;
    for (int i = 0; i < q->n; at += q->seg[i++].len) {
        const struct cp_segment *s = &q->seg[i];
        if (s->src == CP_PAD) continue;
        for (int64_t from = at, to; from < at + s->len; from = to) {
            if (from / T != qt) {
                if (qt >= 0) close_query_tile(w, qt, q->rows);
                qt = from / T;
            }
            to = min64(at + s->len, (qt + 1) * T);
            count_rows(w, s->src + (from - at), s->src + (to - at));
        }
    }
    if (qt >= 0) close_query_tile(w, qt, q->rows);
    for (int l = 0; l < n; l++) {
        const struct block_count *c = &w->count[l];
        out[l] = (struct cp_tile_work){.q_tiles = (float)c->q_tiles, .full_tiles = (float)c->full,
                                       .partial_tiles = (float)c->partial, .heads = (float)heads,
                                       .area = (double)c->area};
    }
}
