/* The communicator every CP method is written against, as a table of functions (MPI on the CPU
 * backend, NCCL on GPUs).
 *
 * Operations are ordered on the communicator's own stream: each is posted at once and returns a
 * ticket; it reads its send buffer and fills its receive buffer some time before wait(ticket)
 * returns. Buffers are the device's (host memory on the CPU backend) and must stay untouched
 * until then. wait(ticket) orders the computation after that operation and every one posted
 * before it on this communicator: the host blocks on the CPU backend, the compute stream waits
 * on GPUs. On GPUs an operation also starts only after the compute work issued before it.
 * Ticket 0 means "nothing posted": waiting on it returns at once.
 *
 * Every rank of a communicator posts the same operations in the same order (as with NCCL), and
 * operations on different communicators of one rank progress independently, so a method puts
 * traffic that must overlap (a KV ring and a dKV ring) on separate communicators (split).
 * Nothing waits forever: a peer that does not answer within the timeout fails the wait with
 * LC_ERR_COMM, and every later operation on that communicator fails the same way. */
#ifndef LC_CP_COMM_H
#define LC_CP_COMM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/engine/device.h"
#include "core/model/status.h"

#define CP_COMM_TIMEOUT_S 120.0 /* one operation; a lost peer is reported after this */

enum cp_op_kind { CP_OP_ALL_GATHER = 0, CP_OP_ALL_TO_ALL, CP_OP_SEND_RECV, CP_OP_REDUCE_SCATTER, CP_OP_KIND_COUNT };
const char *cp_op_kind_name(enum cp_op_kind k); /* nccl-tests' names: all_gather, alltoall, sendrecv, ... */
/* nccl-tests' S (*alg) and S times the bus factor (*bus) of one operation on `size` ranks, from
 * the block of one rank: all-gather its contribution, all-to-all one peer's block,
 * reduce-scatter its share of the result, send/recv the larger direction. */
void cp_op_bytes(enum cp_op_kind kind, int size, double block, double *alg, double *bus);

/* One completed operation, for the timeline and nccl-tests' algbw / busbw. */
struct cp_comm_record {
    enum cp_op_kind kind;
    int64_t start_ns, end_ns; /* host clock: posted (GPU: started on the comm stream), completed */
    double alg_bytes;         /* nccl-tests' S of the operation */
    double bus_bytes;         /* S times nccl-tests' bus factor: what this rank put on the wire */
    int32_t step;             /* the cp_step it belongs to, -1 outside the steps */
    char label[16];
};

struct cp_comm {
    const struct cp_comm_ops *ops;
    int rank, size;
    char name[16];  /* what the timeline calls this communicator: "ring kv", "a2a", ... */
    int stream;     /* the timeline's stream number of its operations */
    /* Stamped into the records of operations posted from now on (the method sets them). */
    int32_t step;
    char label[16];
};

struct cp_comm_ops {
    const char *backend; /* "mpi" | "nccl" */
    /* Every rank sends `bytes` from send; recv gets size blocks of `bytes`, in rank order. */
    enum lc_status (*all_gather)(struct cp_comm *c, const void *send, void *recv, size_t bytes, uint64_t *ticket,
                                 char *err);
    /* send holds size blocks of bytes_per_peer, block p going to rank p; recv the same from each. */
    enum lc_status (*all_to_all)(struct cp_comm *c, const void *send, void *recv, size_t bytes_per_peer,
                                 uint64_t *ticket, char *err);
    /* Sends send_bytes to rank `to` and receives recv_bytes from rank `from`, grouped
     * (deadlock-free); a side of 0 bytes is skipped, and the peers' sizes must agree. Recorded
     * as the larger of the two directions. */
    enum lc_status (*send_recv)(struct cp_comm *c, const void *send, size_t send_bytes, int to, void *recv,
                                size_t recv_bytes, int from, uint64_t *ticket, char *err);
    /* send holds size blocks of count floats; recv gets the sum over ranks of block `rank`. */
    enum lc_status (*reduce_scatter_f32)(struct cp_comm *c, const float *send, float *recv, size_t count,
                                         uint64_t *ticket, char *err);
    enum lc_status (*wait)(struct cp_comm *c, uint64_t ticket, char *err);
    /* The host waits until everything posted here has completed and every rank got here. */
    enum lc_status (*barrier)(struct cp_comm *c, char *err);
    /* Moves the records of operations completed so far out (caller frees *out); returns the count. */
    int (*take_records)(struct cp_comm *c, struct cp_comm_record **out);
    /* Collective: ranks with the same color form a new communicator, ordered by key. */
    enum lc_status (*split)(struct cp_comm *c, int color, int key, const char *name, struct cp_comm **out,
                            char *err);
    void (*destroy)(struct cp_comm *c);
};

/* Sets the name, step and label stamped into the records of the next operations. */
void cp_comm_tag(struct cp_comm *c, int32_t step, const char *label);

/* The MPI communicator: host buffers, nonblocking MPI requests. comm is duplicated. */
enum lc_status comm_mpi_create(MPI_Comm comm, const char *name, struct cp_comm **out, char *err);

#ifdef LONGCA_HAVE_NCCL
/* The NCCL communicator of the ranks of comm (one GPU each, already bound by dev->open): the
 * unique id goes out with MPI_Bcast; operations run on a high-priority comm stream ordered
 * against dev's compute stream with events. comm is duplicated (kept for barriers). */
enum lc_status comm_nccl_create(MPI_Comm comm, const struct device_ops *dev, const char *name,
                                struct cp_comm **out, char *err);
/* "2.27.3": the NCCL this process loaded. */
void comm_nccl_version(char *buf, size_t len);
#endif

/* Completes n MPI requests, polling with short sleeps, within timeout_s; on failure or timeout
 * fails with LC_ERR_COMM naming `what`. Used by the MPI communicator and host-side group work. */
enum lc_status cp_mpi_wait(MPI_Request *reqs, int n, double timeout_s, const char *what, char *err);

#endif
