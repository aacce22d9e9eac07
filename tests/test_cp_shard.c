/* CP sharding: zigzag layouts (hand-checked cases, and every real token on exactly one rank with
 * equal row counts for random documents), block views against the mask's elementwise truth, and
 * the per-rank work that gives the imbalance figure (zigzag evens out causal, contiguous does not). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "core/mask/mask.h"
#include "core/mask/mask_view.h"
#include "core/model/rng.h"
#include "cp/shard.h"

static struct mask build(enum mask_pattern p, int64_t seqlen, const int64_t *docs, int n_docs, int64_t window)
{
    struct mask m;
    struct mask_params params;
    memset(&params, 0, sizeof params);
    params.window = window;
    char err[LC_ERRMSG_LEN];
    if (mask_build_with_docs(p, &params, seqlen, 1, docs, n_docs, &m, err) != LC_OK) {
        fprintf(stderr, "mask_build %s: %s\n", mask_pattern_name(p), err);
        exit(1);
    }
    return m;
}

static void expect_layout(const struct cp_layout *l, const struct cp_segment *want, int n, const char *what)
{
    bool same = l->n == n;
    for (int i = 0; same && i < n; i++) same = l->seg[i].src == want[i].src && l->seg[i].len == want[i].len;
    if (!same) {
        fprintf(stderr, "%s: got", what);
        for (int i = 0; i < l->n; i++) fprintf(stderr, " (%lld,%lld)", (long long)l->seg[i].src, (long long)l->seg[i].len);
        fputc('\n', stderr);
    }
    CHECK(same, "%s: unexpected layout", what);
}

static void test_hand_cases(void)
{
    char err[LC_ERRMSG_LEN];
    struct cp_layout l;
    struct mask causal = build(MASK_CAUSAL, 16, NULL, 0, 0);
    /* 16 tokens, ring 2: chunks of 4, rank 0 takes chunks 0 and 3, rank 1 chunks 1 and 2. */
    cp_layout_zigzag(&causal, 2, 0, 4, &l, err);
    expect_layout(&l, (struct cp_segment[]){{0, 4}, {12, 4}}, 2, "causal ring 2 rank 0");
    cp_layout_free(&l);
    cp_layout_zigzag(&causal, 2, 1, 4, &l, err);
    expect_layout(&l, (struct cp_segment[]){{4, 8}}, 1, "causal ring 2 rank 1");
    cp_layout_free(&l);
    /* Ring 1 is the sequence itself. */
    cp_layout_zigzag(&causal, 1, 0, 1, &l, err);
    expect_layout(&l, (struct cp_segment[]){{0, 16}}, 1, "causal ring 1");
    cp_layout_free(&l);
    mask_free(&causal);

    /* Documents 5 and 3, ring 2: each padded to a multiple of 4 (8 and 4), then the total (12)
     * to the multiple 8 with 4 rows of padding, which every rank shares. */
    struct mask docs = build(MASK_CAUSAL_DOCUMENT, 8, (int64_t[]){5, 3}, 2, 0);
    CHECK(cp_zigzag_rows(&docs, 2, 8) == 8, "rows per rank %lld", (long long)cp_zigzag_rows(&docs, 2, 8));
    cp_layout_zigzag(&docs, 2, 0, 8, &l, err);
    expect_layout(&l, (struct cp_segment[]){{0, 2}, {CP_PAD, 2}, {5, 1}, {CP_PAD, 3}}, 4, "documents rank 0");
    CHECK(l.rows == 8 && cp_layout_tokens(&l) == 3, "documents rank 0 rows");
    cp_layout_free(&l);
    cp_layout_zigzag(&docs, 2, 1, 8, &l, err);
    expect_layout(&l, (struct cp_segment[]){{2, 3}, {CP_PAD, 1}, {6, 2}, {CP_PAD, 2}}, 4, "documents rank 1");
    struct cp_layout part;
    cp_layout_slice(&l, 3, 7, &part, err);
    expect_layout(&part, (struct cp_segment[]){{CP_PAD, 1}, {6, 2}, {CP_PAD, 1}}, 3, "slice [3, 7)");
    cp_layout_free(&part);
    cp_layout_free(&l);
    mask_free(&docs);
}

