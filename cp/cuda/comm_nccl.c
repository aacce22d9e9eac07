/* The NCCL communicator (cp/comm.h) for CP on GPUs.
 *
 * Made from an MPI communicator: rank 0's ncclUniqueId goes out with a bounded MPI broadcast,
 * which also proves every peer alive before the (blocking) NCCL init; the MPI twin stays for
 * barriers, and sub-groups come from ncclCommSplit beside an MPI split. Each communicator has its
 * own high-priority stream: an operation first waits (an event) for the compute work issued
 * before it, runs on the comm stream between two timing events, and wait(ticket) makes the
 * compute stream wait for its end event, so the host never blocks inside the steps. The host
 * waits only in barrier, polling the stream and NCCL's async error against the timeout: a
 * failed or silent peer ends in ncclCommAbort and LC_ERR_COMM. (NCCL's nonblocking mode is not
 * used: its split hands out the child only once the parent's group job is reaped, and a failed
 * nonblocking call leaves the thread's group state unusable for the next communicator.) */
#ifdef LONGCA_HAVE_NCCL
#define _POSIX_C_SOURCE 200809L
#include <cuda_runtime.h>
/* nccl.h declares a few functions with () parameter lists. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nccl.h>
#pragma GCC diagnostic pop
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/model/event.h"
#include "cp/comm.h"

struct nccl_op {
    uint64_t ticket;
    cudaEvent_t start, done;
    struct cp_comm_record rec;
};

struct nccl_comm {
    struct cp_comm base;
    MPI_Comm mpi;
    ncclComm_t comm;
    const struct device_ops *dev;
    cudaStream_t stream;
    cudaEvent_t ready;  /* the compute stream's position when an operation is posted */
    cudaEvent_t anchor; /* a timestamp taken when the device is idle: maps events to host time */
    struct nccl_op *ops; /* posted since the last take_records; events kept for reuse */
    int n_ops, cap_ops;
    uint64_t first_ticket, last_ticket; /* ops[i] has ticket first_ticket + i */
    bool failed;
    char failure[LC_ERRMSG_LEN];
};

static const struct cp_comm_ops nccl_ops;

/* The communicator fails for good: "rank R: <what> on <name>: <detail>". */
static enum lc_status fail_comm(struct nccl_comm *n, enum lc_status st, char *err, const char *what, const char *detail)
{
    if (!n->failed) {
        n->failed = true;
        snprintf(n->failure, sizeof n->failure, "rank %d: %s on %s: %s", n->base.rank, what, n->base.name, detail);
    }
    return lc_fail(err, st, "%s", n->failure);
}

static enum lc_status cuda_ok(struct nccl_comm *n, cudaError_t rc, const char *what, char *err)
{
    if (rc == cudaSuccess) return LC_OK;
    return fail_comm(n, LC_ERR_DEVICE, err, what, cudaGetErrorString(rc));
}

/* The outcome of an NCCL call; ncclInProgress (a nonblocking communicator, or an asynchronous
 * error being raised) is polled until it settles, within the timeout. */
static enum lc_status settle(struct nccl_comm *n, ncclResult_t rc, const char *what, char *err)
{
    const int64_t deadline = lc_now_ns() + (int64_t)(CP_COMM_TIMEOUT_S * 1e9);
    const struct timespec nap = {0, 20000};
    while (rc == ncclInProgress) {
        if (lc_now_ns() > deadline) {
            if (n->comm) ncclCommAbort(n->comm);
            n->comm = NULL;
            return fail_comm(n, LC_ERR_COMM, err, what, "no answer from a peer; aborted");
        }
        nanosleep(&nap, NULL);
        ncclResult_t query = ncclCommGetAsyncError(n->comm, &rc);
        if (query != ncclSuccess) rc = query;
    }
    if (rc == ncclSuccess) return LC_OK;
    char why[160];
    const char *last = ncclGetLastError(n->comm);
    snprintf(why, sizeof why, "%s%s%s", ncclGetErrorString(rc), last && *last ? ": " : "", last ? last : "");
    if (n->comm) ncclCommAbort(n->comm);
    n->comm = NULL;
    return fail_comm(n, LC_ERR_COMM, err, what, why);
}

