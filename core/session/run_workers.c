#define _DEFAULT_SOURCE /* realpath, nanosleep */
/* `longca run` through worker ranks: rank 0 opens a session (the workers of mpirun, or spawned
 * ones), submits the sweep, and forwards events until every run has an outcome. */
#include "core/session/run_workers.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/engine/host_memory.h"
#include "core/io/stderr_log.h"
#include "core/session/protocol.h"
#include "core/session/session.h"
#include "core/session/worker.h"

/* What one spawned CPU worker holds before its runs: MPI, OpenMP and the kernels' libraries
 * (its peak resident size measured about 250 MiB running S = 2K). */
#define RUN_WORKER_BYTES ((size_t)256 << 20)

bool run_under_mpirun(void)
{
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    return size && atoi(size) > 1;
}

bool run_needs_workers(const struct run_options *opt, const struct run_spec *runs, int n_runs)
{
    if (run_under_mpirun() || opt->workers > 0) return true;
    for (int i = 0; i < n_runs; i++)
        if (runs[i].cp_degree > 1) return true;
    return false;
}

static void pause_briefly(void)
{
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static int most_gpus(const struct run_spec *runs, int n_runs)
{
    int most = 1;
    for (int i = 0; i < n_runs; i++)
        if (runs[i].cp_degree > most) most = runs[i].cp_degree;
    return most;
}

static enum lc_status open_session(const struct run_options *opt, int workers, struct session **s, char *err)
{
    char self[PATH_MAX];
    if (!realpath("/proc/self/exe", self)) snprintf(self, sizeof self, "longca");
    struct session_options so = {.workers = workers, .capture_path = opt->capture, .self_path = self};
    return session_open(&so, s, err);
}

int run_release_workers(int exit_status)
{
    struct session *s;
    char err[LC_ERRMSG_LEN];
    struct run_options none = {0};
    if (run_under_mpirun() && !open_session(&none, 0, &s, err)) session_close(s, err);
    return exit_status;
}

int run_with_workers(const struct run_options *opt, const struct run_spec *runs, int n_runs,
                     const struct event_sink *sink)
{
    char err[LC_ERRMSG_LEN];
    struct session *s;
    int workers = opt->workers ? opt->workers : run_under_mpirun() ? 0 : most_gpus(runs, n_runs);
    /* Spawned workers are processes of this host, each about RUN_WORKER_BYTES before its runs:
     * more than it can hold are refused before any starts. */
    double avail = (double)host_memory_available(), need = (double)workers * RUN_WORKER_BYTES;
    if (avail > 0 && need > avail) {
        fprintf(stderr, "longca run: %d workers on this host need about %.1f GiB before any run, more than its %.1f GiB "
                        "available (start them across hosts with mpirun)\n", workers, need / (1u << 30), avail / (1u << 30));
        return LC_EXIT_FAILED;
    }
    /* Open MPI's messages (its daemon's, the spawned workers', at start and at shutdown) go to a
     * log; the rows, the progress and longca's own lines stay on the terminal. */
    struct stderr_log log;
    stderr_log_open(&log);
    if (open_session(opt, workers, &s, err)) {
        stderr_log_close(&log, "longca run");
        fprintf(stderr, "longca run: %s\n", err);
        return LC_EXIT_FAILED;
    }
    stderr_log_pause(&log);
    int needed = most_gpus(runs, n_runs);
    if (session_worker_count(s) < needed) {
        fprintf(stderr, "longca run: a run needs %d GPUs but the session has %d worker%s\n", needed,
                session_worker_count(s), session_worker_count(s) == 1 ? "" : "s");
        stderr_log_resume(&log);
        session_close(s, err);
        stderr_log_close(&log, "longca run");
        return LC_EXIT_USAGE;
    }
    int status = LC_EXIT_OK;
    if (session_submit(s, runs, n_runs, err)) {
        fprintf(stderr, "longca run: %s\n", err);
        status = LC_EXIT_FAILED;
    } else {
        bool cancelled = false;
        while (session_busy(s)) {
            if (opt->stop && *opt->stop && !cancelled) session_cancel(s), cancelled = true;
            if (!session_poll(s, sink)) pause_briefly();
        }
        session_poll(s, sink);
    }
    stderr_log_resume(&log);
    enum lc_status closed = session_close(s, err);
    stderr_log_close(&log, "longca run");
    if (closed) {
        fprintf(stderr, "longca run: %s\n", err);
        status = LC_EXIT_FAILED;
    }
    return status;
}

int run_end_job(int exit_status)
{
    if (exit_status != LC_EXIT_OK && run_under_mpirun()) proto_stop_launcher();
    return exit_status;
}
