/* Inside the mask room: the compilers mask_build dispatches to. */
#ifndef LC_MASK_BUILD_H
#define LC_MASK_BUILD_H

#include "core/mask/mask.h"

/* Fills m->slices from m->pattern, m->params (resolved), m->seqlen and m->doc_bounds. */
enum lc_status mask_compile_static(struct mask *m, char *err);
/* Fills the block bounds and keep bits of a block-sparse m for heads_kv heads. */
enum lc_status mask_compile_sparse(struct mask *m, int heads_kv, char *err);

#endif