static enum lc_status begin_op(struct nccl_comm *n, enum cp_op_kind kind, double alg, double bus, struct nccl_op **out,
                               char *err)
{
    if (n->failed) return lc_fail(err, LC_ERR_COMM, "%s", n->failure);
    if (n->n_ops == n->cap_ops) {
        int cap = n->cap_ops ? 2 * n->cap_ops : 16;
        struct nccl_op *grown = realloc(n->ops, (size_t)cap * sizeof *grown);
        if (!grown) return lc_fail(err, LC_ERR_OOM, "NCCL communicator: out of host memory");
        n->ops = grown;
        for (int i = n->cap_ops; i < cap; i++) {
            n->ops[i].start = n->ops[i].done = NULL;
            if (cudaEventCreate(&n->ops[i].start) != cudaSuccess || cudaEventCreate(&n->ops[i].done) != cudaSuccess) {
                n->cap_ops = i;
                return lc_fail(err, LC_ERR_DEVICE, "NCCL communicator: cannot create CUDA events");
            }
        }
        n->cap_ops = cap;
    }
    if (n->n_ops == 0) n->first_ticket = n->last_ticket + 1;
    struct nccl_op *op = &n->ops[n->n_ops];
    op->ticket = n->last_ticket + 1;
    memset(&op->rec, 0, sizeof op->rec);
    op->rec.kind = kind;
    op->rec.alg_bytes = alg;
    op->rec.bus_bytes = bus;
    op->rec.step = n->base.step;
    memcpy(op->rec.label, n->base.label, sizeof op->rec.label);
    /* After the compute work issued so far (it wrote what this operation sends). */
    enum lc_status st = cuda_ok(n, cudaEventRecord(n->ready, (cudaStream_t)n->dev->stream()), "ordering", err);
    if (!st) st = cuda_ok(n, cudaStreamWaitEvent(n->stream, n->ready, 0), "ordering", err);
    if (!st) st = cuda_ok(n, cudaEventRecord(op->start, n->stream), "timing", err);
    *out = op;
    return st;
}

static enum lc_status end_op(struct nccl_comm *n, struct nccl_op *op, uint64_t *ticket, char *err)
{
    enum lc_status st = cuda_ok(n, cudaEventRecord(op->done, n->stream), "timing", err);
    if (st) return st;
    n->n_ops++;
    *ticket = n->last_ticket = op->ticket;
    return LC_OK;
}

static enum lc_status nccl_all_gather(struct cp_comm *c, const void *send, void *recv, size_t bytes, uint64_t *ticket,
                                      char *err)
{
    struct nccl_comm *n = (struct nccl_comm *)c;
    double alg, bus;
    cp_op_bytes(CP_OP_ALL_GATHER, c->size, (double)bytes, &alg, &bus);
    struct nccl_op *op;
    enum lc_status st = begin_op(n, CP_OP_ALL_GATHER, alg, bus, &op, err);
    if (!st) st = settle(n, ncclAllGather(send, recv, bytes, ncclUint8, n->comm, n->stream), "all-gather", err);
    return st ? st : end_op(n, op, ticket, err);
}

static enum lc_status nccl_all_to_all(struct cp_comm *c, const void *send, void *recv, size_t bytes_per_peer,
                                      uint64_t *ticket, char *err)
{
    struct nccl_comm *n = (struct nccl_comm *)c;
    double alg, bus;
    cp_op_bytes(CP_OP_ALL_TO_ALL, c->size, (double)bytes_per_peer, &alg, &bus);
    struct nccl_op *op;
    enum lc_status st = begin_op(n, CP_OP_ALL_TO_ALL, alg, bus, &op, err);
    if (!st) st = settle(n, ncclAlltoAll(send, recv, bytes_per_peer, ncclUint8, n->comm, n->stream), "all-to-all", err);
    return st ? st : end_op(n, op, ticket, err);
}

