/* The MPI communicator (CPU backend): every operation is a nonblocking MPI call made at once;
 * a progress thread keeps testing the requests in flight, so transfers advance while the OpenMP
 * threads compute (Open MPI moves shared-memory and TCP data only inside MPI calls) and each
 * completion is stamped when it happens. Without MPI_THREAD_MULTIPLE there is no thread and
 * wait() does the testing: still correct, with overlap limited to what MPI does on its own. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/model/event.h"
#include "cp/comm.h"

struct pending_op {
    uint64_t ticket;
    MPI_Request reqs[2];
    int n_reqs;
    bool done;
    struct cp_comm_record rec;
};

struct mpi_comm {
    struct cp_comm base;
    MPI_Comm comm;
    bool threaded;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* an operation was posted or completed, or the thread should stop */
    bool stop;

    struct pending_op *ops; /* posted, in ticket order; completed ones leave from the front */
    int n_ops, cap_ops;
    uint64_t last_ticket, done_through; /* every ticket <= done_through has completed */

    struct cp_comm_record *records;
    int n_records, cap_records;

    enum lc_status failure; /* sticky: once an operation fails, every wait reports it */
    char failure_msg[LC_ERRMSG_LEN];
};

static const struct cp_comm_ops mpi_ops;

/* Makes the communicator fail for good with "rank R: <what> on <name>: <reason>". */
static void fail_locked(struct mpi_comm *m, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_locked(struct mpi_comm *m, const char *what, const char *fmt, ...)
{
    if (m->failure != LC_OK) return;
    m->failure = LC_ERR_COMM;
    int n = snprintf(m->failure_msg, sizeof m->failure_msg, "rank %d: %s on %s: ", m->base.rank, what, m->base.name);
    if (n < 0 || (size_t)n >= sizeof m->failure_msg) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->failure_msg + n, sizeof m->failure_msg - (size_t)n, fmt, ap);
    va_end(ap);
}

static void push_record_locked(struct mpi_comm *m, const struct cp_comm_record *rec)
{
    if (m->n_records == m->cap_records) {
        int cap = m->cap_records ? 2 * m->cap_records : 64;
        struct cp_comm_record *grown = realloc(m->records, (size_t)cap * sizeof *grown);
        if (!grown) return; /* a lost record costs a timeline bar, not the run */
        m->records = grown;
        m->cap_records = cap;
    }
    m->records[m->n_records++] = *rec;
}

/* Tests every operation in flight once; retires the completed prefix. Caller holds the lock. */
static void progress_locked(struct mpi_comm *m)
{
    if (m->failure != LC_OK) return;
    const int64_t now = lc_now_ns();
    for (int i = 0; i < m->n_ops; i++) {
        struct pending_op *op = &m->ops[i];
        if (op->done) continue;
        int flag = 0;
        int rc = MPI_Testall(op->n_reqs, op->reqs, &flag, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) {
            char text[MPI_MAX_ERROR_STRING];
            int len = 0;
            MPI_Error_string(rc, text, &len);
            fail_locked(m, cp_op_kind_name(op->rec.kind), "%s", text);
            break;
        }
        if (flag) {
            op->done = true;
            op->rec.end_ns = lc_now_ns();
            push_record_locked(m, &op->rec);
        } else if (now - op->rec.start_ns > (int64_t)(CP_COMM_TIMEOUT_S * 1e9)) {
            fail_locked(m, cp_op_kind_name(op->rec.kind), "no answer from a peer within %.0f s", CP_COMM_TIMEOUT_S);
            break;
        }
    }
    int retired = 0;
    while (retired < m->n_ops && m->ops[retired].done) m->done_through = m->ops[retired++].ticket;
    if (retired) {
        memmove(m->ops, m->ops + retired, (size_t)(m->n_ops - retired) * sizeof *m->ops);
        m->n_ops -= retired;
        pthread_cond_broadcast(&m->changed);
    }
    if (m->failure != LC_OK) pthread_cond_broadcast(&m->changed);
}

