/* Tile lists at S = 512K with 128 x 128 tiles: 16M entries for the full mask must build in
 * seconds (no loop over rows). Timing is printed, not asserted; the counts are exact. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <time.h>

#include "tests/mask_reference.h"
#include "core/mask/mask_rule.h"
#include "core/mask/mask_tiles.h"
#include "core/mask/mask_view.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void tile(enum mask_pattern pat, int64_t S, int64_t want_entries, int64_t want_partial)
{
    struct mask m;
    struct longca_mask v;
    struct mask_tiles t;
    char err[LC_ERRMSG_LEN] = "";
    double t0 = now_s();
    if (mask_build(pat, NULL, S, 8, &m, err) != LC_OK || mask_view_build(&m, &v, err) != LC_OK ||
        mask_tiles_build(&v, 128, 128, &t, err) != LC_OK) {
        CHECK(false, "%s: %s", mask_pattern_name(pat), err);
        return;
    }
    double dt = now_s() - t0;
    printf("%-22s S=%lld 128x128: %lld tiles (%lld full, %lld partial, %lld rules) in %.2f s\n",
           mask_pattern_name(pat), (long long)S, (long long)t.n_entries, (long long)t.n_full, (long long)t.n_partial,
           (long long)t.n_rules, dt);
    if (want_entries >= 0)
        CHECK(t.n_entries == want_entries && t.n_partial == want_partial, "%s: %lld entries, %lld partial",
              mask_pattern_name(pat), (long long)t.n_entries, (long long)t.n_partial);
    /* The tiles' visible pairs add up to the mask's area. */
    int64_t area = 0;
    for (int h = 0; h < t.n_heads; h++)
        for (int qt = 0; qt < t.n_qtiles; qt++) {
            int64_t row = (int64_t)h * t.n_qtiles + qt;
            for (int64_t e = t.row_offsets[row]; e < t.row_offsets[row + 1]; e++) {
                int64_t qa = (int64_t)qt * 128, ka = (int64_t)t.k_tile[e] * 128;
                int64_t qb = qa + 128 < S ? qa + 128 : S, kb = ka + 128 < S ? ka + 128 : S;
                if (t.full[e]) area += (qb - qa) * (kb - ka);
                else
                    for (int64_t i = t.rule_offsets[e]; i < t.rule_offsets[e + 1]; i++)
                        area += mask_rule_area_in(&t.rules[i], qa, qb, ka, kb);
            }
        }
    CHECK(area == mask_area_sum(&m), "%s: tiles hold %lld pairs, mask %lld", mask_pattern_name(pat), (long long)area,
          (long long)mask_area_sum(&m));
    mask_tiles_free(&t);
    mask_view_free(&v);
    mask_free(&m);
}

int main(void)
{
    const int64_t S = 512 * 1024, n = S / 128;
    tile(MASK_FULL, S, n * n, 0);
    tile(MASK_CAUSAL, S, n * (n + 1) / 2, n);
    tile(MASK_CAUSAL_DOCUMENT, S, -1, -1);
    tile(MASK_GLOBAL_SLIDING_WINDOW, S, -1, -1);
    tile(MASK_BLOCK_SPARSE, 32 * 1024, -1, -1);
    return check_report("mask tiles perf");
}
