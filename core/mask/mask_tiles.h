/* Per-query-tile key tile lists (CSR) of a mask view, for any tile shape: what tiled kernels and
 * CP planning walk. Work proportional to the visible area: empty tiles never appear. */
#ifndef LC_MASK_TILES_H
#define LC_MASK_TILES_H

#include <stdint.h>

#include "core/model/status.h"
#include "kernels/longca_kernel.h"

/* One row per (head, q tile): row = head * n_qtiles + qt. Entries are in ascending key tile
 * order; full[i] says the tile needs no elementwise mask. A partial entry i carries the rules
 * clipped to its tile: rules[rule_offsets[i] .. rule_offsets[i+1]), in the view's coordinates
 * (not tile-local). */
struct mask_tiles {
    int tile_q, tile_k;
    int n_heads, n_qtiles, n_ktiles;
    int64_t seqlen_q, seqlen_k;
    int64_t *row_offsets;  /* n_heads * n_qtiles + 1 */
    int32_t *k_tile;       /* n_entries */
    uint8_t *full;         /* n_entries */
    int64_t *rule_offsets; /* n_entries + 1 (empty ranges for full tiles) */
    struct longca_rule *rules;
    int64_t n_entries, n_full, n_partial, n_rules;
};

enum lc_status mask_tiles_build(const struct longca_mask *v, int tile_q, int tile_k, struct mask_tiles *out,
                                char *err);
void mask_tiles_free(struct mask_tiles *t);

#endif
