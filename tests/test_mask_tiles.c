/* Tile lists for random tile shapes against a dense visibility count, and sub-views against
 * their parent: every visible pair in exactly one listed tile, full tiles fully visible, partial
 * ones mixed, no empty tile listed, clipped rules exact. */
#include <string.h>

#include "tests/mask_reference.h"
#include "core/mask/mask_rule.h"
#include "core/mask/mask_tiles.h"
#include "core/mask/mask_view.h"

struct dense {
    int n_heads;
    int64_t sq, sk;
    bool *vis; /* [head][q][k] */
};

static struct dense dense_of_view(const struct longca_mask *v)
{
    struct dense d = {v->n_heads, v->seqlen_q, v->seqlen_k, NULL};
    d.vis = calloc((size_t)d.n_heads * d.sq * d.sk + 1, 1);
    for (int h = 0; h < d.n_heads; h++)
        for (int64_t q = 0; q < d.sq; q++)
            for (int64_t k = 0; k < d.sk; k++) d.vis[((size_t)h * d.sq + q) * d.sk + k] = mask_view_visible(v, h, q, k);
    return d;
}

static bool dense_at(const struct dense *d, int h, int64_t q, int64_t k)
{
    return d->vis[((size_t)h * d->sq + q) * d->sk + k];
}

static void check_tiles(const struct longca_mask *v, int tq, int tk, const char *what)
{
    struct mask_tiles t;
    char err[LC_ERRMSG_LEN] = "";
    if (mask_tiles_build(v, tq, tk, &t, err) != LC_OK) {
        CHECK(false, "%s %dx%d: %s", what, tq, tk, err);
        return;
    }
    struct dense d = dense_of_view(v);
    CHECK(t.n_qtiles == (int)((v->seqlen_q + tq - 1) / tq) && t.n_ktiles == (int)((v->seqlen_k + tk - 1) / tk),
          "%s %dx%d: tile counts", what, tq, tk);
    CHECK(t.n_full + t.n_partial == t.n_entries && t.row_offsets[0] == 0 &&
              t.row_offsets[(int64_t)t.n_heads * t.n_qtiles] == t.n_entries && t.rule_offsets[t.n_entries] == t.n_rules,
          "%s %dx%d: totals", what, tq, tk);
    int64_t nonempty = 0;
    for (int h = 0; h < d.n_heads; h++)
        for (int qt = 0; qt < t.n_qtiles; qt++) {
            int64_t qa = (int64_t)qt * tq, qb = qa + tq < d.sq ? qa + tq : d.sq;
            int64_t row = (int64_t)h * t.n_qtiles + qt;
            int64_t e = t.row_offsets[row], end = t.row_offsets[row + 1];
            CHECK(e <= end, "%s: row offsets decrease", what);
            for (int kt = 0; kt < t.n_ktiles; kt++) {
                int64_t ka = (int64_t)kt * tk, kb = ka + tk < d.sk ? ka + tk : d.sk;
                int64_t count = 0;
                for (int64_t q = qa; q < qb; q++)
                    for (int64_t k = ka; k < kb; k++) count += dense_at(&d, h, q, k);
                bool listed = e < end && t.k_tile[e] == kt;
                nonempty += count > 0;
                if (!listed) {
                    CHECK(count == 0, "%s %dx%d: head %d tile (%d, %d) has %lld visible pairs but is not listed", what,
                          tq, tk, h, qt, kt, (long long)count);
                    continue;
                }
                int64_t area = (qb - qa) * (kb - ka);
                CHECK(count > 0, "%s %dx%d: empty tile (%d, %d) listed", what, tq, tk, qt, kt);
                if (t.full[e]) {
                    CHECK(count == area, "%s %dx%d: tile (%d, %d) marked full has %lld of %lld", what, tq, tk, qt, kt,
                          (long long)count, (long long)area);
                    CHECK(t.rule_offsets[e] == t.rule_offsets[e + 1], "%s: full tile carries rules", what);
                } else {
                    CHECK(count < area, "%s %dx%d: tile (%d, %d) marked partial is fully visible", what, tq, tk, qt, kt);
                    int bad = 0;
                    for (int64_t q = qa; q < qb && !bad; q++)
                        for (int64_t k = ka; k < kb && !bad; k++) {
                            bool any = false;
                            for (int64_t i = t.rule_offsets[e]; i < t.rule_offsets[e + 1]; i++) {
                                const struct longca_rule *r = &t.rules[i];
                                CHECK(r->q_begin >= qa && r->q_end <= qb && r->k_begin >= ka && r->k_end <= kb,
                                      "%s: clipped rule outside its tile", what);
                                any |= mask_rule_visible(r, q, k);
                            }
                            if (any != dense_at(&d, h, q, k)) bad = 1;
                        }
                    CHECK(!bad, "%s %dx%d: clipped rules of tile (%d, %d) disagree with the mask", what, tq, tk, qt, kt);
                }
                e++;
            }
            CHECK(e == end, "%s %dx%d: row (%d, %d) lists tiles out of order or out of range", what, tq, tk, h, qt);
        }
    CHECK(nonempty == t.n_entries, "%s %dx%d: %lld non-empty tiles, %lld listed", what, tq, tk, (long long)nonempty,
          (long long)t.n_entries);
    free(d.vis);
    mask_tiles_free(&t);
}

