/* Clock sync across 3 ranks whose clocks are shifted by known amounts: the estimated offset must
 * undo the shift within half the round trip it reports, and rank 0 must receive every rank's
 * figures. Started alone, the test relaunches itself under mpirun. */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/model/event.h"
#include "profiling/clock_sync.h"

enum { RANKS = 3 };

static int64_t injected_ns; /* this rank's clock runs this far ahead of rank 0's */

static int64_t shifted_clock(void) { return lc_now_ns() + injected_ns; }

static int64_t abs64(int64_t x) { return x < 0 ? -x : x; }

static int relaunch_under_mpirun(const char *self)
{
    char np[8];
    snprintf(np, sizeof np, "%d", RANKS);
    execlp("mpirun", "mpirun", "-np", np, "--oversubscribe", self, (char *)NULL);
    printf("test_clock_sync: skipped: cannot run mpirun\n");
    return 77;
}

int main(int argc, char **argv)
{
    if (!getenv("OMPI_COMM_WORLD_SIZE")) return relaunch_under_mpirun(argv[0]);
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* Seconds apart, and not a round number: a sign or halving mistake cannot hide. */
    injected_ns = rank == 0 ? 0 : (rank == 1 ? 3217000123ll : -1876543210ll);

    struct prof_clock_sync mine, all[RANKS];
    char err[LC_ERRMSG_LEN];
    int failed = 0;
    enum lc_status st = prof_clock_sync(MPI_COMM_WORLD, shifted_clock, 10.0, &mine, rank == 0 ? all : NULL, err);
    if (st != LC_OK) {
        fprintf(stderr, "rank %d: %s\n", rank, err);
        failed = 1;
    } else if (rank != 0) {
        int64_t miss = abs64(mine.offset_ns + injected_ns);
        printf("rank %d: offset %lld ns (injected %lld), rtt %lld ns, residual %lld ns (check rtt %lld ns)\n", rank,
               (long long)mine.offset_ns, (long long)-injected_ns, (long long)mine.rtt_ns,
               (long long)mine.residual_ns, (long long)mine.check_rtt_ns);
        if (mine.rtt_ns <= 0 || miss > mine.rtt_ns / 2 + 1) {
            fprintf(stderr, "rank %d: offset misses the injected shift by %lld ns\n", rank, (long long)miss);
            failed = 1;
        }
        if (mine.residual_ns > (mine.rtt_ns + mine.check_rtt_ns) / 2 + 1) {
            fprintf(stderr, "rank %d: residual %lld ns exceeds its bound\n", rank, (long long)mine.residual_ns);
            failed = 1;
        }
    } else {
        if (mine.offset_ns != 0) failed = 1;
        for (int r = 1; r < size; r++) {
            int64_t expect = r == 1 ? -3217000123ll : 1876543210ll;
            if (abs64(all[r].offset_ns - expect) > all[r].rtt_ns / 2 + 1) {
                fprintf(stderr, "rank 0: figures received for rank %d are wrong\n", r);
                failed = 1;
            }
        }
    }

    /* A peer that never answers: rank 0 waits for rank 1, which does not take part. */
    if (size > 1) {
        MPI_Comm pair;
        MPI_Comm_split(MPI_COMM_WORLD, rank <= 1 ? 0 : MPI_UNDEFINED, rank, &pair);
        if (rank == 0) {
            st = prof_clock_sync(pair, shifted_clock, 0.2, &mine, NULL, err);
            if (st != LC_ERR_COMM) {
                fprintf(stderr, "rank 0: a silent peer gave %d, not LC_ERR_COMM\n", (int)st);
                failed = 1;
            } else {
                printf("rank 0: silent peer: %s\n", err);
            }
        }
        MPI_Barrier(MPI_COMM_WORLD);
        if (pair != MPI_COMM_NULL) MPI_Comm_free(&pair);
    }

    int any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    if (rank == 0) printf("test_clock_sync: %s\n", any_failed ? "FAILED" : "all checks passed");
    return any_failed ? 1 : 0;
}