static void *progress_thread(void *arg)
{
    struct mpi_comm *m = arg;
    const struct timespec nap = {0, 20000};
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        if (m->n_ops == 0 || m->failure != LC_OK) {
            pthread_cond_wait(&m->changed, &m->lock);
            continue;
        }
        progress_locked(m);
        pthread_mutex_unlock(&m->lock);
        nanosleep(&nap, NULL);
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static enum lc_status mpi_error(struct mpi_comm *m, int rc, const char *what, char *err)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return lc_fail(err, LC_ERR_COMM, "rank %d: %s on %s: %s", m->base.rank, what, m->base.name, text);
}

static enum lc_status check_count(size_t bytes, const char *what, char *err)
{
    if (bytes > (size_t)INT_MAX)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "%s of %.2f GiB per peer exceeds MPI's 2 GiB message limit", what,
                       (double)bytes / (1u << 30));
    return LC_OK;
}

/* Registers the requests of an operation just started; the ticket orders it on the stream. */
static enum lc_status enqueue(struct mpi_comm *m, enum cp_op_kind kind, MPI_Request *reqs, int n_reqs, int64_t start_ns,
                              double alg_bytes, double bus_bytes, uint64_t *ticket, char *err)
{
    pthread_mutex_lock(&m->lock);
    if (m->failure != LC_OK) {
        pthread_mutex_unlock(&m->lock);
        return lc_fail(err, m->failure, "%s", m->failure_msg);
    }
    if (m->n_ops == m->cap_ops) {
        int cap = m->cap_ops ? 2 * m->cap_ops : 16;
        struct pending_op *grown = realloc(m->ops, (size_t)cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&m->lock);
            return lc_fail(err, LC_ERR_OOM, "MPI communicator: out of host memory");
        }
        m->ops = grown;
        m->cap_ops = cap;
    }
    struct pending_op *op = &m->ops[m->n_ops++];
    memset(op, 0, sizeof *op);
    op->ticket = ++m->last_ticket;
    memcpy(op->reqs, reqs, (size_t)n_reqs * sizeof *reqs);
    op->n_reqs = n_reqs;
    op->rec.kind = kind;
    op->rec.start_ns = start_ns;
    op->rec.alg_bytes = alg_bytes;
    op->rec.bus_bytes = bus_bytes;
    op->rec.step = m->base.step;
    memcpy(op->rec.label, m->base.label, sizeof op->rec.label);
    *ticket = op->ticket;
    pthread_cond_broadcast(&m->changed);
    pthread_mutex_unlock(&m->lock);
    return LC_OK;
}

static enum lc_status mpi_all_gather(struct cp_comm *c, const void *send, void *recv, size_t bytes, uint64_t *ticket,
                                     char *err)
{
    struct mpi_comm *m = (struct mpi_comm *)c;
    enum lc_status st = check_count(bytes, "all-gather", err);
    if (st != LC_OK) return st;
    int64_t t0 = lc_now_ns();
    MPI_Request req;
    int rc = MPI_Iallgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, m->comm, &req);
    if (rc != MPI_SUCCESS) return mpi_error(m, rc, "all-gather", err);
    double alg, bus;
    cp_op_bytes(CP_OP_ALL_GATHER, c->size, (double)bytes, &alg, &bus);
    return enqueue(m, CP_OP_ALL_GATHER, &req, 1, t0, alg, bus, ticket, err);
}

static enum lc_status mpi_all_to_all(struct cp_comm *c, const void *send, void *recv, size_t bytes_per_peer,
                                     uint64_t *ticket, char *err)
{
    struct mpi_comm *m = (struct mpi_comm *)c;
    enum lc_status st = check_count(bytes_per_peer, "all-to-all", err);
    if (st != LC_OK) return st;
    int64_t t0 = lc_now_ns();
    MPI_Request req;
    int rc = MPI_Ialltoall(send, (int)bytes_per_peer, MPI_BYTE, recv, (int)bytes_per_peer, MPI_BYTE, m->comm, &req);
    if (rc != MPI_SUCCESS) return mpi_error(m, rc, "all-to-all", err);
    double alg, bus;
    cp_op_bytes(CP_OP_ALL_TO_ALL, c->size, (double)bytes_per_peer, &alg, &bus);
    return enqueue(m, CP_OP_ALL_TO_ALL, &req, 1, t0, alg, bus, ticket, err);
}