/* Every real token on exactly one rank, equal rows on every rank, for random documents. */
static void test_partition(void)
{
    struct rng r;
    rng_seed(&r, 7, 0);
    char err[LC_ERRMSG_LEN];
    for (int trial = 0; trial < 40; trial++) {
        int n_docs = (int)rng_range(&r, 1, 9), ring = (int)rng_range(&r, 1, 5), split = (int)rng_range(&r, 1, 3);
        int64_t lens[9], seqlen = 0;
        for (int d = 0; d < n_docs; d++) seqlen += lens[d] = rng_range(&r, 1, 40);
        struct mask m = build(MASK_CAUSAL_DOCUMENT, seqlen, lens, n_docs, 0);
        int64_t multiple = (ring > 1 ? 2 * ring : 1) * split;
        int64_t rows = cp_zigzag_rows(&m, ring, multiple);
        int *seen = calloc((size_t)seqlen, sizeof *seen);
        for (int rank = 0; rank < ring; rank++) {
            struct cp_layout l;
            if (cp_layout_zigzag(&m, ring, rank, multiple, &l, err) != LC_OK) {
                CHECK(false, "%s", err);
                continue;
            }
            CHECK(l.rows == rows && rows * ring % multiple == 0, "trial %d rank %d: %lld rows, expected %lld", trial,
                  rank, (long long)l.rows, (long long)rows);
            for (int i = 0; i < l.n; i++)
                if (l.seg[i].src != CP_PAD)
                    for (int64_t t = 0; t < l.seg[i].len; t++) seen[l.seg[i].src + t]++;
            cp_layout_free(&l);
        }
        for (int64_t t = 0; t < seqlen; t++) CHECK(seen[t] == 1, "trial %d: token %lld held %d times", trial, (long long)t, seen[t]);
        free(seen);
        mask_free(&m);
    }
}

static int64_t global_row(const struct cp_layout *l, int64_t row)
{
    for (int i = 0; i < l->n; i++) {
        if (row < l->seg[i].len) return l->seg[i].src == CP_PAD ? CP_PAD : l->seg[i].src + row;
        row -= l->seg[i].len;
    }
    return CP_PAD;
}

/* Views of (rank a's rows, rank b's rows) pairs against mask_visible, pair by pair. */
static void test_views(enum mask_pattern p, const int64_t *docs, int n_docs, int64_t seqlen, int ring)
{
    char err[LC_ERRMSG_LEN];
    struct mask m = build(p, seqlen, docs, n_docs, 9);
    struct longca_mask g;
    mask_view_build(&m, &g, err);
    struct cp_layout *l = calloc((size_t)ring, sizeof *l);
    for (int rank = 0; rank < ring; rank++) cp_layout_zigzag(&m, ring, rank, ring > 1 ? 2 * ring : 1, &l[rank], err);
    int64_t total = 0;
    for (int a = 0; a < ring; a++)
        for (int b = 0; b < ring; b++) {
            struct longca_mask v;
            if (cp_view_between(&g, &l[a], &l[b], &v, err) != LC_OK) {
                CHECK(false, "%s", err);
                continue;
            }
            int64_t count = 0;
            for (int64_t i = 0; i < v.seqlen_q; i++)
                for (int64_t j = 0; j < v.seqlen_k; j++) {
                    int64_t gq = global_row(&l[a], i), gk = global_row(&l[b], j);
                    bool want = gq != CP_PAD && gk != CP_PAD && mask_visible(&m, 0, gq, gk);
                    bool got = mask_view_visible(&v, 0, i, j);
                    count += got;
                    CHECK(want == got, "%s ring %d block (%d, %d): local (%lld, %lld) = global (%lld, %lld) %d, expected %d",
                          mask_pattern_name(p), ring, a, b, (long long)i, (long long)j, (long long)gq, (long long)gk, got,
                          want);
                }
            CHECK(cp_view_area(&v) == count, "%s block (%d, %d): area %lld, counted %lld", mask_pattern_name(p), a, b,
                  (long long)cp_view_area(&v), (long long)count);
            total += cp_view_area(&v);
            mask_view_free(&v);
        }
    CHECK(total == mask_area_sum(&m), "%s ring %d: blocks cover %lld pairs, mask has %lld", mask_pattern_name(p), ring,
          (long long)total, (long long)mask_area_sum(&m));
    for (int rank = 0; rank < ring; rank++) cp_layout_free(&l[rank]);
    free(l);
    mask_view_free(&g);
    mask_free(&m);
}

