/* Zigzag layouts, layout slicing, and the mask views of CP blocks (cp/shard.h). */
#include "cp/shard.h"
#include "core/mask/mask_rule.h"
#include "core/mask/mask_view.h"

#include <stdlib.h>
#include <string.h>

static int64_t round_up(int64_t x, int64_t unit) { return (x + unit - 1) / unit * unit; }

/* Appends a run, merging it into the previous one when they continue each other. */
static int push_segment(struct cp_layout *l, int *cap, int64_t src, int64_t len)
{
    if (len <= 0) return 0;
    if (l->n > 0) {
        struct cp_segment *last = &l->seg[l->n - 1];
        bool continues = src == CP_PAD ? last->src == CP_PAD : last->src != CP_PAD && last->src + last->len == src;
        if (continues) {
            last->len += len;
            l->rows += len;
            return 0;
        }
    }
    if (l->n == *cap) {
        int grown_cap = *cap ? 2 * *cap : 16;
        struct cp_segment *grown = realloc(l->seg, (size_t)grown_cap * sizeof *grown);
        if (!grown) return -1;
        l->seg = grown;
        *cap = grown_cap;
    }
    l->seg[l->n++] = (struct cp_segment){src, len};
    l->rows += len;
    return 0;
}

/* The balancing units: documents for document masks, else the whole sequence. */
static int unit_count(const struct mask *m) { return m->doc_bounds && m->n_docs > 0 ? m->n_docs : 1; }
static void unit_range(const struct mask *m, int u, int64_t *begin, int64_t *len)
{
    if (m->doc_bounds && m->n_docs > 0) {
        *begin = m->doc_bounds[u];
        *len = m->doc_bounds[u + 1] - m->doc_bounds[u];
    } else {
        *begin = 0;
        *len = m->seqlen;
    }
}

static int64_t chunks_per_unit(int ring) { return ring > 1 ? 2 * (int64_t)ring : 1; }

static int64_t padded_total(const struct mask *m, int ring)
{
    int64_t total = 0;
    for (int u = 0; u < unit_count(m); u++) {
        int64_t begin, len;
        unit_range(m, u, &begin, &len);
        total += round_up(len, chunks_per_unit(ring));
    }
    return total;
}

int64_t cp_zigzag_rows(const struct mask *m, int ring, int64_t multiple)
{
    return round_up(padded_total(m, ring), multiple) / ring;
}

/* Rank `rank`'s share of one unit of `len` real tokens from `begin`, padded to `padded`. */
static int push_unit(struct cp_layout *l, int *cap, int64_t begin, int64_t len, int64_t padded, int ring, int rank)
{
    const int64_t n_chunks = chunks_per_unit(ring), chunk = padded / n_chunks;
    const int64_t mine[2] = {rank, n_chunks - 1 - rank};
    for (int i = 0; i < (ring > 1 ? 2 : 1); i++) {
        int64_t from = (ring > 1 ? mine[i] : 0) * chunk, size = ring > 1 ? chunk : padded;
        int64_t real = from < len ? (len - from < size ? len - from : size) : 0;
        if (push_segment(l, cap, begin + from, real) || push_segment(l, cap, CP_PAD, size - real)) return -1;
    }
    return 0;
}

enum lc_status cp_layout_zigzag(const struct mask *m, int ring, int ring_rank, int64_t multiple, struct cp_layout *out,
                                char *err)
{
    memset(out, 0, sizeof *out);
    if (ring < 1 || ring_rank < 0 || ring_rank >= ring || multiple < 1 || multiple % chunks_per_unit(ring))
        return lc_fail(err, LC_ERR_INTERNAL, "zigzag layout: ring %d, rank %d, multiple %lld", ring, ring_rank,
                       (long long)multiple);
    int cap = 0;
    for (int u = 0; u < unit_count(m); u++) {
        int64_t begin, len;
        unit_range(m, u, &begin, &len);
        if (push_unit(out, &cap, begin, len, round_up(len, chunks_per_unit(ring)), ring, ring_rank)) goto oom;
    }
    int64_t total = padded_total(m, ring), extra = round_up(total, multiple) - total;
    if (extra > 0 && push_unit(out, &cap, 0, 0, extra, ring, ring_rank)) goto oom;
    return LC_OK;
oom:
    cp_layout_free(out);
    return lc_fail(err, LC_ERR_OOM, "out of host memory for a CP layout");
}

