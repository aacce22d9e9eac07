/* Rank 0's side of a live session. Everything is nonblocking: messages are matched with
 * MPI_Improbe and received with MPI_Imrecv, sends are MPI_Isend tested later, so a worker that
 * dies mid-message never stalls the front end. Workers answer a ping every second; one silent
 * for lost_after_s is reported lost, its part of a running run fails, and the session goes on.
 * Runs start in sweep order on whatever workers are idle: a run of CP degree P takes P
 * consecutive idle workers, so single-device runs go at once on every idle worker. */
#define _DEFAULT_SOURCE /* realpath */
#include "core/session/session.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/io/capture.h"
#include "core/engine/device.h"
#include "core/engine/kernel.h"
#include "core/io/private_dir.h"
#include "core/session/protocol.h"
#include "core/session/session_internal.h"
#include "core/engine/services.h"

#define SESSION_DEFAULT_LOST_S 5.0
#define SESSION_CLOCK_SYNC_S 10.0  /* bound on each wait of the start-up clock alignment */
#define SESSION_GOODBYE_S 3.0      /* how long close waits for the workers to leave */
#define SESSION_RECV_BUDGET 64     /* messages taken from one worker per poll, so poll stays short */

static bool grow(void **items, int *cap, int need, size_t size)
{
    if (need <= *cap) return true;
    int ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) ncap *= 2;
    void *p = realloc(*items, (size_t)ncap * size);
    if (!p) return false;
    *items = p;
    *cap = ncap;
    return true;
}

/* ------------------------------------------------------------ events out */

void session_deliver(struct session *s, const struct event *ev)
{
    if (s->capture) capture_write(s->capture, ev);
    if (s->closing) return;
    if (s->sink) {
        s->sink->emit(s->sink->ctx, ev);
        s->delivered++;
    } else if (grow((void **)&s->outbox, &s->cap_outbox, s->n_outbox + 1, sizeof *s->outbox)) {
        event_copy(&s->outbox[s->n_outbox++], ev);
    }
}

void session_emit_status(struct session *s, enum event_type type, int run_id, int rank, enum lc_status status,
                        const char *fmt, ...)
{
    struct event ev;
    event_init(&ev, type, run_id, rank);
    ev.u.error.status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev.u.error.message, sizeof ev.u.error.message, fmt, ap);
    va_end(ap);
    session_deliver(s, &ev);
}

/* ------------------------------------------------------------ sends */

/* buf (malloc'd or NULL) is owned by the send until it completes. */
static void send_to(struct session *s, int rank, int tag, void *buf, int bytes)
{
    if (!grow((void **)&s->sends, &s->cap_sends, s->n_sends + 1, sizeof *s->sends)) {
        free(buf);
        return;
    }
    struct pending_send *p = &s->sends[s->n_sends];
    if (MPI_Isend(buf, bytes, MPI_BYTE, rank, tag, s->comm, &p->req) != MPI_SUCCESS) {
        free(buf);
        return;
    }
    p->buf = buf;
    s->n_sends++;
}

void session_send_copy(struct session *s, int rank, int tag, const void *data, int bytes)
{
    void *buf = malloc((size_t)bytes);
    if (!buf) return;
    memcpy(buf, data, (size_t)bytes);
    send_to(s, rank, tag, buf, bytes);
}