static enum lc_status nccl_send_recv(struct cp_comm *c, const void *send, size_t send_bytes, int to, void *recv,
                                     size_t recv_bytes, int from, uint64_t *ticket, char *err)
{
    struct nccl_comm *n = (struct nccl_comm *)c;
    struct nccl_op *op;
    double alg, bus;
    cp_op_bytes(CP_OP_SEND_RECV, c->size, (double)(send_bytes > recv_bytes ? send_bytes : recv_bytes), &alg, &bus);
    enum lc_status st = begin_op(n, CP_OP_SEND_RECV, alg, bus, &op, err);
    if (st) return st;
    /* One group: the pair is matched whatever order the ranks issue it in. */
    ncclResult_t rc = ncclGroupStart();
    if (rc == ncclSuccess && send_bytes) rc = ncclSend(send, send_bytes, ncclUint8, to, n->comm, n->stream);
    if ((rc == ncclSuccess || rc == ncclInProgress) && recv_bytes)
        rc = ncclRecv(recv, recv_bytes, ncclUint8, from, n->comm, n->stream);
    ncclResult_t end = ncclGroupEnd();
    if (rc == ncclSuccess || rc == ncclInProgress) rc = end;
    if ((st = settle(n, rc, "send/recv", err))) return st;
    return end_op(n, op, ticket, err);
}

static enum lc_status nccl_reduce_scatter_f32(struct cp_comm *c, const float *send, float *recv, size_t count,
                                              uint64_t *ticket, char *err)
{
    struct nccl_comm *n = (struct nccl_comm *)c;
    double alg, bus;
    cp_op_bytes(CP_OP_REDUCE_SCATTER, c->size, (double)count * sizeof(float), &alg, &bus);
    struct nccl_op *op;
    enum lc_status st = begin_op(n, CP_OP_REDUCE_SCATTER, alg, bus, &op, err);
    if (!st) st = settle(n, ncclReduceScatter(send, recv, count, ncclFloat32, ncclSum, n->comm, n->stream),
                         "reduce-scatter", err);
    return st ? st : end_op(n, op, ticket, err);
}

static enum lc_status nccl_wait(struct cp_comm *c, uint64_t ticket, char *err)
{
    struct nccl_comm *n = (struct nccl_comm *)c;
    if (ticket == 0) return LC_OK;
    if (n->failed) return lc_fail(err, LC_ERR_COMM, "%s", n->failure);
    if (ticket < n->first_ticket || ticket > n->last_ticket)
        return lc_fail(err, LC_ERR_INTERNAL, "%s: waiting on unknown operation %llu", c->name, (unsigned long long)ticket);
    const struct nccl_op *op = &n->ops[ticket - n->first_ticket];
    return cuda_ok(n, cudaStreamWaitEvent((cudaStream_t)n->dev->stream(), op->done, 0), "wait", err);
}

/* The host waits for the comm stream, watching for NCCL errors, within the timeout. */
static enum lc_status drain(struct nccl_comm *n, char *err)
{
    const int64_t deadline = lc_now_ns() + (int64_t)(CP_COMM_TIMEOUT_S * 1e9);
    const struct timespec nap = {0, 50000};
    for (;;) {
        cudaError_t q = cudaStreamQuery(n->stream);
        if (q == cudaSuccess) return LC_OK;
        if (q != cudaErrorNotReady) return cuda_ok(n, q, "comm stream", err);
        ncclResult_t async = ncclSuccess;
        if (n->comm && ncclCommGetAsyncError(n->comm, &async) == ncclSuccess && async != ncclSuccess &&
            async != ncclInProgress)
            return settle(n, async, "communication", err);
        if (lc_now_ns() > deadline) {
            if (n->comm) ncclCommAbort(n->comm);
            n->comm = NULL;
            return fail_comm(n, LC_ERR_COMM, err, "communication", "no answer from a peer; aborted");
        }
        nanosleep(&nap, NULL);
    }
}

