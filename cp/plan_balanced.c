/* The balanced method's plan (cp/plan_balanced.h). */
#include "cp/plan_balanced.h"

#include <stdlib.h>
#include <string.h>

#include "cp/balance.h"
#include "core/mask/mask_rule.h"

/* Chunks per rank the chunk size aims at: enough for the solver to even out document masks. */
#define CHUNKS_PER_RANK 32

int64_t cp_balanced_chunk(int64_t seqlen, int ranks, int tile_q)
{
    const int64_t tile = tile_q > 0 ? tile_q : 1, unit = tile * ranks;
    if (ranks < 1 || seqlen <= 0 || seqlen % unit) return 0;
    int64_t best = tile;
    for (int64_t k = 2; seqlen / (tile * k) >= (int64_t)CHUNKS_PER_RANK * ranks; k++)
        if (seqlen % (unit * k) == 0) best = tile * k;
    return best;
}

struct span {
    int32_t begin, end;
};

static int by_begin(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

/* Per chunk: its visible pairs against every key, and the KV chunks it attends to: those
 * meeting the column extent of some rule clipped to its rows (a clipped rule sees something in
 * every column of its extent), merged into ascending ranges. */
static enum lc_status chunk_demand(const struct longca_mask *view, struct cp_balanced_plan *p, double *work, char *err)
{
    const struct longca_rule *rules = view->rules + view->rule_offsets[0];
    const int64_t n_rules = view->rule_offsets[1] - view->rule_offsets[0];
    int64_t cap = 2 * (int64_t)p->n_chunks + 2, n = 0;
    struct span *spans = malloc((size_t)(n_rules > 0 ? n_rules : 1) * sizeof *spans);
    p->range_offsets = calloc((size_t)p->n_chunks + 1, sizeof *p->range_offsets);
    p->ranges = malloc((size_t)cap * sizeof *p->ranges);
    enum lc_status st = LC_OK;
    if (!spans || !p->range_offsets || !p->ranges)
        st = lc_fail(err, LC_ERR_OOM, "balanced: out of host memory for %d chunks", p->n_chunks);
    for (int i = 0; !st && i < p->n_chunks; i++) {
        struct cp_segment rows = {i * p->chunk, p->chunk};
        const struct cp_layout one = {&rows, 1, p->chunk};
        work[i] = (double)cp_layout_area(view, &one);
        int n_spans = 0;
        for (int64_t r = 0; r < n_rules; r++) {
            struct longca_rule c;
            if (!mask_rule_clip(&rules[r], rows.src, rows.src + rows.len, 0, view->seqlen_k, &c)) continue;
            spans[n_spans++] = (struct span){(int32_t)(c.k_begin / p->chunk), (int32_t)((c.k_end + p->chunk - 1) / p->chunk)};
        }
        qsort(spans, (size_t)n_spans, sizeof *spans, by_begin);
        for (int k = 0; k < n_spans && !st; k++) {
            if (n > p->range_offsets[i] && p->ranges[2 * n - 1] >= spans[k].begin) {
                if (spans[k].end > p->ranges[2 * n - 1]) p->ranges[2 * n - 1] = spans[k].end;
                continue;
            }
            if (2 * n + 2 > cap) {
                int32_t *grown = realloc(p->ranges, (size_t)(2 * cap) * sizeof *grown);
                if (!grown) {
                    st = lc_fail(err, LC_ERR_OOM, "balanced: out of host memory for chunk ranges");
                    break;
                }
                p->ranges = grown;
                cap *= 2;
            }
            p->ranges[2 * n] = spans[k].begin;
            p->ranges[2 * n + 1] = spans[k].end;
            n++;
        }
        p->range_offsets[i + 1] = n;
    }
    free(spans);
    return st;
}

bool cp_balanced_over_nodes(int ranks) { return ranks > CP_NODE_RANKS && ranks % CP_NODE_RANKS == 0; }

struct cp_balanced_variant cp_balanced_variant_at(int i)
{
    return (struct cp_balanced_variant){.by_node = i < 4, .node_reserve = i < 2, .rank_reserve = i < 4 && i % 2 == 0};
}

/* Ranks as (node, place in the node) when they fill whole nodes, else one node. */
static int node_size(const struct cp_balanced_plan *p)
{
    return cp_balanced_over_nodes(p->ranks) ? CP_NODE_RANKS : p->ranks;
}

/* Chunks rank attends to (owned ones included) as a bit per chunk. */
static void attended(const struct cp_balanced_plan *p, int rank, unsigned char *mark)
{
    memset(mark, 0, (size_t)p->n_chunks);
    for (int i = 0; i < p->n_chunks; i++) {
        if (p->owner[i] != rank) continue;
        for (int64_t j = p->range_offsets[i]; j < p->range_offsets[i + 1]; j++)
            memset(mark + p->ranges[2 * j], 1, (size_t)(p->ranges[2 * j + 1] - p->ranges[2 * j]));
    }
}

/* Each rank's area and the chunks it receives at each stage, from the owners: a rank's
 * attended chunks counted by owner, then put at their owners' stages. */
static enum lc_status derive(struct cp_balanced_plan *p, char *err)
{
    const int P = p->ranks;
    unsigned char *mark = malloc((size_t)p->n_chunks);
    int64_t *from = malloc((size_t)P * sizeof *from);
    if (!mark || !from) {
        free(mark), free(from);
        return lc_fail(err, LC_ERR_OOM, "balanced: out of host memory for %d chunks", p->n_chunks);
    }
    memset(p->area, 0, (size_t)P * sizeof *p->area);
    for (int i = 0; i < p->n_chunks; i++) p->area[p->owner[i]] += p->work[i];
    for (int r = 0; r < P; r++) {
        attended(p, r, mark);
        memset(from, 0, (size_t)P * sizeof *from);
        for (int i = 0; i < p->n_chunks; i++) from[p->owner[i]] += mark[i];
        from[r] = 0;
        for (int o = 0; o < P; o++) p->received[(size_t)r * P + (size_t)cp_balanced_stage_of(p, r, o)] = from[o];
    }
    free(mark);
    free(from);
    return LC_OK;
}

enum lc_status cp_balanced_plan_solve(const struct cp_balanced_plan *p, struct cp_balanced_variant variant, int *owner,
                                      char *err)
{
    struct cp_balance_input in = {p->n_chunks, p->ranks, p->work, p->range_offsets, p->ranges,
                                  variant.by_node ? node_size(p) : 0, variant.node_reserve, variant.rank_reserve};
    return cp_balance_solve(&in, owner, err);
}

enum lc_status cp_balanced_plan_take(struct cp_balanced_plan *p, const int *owner, char *err)
{
    memcpy(p->owner, owner, (size_t)p->n_chunks * sizeof *owner);
    return derive(p, err);
}

enum lc_status cp_balanced_plan_build(const struct mask *m, const struct longca_mask *view, int ranks, int tile_q,
                                      struct cp_balanced_variant variant, struct cp_balanced_plan *p, char *err)
{
    memset(p, 0, sizeof *p);
    p->ranks = ranks;
    p->chunk = cp_balanced_chunk(m->seqlen, ranks, tile_q);
    if (!p->chunk)
        return lc_fail(err, LC_ERR_INVALID, "balanced: sequence length %lld is not a multiple of %d GPUs x %d rows",
                       (long long)m->seqlen, ranks, tile_q);
    p->n_chunks = (int)(m->seqlen / p->chunk);
    p->work = malloc((size_t)p->n_chunks * sizeof *p->work);
    p->owner = malloc((size_t)p->n_chunks * sizeof *p->owner);
    p->area = calloc((size_t)ranks, sizeof *p->area);
    p->received = calloc((size_t)ranks * (size_t)ranks, sizeof *p->received);
    enum lc_status st = LC_OK;
    if (!p->work || !p->owner || !p->area || !p->received)
        st = lc_fail(err, LC_ERR_OOM, "balanced: out of host memory for %d chunks", p->n_chunks);
    if (!st) st = chunk_demand(view, p, p->work, err);
    if (!st) st = cp_balanced_plan_solve(p, variant, p->owner, err);
    if (!st) st = derive(p, err);
    return st;
}

void cp_balanced_plan_free(struct cp_balanced_plan *p)
{
    free(p->owner);
    free(p->work);
    free(p->area);
    free(p->received);
    free(p->range_offsets);
    free(p->ranges);
    memset(p, 0, sizeof *p);
}

enum lc_status cp_balanced_needed(const struct cp_balanced_plan *p, int rank, int from, int **list, int *n, char *err)
{
    *list = NULL;
    *n = 0;
    unsigned char *mark = malloc((size_t)p->n_chunks);
    if (!mark) return lc_fail(err, LC_ERR_OOM, "balanced: out of host memory");
    attended(p, rank, mark);
    int count = 0;
    for (int i = 0; i < p->n_chunks; i++) count += mark[i] && p->owner[i] == from && from != rank;
    if (count && !(*list = malloc((size_t)count * sizeof **list))) {
        free(mark);
        return lc_fail(err, LC_ERR_OOM, "balanced: out of host memory");
    }
    for (int i = 0; count && i < p->n_chunks; i++)
        if (mark[i] && p->owner[i] == from) (*list)[(*n)++] = i;
    free(mark);
    return LC_OK;
}

enum lc_status cp_balanced_stage_rows(const struct cp_balanced_plan *p, int rank, struct cp_layout *out,
                                      struct cp_segment **segs, char *err)
{
    const int P = p->ranks;
    memset(out, 0, (size_t)P * sizeof *out);
    unsigned char *mark = malloc((size_t)p->n_chunks);
    int64_t *first = calloc((size_t)P + 1, sizeof *first);
    *segs = malloc(((size_t)p->n_chunks + 1) * sizeof **segs);
    if (!mark || !first || !*segs) {
        free(mark), free(first), free(*segs);
        *segs = NULL;
        return lc_fail(err, LC_ERR_OOM, "balanced: out of host memory");
    }
    attended(p, rank, mark);
    /* Each stage's chunks get room for a segment each, in stage order; then they are dealt in
     * sequence order, a chunk that continues its stage's last one merged into it. */
    for (int i = 0; i < p->n_chunks; i++)
        if (p->owner[i] == rank || mark[i]) first[cp_balanced_stage_of(p, rank, p->owner[i]) + 1]++;
    for (int s = 0; s < P; s++) {
        first[s + 1] += first[s];
        out[s].seg = *segs + first[s];
    }
    for (int i = 0; i < p->n_chunks; i++) {
        if (p->owner[i] != rank && !mark[i]) continue;
        struct cp_layout *l = &out[cp_balanced_stage_of(p, rank, p->owner[i])];
        const int64_t src = i * p->chunk;
        if (l->n && l->seg[l->n - 1].src + l->seg[l->n - 1].len == src)
            l->seg[l->n - 1].len += p->chunk;
        else
            l->seg[l->n++] = (struct cp_segment){src, p->chunk};
        l->rows += p->chunk;
    }
    free(mark);
    free(first);
    return LC_OK;
}

enum lc_status cp_balanced_chunks_layout(const struct cp_balanced_plan *p, const int *chunks, int n,
                                         struct cp_layout *out, char *err)
{
    memset(out, 0, sizeof *out);
    out->seg = malloc((size_t)(n > 0 ? n : 1) * sizeof *out->seg);
    if (!out->seg) return lc_fail(err, LC_ERR_OOM, "balanced: out of host memory");
    for (int k = 0; k < n; k++) {
        const int64_t src = chunks[k] * p->chunk;
        if (out->n && out->seg[out->n - 1].src + out->seg[out->n - 1].len == src)
            out->seg[out->n - 1].len += p->chunk;
        else
            out->seg[out->n++] = (struct cp_segment){src, p->chunk};
        out->rows += p->chunk;
    }
    return LC_OK;
}

enum lc_status cp_balanced_layout(const struct cp_balanced_plan *p, int rank, struct cp_layout *out, char *err)
{
    int *mine = malloc((size_t)p->n_chunks * sizeof *mine), n = 0;
    if (!mine) return lc_fail(err, LC_ERR_OOM, "balanced: out of host memory");
    for (int i = 0; i < p->n_chunks; i++)
        if (p->owner[i] == rank) mine[n++] = i;
    enum lc_status st = cp_balanced_chunks_layout(p, mine, n, out, err);
    free(mine);
    return st;
}

int cp_balanced_peer(const struct cp_balanced_plan *p, int rank, int stage, bool ahead)
{
    const int w = node_size(p), nodes = p->ranks / w, sign = ahead ? 1 : -1;
    const int node = (rank / w + sign * (stage / w) + nodes) % nodes, place = (rank % w + sign * (stage % w) + w) % w;
    return node * w + place;
}

int cp_balanced_stage_of(const struct cp_balanced_plan *p, int rank, int from)
{
    const int w = node_size(p), nodes = p->ranks / w;
    return (rank / w - from / w + nodes) % nodes * w + (rank % w - from % w + w) % w;
}

int cp_balanced_stage_at(const struct cp_balanced_plan *p, int i, bool backward)
{
    const int w = node_size(p);
    if (!backward || i == 0) return i;
    return i <= p->ranks - w ? i + w - 1 : i - (p->ranks - w);
}

int64_t cp_balanced_recv_rows(const struct cp_balanced_plan *p, int rank, int stage)
{
    return p->received[(size_t)rank * p->ranks + (size_t)stage] * p->chunk;
}

int64_t cp_balanced_send_rows(const struct cp_balanced_plan *p, int rank, int stage)
{
    return cp_balanced_recv_rows(p, cp_balanced_peer(p, rank, stage, true), stage);
}

double cp_balanced_rank_bytes(const struct cp_balanced_plan *p, int rank, double kv_row, double grad_row, bool fwd,
                              bool bwd)
{
    double rows = 0;
    for (int s = 1; s < p->ranks; s++) {
        const int64_t in = cp_balanced_recv_rows(p, rank, s), out = cp_balanced_send_rows(p, rank, s);
        rows += (double)(in > out ? in : out);
    }
    return rows * ((fwd ? kv_row : 0) + (bwd ? kv_row + grad_row : 0));
}