/* Completed sends are released; those to a lost worker may never complete and simply stay. */
static void reap_sends(struct session *s)
{
    int kept = 0;
    for (int i = 0; i < s->n_sends; i++) {
        int done = 0;
        if (MPI_Test(&s->sends[i].req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) done = 1;
        if (done) free(s->sends[i].buf);
        else s->sends[kept++] = s->sends[i];
    }
    s->n_sends = kept;
}
/* ------------------------------------------------------------ lost workers */

static void mark_lost(struct session *s, int rank, const char *reason)
{
    struct worker_link *l = &s->link[rank];
    if (l->lost) return;
    l->lost = true;
    struct flight *f = session_flight_of(s, rank);
    bool in_run = f && !s->outcome[rank].done;
    session_emit_status(s, EV_WORKER_LOST, in_run ? f->run_id : -1, rank, LC_ERR_COMM, "%s", reason);
    if (!in_run) return;
    int id = f->run_id;
    if (!f->lost_rank) f->lost_rank = rank;
    char why[LC_ERRMSG_LEN];
    snprintf(why, sizeof why, "rank %d was lost during the run: %.200s", rank, reason);
    session_emit_status(s, EV_ERROR, id, rank, LC_ERR_COMM, "%s", why);
    session_rank_failed(s, rank, LC_ERR_COMM, why);
    /* Peers of a multi-rank run may now wait forever on the lost rank: tell them to leave, and
     * give them lost_after_s to do so. */
    if (f->pending > 1 && !f->stuck_deadline) {
        struct proto_abandon abandon = {.run_id = id, .lost_rank = rank};
        for (int r = f->first; r < f->first + f->n; r++)
            if (r != rank && !s->outcome[r].done && !s->link[r].lost)
                session_send_copy(s, r, PROTO_ABANDON, &abandon, (int)sizeof abandon);
        f->stuck_deadline = proto_now_s() + s->lost_after_s;
    }
    session_rank_finished(s, rank);
}

static void check_liveness(struct session *s, double now)
{
    for (int r = 1; r <= s->n_workers; r++) {
        struct worker_link *l = &s->link[r];
        if (l->lost || l->gone || now - l->last_heard <= s->lost_after_s) continue;
        char why[96];
        snprintf(why, sizeof why, "no answer for %.1f s (the process died or hangs)", now - l->last_heard);
        mark_lost(s, r, why);
    }
    for (int i = 0; i < s->n_workers; i++) {
        struct flight *f = &s->flights[i];
        if (f->run_id < 0 || !f->stuck_deadline || now <= f->stuck_deadline) continue;
        int id = f->run_id, first = f->first, n = f->n;
        char why[96];
        snprintf(why, sizeof why, "stuck in the run after rank %d was lost", f->lost_rank);
        for (int r = first; r < first + n && f->run_id == id; r++) {
            if (s->outcome[r].done) continue;
            session_rank_failed(s, r, LC_ERR_CANCELLED, why); /* a consequence: rank lost_rank is the cause */
            mark_lost(s, r, why);
        }
    }
}

/* ------------------------------------------------------------ messages in */

static void handle_event(struct session *s, int rank, const char *buf, int bytes)
{
    struct event ev;
    char err[LC_ERRMSG_LEN];
    if (proto_unpack_event(buf, bytes, &ev, err) != LC_OK) {
        session_emit_status(s, EV_ERROR, -1, rank, LC_ERR_COMM, "%s", err);
        return;
    }
    ev.rank = rank;
    const struct flight *f = session_flight_of(s, rank);
    bool ours = f && ev.run_id == f->run_id;
    if (ev.type == EV_RESULT && ours && !s->outcome[rank].has_error) {
        s->outcome[rank].has_result = true;
        s->outcome[rank].result = ev.u.result;
    } else if (ev.type == EV_ERROR && ours) {
        session_rank_failed(s, rank, ev.u.error.status, ev.u.error.message);
    } else if (ev.type == EV_GOODBYE) {
        s->link[rank].gone = true;
    }
    session_deliver(s, &ev);
    event_free(&ev);
}

static void handle_message(struct session *s, int rank, int tag, const char *buf, int bytes)
{
    switch (tag) {
    case PROTO_EVENT: handle_event(s, rank, buf, bytes); break;
    case PROTO_INFO:
        if (bytes == (int)sizeof(struct proto_info)) {
            struct proto_info info;
            memcpy(&info, buf, sizeof info);
            s->link[rank].pid = info.pid;
            memcpy(s->link[rank].host, info.host, sizeof info.host);
            s->link[rank].host[LC_HOST_LEN - 1] = '\0';
        }
        break;
    case PROTO_DONE:
        if (bytes == (int)sizeof(struct proto_done)) {
            struct proto_done done;
            memcpy(&done, buf, sizeof done);
            const struct flight *f = session_flight_of(s, rank);
            if (!f || done.run_id != f->run_id || s->outcome[rank].done) break;
            struct rank_outcome *o = &s->outcome[rank];
            if (!o->has_result && !o->has_error) {
                enum lc_status why = done.status ? (enum lc_status)done.status : LC_ERR_INTERNAL;
                session_emit_status(s, EV_ERROR, done.run_id, rank, why, "the run ended without a result");
                session_rank_failed(s, rank, why, "the run ended without a result");
            }
            session_rank_finished(s, rank);
        }
        break;
    default: break; /* PROTO_PONG: being heard is all it says */
    }
}

/* Takes what has arrived from one worker, in order, without ever waiting. */
static void receive_from(struct session *s, int rank, double now)
{
    struct worker_link *l = &s->link[rank];
    for (int budget = SESSION_RECV_BUDGET; budget > 0 && !l->lost; budget--) {
        if (l->rx_active) {
            int done = 0;
            if (MPI_Test(&l->rx_req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
                mark_lost(s, rank, "its connection failed");
                return;
            }
            if (!done) return;
            l->rx_active = false;
            handle_message(s, rank, l->rx_tag, l->rx_buf, l->rx_bytes);
            free(l->rx_buf);
            l->rx_buf = NULL;
            continue;
        }
        int flag = 0;
        MPI_Message msg;
        MPI_Status st;
        if (MPI_Improbe(rank, MPI_ANY_TAG, s->comm, &flag, &msg, &st) != MPI_SUCCESS || !flag) return;
        int bytes = 0;
        MPI_Get_count(&st, MPI_BYTE, &bytes);
        l->rx_buf = malloc(bytes > 0 ? (size_t)bytes : 1);
        if (!l->rx_buf || MPI_Imrecv(l->rx_buf, bytes, MPI_BYTE, &msg, &l->rx_req) != MPI_SUCCESS) {
            mark_lost(s, rank, "a message from it could not be received");
            return;
        }
        l->rx_active = true;
        l->rx_bytes = bytes;
        l->rx_tag = st.MPI_TAG;
        l->last_heard = now;
    }
}

/* One round of everything nonblocking: receive, ping, detect the lost, start runs. */
static void pump(struct session *s)
{
    double now = proto_now_s();
    /* A front end that was not polling cannot tell who went quiet: start the clocks again. */
    if (now - s->last_poll_s > s->lost_after_s / 2)
        for (int r = 1; r <= s->n_workers; r++) s->link[r].last_heard = now;
    s->last_poll_s = now;

    for (int r = 1; r <= s->n_workers; r++) receive_from(s, r, now);
    if (now - s->last_ping_s >= PROTO_PING_INTERVAL_S) {
        s->last_ping_s = now;
        for (int r = 1; r <= s->n_workers; r++)
            if (!s->link[r].lost && !s->link[r].gone) send_to(s, r, PROTO_PING, NULL, 0);
    }
    reap_sends(s);
    check_liveness(s, now);
    session_start_runs(s);
}

/* ------------------------------------------------------------ public */

static int default_worker_count(void)
{
    const struct device_ops *gpu = device_for(DEVICE_CUDA);
    int n = gpu ? gpu->count() : 0;
    return n > 0 ? n : 2;
}

/* Spawns the workers and merges them into one communicator where this process is rank 0. */
static enum lc_status spawn_workers(const struct session_options *opt, int n, MPI_Comm *out, char *err)
{
    char exe[PATH_MAX];
    const char *path = exe;
    /* The launcher needs the file itself, whatever the working directory: a bare name was found
     * on PATH by the shell, a relative one is relative to here. */
    if (!opt->self_path || !strchr(opt->self_path, '/') || !realpath(opt->self_path, exe)) {
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len <= 0) return lc_fail(err, LC_ERR_COMM, "cannot find this program's path to spawn workers from");
        exe[len] = '\0';
    }
    /* Spawned workers load the kernel libraries this process loaded. */
    const char *libs[KERNEL_MAX];
    char *args[2 + 2 * KERNEL_MAX] = {"worker"};
    int n_libs = kernel_libraries(libs, KERNEL_MAX), n_args = 1;
    for (int i = 0; i < n_libs; i++) args[n_args++] = "--kernel-lib", args[n_args++] = (char *)libs[i];
    int *codes = calloc((size_t)n, sizeof *codes);
    if (!codes) return lc_fail(err, LC_ERR_OOM, "out of memory");
    /* Open MPI binds one or two spawned processes to a core each; workers place themselves
     * (CPU workers take disjoint slices of the host's cores, GPU workers keep them all). */
    MPI_Info placement;
    MPI_Info_create(&placement);
    MPI_Info_set(placement, "bind_to", "none");
    MPI_Comm inter;
    int rc = MPI_Comm_spawn(path, args, n, placement, 0, MPI_COMM_SELF, &inter, codes);
    MPI_Info_free(&placement);
    int failed = 0;
    for (int i = 0; i < n && rc == MPI_SUCCESS; i++)
        if (codes[i] != MPI_SUCCESS) failed++;
    free(codes);
    if (rc != MPI_SUCCESS || failed) {
        char what[MPI_MAX_ERROR_STRING] = "";
        int len = 0;
        if (rc != MPI_SUCCESS) MPI_Error_string(rc, what, &len);
        return lc_fail(err, LC_ERR_COMM, "cannot spawn %d workers from %s: %s%s", n, path,
                       rc != MPI_SUCCESS ? what : "", failed ? "some did not start" : "");
    }
    MPI_Comm_set_errhandler(inter, MPI_ERRORS_RETURN);
    /* The same steps, in the same order, as cmd_worker on the spawned side. */
    MPI_Intercomm_merge(inter, 0, out);
    MPI_Comm_free(&inter);
    return LC_OK;
}

/* The capture of a session not told where to write: in longca's private state folder. */
static enum lc_status default_capture_path(char *buf, size_t len, char *err)
{
    char dir[3072];
    enum lc_status st = private_dir(PRIVATE_STATE, dir, sizeof dir, err);
    if (st != LC_OK) return st;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, len, "%s/longca-%s-%d.lccap", dir, stamp, (int)getpid());
    return LC_OK;
}

