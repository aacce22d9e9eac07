/* The balanced method's dispatch solver (cp/balance.h). */
#include "cp/balance.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A rank may run this far above the mean work in step 1 before affinity gives way to balance;
 * step 2 then brings the maximum down. */
#define AFFINITY_SLACK 0.02
/* Affinity looks at the owners of the KV a chunk attends to, up to this many ranks; a chunk that
 * attends to more is spread everywhere anyway and goes by load alone. */
#define AFFINITY_RANKS 64

struct solver {
    const struct cp_balance_input *in;
    int cap;          /* chunks per rank */
    int words;        /* 64-bit words of one rank's bit set */
    uint64_t *have;   /* [rank][words]: chunks a rank owns or receives */
    double *load;     /* per rank */
    int *count;       /* chunks per rank */
    int *seen;        /* per rank: the last chunk whose candidates it joined */
    const int *node;  /* per chunk, the node whose ranks may own it; NULL: any rank */
    int node_ranks;   /* ranks of one node when node is set */
    double *limit;    /* per rank: the work step 1 keeps it under */
    bool reserve;     /* step 1 counts a rank's free places at the chunks to come (cp/balance.h) */
};

/* The ranks chunk i may go to: those of its node, or all. */
static void rank_span(const struct solver *s, int i, int *lo, int *hi)
{
    *lo = s->node ? s->node[i] * s->node_ranks : 0;
    *hi = s->node ? *lo + s->node_ranks : s->in->n_ranks;
}

static bool bit(const uint64_t *set, int i) { return set[i >> 6] >> (i & 63) & 1; }

/* Chunks of [a, b) present in set. */
static int64_t present(const uint64_t *set, int a, int b)
{
    int64_t n = 0;
    while (a < b && (a & 63)) n += bit(set, a++);
    for (; a + 64 <= b; a += 64) n += __builtin_popcountll(set[a >> 6]);
    while (a < b) n += bit(set, a++);
    return n;
}

static void set_range(uint64_t *set, int a, int b)
{
    for (; a < b && (a & 63); a++) set[a >> 6] |= 1ull << (a & 63);
    for (; a + 64 <= b; a += 64) set[a >> 6] = ~0ull;
    for (; a < b; a++) set[a >> 6] |= 1ull << (a & 63);
}

/* KV chunks rank r would newly receive if it owned chunk i (owning a chunk it already receives
 * saves that one). */
static int64_t added_traffic(const struct solver *s, int r, int i)
{
    const uint64_t *set = s->have + (size_t)r * (size_t)s->words;
    const struct cp_balance_input *in = s->in;
    int64_t n = 0;
    for (int64_t j = in->range_offsets[i]; j < in->range_offsets[i + 1]; j++) {
        int a = in->ranges[2 * j], b = in->ranges[2 * j + 1];
        n += (b - a) - present(set, a, b);
        if (i >= a && i < b && !bit(set, i)) n--; /* its own KV is not received */
    }
    return bit(set, i) ? n - 1 : n;
}

static void give(struct solver *s, int r, int i, int *owner)
{
    uint64_t *set = s->have + (size_t)r * (size_t)s->words;
    const struct cp_balance_input *in = s->in;
    for (int64_t j = in->range_offsets[i]; j < in->range_offsets[i + 1]; j++)
        set_range(set, in->ranges[2 * j], in->ranges[2 * j + 1]);
    set_range(set, i, i + 1);
    owner[i] = r;
    s->load[r] += in->work[i];
    s->count[r]++;
}

struct ranked {
    double work;
    int chunk;
};

static int by_work_desc(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->work != y->work) return x->work < y->work ? 1 : -1;
    return (x->chunk > y->chunk) - (x->chunk < y->chunk);
}

/* The ranks of [lo, hi) owning KV chunk i attends to, at most AFFINITY_RANKS of them (0 when
 * more). */
