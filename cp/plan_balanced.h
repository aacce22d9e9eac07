/* The plan of the balanced CP method, computed the same way on every rank and without running
 * anything (so `longca model` and `--dry-run` predict from it): the chunk size, which rank owns
 * each query chunk (cp/balance.h), each rank's exact work, and every message of its stages.
 *
 * Rank r holds the Q, K, V rows of its chunks (in sequence order). The KV it lacks arrives in
 * P - 1 stages: at stage s it receives from rank (r - s) mod P exactly the chunks of that rank
 * its queries attend to, and sends rank (r + s) mod P what that one needs from it; a stage with
 * nothing either way posts nothing. The backward returns the partial dK, dV (fp32) of every
 * received chunk to its owner the same way, in the opposite direction. */
#ifndef LC_CP_PLAN_BALANCED_H
#define LC_CP_PLAN_BALANCED_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mask/mask.h"
#include "core/model/status.h"
#include "cp/shard.h"

struct cp_balanced_plan {
    int ranks, n_chunks;
    int64_t chunk;          /* rows of one chunk */
    int *owner;             /* per chunk */
    double *area;           /* per rank: visible pairs of its query rows (one head) */
    int64_t *received;      /* [rank * ranks + stage]: chunks rank receives at that stage */
    int64_t *range_offsets; /* per chunk, the KV chunk ranges it attends to (cp/balance.h) */
    int32_t *ranges;
};

/* Rows of one chunk for a sequence over `ranks` with the kernel's query tile: a multiple of the
 * tile, with a chunk count that is a multiple of ranks and many times more; 0 when seqlen is not
 * a multiple of ranks x tile. */
int64_t cp_balanced_chunk(int64_t seqlen, int ranks, int tile_q);

/* view: the mask's global view. */
enum lc_status cp_balanced_plan_build(const struct mask *m, const struct mask_view *view, int ranks, int tile_q,
                                      struct cp_balanced_plan *out, char *err);
void cp_balanced_plan_free(struct cp_balanced_plan *p);

/* The chunks of rank `from` that rank `rank` attends to and does not own (from != rank), in
 * sequence order; *list is malloc'd (NULL when there are none). */
enum lc_status cp_balanced_needed(const struct cp_balanced_plan *p, int rank, int from, int **list, int *n, char *err);
/* Rank's rows: its chunks in sequence order. */
enum lc_status cp_balanced_layout(const struct cp_balanced_plan *p, int rank, struct cp_layout *out, char *err);
/* The same for a list of chunks. */
enum lc_status cp_balanced_chunks_layout(const struct cp_balanced_plan *p, const int *chunks, int n,
                                         struct cp_layout *out, char *err);

/* Rows rank receives and sends at stage s (1 <= s < ranks). */
int64_t cp_balanced_recv_rows(const struct cp_balanced_plan *p, int rank, int stage);
int64_t cp_balanced_send_rows(const struct cp_balanced_plan *p, int rank, int stage);

/* Bytes rank's messages carry in one rep, as the run records them: a stage's exchange counts
 * the larger of its two directions. kv_row: bytes of one token's K and V over the batch; grad_row
 * the same in fp32 (dK, dV going home); forward and backward as the run's direction has them. */
double cp_balanced_rank_bytes(const struct cp_balanced_plan *p, int rank, double kv_row, double grad_row, bool fwd,
                              bool bwd);

#endif