enum lc_status session_open(const struct session_options *opt, struct session **out, char *err)
{
    *out = NULL;
    enum lc_status st = proto_mpi_init(err);
    if (st != LC_OK) return st;
    int size = 1, rank = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank != 0) return lc_fail(err, LC_ERR_INTERNAL, "session_open on rank %d: workers call worker_take_rank", rank);

    struct session *s = calloc(1, sizeof *s);
    if (!s) return lc_fail(err, LC_ERR_OOM, "out of memory");
    s->cancel_upto = -1;
    s->lost_after_s = opt->lost_after_s > 0 ? opt->lost_after_s : SESSION_DEFAULT_LOST_S;
    gethostname(s->host, sizeof s->host - 1);

    bool under_mpirun = size > 1;
    if (under_mpirun) {
        /* The same collective steps, in the same order, as worker_take_rank on ranks > 0. */
        MPI_Comm none;
        MPI_Comm_dup(MPI_COMM_WORLD, &s->comm);
        MPI_Comm_split(MPI_COMM_WORLD, MPI_UNDEFINED, 0, &none);
        s->n_workers = size - 1;
    } else {
        s->n_workers = opt->workers > 0 ? opt->workers : default_worker_count();
        if ((st = spawn_workers(opt, s->n_workers, &s->comm, err)) != LC_OK) {
            free(s);
            return st;
        }
    }
    MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);

    s->link = calloc((size_t)s->n_workers + 1, sizeof *s->link);
    s->outcome = calloc((size_t)s->n_workers + 1, sizeof *s->outcome);
    s->flights = calloc((size_t)s->n_workers, sizeof *s->flights);
    if (!s->link || !s->outcome || !s->flights) {
        free(s->link), free(s->outcome), free(s->flights), free(s);
        return lc_fail(err, LC_ERR_OOM, "out of memory");
    }

    char path[4096];
    if (opt->capture_path) snprintf(path, sizeof path, "%s", opt->capture_path);
    else st = default_capture_path(path, sizeof path, err);
    if (st == LC_OK) st = capture_open(path, &s->capture, err);

    /* Collective with every worker, before any other traffic on the session communicator. */
    const struct lc_services *svc = services();
    struct clock_alignment mine; /* rank 0's clock is the reference: offset 0 */
    char why[LC_ERRMSG_LEN];
    if (svc->clock_sync && svc->clock_sync(s->comm, SESSION_CLOCK_SYNC_S, &mine, why) != LC_OK)
        session_emit_status(s, EV_ERROR, -1, 0, LC_ERR_COMM, "clocks not aligned: %.200s", why);
    if (under_mpirun && !proto_launcher_recovers())
        session_emit_status(s, EV_ERROR, -1, 0, LC_ERR_COMM,
                    "started by mpirun without --enable-recovery: a worker that dies ends the whole job");

    double now = proto_now_s();
    s->last_poll_s = s->last_ping_s = now;
    for (int r = 1; r <= s->n_workers; r++) s->link[r].last_heard = now, s->link[r].flight = -1;
    for (int i = 0; i < s->n_workers; i++) s->flights[i].run_id = -1;
    *out = s;
    if (st != LC_OK) { /* the workers are up: close them properly, then report the capture problem */
        char ignored[LC_ERRMSG_LEN];
        session_close(s, ignored);
        *out = NULL;
        return st;
    }
    return LC_OK;
}

