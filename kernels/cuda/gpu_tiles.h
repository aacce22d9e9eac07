/* A mask's tile lists in device memory, in the form the CUDA kernels walk them.
 *
 * Built on the host from core's mask_tiles_build and uploaded once per plan. A list row belongs
 * to one tile of the dimension a CTA owns (query tiles for the forward, key tiles for the
 * backward); its entries are the tiles of the other dimension that hold visible pairs. Full
 * entries need no elementwise mask; partial ones carry their rules, clipped to the tile, in
 * the view's (query, key) coordinates whichever dimension owns the rows. Shared by C and CUDA. */
#ifndef LC_GPU_TILES_H
#define LC_GPU_TILES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mask/mask.h"
#include "core/model/status.h"

struct gpu_tile_entry {
    int32_t tile;       /* the other dimension's tile index */
    int32_t rule_begin; /* partial: first rule in gpu_tiles.rules */
    int32_t rule_count; /* 0 = full tile */
    int32_t rank;       /* backward lists: position of this key tile among those that visit the
                           query tile (deterministic dQ order); 0 in forward lists */
};

struct gpu_tiles {
    bool by_key;        /* rows are key tiles (backward), else query tiles (forward) */
    int row_tile, col_tile;
    int n_heads, n_rows, n_cols; /* heads of the mask view; tiles per head of each dimension */
    int64_t n_entries, n_partial, max_row_entries;
    int64_t max_row_span; /* the most tiles of the other dimension one row's entries stretch over */
    int64_t *row_offsets;          /* device: n_heads * n_rows + 1 */
    struct gpu_tile_entry *entries; /* device */
    struct longca_rule *rules;       /* device */
    int32_t *row_order;            /* device: per head, the rows to start first (heaviest first, or
                                      ascending when `ascending`) */
};

/* Builds and uploads the lists of view v: tiles of tile_q x tile_k, rows by query tile, or by
 * key tile when by_key. Device memory comes from device_cuda.alloc (counted in the peak). */
enum lc_status gpu_tiles_build(const struct longca_mask *v, int tile_q, int tile_k, bool by_key, bool ascending,
                               struct gpu_tiles *out, char *err);
void gpu_tiles_free(struct gpu_tiles *t);

#endif
