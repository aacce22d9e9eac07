/* Inside rank 0's session: its state, shared by session.c (messages, liveness, the public calls)
 * and scheduler.c (which runs start on which workers, and each run's merged end). */
#ifndef LC_SESSION_INTERNAL_H
#define LC_SESSION_INTERNAL_H

#include <mpi.h>

#include "core/io/capture.h"
#include "core/model/event.h"
#include "core/session/session.h"

struct worker_link {
    bool lost, gone; /* gone: said goodbye */
    int flight;      /* index in session.flights of the run it executes, -1 when idle */
    double last_heard;
    int pid;
    char host[LC_HOST_LEN];
    /* The message being received from this worker; the next is matched only after it, so a
     * worker's events keep their order. */
    bool rx_active;
    MPI_Request rx_req;
    char *rx_buf;
    int rx_bytes, rx_tag;
};

/* What one rank of a running run has reported: its measurements, or why it failed. */
struct rank_outcome {
    bool done, has_result, has_error;
    struct run_result result;
};

/* A run in flight on workers first..first+n-1. */
struct flight {
    int run_id;    /* -1: a free slot */
    int first, n;
    int pending;   /* ranks that have not finished */
    double stuck_deadline; /* a peer was lost: the others must finish by then, or are lost too */
    int lost_rank;         /* the first of its ranks lost during the run, 0 while none */
};

struct pending_send {
    MPI_Request req;
    void *buf;
};

struct session {
    MPI_Comm comm;
    int n_workers;
    struct worker_link *link; /* [1..n_workers] */
    char host[LC_HOST_LEN];

    struct run_spec *runs;
    int n_runs, cap_runs;
    int next_run;     /* first run not yet started */
    struct flight *flights; /* [n_workers]: at most one run per worker */
    int in_flight;
    struct rank_outcome *outcome; /* [1..n_workers], of the run each executes */
    int cancel_upto;  /* runs with ids up to this one are cancelled */
    bool sweep_open;  /* runs were submitted since the last EV_SWEEP_DONE */

    struct capture_writer *capture;
    double lost_after_s;
    double last_ping_s, last_poll_s;
    struct pending_send *sends;
    int n_sends, cap_sends;

    /* Events made outside session_poll wait here for the next poll; captured when made. */
    struct event *outbox;
    int n_outbox, cap_outbox;
    const struct event_sink *sink; /* set during session_poll */
    int delivered;
    bool closing; /* session_close: events go to the capture only */
};

/* Every event rank 0 passes on: to the capture, then the sink (or the outbox between polls). */
void session_deliver(struct session *s, const struct event *ev);
void session_emit_status(struct session *s, enum event_type type, int run_id, int rank, enum lc_status status,
                         const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* A copy of data to worker `rank`, sent without waiting. */
void session_send_copy(struct session *s, int rank, int tag, const void *data, int bytes);

/* scheduler.c */
struct flight *session_flight_of(struct session *s, int rank); /* the run worker `rank` executes, or NULL */
void session_start_runs(struct session *s);                     /* queued runs onto idle workers */
void session_rank_finished(struct session *s, int rank);        /* its run ends when its last rank does */
void session_rank_failed(struct session *s, int rank, enum lc_status status, const char *message);

#endif