static int owners_of_needs(struct solver *s, const int *owner, int i, int lo, int hi, int *ranks)
{
    const struct cp_balance_input *in = s->in;
    int n = 0;
    for (int64_t j = in->range_offsets[i]; j < in->range_offsets[i + 1]; j++)
        for (int c = in->ranges[2 * j]; c < in->ranges[2 * j + 1]; c++) {
            const int r = owner[c];
            if (r < lo || r >= hi || s->seen[r] == i) continue;
            if (n == AFFINITY_RANKS) return 0;
            s->seen[r] = i;
            ranks[n++] = r;
        }
    return n;
}

static void longest_first(struct solver *s, int *owner, const struct ranked *order)
{
    const struct cp_balance_input *in = s->in;
    int ranks[AFFINITY_RANKS + 1];
    double rest = 0;
    for (int i = 0; i < in->n_chunks; i++) rest += in->work[i];
    for (int k = 0; k < in->n_chunks; k++) {
        const int i = order[k].chunk;
        rest -= in->work[i];
        /* What each free place will likely hold: the mean of the chunks still to come. */
        const double fill = s->reserve && k + 1 < in->n_chunks ? rest / (in->n_chunks - k - 1) : 0;
        int lo, hi, lightest = -1;
        rank_span(s, i, &lo, &hi);
        for (int r = lo; r < hi; r++)
            if (s->count[r] < s->cap && (lightest < 0 || s->load[r] < s->load[lightest])) lightest = r;
        /* Candidates: every rank when they are few; else the ranks already holding what it
         * attends to, and the lightest one. */
        int n = 0, best = -1;
        if (hi - lo <= AFFINITY_RANKS)
            for (int r = lo; r < hi; r++) ranks[n++] = r;
        else
            n = owners_of_needs(s, owner, i, lo, hi, ranks), ranks[n++] = lightest;
        int64_t best_cost = 0;
        for (int c = 0; c < n; c++) {
            const int r = ranks[c];
            const double planned = s->load[r] + in->work[i] + (s->cap - s->count[r] - 1) * fill;
            if (s->count[r] == s->cap || planned > s->limit[r]) continue;
            int64_t cost = added_traffic(s, r, i);
            if (best < 0 || cost < best_cost || (cost == best_cost && s->load[r] < s->load[best])) {
                best = r;
                best_cost = cost;
            }
        }
        give(s, best >= 0 ? best : lightest, i, owner);
    }
}

/* One swap between the most loaded rank and another that lowers the maximum; false if none. It
 * is the swap a search of every (a, b) pair in chunk order takes (the lowest maximum, the first
 * pair of equals), found without trying them all: for each a, b walks the chunks from the
 * heaviest lighter than a down (order: by work, heaviest first), where a's rank's new load,
 * peak - d, only falls and the other's is at least the lightest other rank's plus d, which only
 * grows. With nodes, a and b share top's node, so only that node's other ranks bound it.
 * Refining 8,192 chunks over 1,024 ranks takes thousands of swaps. */
static bool refine_once(struct solver *s, int *owner, const struct ranked *order)
{
    const struct cp_balance_input *in = s->in;
    int top = 0;
    for (int r = 1; r < in->n_ranks; r++)
        if (s->load[r] > s->load[top]) top = r;
    const double peak = s->load[top];
    const int lo = s->node ? top - top % s->node_ranks : 0, hi = s->node ? lo + s->node_ranks : in->n_ranks;
    double lightest = INFINITY;
    for (int r = lo; r < hi; r++)
        if (r != top && s->load[r] < lightest) lightest = s->load[r];
    double best = peak * (1 - 1e-12);
    int best_a = -1, best_b = -1;
    for (int a = 0; a < in->n_chunks; a++) {
        if (owner[a] != top) continue;
        int from = 0, to = in->n_chunks;
        while (from < to) {
            const int mid = (from + to) / 2;
            if (order[mid].work < in->work[a]) to = mid;
            else from = mid + 1;
        }
        for (int k = from; k < in->n_chunks; k++) {
            const int b = order[k].chunk;
            const double d = in->work[a] - in->work[b];
            if (lightest + d > best) break;
            if (owner[b] == top || peak - d > best || (s->node && s->node[b] != s->node[a])) continue;
            const double other = s->load[owner[b]] + d, mine = peak - d;
            const double worse = other > mine ? other : mine;
            if (worse < best || (worse == best && best_a >= 0 && (a < best_a || (a == best_a && b < best_b)))) {
                best = worse;
                best_a = a;
                best_b = b;
            }
        }
    }
    if (best_a < 0) return false;
    const int other = owner[best_b];
    const double d = in->work[best_a] - in->work[best_b];
    s->load[top] -= d;
    s->load[other] += d;
    owner[best_a] = other;
    owner[best_b] = top;
    return true;
}

