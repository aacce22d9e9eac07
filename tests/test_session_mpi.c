/* A live session driven headless, twice: with 2 workers spawned from this program (no mpirun)
 * and under `mpirun -np 3` (ranks 1 and 2 are the workers). Each time: both workers say hello,
 * CPU runs come back with results (a 2-worker run merged into rank -1), a run that fails on
 * the workers reports each rank and reason, a run needing more workers than there are fails on
 * rank 0, cancel stops a long run and the runs queued behind it, a worker killed with SIGKILL
 * mid-run is reported lost within seconds while the session stays usable, the capture holds
 * the stream, and closing takes seconds, not forever. The clocks are aligned at the start (each
 * hello carries its offset and residual); CP groups are not registered here, so a CP run fails
 * on its worker with a clear error.
 *
 * This program is also its own worker: `test_session_mpi worker` (spawned) and
 * `test_session_mpi mpirun-mode` (every rank under mpirun). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"
#include "core/io/capture.h"
#include "cli/commands.h"
#include "core/session/protocol.h"
#include "core/session/session.h"
#include "core/engine/services.h"
#include "core/session/worker.h"
#include "cp/cp.h"
#include "kernels/kernels.h"
#include "profiling/clock_sync.h"

#define LOST_AFTER_S 2.0
#define MAX_EVENTS 4096


/* Every event the session delivered, in order (payload arrays dropped). */
static struct event seen[MAX_EVENTS];
static int n_seen;

static void record(void *ctx, const struct event *ev)
{
    (void)ctx;
    if (n_seen < MAX_EVENTS) {
        seen[n_seen] = *ev;
        seen[n_seen].intervals = NULL;
        seen[n_seen].samples = NULL;
        seen[n_seen].n_intervals = seen[n_seen].n_samples = 0;
        n_seen++;
    }
}

static const struct event *find_event(enum event_type type, int run_id, int rank)
{
    for (int i = 0; i < n_seen; i++)
        if (seen[i].type == type && (run_id == -2 || seen[i].run_id == run_id) && (rank == -2 || seen[i].rank == rank))
            return &seen[i];
    return NULL;
}