/* Work of each rank's Q rows against the whole sequence (what a ring or all-gather computes). */
static double layout_imbalance(const struct mask *m, struct cp_layout *l, int ranks)
{
    char err[LC_ERRMSG_LEN];
    struct longca_mask g;
    mask_view_build(m, &g, err);
    struct cp_layout all;
    cp_layout_concat(l, ranks, &all, err);
    double work[16];
    for (int r = 0; r < ranks; r++) {
        struct longca_mask v;
        cp_view_between(&g, &l[r], &all, &v, err);
        work[r] = (double)cp_view_area(&v);
        mask_view_free(&v);
    }
    cp_layout_free(&all);
    mask_view_free(&g);
    return cp_imbalance(work, ranks);
}

static void test_imbalance(void)
{
    char err[LC_ERRMSG_LEN];
    const int P = 4;
    const int64_t S = 1024;
    struct mask m = build(MASK_CAUSAL, S, NULL, 0, 0);
    struct cp_layout zig[4], flat[4], whole;
    cp_layout_zigzag(&m, 1, 0, 1, &whole, err);
    for (int r = 0; r < P; r++) {
        cp_layout_zigzag(&m, P, r, 2 * P, &zig[r], err);
        cp_layout_slice(&whole, r * S / P, (r + 1) * S / P, &flat[r], err);
    }
    double z = layout_imbalance(&m, zig, P), c = layout_imbalance(&m, flat, P);
    /* Zigzag: chunks r and 2P-1-r carry the same causal area on every rank. Contiguous: rank r
     * has N^2 (r + 1/2) + N/2 pairs, so max / mean = (2P - 1 + 1/N) / (P + 1/N). */
    const double n = (double)S / P, expect = (2 * P - 1 + 1 / n) / (P + 1 / n);
    CHECK(z == 1.0, "zigzag causal imbalance %.6f, expected 1", z);
    CHECK(c > expect - 1e-9 && c < expect + 1e-9, "contiguous causal imbalance %.6f, expected %.6f", c, expect);
    printf("causal S=%lld P=%d: imbalance zigzag %.3f, contiguous %.3f\n", (long long)S, P, z, c);
    for (int r = 0; r < P; r++) {
        cp_layout_free(&zig[r]);
        cp_layout_free(&flat[r]);
    }
    cp_layout_free(&whole);
    mask_free(&m);
    double empty[2] = {0, 0};
    CHECK(cp_imbalance(empty, 2) == 0.0, "no work: imbalance 0");
}

int main(void)
{
    test_hand_cases();
    test_partition();
    const int64_t docs[] = {13, 1, 30, 20};
    for (int ring = 1; ring <= 3; ring++) {
        test_views(MASK_FULL, NULL, 0, 64, ring);
        test_views(MASK_CAUSAL, NULL, 0, 64, ring);
        test_views(MASK_SLIDING_WINDOW_CAUSAL, NULL, 0, 60, ring);
        test_views(MASK_GLOBAL_SLIDING_WINDOW, NULL, 0, 60, ring);
        test_views(MASK_CAUSAL_DOCUMENT, docs, 4, 64, ring);
        test_views(MASK_SHARED_QUESTION, docs, 4, 64, ring);
        test_views(MASK_PREFIX_LM_DOCUMENT, docs, 4, 64, ring);
        test_views(MASK_CAUSAL_BLOCKWISE, docs, 4, 64, ring);
    }
    test_imbalance();
    return check_report("cp shard");
}