/* Steps 1 and 2 over the ranks, each chunk within its node's ranks when node is set. */
static enum lc_status solve_ranks(const struct cp_balance_input *in, const int *node, int node_ranks, int *owner,
                                  bool reserve, char *err)
{
    struct solver s = {.in = in, .cap = in->n_chunks / in->n_ranks, .words = (in->n_chunks + 63) / 64,
                       .node = node, .node_ranks = node_ranks, .reserve = reserve};
    s.have = calloc((size_t)in->n_ranks * (size_t)s.words, sizeof *s.have);
    s.load = calloc((size_t)in->n_ranks, sizeof *s.load);
    s.count = calloc((size_t)in->n_ranks, sizeof *s.count);
    s.seen = malloc((size_t)in->n_ranks * sizeof *s.seen);
    s.limit = calloc((size_t)in->n_ranks, sizeof *s.limit);
    struct ranked *order = malloc((size_t)in->n_chunks * sizeof *order);
    enum lc_status st = LC_OK;
    if (!s.have || !s.load || !s.count || !s.seen || !s.limit || !order) {
        st = lc_fail(err, LC_ERR_OOM, "balance: out of host memory for %d chunks", in->n_chunks);
    } else {
        /* Each rank's share of its node's work (of all the work without nodes), as the node's
         * first rank sums it. */
        for (int i = 0; i < in->n_chunks; i++) {
            int lo, hi;
            rank_span(&s, i, &lo, &hi);
            s.limit[lo] += in->work[i];
        }
        const int group = node ? node_ranks : in->n_ranks;
        for (int r = in->n_ranks - 1; r >= 0; r--) s.limit[r] = s.limit[r - r % group] / group * (1 + AFFINITY_SLACK);
        for (int i = 0; i < in->n_chunks; i++) order[i] = (struct ranked){in->work[i], i};
        for (int r = 0; r < in->n_ranks; r++) s.seen[r] = -1;
        for (int i = 0; i < in->n_chunks; i++) owner[i] = -1;
        qsort(order, (size_t)in->n_chunks, sizeof *order, by_work_desc);
        longest_first(&s, owner, order);
        for (int k = 0; k < 4 * in->n_chunks && refine_once(&s, owner, order); k++) {
        }
    }
    free(order);
    free(s.limit);
    free(s.seen);
    free(s.count);
    free(s.load);
    free(s.have);
    return st;
}

enum lc_status cp_balance_solve(const struct cp_balance_input *in, int *owner, char *err)
{
    if (in->n_ranks < 1 || in->n_chunks < in->n_ranks || in->n_chunks % in->n_ranks)
        return lc_fail(err, LC_ERR_INTERNAL, "balance: %d chunks over %d ranks", in->n_chunks, in->n_ranks);
    const int w = in->node_ranks;
    if (w < 1 || w >= in->n_ranks || in->n_ranks % w) return solve_ranks(in, NULL, 0, owner, false, err);
    /* Nodes first, as ranks of a coarser solve; then each node's chunks over its ranks. */
    struct cp_balance_input nodes = *in;
    nodes.n_ranks = in->n_ranks / w;
    nodes.node_ranks = 0;
    int *node = malloc((size_t)in->n_chunks * sizeof *node);
    if (!node) return lc_fail(err, LC_ERR_OOM, "balance: out of host memory for %d chunks", in->n_chunks);
    enum lc_status st = solve_ranks(&nodes, NULL, 0, node, in->node_reserve, err);
    if (!st) st = solve_ranks(in, node, w, owner, in->rank_reserve, err);
    free(node);
    return st;
}