static int count_events(enum event_type type)
{
    int n = 0;
    for (int i = 0; i < n_seen; i++) n += seen[i].type == type;
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls until the event shows up (run_id / rank -2 = any) or timeout_s passes. */
static const struct event *wait_event(struct session *s, enum event_type type, int run_id, int rank, double timeout_s)
{
    struct event_sink sink = {record, NULL};
    double end = proto_now_s() + timeout_s;
    for (;;) {
        const struct event *ev = find_event(type, run_id, rank);
        if (ev || proto_now_s() > end) return ev;
        if (!session_poll(s, &sink)) sleep_ms(2);
    }
}

static bool wait_idle(struct session *s, double timeout_s)
{
    struct event_sink sink = {record, NULL};
    double end = proto_now_s() + timeout_s;
    while (session_busy(s) && proto_now_s() < end)
        if (!session_poll(s, &sink)) sleep_ms(2);
    return !session_busy(s);
}

static struct run_spec small_run(int gpus)
{
    struct run_spec s;
    run_spec_defaults(&s, false);
    snprintf(s.kernel, sizeof s.kernel, "cpu");
    s.mask = MASK_CAUSAL;
    s.seqlen = 256;
    s.heads_q = 2;
    s.heads_kv = 1;
    s.head_dim = 32;
    s.warmup = 1;
    s.iters = 2;
    s.check = true;
    s.cp_degree = gpus;
    return s;
}

/* Long enough that cancel and kill land mid-run (each iteration takes milliseconds). */
static struct run_spec long_run(int gpus)
{
    struct run_spec s = small_run(gpus);
    s.seqlen = 1024;
    s.iters = 100000;
    s.check = false;
    return s;
}

static void test_results(struct session *s)
{
    CHECK(wait_event(s, EV_HELLO, -2, 1, 60) != NULL);
    CHECK(wait_event(s, EV_HELLO, -2, 2, 10) != NULL);
    const struct event *hello = find_event(EV_HELLO, -2, 2);
    CHECK(hello && strcmp(hello->u.hello.backend, "cpu") == 0 && hello->u.hello.host[0]);
    /* One host, one CLOCK_REALTIME: what the alignment finds is measurement error only. */
    CHECK(hello && hello->u.hello.clock_residual_ns >= 0 && hello->u.hello.clock_residual_ns < 50000000);
    CHECK(hello && llabs(hello->u.hello.clock_offset_ns) < 50000000);

    struct run_spec runs[3] = {small_run(1), small_run(1), small_run(2)};
    runs[1].mask = MASK_FULL;
    char err[LC_ERRMSG_LEN];
    CHECK(session_submit(s, runs, 3, err) == LC_OK);
    CHECK(session_busy(s));
    CHECK(wait_idle(s, 60));
    CHECK(count_events(EV_RUN_QUEUED) == 3);
    /* Runs 0 and 1 need one worker each: they run at once, one on each worker. */
    for (int id = 0; id < 2; id++) {
        const struct event *r = find_event(EV_RESULT, id, -2), *done = find_event(EV_RUN_DONE, id, -1);
        CHECK(r && r->u.result.status == LC_OK && r->u.result.check_pass && r->u.result.ms_median > 0);
        CHECK(done && done->u.result.ranks == 1 && done->u.result.ms_median == r->u.result.ms_median);
    }
    const struct event *r0 = find_event(EV_RESULT, 0, -2), *r1st = find_event(EV_RESULT, 1, -2);
    CHECK(r0 && r1st && r0->rank != r1st->rank);
    const struct event *r1 = find_event(EV_RESULT, 2, 1), *r2 = find_event(EV_RESULT, 2, 2);
    const struct event *merged = find_event(EV_RUN_DONE, 2, -1);
    CHECK(r1 && r2 && merged);
    if (r1 && r2 && merged) {
        const struct run_result *m = &merged->u.result;
        double slowest = r1->u.result.ms_median > r2->u.result.ms_median ? r1->u.result.ms_median
                                                                           : r2->u.result.ms_median;
        CHECK(m->ranks == 2 && m->ms_median == slowest && m->check_pass);
        CHECK(m->ms_mean_ranks > 0 && m->ms_mean_ranks <= slowest);
        CHECK(m->flops == r1->u.result.flops);
        double want = m->flops / (2 * slowest * 1e-3) / 1e12;
        CHECK(m->tflops > 0.999 * want && m->tflops < 1.001 * want);
    }
    CHECK(find_event(EV_SWEEP_DONE, -2, 0) != NULL);
}

static void test_failures(struct session *s)
{
    n_seen = 0;
    struct run_spec runs[3] = {small_run(2), small_run(3), small_run(2)};
    snprintf(runs[0].kernel, sizeof runs[0].kernel, "no_such_kernel");
    snprintf(runs[2].cp_method, sizeof runs[2].cp_method, "ring");
    char err[LC_ERRMSG_LEN];
    CHECK(session_submit(s, runs, 3, err) == LC_OK);
    CHECK(wait_idle(s, 30));
    /* run ids continue from the earlier sweep: 3, 4 and 5 */
    for (int rank = 1; rank <= 2; rank++) {
        const struct event *e = find_event(EV_ERROR, 3, rank);
        CHECK(e && e->u.error.status == LC_ERR_INVALID && strstr(e->u.error.message, "no_such_kernel"));
    }
    const struct event *too_big = find_event(EV_ERROR, 4, 0);
    CHECK(too_big && strstr(too_big->u.error.message, "needs 3 workers"));
    for (int rank = 1; rank <= 2; rank++) {
        const struct event *e = find_event(EV_ERROR, 5, rank);
        CHECK(e && e->u.error.status == LC_ERR_UNSUPPORTED && strstr(e->u.error.message, "without CP groups"));
    }
    CHECK(find_event(EV_SWEEP_DONE, -2, 0) != NULL);
}

static void test_cancel(struct session *s)
{
    n_seen = 0;
    /* Run 7 needs both workers: it waits behind run 6 and never starts. */
    struct run_spec runs[2] = {long_run(1), small_run(2)};
    char err[LC_ERRMSG_LEN];
    CHECK(session_submit(s, runs, 2, err) == LC_OK); /* ids 6 and 7 */
    const struct event *p = NULL;
    struct event_sink sink = {record, NULL};
    for (double end = proto_now_s() + 30; !p && proto_now_s() < end;) {
        if (!session_poll(s, &sink)) sleep_ms(2);
        for (int i = 0; i < n_seen && !p; i++)
            if (seen[i].type == EV_PROGRESS && seen[i].run_id == 6 && seen[i].u.progress.phase == PHASE_TIMED)
                p = &seen[i];
    }
    CHECK(p != NULL); /* a timed iteration is under way */
    double t0 = proto_now_s();
    session_cancel(s);
    CHECK(wait_idle(s, 10));
    CHECK(proto_now_s() - t0 < 5);
    const struct event *c = find_event(EV_ERROR, 6, 1);
    CHECK(c && c->u.error.status == LC_ERR_CANCELLED);
    const struct event *q = find_event(EV_ERROR, 7, 0);
    CHECK(q && q->u.error.status == LC_ERR_CANCELLED);
    CHECK(find_event(EV_RESULT, 7, -2) == NULL);
    const struct event *d7 = find_event(EV_RUN_DONE, 7, -1);
    CHECK(d7 && d7->u.result.status == LC_ERR_CANCELLED);
}

static void test_lost_worker(struct session *s)
{
    n_seen = 0;
    struct run_spec runs[1] = {long_run(2)};
    char err[LC_ERRMSG_LEN];
    CHECK(session_submit(s, runs, 1, err) == LC_OK); /* id 8 */
    CHECK(wait_event(s, EV_PROGRESS, 8, 2, 30) != NULL);
    int pid = session_worker_pid(s, 2);
    CHECK(pid > 0);
    if (pid <= 0) return;
    double t0 = proto_now_s();
    kill(pid, SIGKILL);
    const struct event *lost = wait_event(s, EV_WORKER_LOST, -2, 2, 15);
    double took = proto_now_s() - t0;
    CHECK(lost != NULL);
    CHECK(took < LOST_AFTER_S + 3);
    printf("[%s] worker 2 killed: reported lost after %.1f s (%s)\n", check_context, took,
           lost ? lost->u.error.message : "never");
    const struct event *e = find_event(EV_ERROR, 8, 2);
    CHECK(e && e->u.error.status == LC_ERR_COMM);
    /* Rank 1 still computes its half; the front end stays usable: cancel it and run again. */
    session_cancel(s);
    CHECK(wait_idle(s, 10));
    struct run_spec again[2] = {small_run(1), small_run(2)};
    CHECK(session_submit(s, again, 2, err) == LC_OK); /* ids 9 and 10 */
    CHECK(wait_idle(s, 30));
    const struct event *r = find_event(EV_RESULT, 9, 1);
    CHECK(r && r->u.result.status == LC_OK);
    const struct event *refused = find_event(EV_ERROR, 10, 0);
    CHECK(refused && strstr(refused->u.error.message, "rank 2 is lost"));
}

struct capture_count {
    int events, results, run_done, lost;
};

static void count_capture(void *ctx, const struct event *ev)
{
    struct capture_count *c = ctx;
    c->events++;
    c->results += ev->type == EV_RESULT;
    c->run_done += ev->type == EV_RUN_DONE;
    c->lost += ev->type == EV_WORKER_LOST;
}

/* The front end's part: every scenario on one session, then a bounded close. */
static int front(const char *self_path, const char *capture)
{
    struct session_options opt = {.workers = 2, .capture_path = capture, .lost_after_s = LOST_AFTER_S,
                                  .self_path = self_path};
    struct session *s;
    char err[LC_ERRMSG_LEN];
    if (session_open(&opt, &s, err) != LC_OK) {
        fprintf(stderr, "[%s] session_open: %s\n", check_context, err);
        return 1;
    }
    CHECK(session_worker_count(s) == 2);
    CHECK(strcmp(session_capture_path(s), capture) == 0);
    test_results(s);
    test_failures(s);
    test_cancel(s);
    test_lost_worker(s);
    double t0 = proto_now_s();
    CHECK(session_close(s, err) == LC_OK);
    double took = proto_now_s() - t0;
    CHECK(took < 8);
    printf("[%s] session closed in %.1f s\n", check_context, took);

    struct capture_count c = {0};
    long truncated;
    CHECK(capture_read(capture, count_capture, &c, &truncated, err) == LC_OK && truncated == 0);
    /* Per-rank results of runs 0, 1, 2 (two ranks) and 9; one run-done for each of runs 0..10. */
    CHECK(c.results >= 5 && c.run_done == 11 && c.lost == 1, "%d results, %d run_done", c.results, c.run_done);
    unlink(capture);
    return check_report(check_context);
}

/* Runs `mpirun -np 3 ... self mpirun-mode capture` and waits for it, at most limit_s. */
static int run_under_mpirun(const char *self, const char *capture, int limit_s)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("mpirun", "mpirun", "-np", "3", "--oversubscribe", "--enable-recovery", self, "mpirun-mode", capture,
               (char *)NULL);
        _exit(127);
    }
    if (pid < 0) return -1;
    for (int waited_ms = 0; waited_ms < limit_s * 1000; waited_ms += 50) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fprintf(stderr, "mpirun did not finish within %d s\n", limit_s);
    return 124;
}

