/* The plan of the balanced CP method, computed the same way on every rank and without running
 * anything (so `longca model` and `--dry-run` predict from it): the chunk size, which rank owns
 * each query chunk (cp/balance.h; over whole nodes, as one of the variants below), each rank's
 * exact work, and every message of its stages.
 *
 * Rank r holds the Q, K, V rows of its chunks (in sequence order). The KV it lacks arrives in
 * P - 1 stages: at stage s it receives from one rank exactly the chunks of that rank its queries
 * attend to, and sends another what that one needs from it; a stage with nothing either way
 * posts nothing. With one node (P <= CP_NODE_RANKS, or P not a multiple of it) stage s pairs r
 * with r - s and r + s (mod P). Over whole nodes a rank is (node n, place l) and stage
 * s = CP_NODE_RANKS dn + dl pairs it with (n -/+ dn, l -/+ dl), each mod its range: stages 1..7 stay inside
 * every node and the others cross nodes for every rank, so no NVLink stage waits for a message
 * on the network (a stage ends with its slowest message: the exchanges of one communicator run
 * in order). The backward returns the partial dK, dV (fp32) of every received chunk to its owner
 * the same way, in the opposite direction. */
#ifndef LC_CP_PLAN_BALANCED_H
#define LC_CP_PLAN_BALANCED_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mask/mask.h"
#include "core/model/status.h"
#include "cp/shard.h"

/* Ranks of one node: consecutive ranks share a node of 8 GPUs (H100/H200 SXM), as the model's
 * default topology and a job launched node by node place them. */
#define CP_NODE_RANKS 8

/* Over whole nodes, whether the solver deals chunks to nodes first, and then its reserve at each
 * level (cp/balance.h). None of the five is best on every mask and scale, so the method plans
 * with each and keeps the one whose schedule a simulation says ends first (cp/method_balanced.c). */
struct cp_balanced_variant {
    bool by_node, node_reserve, rank_reserve;
};
#define CP_BALANCED_VARIANTS 5
/* Variant i (0 <= i < CP_BALANCED_VARIANTS): 0 by node with both reserves, ..., 3 by node with
 * neither, 4 without nodes (as within one node). */
struct cp_balanced_variant cp_balanced_variant_at(int i);

struct cp_balanced_plan {
    int ranks, n_chunks;
    int64_t chunk;          /* rows of one chunk */
    int *owner;             /* per chunk */
    double *work;           /* per chunk: visible pairs of its query rows (one head) */
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
enum lc_status cp_balanced_plan_build(const struct mask *m, const struct longca_mask *view, int ranks, int tile_q,
                                      struct cp_balanced_variant variant, struct cp_balanced_plan *out, char *err);
/* Deals the plan's chunks (their work and ranges stay) with another variant into `owner` (a
 * chunk's rank each), leaving the plan as it is. */
enum lc_status cp_balanced_plan_solve(const struct cp_balanced_plan *p, struct cp_balanced_variant variant, int *owner,
                                      char *err);
/* Takes `owner` as the plan's dealing: owners, areas and what each stage receives. */
enum lc_status cp_balanced_plan_take(struct cp_balanced_plan *p, const int *owner, char *err);
/* Whether ranks fill whole nodes (the variants differ only then). */
bool cp_balanced_over_nodes(int ranks);
void cp_balanced_plan_free(struct cp_balanced_plan *p);

/* The chunks of rank `from` that rank `rank` attends to and does not own (from != rank), in
 * sequence order; *list is malloc'd (NULL when there are none). */
enum lc_status cp_balanced_needed(const struct cp_balanced_plan *p, int rank, int from, int **list, int *n, char *err);
/* The KV rows every stage of `rank` computes against, in one pass over the chunks: out[0] its
 * own chunks, out[s] (0 < s < ranks) the chunks of the rank behind it at stage s that it attends
 * to, each in sequence order. The layouts' segments lie in one block, *segs: free it, not them. */
enum lc_status cp_balanced_stage_rows(const struct cp_balanced_plan *p, int rank, struct cp_layout *out,
                                      struct cp_segment **segs, char *err);
/* Rank's rows: its chunks in sequence order. */
enum lc_status cp_balanced_layout(const struct cp_balanced_plan *p, int rank, struct cp_layout *out, char *err);
/* The same for a list of chunks. */
enum lc_status cp_balanced_chunks_layout(const struct cp_balanced_plan *p, const int *chunks, int n,
                                         struct cp_layout *out, char *err);

/* The rank `rank` sends to at stage s (ahead) or receives from (behind), and the stage at which
 * `rank` receives from `from`. */
int cp_balanced_peer(const struct cp_balanced_plan *p, int rank, int stage, bool ahead);
int cp_balanced_stage_of(const struct cp_balanced_plan *p, int rank, int from);
/* The stage computed i-th (0 <= i < ranks; 0 is the local one). The forward takes the stages as
 * numbered: those inside a node first, their KV arriving fast while the local stage computes.
 * The backward takes those across nodes first, so that its last dK, dV returns, which no
 * attention hides, cross NVLink. */
int cp_balanced_stage_at(const struct cp_balanced_plan *p, int i, bool backward);
/* Rows rank receives and sends at stage s (1 <= s < ranks). */
int64_t cp_balanced_recv_rows(const struct cp_balanced_plan *p, int rank, int stage);
int64_t cp_balanced_send_rows(const struct cp_balanced_plan *p, int rank, int stage);

/* Bytes rank's messages carry in one rep, as the run records them: a stage's exchange counts
 * the larger of its two directions. kv_row: bytes of one token's K and V over the batch; grad_row
 * the same in fp32 (dK, dV going home); forward and backward as the run's direction has them. */
double cp_balanced_rank_bytes(const struct cp_balanced_plan *p, int rank, double kv_row, double grad_row, bool fwd,
                              bool bwd);

struct run_spec;
/* The plan the method runs, its prediction and its schedule alike: over whole nodes, of the
 * solver's variants the one whose schedule, estimated from the plan and an assumed kernel, ends
 * first (the first such); one variant elsewhere. Freed by cp_balanced_plan_free; nothing to
 * free on failure. */
enum lc_status cp_balanced_plan_choose(const struct run_spec *spec, const struct mask *m, const struct longca_mask *view,
                                       int tile_q, struct cp_balanced_plan *out, char *err);

#endif
