/* Per-query-tile key tile lists for any tile shape.
 *
 * Work is proportional to the touched tiles, never to rows: for each query tile, each active
 * rule (one whose rows meet the tile) covers one contiguous range of key tiles (its diagonals
 * are monotone in q), and the visible count of a rule in a tile is O(1). A tile whose counts
 * sum to its area is full; the rules of a partial tile are clipped to it and kept in the
 * view's coordinates. */
#include <stdlib.h>
#include <string.h>

#include "core/mask/mask.h"
#include "core/mask/mask_rule.h"
#include "core/mask/mask_tiles.h"

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

struct range {
    int64_t rule;
    int32_t kt_lo, kt_hi;
};

/* Everything that grows while tiles are emitted, and the per-key-tile scratch. */
struct builder {
    struct mask_tiles *t;
    int64_t cap_entries, cap_rules;
    int64_t *acc;       /* visible pairs per key tile in the current query tile */
    int32_t *n_rules;   /* contributing rules per key tile */
    int64_t *entry_of;  /* entry index per key tile (current query tile) */
    int64_t *fill;      /* next rule slot per key tile */
    int32_t *touched;
    int n_touched;
    struct range *ranges;
    int64_t n_ranges, cap_ranges;
    int64_t *active, n_active;
};

static int grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap) return 0;
    int64_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *v = realloc(*p, (size_t)c * elem);
    if (!v) return -1;
    *p = v;
    *cap = c;
    return 0;
}