int session_worker_count(const struct session *s) { return s->n_workers; }

int session_worker_pid(const struct session *s, int rank)
{
    return rank >= 1 && rank <= s->n_workers ? s->link[rank].pid : 0;
}

const char *session_capture_path(const struct session *s) { return s->capture ? capture_path(s->capture) : ""; }

enum lc_status session_submit(struct session *s, const struct run_spec *runs, int n, char *err)
{
    if (n <= 0) return LC_OK;
    if (!grow((void **)&s->runs, &s->cap_runs, s->n_runs + n, sizeof *s->runs))
        return lc_fail(err, LC_ERR_OOM, "out of memory queueing %d runs", n);
    for (int i = 0; i < n; i++) {
        int id = s->n_runs++;
        s->runs[id] = runs[i];
        struct event ev;
        event_init(&ev, EV_RUN_QUEUED, id, 0);
        ev.u.spec = runs[i];
        session_deliver(s, &ev);
    }
    s->sweep_open = true;
    return LC_OK;
}

int session_poll(struct session *s, const struct event_sink *sink)
{
    s->sink = sink;
    s->delivered = 0;
    for (int i = 0; i < s->n_outbox; i++) {
        sink->emit(sink->ctx, &s->outbox[i]);
        event_free(&s->outbox[i]);
        s->delivered++;
    }
    s->n_outbox = 0;
    pump(s);
    s->sink = NULL;
    return s->delivered;
}

