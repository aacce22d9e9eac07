/* What a CP run does on each rank, in order, without running it: the schedule `longca model`
 * simulates. A method writes it from the same planning code its runs execute (layouts, views,
 * stages, message sizes), so the model and the runs cannot disagree on the work or the bytes.
 *
 * Per rank, a list of operations as the method issues them: attention blocks (the tile-list
 * work the kernel sees), memory passes (packing, sums, conversions), and communication posted
 * on numbered lanes (one lane per communicator: operations on one lane of one rank run in
 * order, lanes run side by side) and waited for by ticket. A send on lane L from rank a to b is
 * matched with b's receive on lane L from a in posting order, as MPI and NCCL match them; the
 * i-th collective posted on a lane by the members of a group is one operation. */
#ifndef LC_CP_SCHEDULE_H
#define LC_CP_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mask/mask.h"
#include "core/model/status.h"

enum cp_sched_kind {
    CP_SCHED_COMPUTE, /* an attention block: work[ref] */
    CP_SCHED_COPY,    /* a memory pass moving `bytes` (read + written) on the compute stream */
    CP_SCHED_SEND,    /* posts `bytes` to rank `peer` on `lane` under `ticket` */
    CP_SCHED_RECV,    /* posts a receive of `bytes` from rank `peer` on `lane` under `ticket` */
    CP_SCHED_COLL,    /* posts collective `coll` over the group (first, stride, size) on `lane` */
    CP_SCHED_WAIT,    /* the computation waits for everything posted under `ticket` */
};

enum cp_sched_coll { CP_COLL_ALL_TO_ALL, CP_COLL_ALL_GATHER, CP_COLL_REDUCE_SCATTER };

/* The tile lists of one block for one head as the kernel walks them: query tiles with any
 * visible key, full and partial key tiles (tile_q x tile_q, the kernel's query tile), and the
 * exact visible pairs. */
struct cp_tile_work {
    float q_tiles, full_tiles, partial_tiles;
    float heads; /* query heads x batch the call covers */
    double area; /* visible pairs of one head */
};

struct cp_sched_op {
    uint8_t kind, lane, coll;
    bool backward;    /* COMPUTE: a backward block */
    int32_t step;     /* the CP step (timeline), -1 outside */
    int32_t peer;     /* SEND / RECV: the other rank; COLL: the group's first rank */
    int32_t ref;      /* COMPUTE: index into work; SEND / RECV / COLL / WAIT: ticket */
    int16_t stride;   /* COLL: rank distance between members */
    int16_t size;     /* COLL: members */
    double bytes;     /* SEND / RECV: the message; COLL: one rank's block (nccl-tests' per-rank block);
                         COPY: bytes read and written */
};

struct cp_schedule {
    int ranks;
    int tile;             /* tile side the work is counted in */
    int64_t *rank_offsets; /* ops of rank r: ops[rank_offsets[r] .. rank_offsets[r + 1]) */
    struct cp_sched_op *ops;
    int64_t n_ops, cap_ops;
    struct cp_tile_work *work;
    int64_t n_work, cap_work;
    int building; /* the rank ops are being added to */
    int next_ticket;
    bool out_of_memory;
};

/* An empty schedule for `ranks` ranks counting work in tiles of `tile` rows and keys. */
enum lc_status cp_schedule_init(struct cp_schedule *s, int ranks, int tile, char *err);
void cp_schedule_free(struct cp_schedule *s);
/* Ops added from now on belong to rank r (ranks in order 0, 1, ...). */
void cp_schedule_rank(struct cp_schedule *s, int rank);

/* The tile lists of a block (local Q rows against local KV rows) for heads x batch query heads. */
enum lc_status cp_schedule_count(const struct longca_mask *view, int tile, int heads, struct cp_tile_work *out,
                                 char *err);
/* An attention block of that work (counted once, issued by every rank that computes it). */
void cp_schedule_compute(struct cp_schedule *s, const struct cp_tile_work *work, bool backward, int step);
/* The rest never fail on their own: running out of memory marks the schedule, and
 * cp_schedule_finish reports it. */
void cp_schedule_copy(struct cp_schedule *s, double bytes, int step);
/* A send to `to` and a receive from `from` (either -1 for none) under one ticket; returns it. */
int cp_schedule_send_recv(struct cp_schedule *s, int lane, int to, double send_bytes, int from, double recv_bytes,
                          int step);
int cp_schedule_coll(struct cp_schedule *s, int lane, enum cp_sched_coll coll, int first, int stride, int size,
                     double block, int step);
void cp_schedule_wait(struct cp_schedule *s, int ticket, int step);
/* Closes the last rank: LC_ERR_OOM when an op could not be stored. */
enum lc_status cp_schedule_finish(struct cp_schedule *s, char *err);

#endif