static enum lc_status mpi_send_recv(struct cp_comm *c, const void *send, size_t send_bytes, int to, void *recv,
                                    size_t recv_bytes, int from, uint64_t *ticket, char *err)
{
    struct mpi_comm *m = (struct mpi_comm *)c;
    enum lc_status st = check_count(send_bytes > recv_bytes ? send_bytes : recv_bytes, "send/recv", err);
    if (st != LC_OK) return st;
    int64_t t0 = lc_now_ns();
    MPI_Request reqs[2];
    int n = 0, rc = MPI_SUCCESS;
    if (recv_bytes && (rc = MPI_Irecv(recv, (int)recv_bytes, MPI_BYTE, from, 0, m->comm, &reqs[n++])) != MPI_SUCCESS)
        return mpi_error(m, rc, "receive", err);
    /* Matching is in posting order between a pair of ranks, so one tag serves every step. */
    if (send_bytes && (rc = MPI_Isend(send, (int)send_bytes, MPI_BYTE, to, 0, m->comm, &reqs[n++])) != MPI_SUCCESS)
        return mpi_error(m, rc, "send", err);
    double alg, bus;
    cp_op_bytes(CP_OP_SEND_RECV, c->size, (double)(send_bytes > recv_bytes ? send_bytes : recv_bytes), &alg, &bus);
    return enqueue(m, CP_OP_SEND_RECV, reqs, n, t0, alg, bus, ticket, err);
}

static enum lc_status mpi_reduce_scatter_f32(struct cp_comm *c, const float *send, float *recv, size_t count,
                                             uint64_t *ticket, char *err)
{
    struct mpi_comm *m = (struct mpi_comm *)c;
    enum lc_status st = check_count(count * sizeof(float), "reduce-scatter", err);
    if (st != LC_OK) return st;
    int64_t t0 = lc_now_ns();
    MPI_Request req;
    int rc = MPI_Ireduce_scatter_block(send, recv, (int)count, MPI_FLOAT, MPI_SUM, m->comm, &req);
    if (rc != MPI_SUCCESS) return mpi_error(m, rc, "reduce-scatter", err);
    double alg, bus;
    cp_op_bytes(CP_OP_REDUCE_SCATTER, c->size, (double)count * sizeof(float), &alg, &bus);
    return enqueue(m, CP_OP_REDUCE_SCATTER, &req, 1, t0, alg, bus, ticket, err);
}

static enum lc_status mpi_wait(struct cp_comm *c, uint64_t ticket, char *err)
{
    struct mpi_comm *m = (struct mpi_comm *)c;
    if (ticket == 0) return LC_OK;
    /* The operations time out on their own; this bound only guards against a stuck thread. */
    const int64_t deadline = lc_now_ns() + (int64_t)((CP_COMM_TIMEOUT_S + 10) * 1e9);
    const struct timespec nap = {0, 20000};
    enum lc_status st = LC_OK;
    pthread_mutex_lock(&m->lock);
    while (m->done_through < ticket) {
        if (m->failure != LC_OK) break;
        if (lc_now_ns() > deadline) {
            fail_locked(m, "wait", "the progress thread stalled");
            break;
        }
        if (m->threaded) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&m->changed, &m->lock, &until);
        } else {
            progress_locked(m);
            if (m->done_through >= ticket) break;
            pthread_mutex_unlock(&m->lock);
            nanosleep(&nap, NULL);
            pthread_mutex_lock(&m->lock);
        }
    }
    if (m->done_through < ticket && m->failure != LC_OK) st = lc_fail(err, m->failure, "%s", m->failure_msg);
    pthread_mutex_unlock(&m->lock);
    return st;
}

