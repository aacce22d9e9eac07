/* A mask as a small picture: each cell of a rows x cols grid over the S_q x S_k square holds the
 * exact fraction of its pairs that are visible. Shared by `longca mask` and the TUI's widget. */
#ifndef LC_MASK_PICTURE_H
#define LC_MASK_PICTURE_H

#include <stdbool.h>
#include <stdio.h>

#include "core/mask/mask.h"
#include "core/model/status.h"

/* coverage[r * cols + c]: 1 exactly when every pair of the cell is visible, 0 when none is,
 * strictly between otherwise. Cell r spans rows [r*S_q/rows, (r+1)*S_q/rows); pass rows <= S_q
 * and cols <= S_k (an empty cell reads 0). Work grows with the cells the rules touch. */
enum lc_status mask_picture(const struct mask_view *v, int head, int rows, int cols, float *coverage, char *err);

/* 0 = nothing visible, 4 = everything, 1..3 = up to a third, two thirds, more. */
int mask_picture_shade(float coverage);
/* The glyph of a shade: " ░▒▓█" (UTF-8), or " .:*#" with ascii. */
const char *mask_picture_glyph(int shade, bool ascii);
/* The picture as text, one line per row. */
void mask_picture_print(FILE *f, const float *coverage, int rows, int cols, bool ascii);

#endif
