/* Mask pictures from exact rule areas: a rule adds its visible count to each cell it touches. */
#include "core/mask/mask_picture.h"
#include "core/mask/mask_rule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Cell c of n over length S starts at floor(c * S / n); this is the cell holding x. */
static int64_t cell_start(int64_t c, int64_t n, int64_t S) { return c * S / n; }
static int cell_of(int64_t x, int64_t n, int64_t S) { return (int)(((x + 1) * n - 1) / S); }

enum lc_status mask_picture(const struct longca_mask *v, int head, int rows, int cols, float *coverage, char *err)
{
    int64_t sq = v->seqlen_q, sk = v->seqlen_k;
    if (rows < 1 || cols < 1) return lc_fail(err, LC_ERR_INVALID, "a picture of %d x %d cells", rows, cols);
    if (head < 0 || head >= v->n_heads)
        return lc_fail(err, LC_ERR_INVALID, "head %d of a mask with %d head%s", head, v->n_heads,
                       v->n_heads == 1 ? "" : "s");
    int64_t *count = calloc((size_t)rows * cols, sizeof *count);
    if (!count) return lc_fail(err, LC_ERR_OOM, "out of host memory for a %d x %d picture", rows, cols);
    if (sq > 0 && sk > 0) {
        for (int64_t i = v->rule_offsets[head]; i < v->rule_offsets[head + 1]; i++) {
            const struct longca_rule *r = &v->rules[i];
            if (r->q_begin >= r->q_end || r->k_begin >= r->k_end) continue;
            for (int rc = cell_of(r->q_begin, rows, sq); rc <= cell_of(r->q_end - 1, rows, sq); rc++) {
                int64_t qa = cell_start(rc, rows, sq), qb = cell_start(rc + 1, rows, sq);
                struct longca_rule band; /* the rule within this row of cells: which columns it reaches */
                if (!mask_rule_clip(r, qa, qb, 0, sk, &band)) continue;
                for (int cc = cell_of(band.k_begin, cols, sk); cc <= cell_of(band.k_end - 1, cols, sk); cc++)
                    count[(size_t)rc * cols + cc] +=
                        mask_rule_area_in(r, qa, qb, cell_start(cc, cols, sk), cell_start(cc + 1, cols, sk));
            }
        }
    }
    for (int rc = 0; rc < rows; rc++)
        for (int cc = 0; cc < cols; cc++) {
            int64_t area = (cell_start(rc + 1, rows, sq) - cell_start(rc, rows, sq)) *
                           (cell_start(cc + 1, cols, sk) - cell_start(cc, cols, sk));
            int64_t n = count[(size_t)rc * cols + cc];
            float f = area > 0 ? (float)((double)n / (double)area) : 0.0f;
            /* Only a cell with every pair visible reads 1; rounding must not hide one masked pair. */
            if (n < area && f >= 1.0f) f = nextafterf(1.0f, 0.0f);
            if (n > 0 && f <= 0.0f) f = nextafterf(0.0f, 1.0f);
            coverage[(size_t)rc * cols + cc] = f;
        }
    free(count);
    return LC_OK;
}

int mask_picture_shade(float coverage)
{
    if (coverage <= 0.0f) return 0;
    if (coverage >= 1.0f) return 4;
    if (coverage <= 1.0f / 3) return 1;
    if (coverage <= 2.0f / 3) return 2;
    return 3;
}

const char *mask_picture_glyph(int shade, bool ascii)
{
    static const char *const utf8[5] = {" ", "\u2591", "\u2592", "\u2593", "\u2588"};
    static const char *const plain[5] = {" ", ".", ":", "*", "#"};
    if (shade < 0) shade = 0;
    if (shade > 4) shade = 4;
    return ascii ? plain[shade] : utf8[shade];
}

void mask_picture_print(FILE *f, const float *coverage, int rows, int cols, bool ascii)
{
    for (int rc = 0; rc < rows; rc++) {
        for (int cc = 0; cc < cols; cc++)
            fputs(mask_picture_glyph(mask_picture_shade(coverage[(size_t)rc * cols + cc]), ascii), f);
        fputc('\n', f);
    }
}