static enum lc_status nccl_barrier(struct cp_comm *c, char *err)
{
    struct nccl_comm *n = (struct nccl_comm *)c;
    if (n->failed) return lc_fail(err, LC_ERR_COMM, "%s", n->failure);
    enum lc_status st = drain(n, err);
    if (st) return st;
    MPI_Request req;
    if (MPI_Ibarrier(n->mpi, &req) != MPI_SUCCESS) return lc_fail(err, LC_ERR_COMM, "barrier on %s failed", c->name);
    return cp_mpi_wait(&req, 1, CP_COMM_TIMEOUT_S, "barrier", err);
}

static int nccl_take_records(struct cp_comm *c, struct cp_comm_record **out)
{
    struct nccl_comm *n = (struct nccl_comm *)c;
    *out = NULL;
    if (n->n_ops == 0 || n->failed) {
        n->n_ops = 0;
        return 0;
    }
    /* Host time of "now" on the device, taken once everything before it has run. */
    if (cudaEventRecord(n->anchor, n->stream) != cudaSuccess || cudaEventSynchronize(n->anchor) != cudaSuccess) return 0;
    const int64_t anchor_ns = lc_now_ns();
    struct cp_comm_record *recs = malloc((size_t)n->n_ops * sizeof *recs);
    int count = 0;
    for (int i = 0; recs && i < n->n_ops; i++) {
        float to_start = 0, to_done = 0;
        if (cudaEventElapsedTime(&to_start, n->ops[i].start, n->anchor) != cudaSuccess ||
            cudaEventElapsedTime(&to_done, n->ops[i].done, n->anchor) != cudaSuccess)
            continue;
        recs[count] = n->ops[i].rec;
        recs[count].start_ns = anchor_ns - (int64_t)((double)to_start * 1e6);
        recs[count].end_ns = anchor_ns - (int64_t)((double)to_done * 1e6);
        count++;
    }
    n->n_ops = 0;
    *out = recs;
    return count;
}

static void nccl_destroy(struct cp_comm *c)
{
    struct nccl_comm *n = (struct nccl_comm *)c;
    if (!n) return;
    if (n->comm) {
        if (n->failed) ncclCommAbort(n->comm);
        else ncclCommDestroy(n->comm);
    }
    for (int i = 0; i < n->cap_ops; i++) {
        if (n->ops[i].start) cudaEventDestroy(n->ops[i].start);
        if (n->ops[i].done) cudaEventDestroy(n->ops[i].done);
    }
    free(n->ops);
    if (n->ready) cudaEventDestroy(n->ready);
    if (n->anchor) cudaEventDestroy(n->anchor);
    if (n->stream) cudaStreamDestroy(n->stream);
    if (n->mpi != MPI_COMM_NULL) MPI_Comm_free(&n->mpi);
    free(n);
}

/* A communicator object around an MPI twin it now owns, with stream and events; NCCL comes after. */
static enum lc_status shell(MPI_Comm owned, const struct device_ops *dev, const char *name, struct nccl_comm **out,
                            char *err)
{
    struct nccl_comm *n = calloc(1, sizeof *n);
    if (!n) {
        MPI_Comm_free(&owned);
        return lc_fail(err, LC_ERR_OOM, "NCCL communicator: out of host memory");
    }
    n->base.ops = &nccl_ops;
    n->base.step = -1;
    snprintf(n->base.name, sizeof n->base.name, "%s", name);
    n->mpi = owned;
    n->dev = dev;
    MPI_Comm_set_errhandler(owned, MPI_ERRORS_RETURN);
    MPI_Comm_rank(owned, &n->base.rank);
    MPI_Comm_size(owned, &n->base.size);
    *out = n;
    int least = 0, greatest = 0;
    enum lc_status st = cuda_ok(n, cudaDeviceGetStreamPriorityRange(&least, &greatest), "stream priorities", err);
    if (!st) st = cuda_ok(n, cudaStreamCreateWithPriority(&n->stream, cudaStreamNonBlocking, greatest), "comm stream", err);
    if (!st) st = cuda_ok(n, cudaEventCreateWithFlags(&n->ready, cudaEventDisableTiming), "events", err);
    if (!st) st = cuda_ok(n, cudaEventCreate(&n->anchor), "events", err);
    return st;
}

