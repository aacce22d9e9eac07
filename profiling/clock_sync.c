/* Cristian's algorithm over MPI: a worker stamps t1, pings rank 0, rank 0 answers with its own
 * stamp t0, the worker stamps t2. Since t0 was taken between t1 and t2, rank 0's clock read
 * t0 at the worker's midpoint (t1 + t2) / 2 give or take half the round trip; the quickest
 * round trip gives the tightest estimate. Rank 0 serves the workers one at a time. */
#include "profiling/clock_sync.h"

#include <string.h>

#include "core/model/event.h"

enum { CHECK_FIELDS = 4 };

/* Waits for one request, giving up after timeout_s (a receive is cancelled; the send of a few
 * bytes has left already or its peer is gone). */
static enum lc_status wait_for(MPI_Request *req, int is_recv, double timeout_s, int peer, char *err)
{
    double deadline = MPI_Wtime() + timeout_s;
    int done = 0;
    for (;;) {
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done) return LC_OK;
        if (MPI_Wtime() > deadline) break;
    }
    if (is_recv) MPI_Cancel(req);
    MPI_Request_free(req);
    return lc_fail(err, LC_ERR_COMM, "clock sync: rank %d did not answer within %.1f s", peer, timeout_s);
}

/* One ping from a worker: returns rank 0's stamp and the worker's stamps around it. */
static enum lc_status ping(MPI_Comm comm, int64_t (*clock)(void), double timeout_s, int64_t round, int64_t *t1,
                           int64_t *t0, int64_t *t2, char *err)
{
    MPI_Request recv_req, send_req;
    MPI_Irecv(t0, 1, MPI_INT64_T, 0, PROF_CLOCK_SYNC_TAG, comm, &recv_req);
    *t1 = clock();
    MPI_Isend(&round, 1, MPI_INT64_T, 0, PROF_CLOCK_SYNC_TAG, comm, &send_req);
    enum lc_status st = wait_for(&send_req, 0, timeout_s, 0, err);
    if (st == LC_OK) st = wait_for(&recv_req, 1, timeout_s, 0, err);
    else {
        MPI_Cancel(&recv_req);
        MPI_Request_free(&recv_req);
    }
    *t2 = clock();
    return st;
}

static enum lc_status worker_side(MPI_Comm comm, int64_t (*clock)(void), double timeout_s,
                                  struct prof_clock_sync *out, char *err)
{
    int64_t best_rtt = INT64_MAX, offset = 0;
    for (int64_t r = 0; r < PROF_CLOCK_SYNC_ROUNDS; r++) {
        int64_t t1, t0, t2;
        enum lc_status st = ping(comm, clock, timeout_s, r, &t1, &t0, &t2, err);
        if (st) return st;
        if (t2 - t1 < best_rtt) {
            best_rtt = t2 - t1;
            offset = t0 - (t1 + (t2 - t1) / 2);
        }
    }
    int64_t check_rtt = INT64_MAX, residual = 0;
    for (int64_t r = 0; r < PROF_CLOCK_SYNC_ROUNDS; r++) {
        int64_t t1, t0, t2;
        enum lc_status st = ping(comm, clock, timeout_s, PROF_CLOCK_SYNC_ROUNDS + r, &t1, &t0, &t2, err);
        if (st) return st;
        if (t2 - t1 < check_rtt) {
            check_rtt = t2 - t1;
            int64_t miss = t0 - (t1 + (t2 - t1) / 2 + offset);
            residual = miss < 0 ? -miss : miss;
        }
    }
    *out = (struct prof_clock_sync){offset, best_rtt, residual, check_rtt};

    int64_t report[CHECK_FIELDS] = {offset, best_rtt, residual, check_rtt};
    MPI_Request req;
    MPI_Isend(report, CHECK_FIELDS, MPI_INT64_T, 0, PROF_CLOCK_SYNC_TAG, comm, &req);
    return wait_for(&req, 0, timeout_s, 0, err);
}

static enum lc_status serve(MPI_Comm comm, int peer, int64_t (*clock)(void), double timeout_s,
                            struct prof_clock_sync *result, char *err)
{
    for (int r = 0; r < 2 * PROF_CLOCK_SYNC_ROUNDS; r++) {
        int64_t round, t0;
        MPI_Request req;
        MPI_Irecv(&round, 1, MPI_INT64_T, peer, PROF_CLOCK_SYNC_TAG, comm, &req);
        enum lc_status st = wait_for(&req, 1, timeout_s, peer, err);
        if (st) return st;
        t0 = clock();
        MPI_Isend(&t0, 1, MPI_INT64_T, peer, PROF_CLOCK_SYNC_TAG, comm, &req);
        if ((st = wait_for(&req, 0, timeout_s, peer, err))) return st;
        if (round != r) return lc_fail(err, LC_ERR_COMM, "clock sync: rank %d sent ping %lld, expected %d", peer,
                                       (long long)round, r);
    }
    int64_t report[CHECK_FIELDS];
    MPI_Request req;
    MPI_Irecv(report, CHECK_FIELDS, MPI_INT64_T, peer, PROF_CLOCK_SYNC_TAG, comm, &req);
    enum lc_status st = wait_for(&req, 1, timeout_s, peer, err);
    if (st == LC_OK && result) *result = (struct prof_clock_sync){report[0], report[1], report[2], report[3]};
    return st;
}

enum lc_status prof_clock_sync(MPI_Comm comm, int64_t (*clock)(void), double timeout_s,
                               struct prof_clock_sync *out, struct prof_clock_sync *per_rank, char *err)
{
    if (!clock) clock = lc_now_ns;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    memset(out, 0, sizeof *out);
    if (rank != 0) return worker_side(comm, clock, timeout_s, out, err);

    if (per_rank) memset(per_rank, 0, (size_t)size * sizeof *per_rank);
    for (int peer = 1; peer < size; peer++) {
        enum lc_status st = serve(comm, peer, clock, timeout_s, per_rank ? &per_rank[peer] : NULL, err);
        if (st) return st;
    }
    return LC_OK;
}

enum lc_status prof_clock_align(MPI_Comm comm, double timeout_s, struct clock_alignment *out, char *err)
{
    struct prof_clock_sync sync;
    enum lc_status st = prof_clock_sync(comm, NULL, timeout_s, &sync, NULL, err);
    *out = (struct clock_alignment){sync.offset_ns, sync.residual_ns};
    return st;
}