enum lc_status cp_layout_slice(const struct cp_layout *in, int64_t begin, int64_t end, struct cp_layout *out,
                               char *err)
{
    memset(out, 0, sizeof *out);
    if (begin < 0 || begin > end || end > in->rows)
        return lc_fail(err, LC_ERR_INTERNAL, "layout slice [%lld, %lld) of %lld rows", (long long)begin,
                       (long long)end, (long long)in->rows);
    int cap = 0;
    int64_t at = 0;
    for (int i = 0; i < in->n && at < end; i++) {
        const struct cp_segment *s = &in->seg[i];
        int64_t lo = begin > at ? begin - at : 0, hi = end - at < s->len ? end - at : s->len;
        if (lo < hi && push_segment(out, &cap, s->src == CP_PAD ? CP_PAD : s->src + lo, hi - lo)) {
            cp_layout_free(out);
            return lc_fail(err, LC_ERR_OOM, "out of host memory for a CP layout");
        }
        at += s->len;
    }
    return LC_OK;
}

enum lc_status cp_layout_concat(const struct cp_layout *parts, int n, struct cp_layout *out, char *err)
{
    memset(out, 0, sizeof *out);
    int cap = 0;
    for (int p = 0; p < n; p++)
        for (int i = 0; i < parts[p].n; i++)
            if (push_segment(out, &cap, parts[p].seg[i].src, parts[p].seg[i].len)) {
                cp_layout_free(out);
                return lc_fail(err, LC_ERR_OOM, "out of host memory for a CP layout");
            }
    return LC_OK;
}

void cp_layout_free(struct cp_layout *l)
{
    free(l->seg);
    memset(l, 0, sizeof *l);
}

int64_t cp_layout_tokens(const struct cp_layout *l)
{
    int64_t n = 0;
    for (int i = 0; i < l->n; i++)
        if (l->seg[i].src != CP_PAD) n += l->seg[i].len;
    return n;
}

void cp_layout_gather(const struct cp_layout *l, void *dst, const void *src, int64_t batch, int64_t src_rows,
                      size_t row_bytes)
{
    char *d = dst;
    for (int64_t b = 0; b < batch; b++)
        for (int i = 0; i < l->n; i++) {
            size_t bytes = (size_t)l->seg[i].len * row_bytes;
            if (l->seg[i].src == CP_PAD) memset(d, 0, bytes);
            else memcpy(d, (const char *)src + ((size_t)(b * src_rows + l->seg[i].src)) * row_bytes, bytes);
            d += bytes;
        }
}

void cp_layout_scatter(const struct cp_layout *l, void *dst, const void *src, int64_t batch, int64_t dst_rows,
                       size_t row_bytes)
{
    const char *s = src;
    for (int64_t b = 0; b < batch; b++)
        for (int i = 0; i < l->n; i++) {
            size_t bytes = (size_t)l->seg[i].len * row_bytes;
            if (l->seg[i].src != CP_PAD)
                memcpy((char *)dst + ((size_t)(b * dst_rows + l->seg[i].src)) * row_bytes, s, bytes);
            s += bytes;
        }
}

struct rule_buf {
    struct longca_rule *v;
    int64_t n, cap;
};

static int push_rule(struct rule_buf *b, const struct longca_rule *r)
{
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 64;
        struct longca_rule *grown = realloc(b->v, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        b->v = grown;
        b->cap = cap;
    }
    b->v[b->n++] = *r;
    return 0;
}

/* Local row offsets of each segment. */
static int64_t *segment_offsets(const struct cp_layout *l)
{
    int64_t *off = malloc(((size_t)l->n + 1) * sizeof *off);
    if (!off) return NULL;
    off[0] = 0;
    for (int i = 0; i < l->n; i++) off[i + 1] = off[i] + l->seg[i].len;
    return off;
}