bool session_busy(const struct session *s)
{
    return s->in_flight > 0 || s->next_run < s->n_runs || s->sweep_open || s->n_outbox > 0;
}

void session_cancel(struct session *s)
{
    s->cancel_upto = s->n_runs - 1;
    for (int i = 0; i < s->n_workers; i++) {
        const struct flight *f = &s->flights[i];
        int32_t id = f->run_id;
        for (int r = f->first; id >= 0 && r < f->first + f->n; r++)
            if (!s->link[r].lost && !s->outcome[r].done) session_send_copy(s, r, PROTO_CANCEL, &id, (int)sizeof id);
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

enum lc_status session_close(struct session *s, char *err)
{
    session_cancel(s);
    for (int i = 0; i < s->n_outbox; i++) event_free(&s->outbox[i]);
    s->n_outbox = 0;
    s->closing = true;
    int32_t peer_lost = 0;
    for (int r = 1; r <= s->n_workers; r++) peer_lost |= s->link[r].lost;
    for (int r = 1; r <= s->n_workers; r++)
        if (!s->link[r].lost && !s->link[r].gone) session_send_copy(s, r, PROTO_GOODBYE, &peer_lost, (int)sizeof peer_lost);

    double deadline = proto_now_s() + SESSION_GOODBYE_S;
    for (;;) {
        pump(s);
        bool waiting = false;
        for (int r = 1; r <= s->n_workers; r++)
            if (!s->link[r].lost && !s->link[r].gone) waiting = true;
        if (!waiting) break;
        if (proto_now_s() > deadline) {
            for (int r = 1; r <= s->n_workers; r++)
                if (!s->link[r].lost && !s->link[r].gone) mark_lost(s, r, "did not leave when the session closed");
            break;
        }
        sleep_ms(5);
    }

    enum lc_status st = LC_OK;
    if (s->capture) st = capture_close(s->capture, err);

    /* A lost worker on this host may still exist, stopped or stuck: it goes, so that nothing
     * (mpirun included) waits for it. MPI_Finalize after a lost peer sometimes waits forever in
     * Open MPI 4.1 (its closing fence still counts the dead process), so then this process
     * leaves without it: the runtime cleans up after a process that exits. */
    bool any_lost = false;
    for (int r = 1; r <= s->n_workers; r++) {
        struct worker_link *l = &s->link[r];
        if (!l->lost) continue;
        any_lost = true;
        if (l->pid > 0 && strcmp(l->host, s->host) == 0) kill(l->pid, SIGKILL);
    }
    /* Sends and receives still pending belong to lost workers: MPI may hold their buffers, so
     * those are left to the process's end. */
    for (int r = 1; r <= s->n_workers; r++)
        if (!s->link[r].rx_active) free(s->link[r].rx_buf);
    free(s->link);
    free(s->outcome);
    free(s->flights);
    free(s->runs);
    free(s->sends);
    free(s->outbox);
    free(s);
    if (!any_lost) MPI_Finalize();
    return st;
}
