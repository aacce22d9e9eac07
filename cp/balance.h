/* The dispatch solver of the balanced CP method: which rank owns each query chunk.
 *
 * The sequence is cut into chunks of equal length; a chunk's work is the exact visible area of
 * its query rows against every key, and it attends to some ranges of KV chunks. Every rank gets
 * the same number of chunks (equal memory, and a rank never needs more KV than a zigzag ring
 * moves on a causal mask). The solver minimises the largest per-rank work and, second, the KV
 * each rank must receive:
 *
 *   1. Longest first with affinity: chunks in order of decreasing work; each goes to the rank,
 *      among those with room whose work stays under the mean by a small slack, that would have
 *      to receive the fewest new KV chunks for it (a document's chunks gather on a rank, and a
 *      chunk already needed by a rank costs nothing there); ties to the least loaded rank. Up to
 *      64 ranks every rank is weighed; beyond, the owners of the KV the chunk attends to (up to
 *      64 of them; a chunk attending to more ranks' KV has no affinity worth the search) and the
 *      least loaded one.
 *      When none stays under the slack, the least loaded rank with room takes it (plain LPT).
 *   2. Refinement: while some swap of one chunk of the most loaded rank with a lighter chunk of
 *      another rank lowers the larger of the two ranks' work below the current maximum, make
 *      the swap that lowers it most (counts stay equal; over nodes, within the node). Stops when
 *      none does, or after a bound on the number of swaps.
 *
 * Over several nodes (node_ranks), chunks go to nodes first, by the same two steps with nodes as
 * ranks (a node receives a KV chunk once in this count), and then to the ranks of their node:
 * what a rank receives comes mostly from its own node, over NVLink. There, step 1 may also count
 * a rank's (node's) free places at the mean work of the chunks still to come (a reserve):
 * without it the heavy chunks fill a rank to the slack, and the light chunks of the same
 * documents, which come last, find no room beside them and scatter, each then sent over the
 * network to every rank that holds the rest of its document; with it, fewer chunks gather where
 * their KV is. Which levels gain from it depends on the mask and the scale (cp/plan_balanced.h).
 * Within one node it is left out.
 *
 * Step 1 costs O(chunks x (ranks + 64 x attended chunks / 64)) with word-wide bit counts, step 2
 * O(chunks^2 / ranks) per swap. */
#ifndef LC_CP_BALANCE_H
#define LC_CP_BALANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/status.h"

struct cp_balance_input {
    int n_chunks, n_ranks; /* n_chunks a multiple of n_ranks */
    const double *work;    /* per chunk */
    /* Chunk i attends to KV chunks in ranges ranges[2j] .. ranges[2j+1] (half-open) for
     * j in [range_offsets[i], range_offsets[i+1]), ascending and disjoint. */
    const int64_t *range_offsets;
    const int32_t *ranges;
    int node_ranks; /* ranks of a node (consecutive ranks); 0, or n_ranks, for one node */
    /* Over nodes: whether step 1 reserves room for the chunks to come among nodes, and among
     * the ranks of a node. */
    bool node_reserve, rank_reserve;
};

/* owner[n_chunks] gets each chunk's rank. */
enum lc_status cp_balance_solve(const struct cp_balance_input *in, int *owner, char *err);

#endif