/* A (key run, candidate rule) pair to clip; sorted back into the layout's segment order, rule
 * order within. */
struct pair {
    int64_t run, cand;
    int seg;
};

static int by_index(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int by_seg(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->seg != y->seg) return (x->seg > y->seg) - (x->seg < y->seg);
    return (x->cand > y->cand) - (x->cand < y->cand);
}

struct view_scratch {
    int64_t *cand;
    const struct cp_view_keys *keys;
    struct pair *pairs;
    int64_t n_pairs, cap_pairs;
};

static int push_pair(struct view_scratch *w, int64_t run, int64_t cand)
{
    if (w->n_pairs == w->cap_pairs) {
        int64_t cap = w->cap_pairs ? 2 * w->cap_pairs : 64;
        struct pair *grown = realloc(w->pairs, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        w->pairs = grown;
        w->cap_pairs = cap;
    }
    w->pairs[w->n_pairs++] = (struct pair){run, cand, w->keys->runs[run].seg};
    return 0;
}

/* Those starting before the rows end, back to where no earlier one reaches them (few per run
 * for document masks). */
int64_t cp_view_candidates(const struct cp_view_index *ix, int head, int64_t begin, int64_t end, int64_t *cand)
{
    const struct longca_mask *g = ix->global;
    const int64_t *by_row = ix->by_row + g->rule_offsets[head];
    const int32_t *reach = ix->reach + g->rule_offsets[head];
    int64_t lo = 0, hi = g->rule_offsets[head + 1] - g->rule_offsets[head], n = 0;
    while (lo < hi) {
        const int64_t mid = (lo + hi) / 2;
        if (g->rules[by_row[mid]].q_begin < end) lo = mid + 1;
        else hi = mid;
    }
    for (int64_t i = lo - 1; i >= 0 && reach[i] > begin; i--)
        if (g->rules[by_row[i]].q_end > begin) cand[n++] = by_row[i];
    return n;
}

int64_t cp_view_keys_first(const struct cp_view_keys *k, int64_t col)
{
    int64_t from = 0, to = k->n_runs;
    while (from < to) {
        const int64_t mid = (from + to) / 2;
        if (k->runs[mid].end <= col) from = mid + 1;
        else to = mid;
    }
    return from;
}

/* Clips every rule of one head to every (q run, k run) pair it reaches and moves it to local
 * rows: for each query run, its candidate rules' columns are looked up among the key runs. */
static int view_head(const struct cp_view_index *ix, int head, const struct cp_layout *q, const int64_t *q_off,
                     struct view_scratch *w, struct rule_buf *out)
{
    const struct longca_mask *g = ix->global;
    const struct cp_key_run *runs = w->keys->runs;
    const int64_t n_runs = w->keys->n_runs;
    for (int qi = 0; qi < q->n; qi++) {
        const struct cp_segment *qs = &q->seg[qi];
        if (qs->src == CP_PAD) continue;
        /* the candidates in rule order */
        const int64_t n_cand = cp_view_candidates(ix, head, qs->src, qs->src + qs->len, w->cand);
        qsort(w->cand, (size_t)n_cand, sizeof *w->cand, by_index);
        w->n_pairs = 0;
        for (int64_t c = 0; c < n_cand; c++) {
            struct longca_rule cols;
            if (!mask_rule_clip(&g->rules[w->cand[c]], qs->src, qs->src + qs->len, 0, g->seqlen_k, &cols)) continue;
            for (int64_t j = cp_view_keys_first(w->keys, cols.k_begin); j < n_runs && runs[j].src < cols.k_end; j++)
                if (push_pair(w, j, c)) return -1;
        }
        if (w->n_pairs > 1) qsort(w->pairs, (size_t)w->n_pairs, sizeof *w->pairs, by_seg);
        for (int64_t p = 0; p < w->n_pairs; p++) {
            const struct cp_key_run *ks = &runs[w->pairs[p].run];
            const int32_t shift_q = (int32_t)(q_off[qi] - qs->src), shift_k = (int32_t)(ks->off - ks->src);
            struct longca_rule r;
            if (!mask_rule_clip(&g->rules[w->cand[w->pairs[p].cand]], qs->src, qs->src + qs->len, ks->src, ks->end,
                                &r))
                continue;
            r.q_begin += shift_q, r.q_end += shift_q, r.k_begin += shift_k, r.k_end += shift_k;
            if (r.diag_lo != MASK_DIAG_NONE_LO) r.diag_lo += shift_k - shift_q;
            if (r.diag_hi != MASK_DIAG_NONE_HI) r.diag_hi += shift_k - shift_q;
            if (push_rule(out, &r)) return -1;
        }
    }
    return 0;
}

static const struct longca_rule *sort_rules; /* by_first_row's rules (qsort has no context) */
static int by_first_row(const void *a, const void *b)
{
    const int32_t x = sort_rules[*(const int64_t *)a].q_begin, y = sort_rules[*(const int64_t *)b].q_begin;
    return (x > y) - (x < y);
}

enum lc_status cp_view_index_build(const struct longca_mask *global, struct cp_view_index *ix, char *err)
{
    const int64_t n = global->rule_offsets[global->n_heads];
    ix->global = global;
    ix->by_row = malloc(((size_t)n + 1) * sizeof *ix->by_row);
    ix->reach = malloc(((size_t)n + 1) * sizeof *ix->reach);
    if (!ix->by_row || !ix->reach) {
        cp_view_index_free(ix);
        return lc_fail(err, LC_ERR_OOM, "out of host memory for a mask's rule index");
    }
    ix->max_rules = 0;
    sort_rules = global->rules;
    for (int h = 0; h < global->n_heads; h++) {
        const int64_t first = global->rule_offsets[h], count = global->rule_offsets[h + 1] - first;
        if (count > ix->max_rules) ix->max_rules = count;
        int64_t *by_row = ix->by_row + first;
        int32_t *reach = ix->reach + first;
        for (int64_t i = 0; i < count; i++) by_row[i] = first + i;
        qsort(by_row, (size_t)count, sizeof *by_row, by_first_row);
        for (int64_t i = 0; i < count; i++) {
            const int32_t end = global->rules[by_row[i]].q_end;
            reach[i] = i && reach[i - 1] > end ? reach[i - 1] : end;
        }
    }
    return LC_OK;
}

void cp_view_index_free(struct cp_view_index *ix)
{
    free(ix->by_row);
    free(ix->reach);
    ix->by_row = NULL;
    ix->reach = NULL;
}

/* Runs by first token, a byte of it at a time: a balanced schedule sorts a thousand runs for
 * each of 1,024 ranks, where a comparison sort took a fifth of the time. */
static bool sort_runs(struct cp_key_run *runs, int64_t n)
{
    int64_t top = 0;
    for (int64_t i = 0; i < n; i++)
        if (runs[i].src > top) top = runs[i].src;
    if (!top) return true;
    struct cp_key_run *spare = malloc((size_t)n * sizeof *spare), *from = runs, *to = spare;
    if (!spare) return false;
    for (int shift = 0; top >> shift; shift += 8) {
        int64_t at[257] = {0};
        for (int64_t i = 0; i < n; i++) at[(from[i].src >> shift & 255) + 1]++;
        for (int b = 0; b < 256; b++) at[b + 1] += at[b];
        for (int64_t i = 0; i < n; i++) to[at[from[i].src >> shift & 255]++] = from[i];
        struct cp_key_run *t = from;
        from = to, to = t;
    }
    if (from != runs) memcpy(runs, from, (size_t)n * sizeof *runs);
    free(spare);
    return true;
}

enum lc_status cp_view_keys_build(const struct cp_layout *layouts, int n, struct cp_view_keys *keys, char *err)
{
    memset(keys, 0, sizeof *keys);
    keys->layouts = layouts;
    keys->n_layouts = n;
    int64_t segs = 0;
    for (int l = 0; l < n; l++) segs += layouts[l].n;
    keys->runs = malloc(((size_t)segs + 1) * sizeof *keys->runs);
    if (!keys->runs) return lc_fail(err, LC_ERR_OOM, "out of host memory for a layout's key runs");
    for (int l = 0; l < n; l++) {
        int64_t off = 0;
        for (int i = 0; i < layouts[l].n; off += layouts[l].seg[i++].len) {
            const struct cp_segment *g = &layouts[l].seg[i];
            if (g->src != CP_PAD) keys->runs[keys->n_runs++] = (struct cp_key_run){g->src, g->src + g->len, off, l, i};
        }
    }
    if (!sort_runs(keys->runs, keys->n_runs)) {
        cp_view_keys_free(keys);
        return lc_fail(err, LC_ERR_OOM, "out of host memory for a layout's key runs");
    }
    return LC_OK;
}

void cp_view_keys_free(struct cp_view_keys *keys)
{
    free(keys->runs);
    keys->runs = NULL;
}

/* The view of q against the one layout of k. */
static enum lc_status view_cut(const struct cp_view_index *ix, const struct cp_layout *q, const struct cp_view_keys *k,
                               struct longca_mask *out, char *err)
{
    const struct longca_mask *global = ix->global;
    memset(out, 0, sizeof *out);
    int64_t *q_off = segment_offsets(q);
    struct view_scratch w = {.cand = malloc(((size_t)ix->max_rules + 1) * sizeof *w.cand), .keys = k};
    out->rule_offsets = calloc((size_t)global->n_heads + 1, sizeof *out->rule_offsets);
    struct rule_buf rules = {0};
    int fail = !q_off || !w.cand || !out->rule_offsets;
    for (int h = 0; h < global->n_heads && !fail; h++) {
        fail = view_head(ix, h, q, q_off, &w, &rules);
        out->rule_offsets[h + 1] = rules.n;
    }
    free(q_off);
    free(w.cand);
    free(w.pairs);
    out->n_heads = global->n_heads;
    out->seqlen_q = q->rows;
    out->seqlen_k = k->layouts[0].rows;
    out->rules = rules.v;
    if (fail) {
        mask_view_free(out);
        return lc_fail(err, LC_ERR_OOM, "out of host memory for a CP block's mask view");
    }
    enum lc_status st = mask_view_find_documents(out, err); /* for kernels that read documents */
    if (st) mask_view_free(out);
    return st;
}

enum lc_status cp_view_cut_rows(const struct cp_view_index *ix, const struct cp_layout *q, const struct cp_layout *k,
                                struct longca_mask *out, char *err)
{
    struct cp_view_keys keys;
    enum lc_status st = cp_view_keys_build(k, 1, &keys, err);
    if (st) return st;
    st = view_cut(ix, q, &keys, out, err);
    cp_view_keys_free(&keys);
    return st;
}

enum lc_status cp_view_between(const struct longca_mask *global, const struct cp_layout *q, const struct cp_layout *k,
                               struct longca_mask *out, char *err)
{
    struct cp_view_index ix;
    enum lc_status st = cp_view_index_build(global, &ix, err);
    if (st) return st;
    st = cp_view_cut_rows(&ix, q, k, out, err);
    cp_view_index_free(&ix);
    return st;
}

int64_t cp_view_area(const struct longca_mask *v)
{
    int64_t area = 0;
    for (int h = 0; h < v->n_heads; h++) area += mask_view_area(v, h);
    return area;
}

double cp_imbalance(const double *work, int n)
{
    double max = 0, sum = 0;
    for (int i = 0; i < n; i++) {
        sum += work[i];
        if (work[i] > max) max = work[i];
    }
    return sum > 0 ? max / (sum / n) : 0.0;
}

int64_t cp_layout_area(const struct longca_mask *global, const struct cp_layout *l)
{
    int64_t area = 0;
    for (int i = 0; i < l->n; i++) {
        if (l->seg[i].src == CP_PAD) continue;
        for (int64_t r = global->rule_offsets[0]; r < global->rule_offsets[1]; r++)
            area += mask_rule_area_in(&global->rules[r], l->seg[i].src, l->seg[i].src + l->seg[i].len, 0,
                                      global->seqlen_k);
    }
    return area;
}