int main(int argc, char **argv)
{
    kernels_register_all(NULL);
    cp_register_all(); /* the local method every run defaults to */
    services_register(&(struct lc_services){.clock_sync = prof_clock_align});
    if (argc > 1 && strcmp(argv[1], "worker") == 0) return cmd_worker(argc - 1, argv + 1);
    if (argc > 2 && strcmp(argv[1], "mpirun-mode") == 0) {
        int status;
        if (worker_take_rank(&status)) return status;
        check_context = "mpirun -np 3";
        return front(NULL, argv[2]);
    }
    setenv("OMP_NUM_THREADS", "1", 1); /* three processes share the CI's two cores */
    const char *tmp = getenv("TMPDIR");
    char capture[1024];

    /* mpirun first, as a child: this process must not have started MPI when it forks. */
    snprintf(capture, sizeof capture, "%s/lc_session_mpirun_%d.lccap", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    int rc = run_under_mpirun(argv[0], capture, 120);
    if (rc != 0) {
        fprintf(stderr, "[mpirun -np 3] exit status %d\n", rc);
        failures++;
    }
    check_context = "spawned";
    snprintf(capture, sizeof capture, "%s/lc_session_spawn_%d.lccap", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    return front(argv[0], capture) || failures ? 1 : 0;
}
