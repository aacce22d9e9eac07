/* One clock across ranks: each rank estimates the offset from its clock to rank 0's with an MPI
 * ping-pong (the sample with the smallest round trip wins, its error is at most half that round
 * trip), then checks the correction with a second, independent ping-pong and reports what is
 * left (the residual).
 *
 * Wiring: every rank of the session communicator (rank 0 = the front end) calls prof_clock_sync
 * once at start, before any other traffic on that communicator, with the clock its timeline uses
 * (NULL = lc_now_ns, CLOCK_REALTIME, which is also CUPTI's default). A worker then sets
 * `timeline.clock_offset_ns = sync.offset_ns`, so every interval it records is on rank 0's clock.
 * Rank 0 passes `per_rank` (comm size entries) to receive every rank's figures for display. */
#ifndef LC_PROF_CLOCK_SYNC_H
#define LC_PROF_CLOCK_SYNC_H

#include <mpi.h>
#include <stdint.h>

#include "core/engine/services.h"
#include "core/model/status.h"

#define PROF_CLOCK_SYNC_TAG 7701 /* messages of the ping-pong; nothing else may use it meanwhile */
#define PROF_CLOCK_SYNC_ROUNDS 64 /* pings per phase: enough for one to find a quiet moment */

struct prof_clock_sync {
    int64_t offset_ns;     /* add to this rank's clock to read rank 0's (0 on rank 0) */
    int64_t rtt_ns;        /* round trip of the sample the offset comes from: the smallest */
    int64_t residual_ns;   /* |rank 0's stamp - corrected midpoint| in the quickest check ping */
    int64_t check_rtt_ns;  /* round trip of that check ping: residual <= (rtt + check_rtt) / 2 */
};

/* Collective over comm. timeout_s bounds each wait for a peer (LC_ERR_COMM naming the rank when
 * it runs out), so a lost peer never hangs the caller. per_rank may be NULL; on rank 0 it gets
 * every rank's figures (entry 0 all zero). */
enum lc_status prof_clock_sync(MPI_Comm comm, int64_t (*clock)(void), double timeout_s,
                               struct prof_clock_sync *out, struct prof_clock_sync *per_rank, char *err);

/* The form core's services table takes (core/engine/services.h clock_sync): lc_now_ns, this rank's
 * offset and residual. */
enum lc_status prof_clock_align(MPI_Comm comm, double timeout_s, struct clock_alignment *out, char *err);

#endif