static int reserve_entries(struct builder *b, int64_t need)
{
    struct mask_tiles *t = b->t;
    if (need <= b->cap_entries) return 0;
    int64_t cap = b->cap_entries ? b->cap_entries : 1024;
    while (cap < need) cap *= 2;
    int32_t *k_tile = realloc(t->k_tile, (size_t)cap * sizeof *k_tile);
    if (k_tile) t->k_tile = k_tile;
    uint8_t *full = realloc(t->full, (size_t)cap * sizeof *full);
    if (full) t->full = full;
    int64_t *offsets = realloc(t->rule_offsets, ((size_t)cap + 1) * sizeof *offsets);
    if (offsets) t->rule_offsets = offsets;
    if (!k_tile || !full || !offsets) return -1;
    b->cap_entries = cap;
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

struct rule_key {
    int32_t q_begin;
    int64_t index;
};

static int cmp_rule_key(const void *a, const void *b)
{
    const struct rule_key *x = a, *y = b;
    if (x->q_begin != y->q_begin) return (x->q_begin > y->q_begin) - (x->q_begin < y->q_begin);
    return (x->index > y->index) - (x->index < y->index);
}

/* The rules of one head in order of q_begin (as indices into rules). */
static int64_t *rules_by_qbegin(const struct longca_mask *v, int head, int64_t *n)
{
    int64_t first = v->rule_offsets[head];
    *n = v->rule_offsets[head + 1] - first;
    int64_t *order = malloc(((size_t)*n + 1) * sizeof *order);
    if (!order) return NULL;
    bool sorted = true;
    for (int64_t i = 0; i < *n; i++) {
        order[i] = first + i;
        if (i && v->rules[first + i].q_begin < v->rules[first + i - 1].q_begin) sorted = false;
    }
    if (sorted) return order;
    struct rule_key *keys = malloc(((size_t)*n + 1) * sizeof *keys);
    if (!keys) {
        free(order);
        return NULL;
    }
    for (int64_t i = 0; i < *n; i++) keys[i] = (struct rule_key){v->rules[first + i].q_begin, first + i};
    qsort(keys, (size_t)*n, sizeof *keys, cmp_rule_key);
    for (int64_t i = 0; i < *n; i++) order[i] = keys[i].index;
    free(keys);
    return order;
}

/* One query tile of one head: the key tiles touched by the active rules, as entries. */
static int emit_qtile(struct builder *b, const struct longca_mask *v, int64_t qa, int64_t qb)
{
    struct mask_tiles *t = b->t;
    const int64_t tk = t->tile_k, sk = t->seqlen_k;
    b->n_ranges = 0;
    b->n_touched = 0;
    for (int64_t i = 0; i < b->n_active; i++) {
        const struct longca_rule *r = &v->rules[b->active[i]];
        struct longca_rule c;
        if (!mask_rule_clip(r, qa, qb, 0, sk, &c)) continue;
        if (grow((void **)&b->ranges, &b->cap_ranges, b->n_ranges + 1, sizeof *b->ranges)) return -1;
        struct range rg = {b->active[i], (int32_t)(c.k_begin / tk), (int32_t)((c.k_end - 1) / tk)};
        b->ranges[b->n_ranges++] = rg;
        for (int32_t kt = rg.kt_lo; kt <= rg.kt_hi; kt++) {
            int64_t a = mask_rule_area_in(r, qa, qb, kt * tk, min64(kt * tk + tk, sk));
            if (!a) continue;
            if (!b->n_rules[kt]) b->touched[b->n_touched++] = kt;
            b->acc[kt] += a;
            b->n_rules[kt]++;
        }
    }
    for (int i = 1; i < b->n_touched; i++)
        if (b->touched[i] < b->touched[i - 1]) {
            qsort(b->touched, (size_t)b->n_touched, sizeof *b->touched, cmp_i32);
            break;
        }

    if (reserve_entries(b, t->n_entries + b->n_touched)) return -1;
    int64_t partial_rules = 0;
    for (int i = 0; i < b->n_touched; i++) {
        int32_t kt = b->touched[i];
        int64_t e = t->n_entries++;
        int64_t tile_area = (qb - qa) * (min64(kt * tk + tk, sk) - kt * tk);
        bool full = b->acc[kt] == tile_area;
        t->k_tile[e] = kt;
        t->full[e] = full;
        t->n_full += full;
        t->n_partial += !full;
        b->entry_of[kt] = e;
        b->fill[kt] = t->n_rules + partial_rules;
        if (!full) partial_rules += b->n_rules[kt];
        t->rule_offsets[e + 1] = t->n_rules + partial_rules;
    }
    int64_t cap_rules = b->cap_rules;
    if (grow((void **)&t->rules, &cap_rules, t->n_rules + partial_rules, sizeof *t->rules)) return -1;
    b->cap_rules = cap_rules;
    if (partial_rules) {
        for (int64_t i = 0; i < b->n_ranges; i++) {
            const struct range *rg = &b->ranges[i];
            for (int32_t kt = rg->kt_lo; kt <= rg->kt_hi; kt++) {
                if (!b->n_rules[kt] || t->full[b->entry_of[kt]]) continue;
                struct longca_rule c;
                if (mask_rule_clip(&v->rules[rg->rule], qa, qb, kt * tk, min64(kt * tk + tk, sk), &c))
                    t->rules[b->fill[kt]++] = c;
            }
        }
    }
    t->n_rules += partial_rules;
    for (int i = 0; i < b->n_touched; i++) {
        b->acc[b->touched[i]] = 0;
        b->n_rules[b->touched[i]] = 0;
    }
    return 0;
}

static int build_head(struct builder *b, const struct longca_mask *v, int head)
{
    struct mask_tiles *t = b->t;
    int64_t n;
    int64_t *order = rules_by_qbegin(v, head, &n);
    if (!order) return -1;
    free(b->active);
    b->active = malloc(((size_t)n + 1) * sizeof *b->active);
    if (!b->active) {
        free(order);
        return -1;
    }
    b->n_active = 0;
    int64_t next = 0;
    for (int qt = 0; qt < t->n_qtiles; qt++) {
        int64_t qa = (int64_t)qt * t->tile_q, qb = min64(qa + t->tile_q, t->seqlen_q);
        int64_t kept = 0;
        for (int64_t i = 0; i < b->n_active; i++)
            if (v->rules[b->active[i]].q_end > qa) b->active[kept++] = b->active[i];
        b->n_active = kept;
        while (next < n && v->rules[order[next]].q_begin < qb) {
            if (v->rules[order[next]].q_end > qa) b->active[b->n_active++] = order[next];
            next++;
        }
        if (emit_qtile(b, v, qa, qb)) {
            free(order);
            return -1;
        }
        t->row_offsets[(int64_t)head * t->n_qtiles + qt + 1] = t->n_entries;
    }
    free(order);
    return 0;
}

enum lc_status mask_tiles_build(const struct longca_mask *v, int tile_q, int tile_k, struct mask_tiles *out,
                                char *err)
{
    memset(out, 0, sizeof *out);
    if (tile_q < 1 || tile_k < 1)
        return lc_fail(err, LC_ERR_INVALID, "tile shape %dx%d must be positive", tile_q, tile_k);
    out->tile_q = tile_q;
    out->tile_k = tile_k;
    out->n_heads = v->n_heads;
    out->seqlen_q = v->seqlen_q;
    out->seqlen_k = v->seqlen_k;
    out->n_qtiles = (int)((v->seqlen_q + tile_q - 1) / tile_q);
    out->n_ktiles = (int)((v->seqlen_k + tile_k - 1) / tile_k);
    size_t nk = (size_t)out->n_ktiles + 1;
    struct builder b = {.t = out};
    out->row_offsets = calloc((size_t)out->n_heads * out->n_qtiles + 1, sizeof *out->row_offsets);
    b.acc = calloc(nk, sizeof *b.acc);
    b.n_rules = calloc(nk, sizeof *b.n_rules);
    b.entry_of = malloc(nk * sizeof *b.entry_of);
    b.fill = malloc(nk * sizeof *b.fill);
    b.touched = malloc(nk * sizeof *b.touched);
    int fail = !out->row_offsets || !b.acc || !b.n_rules || !b.entry_of || !b.fill || !b.touched ||
               reserve_entries(&b, 1);
    if (!fail) out->rule_offsets[0] = 0;
    for (int h = 0; h < v->n_heads && !fail; h++) fail = build_head(&b, v, h);
    free(b.acc);
    free(b.n_rules);
    free(b.entry_of);
    free(b.fill);
    free(b.touched);
    free(b.ranges);
    free(b.active);
    if (fail) {
        mask_tiles_free(out);
        return lc_fail(err, LC_ERR_OOM, "out of host memory for the %dx%d tile lists", tile_q, tile_k);
    }
    return LC_OK;
}

void mask_tiles_free(struct mask_tiles *t)
{
    free(t->row_offsets);
    free(t->k_tile);
    free(t->full);
    free(t->rule_offsets);
    free(t->rules);
    memset(t, 0, sizeof *t);
}
