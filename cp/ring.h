/* Ring attention over one ring of CP ranks, plain or double (LoongTrain).
 *
 * The ring's members are cut into windows of `window` consecutive members. Each outer step
 * passes every member's current KV to the same position in the next window (the outer ring),
 * while an inner ring inside the window passes it on member to member; a plain ring is one
 * window of the whole ring. Every transfer is posted before the attention of its step, on its
 * own communicator, double-buffered, and waited for only when its data is needed. Each step's
 * result folds into fp32 running sums, inside the kernel where it can (cp/fold.h). The backward
 * runs the same KV rings, plus dK/dV rings one step behind (fp32): the inner one gathers a
 * window's contributions to the KV block it held at the outer step, the outer one carries those
 * sums home. */
#ifndef LC_CP_RING_H
#define LC_CP_RING_H

#include "core/engine/cp_schedule.h"
#include "cp/fold.h"
#include "cp/driver.h"

struct cp_ring_config {
    int size, window; /* members; consecutive members of one inner ring (divides size) */
    int rank;         /* this rank's position in the ring */
    int ring_id;      /* which ring (several rings run side by side under Ulysses) */
    int heads_q, heads_kv;
};

struct cp_ring {
    struct cp_ring_config cfg;
    int64_t rows;       /* every member's */
    int steps;          /* = size: one per KV block */
    struct longca_mask *views; /* per step: this rank's rows against the block's */
    void **plans;            /* per step; NULL when the block has no visible pair */
    int first, last;         /* the first and last steps with a plan; -1 when none has one */
    double work;             /* visible pairs x heads_q x batch over all steps */
    struct cp_comm *kv_inner, *kv_outer, *dkv_inner, *dkv_outer;
    /* buffers (device) */
    void *kv_in[2], *kv_out[2];
    float *o_acc, *dq_acc;
    /* dK | dV sums in fp32: a block's, the inner ring's (two sends alternate: a step's block
     * lands in one while the other may still be on its way), the outer ring's */
    float *in_send[2], *in_recv, *out_send, *out_recv;
    struct cp_fold_scratch scratch;
};

/* layouts: every member's rows (all the same count), in ring order. Makes the communicators
 * (collective over the whole CP group), the per-step views and plans, and the buffers. */
enum lc_status cp_ring_plan(struct cp_exec *run, struct cp_ring *ring, const struct cp_ring_config *cfg,
                            const struct cp_layout *layouts, char *err);
/* q, kv (K then V) of this member in; o (dtype), lse out. */
enum lc_status cp_ring_forward(struct cp_exec *run, struct cp_ring *ring, const void *q, const void *kv, void *o,
                               float *lse, char *err);
/* The forward's q, kv, o, lse and d_o in; dq and dkv (dK then dV, dtype) out. */
enum lc_status cp_ring_backward(struct cp_exec *run, struct cp_ring *ring, const void *q, const void *kv, const void *o,
                                const float *lse, const void *d_o, void *dq, void *dkv, char *err);
void cp_ring_release(struct cp_exec *run, struct cp_ring *ring);

/* The member whose KV a member holds at a step (inner step step % window of outer step
 * step / window). */
int cp_ring_member_at(const struct cp_ring_config *cfg, int step);

/* Messages one pass of the ring posts on each member: KV blocks (forward or backward) and fp32
 * dK/dV blocks (backward only). */
void cp_ring_messages(const struct cp_ring_config *cfg, bool backward, int *kv, int *dkv);

/* Lanes (communicators) of a ring in a schedule; lane 0 is left to the method around it. */
enum { CP_LANE_KV_INNER = 1, CP_LANE_KV_OUTER, CP_LANE_DKV_INNER, CP_LANE_DKV_OUTER };

/* One member's pass of the ring as cp_ring_forward / cp_ring_backward issue it, appended to the
 * schedule of its rank: posts, attention blocks (work per step), waits and the memory passes. */
struct cp_ring_sched {
    const struct cp_ring_config *cfg;
    const struct cp_tile_work *work; /* per step */
    int rank_base, rank_stride;      /* the rank of member m: rank_base + m * rank_stride */
    double kv_bytes, dkv_bytes;      /* one KV block (dtype) and one dK/dV block (fp32) */
};
void cp_ring_schedule(struct cp_schedule *s, const struct cp_ring_sched *rs, bool backward);

#endif