static enum lc_status mpi_barrier(struct cp_comm *c, char *err)
{
    struct mpi_comm *m = (struct mpi_comm *)c;
    pthread_mutex_lock(&m->lock);
    uint64_t last = m->last_ticket;
    pthread_mutex_unlock(&m->lock);
    enum lc_status st = mpi_wait(c, last, err);
    if (st != LC_OK) return st;
    MPI_Request req;
    int rc = MPI_Ibarrier(m->comm, &req);
    if (rc != MPI_SUCCESS) return mpi_error(m, rc, "barrier", err);
    char what[48];
    snprintf(what, sizeof what, "barrier on %s", c->name);
    return cp_mpi_wait(&req, 1, CP_COMM_TIMEOUT_S, what, err);
}

static int mpi_take_records(struct cp_comm *c, struct cp_comm_record **out)
{
    struct mpi_comm *m = (struct mpi_comm *)c;
    pthread_mutex_lock(&m->lock);
    int n = m->n_records;
    *out = m->records;
    m->records = NULL;
    m->n_records = m->cap_records = 0;
    pthread_mutex_unlock(&m->lock);
    return n;
}

static void mpi_destroy(struct cp_comm *c)
{
    struct mpi_comm *m = (struct mpi_comm *)c;
    if (!m) return;
    if (m->threaded) {
        pthread_mutex_lock(&m->lock);
        m->stop = true;
        pthread_cond_broadcast(&m->changed);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
    }
    /* Requests still in flight belong to a failed run: leave them (and the communicator) to MPI
     * rather than free what a peer may still write into. */
    if (m->n_ops == 0) MPI_Comm_free(&m->comm);
    pthread_cond_destroy(&m->changed);
    pthread_mutex_destroy(&m->lock);
    free(m->ops);
    free(m->records);
    free(m);
}

/* Wraps a communicator this object now owns. */
static enum lc_status wrap(MPI_Comm owned, const char *name, struct cp_comm **out, char *err)
{
    struct mpi_comm *m = calloc(1, sizeof *m);
    if (!m) {
        MPI_Comm_free(&owned);
        return lc_fail(err, LC_ERR_OOM, "MPI communicator: out of host memory");
    }
    m->base.ops = &mpi_ops;
    MPI_Comm_rank(owned, &m->base.rank);
    MPI_Comm_size(owned, &m->base.size);
    snprintf(m->base.name, sizeof m->base.name, "%s", name);
    m->base.step = -1;
    m->comm = owned;
    MPI_Comm_set_errhandler(owned, MPI_ERRORS_RETURN);
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->changed, NULL);
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    m->threaded = level == MPI_THREAD_MULTIPLE;
    if (m->threaded && pthread_create(&m->thread, NULL, progress_thread, m) != 0) m->threaded = false;
    *out = &m->base;
    return LC_OK;
}

static enum lc_status mpi_split(struct cp_comm *c, int color, int key, const char *name, struct cp_comm **out,
                                char *err)
{
    struct mpi_comm *m = (struct mpi_comm *)c;
    /* MPI_Comm_split cannot time out: make sure every peer is here first. */
    enum lc_status st = mpi_barrier(c, err);
    if (st != LC_OK) return st;
    MPI_Comm sub;
    int rc = MPI_Comm_split(m->comm, color, key, &sub);
    if (rc != MPI_SUCCESS) return mpi_error(m, rc, "split", err);
    return wrap(sub, name, out, err);
}

enum lc_status comm_mpi_create(MPI_Comm comm, const char *name, struct cp_comm **out, char *err)
{
    MPI_Comm dup;
    int rc = MPI_Comm_dup(comm, &dup);
    if (rc != MPI_SUCCESS) return lc_fail(err, LC_ERR_COMM, "could not duplicate the CP communicator");
    return wrap(dup, name, out, err);
}

static const struct cp_comm_ops mpi_ops = {
    .backend = "mpi",
    .all_gather = mpi_all_gather,
    .all_to_all = mpi_all_to_all,
    .send_recv = mpi_send_recv,
    .reduce_scatter_f32 = mpi_reduce_scatter_f32,
    .wait = mpi_wait,
    .barrier = mpi_barrier,
    .take_records = mpi_take_records,
    .split = mpi_split,
    .destroy = mpi_destroy,
};