static ncclConfig_t comm_config(void)
{
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 1;
    return config;
}

enum lc_status comm_nccl_create(MPI_Comm comm, const struct device_ops *dev, const char *name, struct cp_comm **out,
                                char *err)
{
    *out = NULL;
    MPI_Comm dup;
    if (MPI_Comm_dup(comm, &dup) != MPI_SUCCESS) return lc_fail(err, LC_ERR_COMM, "could not duplicate the CP communicator");
    struct nccl_comm *n = NULL;
    enum lc_status st = shell(dup, dev, name, &n, err);
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (!st && n->base.rank == 0 && ncclGetUniqueId(&id) != ncclSuccess)
        st = lc_fail(err, LC_ERR_COMM, "ncclGetUniqueId failed");
    /* Rank 0 broadcasts even after failing (zeros), so no peer waits for an id that never comes. */
    if (n) {
        MPI_Request req;
        enum lc_status got = MPI_Ibcast(&id, (int)sizeof id, MPI_BYTE, 0, n->mpi, &req) == MPI_SUCCESS
                                 ? cp_mpi_wait(&req, 1, CP_COMM_TIMEOUT_S, "NCCL id broadcast", st ? NULL : err)
                                 : lc_fail(st ? NULL : err, LC_ERR_COMM, "NCCL id broadcast failed");
        if (!st) st = got;
    }
    if (!st) {
        ncclConfig_t config = comm_config();
        st = settle(n, ncclCommInitRankConfig(&n->comm, n->base.size, id, n->base.rank, &config), "NCCL init", err);
    }
    if (st) {
        if (n) nccl_destroy(&n->base);
        return st;
    }
    *out = &n->base;
    return LC_OK;
}

static enum lc_status nccl_split(struct cp_comm *c, int color, int key, const char *name, struct cp_comm **out,
                                 char *err)
{
    struct nccl_comm *n = (struct nccl_comm *)c;
    *out = NULL;
    enum lc_status st = nccl_barrier(c, err); /* MPI_Comm_split cannot time out: everybody here first */
    if (st) return st;
    MPI_Comm sub;
    if (MPI_Comm_split(n->mpi, color, key, &sub) != MPI_SUCCESS) return lc_fail(err, LC_ERR_COMM, "split of %s failed", c->name);
    struct nccl_comm *s = NULL;
    if ((st = shell(sub, n->dev, name, &s, err))) {
        if (s) nccl_destroy(&s->base);
        return st;
    }
    ncclConfig_t config = comm_config();
    st = settle(n, ncclCommSplit(n->comm, color, key, &s->comm, &config), "NCCL split", err);
    if (!st && !s->comm) st = lc_fail(err, LC_ERR_COMM, "NCCL split of %s gave no communicator", c->name);
    if (st) {
        nccl_destroy(&s->base);
        return st;
    }
    *out = &s->base;
    return LC_OK;
}

static const struct cp_comm_ops nccl_ops = {
    .backend = "nccl",
    .all_gather = nccl_all_gather,
    .all_to_all = nccl_all_to_all,
    .send_recv = nccl_send_recv,
    .reduce_scatter_f32 = nccl_reduce_scatter_f32,
    .wait = nccl_wait,
    .barrier = nccl_barrier,
    .take_records = nccl_take_records,
    .split = nccl_split,
    .destroy = nccl_destroy,
};
#endif

void comm_nccl_version(char *buf, size_t len)
{
    int code = 0;
    if (ncclGetVersion(&code) != ncclSuccess || code <= 0) {
        snprintf(buf, len, "%s", "");
        return;
    }
    /* Since NCCL 2.9 the code is major * 10000 + minor * 100 + patch; before, * 1000 + * 100. */
    if (code >= 20900) snprintf(buf, len, "%d.%d.%d", code / 10000, code / 100 % 100, code % 100);
    else snprintf(buf, len, "%d.%d.%d", code / 1000, code / 100 % 10, code % 100);
}
