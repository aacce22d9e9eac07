/* Mask pictures: each cell's coverage against a brute-force count of its pairs; 1 only for
 * fully visible cells, 0 only for empty ones; shades and glyphs. */
#include <math.h>
#include <string.h>

#include "core/mask/mask_picture.h"
#include "tests/mask_reference.h"
#include "core/mask/mask_view.h"

static void check_picture(enum mask_pattern pat, int64_t S, int rows, int cols)
{
    struct mask m;
    struct longca_mask v;
    char err[LC_ERRMSG_LEN] = "";
    struct mask_params p = {.window = 9, .global_tokens = 4, .block = pat == MASK_BLOCK_SPARSE ? 64 : pat == MASK_VARIABLE_BLOCK_SPARSE ? 128 : 5};
    if (mask_build(pat, &p, S, 2, &m, err) != LC_OK || mask_view_build(&m, &v, err) != LC_OK) {
        CHECK(false, "%s: %s", mask_pattern_name(pat), err);
        return;
    }
    float *cov = malloc((size_t)rows * cols * sizeof *cov);
    for (int h = 0; h < v.n_heads; h++) {
        CHECK(mask_picture(&v, h, rows, cols, cov, err) == LC_OK, "%s: %s", mask_pattern_name(pat), err);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                int64_t qa = r * S / rows, qb = (r + 1) * S / rows, ka = c * S / cols, kb = (c + 1) * S / cols;
                int64_t n = 0;
                for (int64_t q = qa; q < qb; q++)
                    for (int64_t k = ka; k < kb; k++) n += mask_view_visible(&v, h, q, k);
                int64_t area = (qb - qa) * (kb - ka);
                float f = cov[r * cols + c];
                bool ok = n == 0 ? f == 0.0f : n == area ? f == 1.0f : f > 0.0f && f < 1.0f;
                ok = ok && (area == 0 || fabsf(f - (float)n / (float)area) < 1e-6f);
                CHECK(ok, "%s S=%lld %dx%d head %d cell (%d, %d): coverage %g, %lld of %lld visible",
                      mask_pattern_name(pat), (long long)S, rows, cols, h, r, c, f, (long long)n, (long long)area);
            }
    }
    CHECK(mask_picture(&v, v.n_heads, rows, cols, cov, err) == LC_ERR_INVALID, "head past the last accepted");
    free(cov);
    mask_view_free(&v);
    mask_free(&m);
}

int main(void)
{
    for (int pat = 0; pat < MASK_PATTERN_COUNT; pat++) {
        check_picture(pat, 200, 16, 32);
        check_picture(pat, 97, 7, 13);
        check_picture(pat, 5, 5, 5);
    }
    check_picture(MASK_CAUSAL, 3, 8, 8); /* more cells than tokens: empty cells read 0 */

    CHECK(mask_picture_shade(0.0f) == 0 && mask_picture_shade(1e-9f) == 1 && mask_picture_shade(0.5f) == 2 &&
              mask_picture_shade(0.9f) == 3 && mask_picture_shade(nextafterf(1.0f, 0.0f)) == 3 &&
              mask_picture_shade(1.0f) == 4,
          "shades");
    CHECK(!strcmp(mask_picture_glyph(4, true), "#") && !strcmp(mask_picture_glyph(4, false), "\u2588") &&
              !strcmp(mask_picture_glyph(0, false), " "),
          "glyphs");
    return check_report("mask pictures");
}
