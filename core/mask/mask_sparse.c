/* The two block-sparse patterns: block bounds on each axis, then per (KV head, query block) the
 * top floor(density * n_kblocks) key blocks by a seeded random score. Key block j's score in
 * row (h, qb) is the j-th splitmix64 draw from the state rng_hash3(seed, h, qb). */
#include <stdlib.h>

#include "core/mask/mask_build.h"
#include "core/model/rng.h"

enum { STREAM_ROW_BLOCKS = 4, STREAM_COL_BLOCKS = 5 };
#define MIN_VARIABLE_BLOCK 128

/* Fixed blocks of B, the last one cut at S. */
static int64_t *fixed_bounds(int64_t seqlen, int64_t block, int *n)
{
    *n = (int)((seqlen + block - 1) / block);
    int64_t *b = malloc(((size_t)*n + 1) * sizeof *b);
    if (!b) return NULL;
    for (int i = 0; i < *n; i++) b[i] = i * block;
    b[*n] = seqlen;
    return b;
}

/* Blocks of at least 128 tokens, lengths uniform in [128, 2 * mean - 128]; a tail shorter than
 * 128 joins the block before it (a sequence under 128 tokens is one block). */
static int64_t *variable_bounds(int64_t seqlen, int64_t mean, uint64_t seed, uint64_t stream, int *n)
{
    int cap = (int)(seqlen / MIN_VARIABLE_BLOCK) + 2;
    int64_t *b = malloc((size_t)cap * sizeof *b);
    if (!b) return NULL;
    struct rng r;
    rng_seed(&r, seed, stream);
    int count = 0;
    b[0] = 0;
    for (int64_t at = 0; at < seqlen;) {
        int64_t len = rng_range(&r, MIN_VARIABLE_BLOCK, 2 * mean - MIN_VARIABLE_BLOCK);
        if (seqlen - at - len < MIN_VARIABLE_BLOCK) len = seqlen - at;
        at += len;
        b[++count] = at;
    }
    *n = count;
    return b;
}

static void swap64(uint64_t *a, uint64_t *b)
{
    uint64_t t = *a;
    *a = *b;
    *b = t;
}

/* The k-th largest of v[0..n) (1 <= k <= n); reorders v. Expected O(n). */
static uint64_t kth_largest(uint64_t *v, int n, int k)
{
    int lo = 0, hi = n - 1, want = k - 1; /* index in descending order */
    while (lo < hi) {
        swap64(&v[(lo + hi) / 2], &v[hi]);
        uint64_t pivot = v[hi];
        int store = lo;
        for (int i = lo; i < hi; i++)
            if (v[i] > pivot) swap64(&v[i], &v[store++]);
        swap64(&v[store], &v[hi]);
        if (store == want) return v[store];
        if (store < want) lo = store + 1;
        else hi = store - 1;
    }
    return v[lo];
}

/* The k-th largest score: a histogram of the top 8 bits finds its bucket, a selection inside
 * that bucket (about n / 256 scores) finishes. */
static uint64_t score_threshold(const uint64_t *scores, uint64_t *scratch, int n, int k)
{
    int count[256] = {0};
    for (int i = 0; i < n; i++) count[scores[i] >> 56]++;
    int bucket = 255, above = 0;
    while (above + count[bucket] < k) above += count[bucket--];
    int m = 0;
    for (int i = 0; i < n; i++)
        if ((int)(scores[i] >> 56) == bucket) scratch[m++] = scores[i];
    return kth_largest(scratch, m, k - above);
}

static void keep_top(uint64_t *row_bits, const uint64_t *scores, uint64_t *scratch, int n, int keep)
{
    if (keep <= 0) return;
    uint64_t threshold = score_threshold(scores, scratch, n, keep);
    int kept = 0;
    for (int i = 0; i < n; i++) { /* branch-free: half the blocks pass */
        uint64_t above = scores[i] > threshold;
        row_bits[i / 64] |= above << (i % 64);
        kept += (int)above;
    }
    for (int i = 0; i < n && kept < keep; i++) /* equal scores: the lowest block indices win */
        if (scores[i] == threshold) {
            row_bits[i / 64] |= 1ull << (i % 64);
            kept++;
        }
}

/* Random scores of one (KV head, query block) row: a splitmix64 stream keyed by the row. */
static void row_scores(uint64_t seed, int head, int qblock, uint64_t *scores, int n)
{
    uint64_t state = rng_hash3(seed, (uint64_t)head, (uint64_t)qblock);
    for (int i = 0; i < n; i++) scores[i] = rng_splitmix64(&state);
}

/* Block scores drawn at most (heads x query blocks x key blocks); a few seconds' work. */
#define MAX_BLOCK_SCORES (1ll << 32)

enum lc_status mask_compile_sparse(struct mask *m, int heads_kv, char *err)
{
    const struct mask_params *p = &m->params;
    if (m->pattern == MASK_BLOCK_SPARSE) {
        m->qblock_bounds = fixed_bounds(m->seqlen, p->block, &m->n_qblocks);
        m->kblock_bounds = fixed_bounds(m->seqlen, p->block, &m->n_kblocks);
    } else {
        m->qblock_bounds = variable_bounds(m->seqlen, p->block, p->seed, STREAM_ROW_BLOCKS, &m->n_qblocks);
        m->kblock_bounds = variable_bounds(m->seqlen, p->block, p->seed, STREAM_COL_BLOCKS, &m->n_kblocks);
    }
    m->n_heads = heads_kv;
    if (m->qblock_bounds && m->kblock_bounds &&
        (double)heads_kv * m->n_qblocks * m->n_kblocks > (double)MAX_BLOCK_SCORES)
        return lc_fail(err, LC_ERR_INVALID,
                       "%s: %d KV heads x %d x %d blocks is too many to draw; use a larger --block or fewer KV heads",
                       mask_pattern_name(m->pattern), heads_kv, m->n_qblocks, m->n_kblocks);
    m->words_per_row = (m->n_kblocks + 63) / 64;
    size_t words = (size_t)heads_kv * (size_t)m->n_qblocks * (size_t)m->words_per_row;
    m->keep_bits = calloc(words, sizeof *m->keep_bits);
    uint64_t *scores = malloc((size_t)m->n_kblocks * sizeof *scores);
    uint64_t *scratch = malloc((size_t)m->n_kblocks * sizeof *scratch);
    if (!m->qblock_bounds || !m->kblock_bounds || !m->keep_bits || !scores || !scratch) {
        free(scores);
        free(scratch);
        return lc_fail(err, LC_ERR_OOM, "out of host memory for the %s block map", mask_pattern_name(m->pattern));
    }
    /* floor(density * n), forgiving the rounding of products like 0.29 * 100 */
    int keep = (int)(p->density * (double)m->n_kblocks + 1e-9);
    for (int h = 0; h < heads_kv; h++)
        for (int qb = 0; qb < m->n_qblocks; qb++) {
            row_scores(p->seed, h, qb, scores, m->n_kblocks);
            uint64_t *row = m->keep_bits + ((size_t)h * m->n_qblocks + qb) * m->words_per_row;
            keep_top(row, scores, scratch, m->n_kblocks, keep);
        }
    free(scores);
    free(scratch);
    return LC_OK;
}
