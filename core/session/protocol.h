/* The messages between rank 0 (the front end) and the worker ranks, on one intracommunicator
 * where the front end is rank 0 and the workers are 1..N: MPI_COMM_WORLD under
 * `mpirun -np N+1 longca`, or the merge of the spawn intercommunicator.
 *
 * Payloads travel as MPI_BYTE: every rank runs the same binary on the same architecture, as
 * Open MPI requires of a job anyway. An event is its struct (pointers cleared) followed by its
 * interval and counter arrays. */
#ifndef LC_PROTOCOL_H
#define LC_PROTOCOL_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/model/event.h"
#include "core/model/spec.h"
#include "core/model/status.h"

enum proto_tag {
    PROTO_RUN = 7801, /* front -> worker: struct proto_run; the worker executes it */
    PROTO_CANCEL,     /* front -> worker: int32 run id; that run and earlier ones stop at the next iteration */
    PROTO_PING,       /* front -> worker: empty, once a second; the worker answers PROTO_PONG */
    PROTO_GOODBYE,    /* front -> worker: int32 "a peer was lost"; the worker finishes, sends EV_GOODBYE and
                         leaves, skipping MPI_Finalize when a peer was lost (it could wait forever) */
    PROTO_PONG,       /* worker -> front: empty */
    PROTO_INFO,       /* worker -> front: struct proto_info, once, before anything else */
    PROTO_EVENT,      /* worker -> front: a packed event */
    PROTO_DONE,       /* worker -> front: struct proto_done, after the run's last event */
    PROTO_ABANDON,    /* front -> worker: struct proto_abandon; a rank of that run was lost: the others
                         cancel it, and leave the job if still in it after PROTO_ABANDON_GRACE_S */
};

#define PROTO_PATH_LEN 1024

struct proto_run {
    int32_t run_id;
    int32_t first_rank; /* the run takes session ranks first_rank .. first_rank + cp_degree - 1 */
    struct run_spec spec;
    /* The plugin file of the run's kernel ("" when built in): a worker started before the front
     * end loaded it (the TUI's Setup) loads it before the run. */
    char kernel_lib[PROTO_PATH_LEN];
};

struct proto_info {
    int32_t pid;
    char host[LC_HOST_LEN];
};

struct proto_abandon {
    int32_t run_id;
    int32_t lost_rank;
};

struct proto_done {
    int32_t run_id;
    int32_t status; /* enum lc_status engine_execute returned */
};

/* Worker-side watchdog: a worker that hears nothing from the front end (pings come every
 * second) for this long assumes it is gone and exits, so no worker outlives its session. */
#define PROTO_FRONT_SILENCE_S 60.0
#define PROTO_PING_INTERVAL_S 1.0
/* A worker told that a peer of its run was lost leaves the job if its part has not ended this
 * long after (below the front end's default 5 s, after which it would count it lost too). */
#define PROTO_ABANDON_GRACE_S 3.0

/* MPI_Init_thread with MPI_THREAD_MULTIPLE (once; later calls return at once; a start-up that
 * has not finished within PROTO_FRONT_SILENCE_S ends the process, rank 0 saying why and stopping
 * mpirun with proto_stop_launcher), errors returned
 * rather than fatal on the world and self communicators, SIGPIPE ignored (a dead peer's socket
 * must not kill us), and, before the first MPI call, Open MPI told to keep going when a process
 * of the job dies (orte_enable_recovery) and to oversubscribe cores when spawning. */
enum lc_status proto_mpi_init(char *err);
/* mpirun was started with --enable-recovery (read before proto_mpi_init sets it for itself). */
bool proto_launcher_recovers(void);
/* Open MPI 4.1 records no exit code for a job started with --enable-recovery: mpirun exits 0
 * whatever its ranks return, MPI_Abort included; a SIGTERM makes it stop the job and exit 1.
 * On rank 0 of such a job whose parent is mpirun (its local daemon is mpirun: the two URIs are
 * one), flushes stdout and stderr and sends mpirun that SIGTERM; elsewhere does nothing. */
void proto_stop_launcher(void);

/* One event as one malloc'd buffer (*bytes long), and back; unpack validates sizes and counts
 * and allocates the event's arrays (event_free releases them). */
enum lc_status proto_pack_event(const struct event *ev, void **buf, int *bytes, char *err);
enum lc_status proto_unpack_event(const void *buf, int bytes, struct event *out, char *err);

/* Seconds on a monotonic clock: heartbeats and deadlines. */
double proto_now_s(void);

#endif
