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
 *      the swap that lowers it most (counts stay equal). Stops when none does, or after a bound
 *      on the number of swaps.
 *
 * Step 1 costs O(chunks x (ranks + 64 x attended chunks / 64)) with word-wide bit counts, step 2
 * O(chunks^2 / ranks) per swap. */
#ifndef LC_CP_BALANCE_H
#define LC_CP_BALANCE_H

#include <stdint.h>

#include "core/model/status.h"

struct cp_balance_input {
    int n_chunks, n_ranks; /* n_chunks a multiple of n_ranks */
    const double *work;    /* per chunk */
    /* Chunk i attends to KV chunks in ranges ranges[2j] .. ranges[2j+1] (half-open) for
     * j in [range_offsets[i], range_offsets[i+1]), ascending and disjoint. */
    const int64_t *range_offsets;
    const int32_t *ranges;
};

/* owner[n_chunks] gets each chunk's rank. */
enum lc_status cp_balance_solve(const struct cp_balance_input *in, int *owner, char *err);

#endif
