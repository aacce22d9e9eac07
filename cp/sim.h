/* The simulator behind `longca model`: plays every rank's schedule (core/engine/cp_schedule.h)
 * against a kernel cost (cp/sim_calibration.h), an alpha-beta cost per message and link, and the
 * order in which the method issues and waits for its operations.
 *
 * Each rank has one compute stream: attention blocks take the calibrated kernel time of their
 * tile lists, memory passes their bytes at the memory bandwidth. Communication is posted at the
 * stream's current time and runs beside it; a wait advances the stream to the completion, and the
 * time it advances is the rank's exposed communication. So a ring step costs the larger of its
 * attention and its transfer plus what cannot overlap, an all-gather waited for before the
 * attention is all exposed, Ulysses' all-to-alls sit before and after, and the backward's dK/dV
 * ring runs one step behind, all because the schedule says so. A rank's operations on one lane
 * run in posting order, as on a communicator's stream: each starts when the one before it has
 * completed (a send / receive pair when both directions have). A send and its receive start when
 * both sides have started and take alpha + bytes / beta of the link between the two ranks
 * (within a node of --gpus-per-node GPUs, or across nodes). A collective starts when every
 * member has started it: all-gather and reduce-scatter as NCCL's ring, (n - 1)
 * hops of alpha + block / beta on the slowest link of the group; all-to-all one alpha and every
 * peer's block over its link, NVLink and the network side by side. Links are not shared between
 * concurrent messages (contention is not modelled), nor do communication kernels slow the
 * attention down. */
#ifndef LC_CP_SIM_H
#define LC_CP_SIM_H

#include <stdbool.h>

#include "core/engine/cp_schedule.h"
#include "core/model/status.h"

struct cp_topology {
    int gpus_per_node;
    double intra_gbs, inter_gbs; /* per GPU and direction, GB/s */
    double intra_us, inter_us;   /* per message */
    double memory_gbs;           /* memory passes (bytes read + written) */
};

/* H100/H200 SXM nodes: 8 GPUs on NVLink 4 (450 GB/s a direction), 8 x 400 Gb/s InfiniBand
 * (50 GB/s a GPU), HBM3e at 4.8 TB/s; latencies of one NCCL message on each. */
void cp_topology_defaults(struct cp_topology *t);

/* Time of one kernel call over tile-list work, per direction: a fixed cost per call plus a cost
 * per query tile (once per row of the tile lists), per full and per partial key tile, each per
 * query head (x batch). A kernel may also run slower per key tile when each query tile reads a
 * long row of keys (likely: the K and V it streams fall out of L2 before the query tiles beside
 * it reuse them): every key tile then costs key_tile more per doubling of the call's row length,
 * its key tiles per query tile ((full + partial) / query tiles), past key_knot, up to key_top
 * (the longest row calibrated: the growth is not extrapolated). key_tile 0: no such dependence.
 * Seconds; row lengths in key tiles. */
struct cp_kernel_cost {
    double call, q_tile, full_tile, partial_tile;
    double key_tile, key_knot, key_top;
};
struct cp_cost {
    struct cp_kernel_cost fwd, bwd;
    bool calibrated; /* false: from an assumed rate (cp_cost_assumed) */
};
/* No calibration: every tile (full or partial) at `tflops` of the forward's FLOPs, the backward
 * 2.5 x the forward, nothing per call. tile: the side the work is counted in. */
void cp_cost_assumed(struct cp_cost *c, double tflops, int tile, int head_dim);
double cp_kernel_time(const struct cp_cost *c, const struct cp_tile_work *w, bool backward);
/* w's row length: key tiles per query tile (0 without query tiles). */
double cp_row_tiles(const struct cp_tile_work *w);
/* The doublings of w's row length that k's key_tile applies to: log2(row / key_knot) held within
 * [0, log2(key_top / key_knot)]. */
double cp_key_doublings(const struct cp_kernel_cost *k, const struct cp_tile_work *w);

enum cp_sim_interval_kind { CP_SIM_COMPUTE, CP_SIM_COPY, CP_SIM_COMM };
struct cp_sim_interval {
    int rank, lane, step;
    enum cp_sim_interval_kind kind;
    double start, end; /* seconds from the start */
};

struct cp_sim_rank {
    double total, compute, copy, exposed; /* seconds: end, attention, memory passes, waiting */
    double sent;                          /* bytes this rank's sends and collectives carry */
};

struct cp_sim_result {
    int ranks;
    struct cp_sim_rank *rank;
    int slowest;
    double slowest_s, mean_s;
    /* With a trace asked for: every interval of ranks below trace_ranks. */
    struct cp_sim_interval *trace;
    int n_trace, cap_trace;
};

/* Seconds one send of `bytes` takes from rank `from` to rank `to`, once both sides are posted. */
double cp_message_time(const struct cp_topology *t, int from, int to, double bytes);

/* trace_ranks: how many ranks (from 0) to keep the intervals of; 0 for none. */
enum lc_status cp_simulate(const struct cp_schedule *s, const struct cp_topology *topo, const struct cp_cost *cost,
                           int trace_ranks, struct cp_sim_result *out, char *err);
void cp_sim_result_free(struct cp_sim_result *r);

#endif
