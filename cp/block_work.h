/* The tile-list work of CP blocks (struct cp_tile_work) counted straight from the global mask's
 * rules, without cutting the blocks' views: exactly what cp_schedule_count finds in the view
 * cp_view_cut_rows cuts, for one layout of query rows against many key layouts at once (a ring's
 * steps, allgather's gathered KV, a balanced rank's stages). The model counts P^2 blocks for a
 * ring of P; a 1M-token document mask over 1,024 ranks puts pieces of all its documents in each,
 * so a block is never materialised: each piece of query rows meets only the key runs its rules
 * reach, found by bisection among every layout's runs sorted together, and each such pair's
 * visible pairs go straight to the key tile of the layout they fall in. Nothing is allocated
 * per block. Static masks only (one head of rules), as CP methods take them. */
#ifndef LC_CP_BLOCK_WORK_H
#define LC_CP_BLOCK_WORK_H

#include <stdint.h>

#include "core/engine/cp_schedule.h"
#include "cp/shard.h"

struct block_count;
struct cp_block_work {
    const struct cp_view_index *ix;
    const struct cp_view_keys *keys;
    int tile;
    /* Key tiles of all layouts numbered together: layout l's tile t is tile_base[l] + t. */
    int64_t *tile_base;   /* n_layouts + 1 */
    int32_t *tile_layout; /* per key tile: its layout */
    int32_t *tile_width;  /* per key tile: its columns */
    int64_t *run_tile;    /* per key run: the key tile of its first column */
    int32_t *run_at;      /* per key run: where in that tile it starts */
    /* per query tile: visible pairs per key tile, and the key tiles that have some */
    int64_t *acc, *touched, n_touched;
    struct block_count *count; /* per layout: the counts of the query layout being counted */
    int64_t *cand;
};

/* Prepares counting against the key layouts of `keys` in tiles of `tile` rows and keys (both
 * must outlive it). */
enum lc_status cp_block_work_init(struct cp_block_work *w, const struct cp_view_index *ix,
                                  const struct cp_view_keys *keys, int tile, char *err);
void cp_block_work_free(struct cp_block_work *w);
/* out[l]: the work of query rows q against key layout l, for `heads` query heads. */
void cp_block_work_count(struct cp_block_work *w, const struct cp_layout *q, int heads, struct cp_tile_work *out);

#endif