static void check_sub(const struct longca_mask *v, struct rng *r, const char *what)
{
    for (int trial = 0; trial < 4; trial++) {
        int64_t qa = rng_range(r, 0, v->seqlen_q), qb = rng_range(r, qa, v->seqlen_q);
        int64_t ka = rng_range(r, 0, v->seqlen_k), kb = rng_range(r, ka, v->seqlen_k);
        struct longca_mask sub;
        char err[LC_ERRMSG_LEN] = "";
        if (mask_view_sub(v, qa, qb, ka, kb, &sub, err) != LC_OK) {
            CHECK(false, "%s: sub-view: %s", what, err);
            continue;
        }
        CHECK(sub.seqlen_q == qb - qa && sub.seqlen_k == kb - ka && sub.n_heads == v->n_heads, "%s: sub shape", what);
        for (int h = 0; h < v->n_heads; h++) {
            int64_t count = 0;
            int bad = 0;
            for (int64_t q = qa; q < qb; q++)
                for (int64_t k = ka; k < kb; k++) {
                    bool want = mask_view_visible(v, h, q, k);
                    count += want;
                    bad += mask_view_visible(&sub, h, q - qa, k - ka) != want;
                }
            CHECK(!bad, "%s: sub-view [%lld,%lld)x[%lld,%lld) head %d: %d pairs differ", what, (long long)qa,
                  (long long)qb, (long long)ka, (long long)kb, h, bad);
            CHECK(mask_view_area(&sub, h) == count, "%s: sub-view area %lld, counted %lld", what,
                  (long long)mask_view_area(&sub, h), (long long)count);
        }
        if (qb > qa && kb > ka) check_tiles(&sub, (int)rng_range(r, 1, 40), (int)rng_range(r, 1, 40), what);
        mask_view_free(&sub);
    }
    struct longca_mask sub;
    char err[LC_ERRMSG_LEN] = "";
    CHECK(mask_view_sub(v, 0, v->seqlen_q + 1, 0, 1, &sub, err) == LC_ERR_INVALID && err[0],
          "%s: sub-view past the end accepted", what);
}

int main(void)
{
    struct rng r;
    rng_seed(&r, 2024, 0);
    static const int64_t sizes[] = {1, 7, 97, 200};
    int cases = 0;
    for (int pat = 0; pat < MASK_PATTERN_COUNT; pat++)
        for (int s = 0; s < 4; s++) {
            int64_t S = sizes[s];
            struct mask_params p = {.window = rng_range(&r, 1, 40), .global_tokens = rng_range(&r, 1, 20),
                                    .block = 16, .seed = (uint64_t)rng_range(&r, 1, 1000)};
            if (mask_pattern_is_block_sparse(pat)) p.block = pat == MASK_BLOCK_SPARSE ? 64 : 128;
            struct mask m;
            struct longca_mask v;
            char err[LC_ERRMSG_LEN] = "", what[96];
            snprintf(what, sizeof what, "%s S=%lld", mask_pattern_name(pat), (long long)S);
            if (mask_build(pat, &p, S * (mask_pattern_is_block_sparse(pat) ? 2 : 1), 2, &m, err) != LC_OK ||
                mask_view_build(&m, &v, err) != LC_OK) {
                CHECK(false, "%s: %s", what, err);
                continue;
            }
            static const int shapes[][2] = {{1, 1}, {16, 16}, {64, 128}, {128, 64}};
            for (int i = 0; i < 4; i++) check_tiles(&v, shapes[i][0], shapes[i][1], what);
            for (int i = 0; i < 4; i++) check_tiles(&v, (int)rng_range(&r, 1, 70), (int)rng_range(&r, 1, 70), what);
            check_sub(&v, &r, what);
            mask_view_free(&v);
            mask_free(&m);
            cases++;
        }
    struct longca_mask none = {0};
    struct mask_tiles t;
    char err[LC_ERRMSG_LEN] = "";
    CHECK(mask_tiles_build(&none, 0, 64, &t, err) == LC_ERR_INVALID && err[0], "tile height 0 accepted");
    printf("%d masks tiled and cut\n", cases);
    return check_report("mask tiles");
}
