/* Rank 0's side of a live session: the worker ranks (MPI_COMM_WORLD ranks 1..N under mpirun, or
 * workers spawned with MPI_Comm_spawn from a plain `longca`), the queue of runs sent to them,
 * and the events coming back. Nothing here blocks: the TUI calls session_poll from its main loop.
 * Runs start in queue order on idle workers, several at once: a run of CP degree P takes P
 * consecutive idle workers. */
#ifndef LC_SESSION_H
#define LC_SESSION_H

#include "core/model/event.h"
#include "core/model/spec.h"
#include "core/model/status.h"

struct session;

struct session_options {
    int workers;            /* workers to spawn when not under mpirun; 0 = GPUs of this node, or 2 CPU workers */
    const char *capture_path; /* NULL = a fresh file in longca's private state folder (shown by session_capture_path) */
    double lost_after_s;    /* a worker silent this long (heartbeats stop) is reported lost; 0 = 5 s */
    const char *self_path;  /* argv[0]: the binary workers are spawned from */
};

enum lc_status session_open(const struct session_options *opt, struct session **out, char *err);
int session_worker_count(const struct session *s);
/* Process id of worker `rank` (1..N) on its host, 0 until it has reported in. */
int session_worker_pid(const struct session *s, int rank);
const char *session_capture_path(const struct session *s);
/* Queues runs (EV_RUN_QUEUED for each, run ids assigned in order). */
enum lc_status session_submit(struct session *s, const struct run_spec *runs, int n, char *err);
/* Delivers every event that has arrived, plus those rank 0 makes (each run's EV_RUN_DONE with
 * its ranks merged, EV_WORKER_LOST, EV_SWEEP_DONE), to sink and into the capture; returns how
 * many, never waits. */
int session_poll(struct session *s, const struct event_sink *sink);
bool session_busy(const struct session *s); /* runs queued or in flight */
void session_cancel(struct session *s);     /* stop the sweep on every worker */
/* Goodbye to the workers (bounded wait), capture closed and renamed into place, MPI finalized
 * (so a process opens one session). Lost workers on this host are killed, so nothing waits on them. */
enum lc_status session_close(struct session *s, char *err);

#endif
