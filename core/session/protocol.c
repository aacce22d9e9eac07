/* MPI start-up shared by the front end and the workers, and events as byte buffers. */
#define _DEFAULT_SOURCE /* kill, sleep */
#include "core/session/protocol.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static bool launcher_recovers;
static volatile int mpi_started;

bool proto_launcher_recovers(void) { return launcher_recovers; }

void proto_stop_launcher(void)
{
    const char *rank = getenv("OMPI_COMM_WORLD_RANK"), *hnp = getenv("OMPI_MCA_orte_hnp_uri"),
               *daemon = getenv("OMPI_MCA_orte_local_daemon_uri");
    if (!launcher_recovers || !rank || strcmp(rank, "0") || !hnp || !daemon || strcmp(hnp, daemon)) return;
    fflush(stdout);
    fflush(stderr);
    kill(getppid(), SIGTERM);
}

/* MPI's start-up waits for every process of the job: one that died before it (or cannot be
 * reached) leaves the others there for good under --enable-recovery. */
static void *start_watchdog(void *arg)
{
    (void)arg;
    sleep((unsigned)PROTO_FRONT_SILENCE_S);
    if (mpi_started) return NULL;
    const char *rank = getenv("OMPI_COMM_WORLD_RANK");
    if (!rank || !strcmp(rank, "0")) {
        fprintf(stderr, "longca: MPI did not start within %.0f s: a process of the job died or cannot be reached\n",
                PROTO_FRONT_SILENCE_S);
        proto_stop_launcher();
    }
    _exit(LC_EXIT_FAILED);
    return NULL;
}

enum lc_status proto_mpi_init(char *err)
{
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return LC_OK;
    launcher_recovers = getenv("OMPI_MCA_orte_enable_recovery") != NULL;
    /* Read by Open MPI's runtime at start-up: a dead worker must not take the job down, and a
     * plain `longca` spawning workers on a small machine needs more processes than cores.
     * Under mpirun these come from mpirun instead (`mpirun --enable-recovery`). */
    setenv("OMPI_MCA_orte_enable_recovery", "1", 0);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
    signal(SIGPIPE, SIG_IGN);
    pthread_t watchdog;
    if (pthread_create(&watchdog, NULL, start_watchdog, NULL) == 0) pthread_detach(watchdog);
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
    mpi_started = 1;
    if (rc != MPI_SUCCESS) return lc_fail(err, LC_ERR_COMM, "MPI_Init_thread failed");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
    if (provided < MPI_THREAD_MULTIPLE)
        return lc_fail(err, LC_ERR_COMM, "this MPI gives thread level %d, longca needs MPI_THREAD_MULTIPLE", provided);
    return LC_OK;
}

enum lc_status proto_pack_event(const struct event *ev, void **buf, int *bytes, char *err)
{
    size_t iv_bytes = (size_t)ev->n_intervals * sizeof *ev->intervals;
    size_t sample_bytes = (size_t)ev->n_samples * sizeof *ev->samples;
    size_t total = sizeof *ev + iv_bytes + sample_bytes;
    if (ev->n_intervals < 0 || ev->n_samples < 0 || total > INT32_MAX)
        return lc_fail(err, LC_ERR_INVALID, "event too large to send (%d intervals, %d samples)", ev->n_intervals,
                       ev->n_samples);
    char *out = malloc(total);
    if (!out) return lc_fail(err, LC_ERR_OOM, "out of memory packing an event of %zu bytes", total);
    struct event head = *ev;
    head.intervals = NULL;
    head.samples = NULL;
    memcpy(out, &head, sizeof head);
    if (iv_bytes) memcpy(out + sizeof head, ev->intervals, iv_bytes);
    if (sample_bytes) memcpy(out + sizeof head + iv_bytes, ev->samples, sample_bytes);
    *buf = out;
    *bytes = (int)total;
    return LC_OK;
}

enum lc_status proto_unpack_event(const void *buf, int bytes, struct event *out, char *err)
{
    const char *in = buf;
    memset(out, 0, sizeof *out);
    if (bytes < (int)sizeof *out) return lc_fail(err, LC_ERR_COMM, "short event message (%d bytes)", bytes);
    struct event head;
    memcpy(&head, in, sizeof head);
    if ((int)head.type <= 0 || head.type >= EV_TYPE_COUNT || head.n_intervals < 0 || head.n_samples < 0)
        return lc_fail(err, LC_ERR_COMM, "malformed event message (type %d)", (int)head.type);
    size_t iv_bytes = (size_t)head.n_intervals * sizeof *head.intervals;
    size_t sample_bytes = (size_t)head.n_samples * sizeof *head.samples;
    if (sizeof head + iv_bytes + sample_bytes != (size_t)bytes)
        return lc_fail(err, LC_ERR_COMM, "event message of %d bytes does not match its %d intervals and %d samples",
                       bytes, head.n_intervals, head.n_samples);
    *out = head;
    out->intervals = NULL;
    out->samples = NULL;
    out->n_intervals = out->n_samples = 0;
    if (iv_bytes) {
        if (!(out->intervals = malloc(iv_bytes))) return lc_fail(err, LC_ERR_OOM, "out of memory for intervals");
        memcpy(out->intervals, in + sizeof head, iv_bytes);
        out->n_intervals = head.n_intervals;
    }
    if (sample_bytes) {
        if (!(out->samples = malloc(sample_bytes))) {
            event_free(out);
            return lc_fail(err, LC_ERR_OOM, "out of memory for counter samples");
        }
        memcpy(out->samples, in + sizeof head + iv_bytes, sample_bytes);
        out->n_samples = head.n_samples;
    }
    return LC_OK;
}

double proto_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
