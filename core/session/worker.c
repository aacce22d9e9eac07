/* The worker loop. Two threads: the main thread executes runs (engine_execute) and forwards
 * their events to rank 0; a listener thread receives from rank 0 meanwhile, so pings are
 * answered and cancel is honoured even while a run computes for minutes. */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include "core/session/worker.h"

#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/engine/cp_method.h"
#include "core/engine/device.h"
#include "core/engine/host_memory.h"
#include "core/io/metadata.h"
#include "core/engine/kernel.h"
#include "core/session/protocol.h"
#include "core/engine/engine.h"
#include "core/engine/services.h"

#define WORKER_QUEUE_MAX 16
#define WORKER_FINALIZE_LIMIT_S 10 /* MPI_Finalize can hang on a lost peer: leave anyway after this */
#define WORKER_IDLE_DRAIN_S 1      /* while idle, counter samples are dropped this often */

struct worker {
    MPI_Comm session, workers;
    int rank;        /* in session: 1..N */
    int local_index; /* among the workers of this node: the GPU it takes */
    int local_count; /* workers on this node */
    int cores;       /* host cores its runs may use: a share of the node's where CPU workers are on it */
    struct clock_alignment clock; /* residual -1: not measured */

    pthread_mutex_t lock; /* guards everything below it; cond wakes the main thread */
    pthread_cond_t cond;
    struct proto_run queue[WORKER_QUEUE_MAX];
    int queue_len;
    int current_run;   /* -1 when idle */
    int cancel_upto;   /* runs with ids up to this one are cancelled */
    bool quit;         /* goodbye received */
    bool skip_finalize; /* the front end lost a peer: MPI_Finalize could wait for it forever */
    bool stop_listener;
    volatile int cancel; /* the driver's flag for the current run */
    struct proto_abandon abandon; /* the last run a peer of which was lost (run_id -1: none) */
    double abandon_deadline;      /* by then that run must have ended here, or this worker leaves */

    const struct device_ops *gpu; /* opened at start, NULL without one */
    bool cpu_open;
    struct timeline timeline;
    const struct timeline_recorder *recorder; /* running on the GPU's timeline, NULL without */
};

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ listener thread */

static void send_event(struct worker *w, const struct event *ev);

/* A rank of run_id was lost and this worker's part of the run has not ended within the grace
 * (on one host MPI usually fails the exchange with the dead peer at once; across hosts it may
 * wait out its timeout). It cannot take back what the run has in flight (MPI cannot cancel a
 * nonblocking collective, and a live peer may still write into buffers the next run would
 * reuse), so it reports the run cancelled, the lost rank as the cause, says goodbye and leaves
 * the job while its main thread still waits inside the exchange. */
static void leave_for_lost_peer(struct worker *w, int run_id, int lost_rank)
{
    struct event ev;
    event_init(&ev, EV_ERROR, run_id, w->rank);
    ev.u.error.status = LC_ERR_CANCELLED;
    snprintf(ev.u.error.message, sizeof ev.u.error.message, "left the run: its rank %d was lost", lost_rank);
    send_event(w, &ev);
    struct proto_done done = {.run_id = run_id, .status = LC_ERR_CANCELLED};
    MPI_Send(&done, (int)sizeof done, MPI_BYTE, 0, PROTO_DONE, w->session);
    struct event bye;
    event_init(&bye, EV_GOODBYE, -1, w->rank);
    send_event(w, &bye);
    _exit(LC_EXIT_FAILED);
}

static void handle_front_message(struct worker *w, const MPI_Status *st)
{
    int bytes = 0;
    MPI_Get_count(st, MPI_BYTE, &bytes);
    char small[sizeof(struct proto_run)];
    char *buf = bytes <= (int)sizeof small ? small : malloc((size_t)bytes);
    if (!buf) buf = small, bytes = 0; /* out of memory: receive nothing of it, lose the message */
    MPI_Recv(buf, bytes, MPI_BYTE, 0, st->MPI_TAG, w->session, MPI_STATUS_IGNORE);

    pthread_mutex_lock(&w->lock);
    switch (st->MPI_TAG) {
    case PROTO_RUN:
        if (bytes == (int)sizeof(struct proto_run) && w->queue_len < WORKER_QUEUE_MAX) {
            memcpy(&w->queue[w->queue_len++], buf, sizeof(struct proto_run));
            pthread_cond_signal(&w->cond);
        }
        break;
    case PROTO_CANCEL: {
        int32_t id = 0;
        if (bytes == (int)sizeof id) memcpy(&id, buf, sizeof id);
        if (id > w->cancel_upto) w->cancel_upto = id;
        if (w->current_run >= 0 && w->current_run <= w->cancel_upto) w->cancel = 1;
        break;
    }
    case PROTO_ABANDON: { /* cancel the run now; leave if it is still running after the grace */
        struct proto_abandon abandon = {-1, 0};
        if (bytes == (int)sizeof abandon) memcpy(&abandon, buf, sizeof abandon);
        if (abandon.run_id < 0) break;
        w->abandon = abandon;
        w->abandon_deadline = proto_now_s() + PROTO_ABANDON_GRACE_S;
        if (abandon.run_id > w->cancel_upto) w->cancel_upto = abandon.run_id;
        if (w->current_run >= 0 && w->current_run <= w->cancel_upto) w->cancel = 1;
        break;
    }
    case PROTO_GOODBYE: {
        int32_t peer_lost = 0;
        if (bytes == (int)sizeof peer_lost) memcpy(&peer_lost, buf, sizeof peer_lost);
        w->skip_finalize = peer_lost != 0;
        w->quit = true;
        w->cancel_upto = INT_MAX;
        w->cancel = 1;
        pthread_cond_signal(&w->cond);
        break;
    }
    default: break; /* PROTO_PING: answered below; anything else is dropped */
    }
    pthread_mutex_unlock(&w->lock);
    if (st->MPI_TAG == PROTO_PING) MPI_Send(NULL, 0, MPI_BYTE, 0, PROTO_PONG, w->session);
    if (buf != small) free(buf);
}

static void *listener_main(void *arg)
{
    struct worker *w = arg;
    double last_heard = proto_now_s();
    for (;;) {
        pthread_mutex_lock(&w->lock);
        bool stop = w->stop_listener;
        pthread_mutex_unlock(&w->lock);
        if (stop) break;
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(0, MPI_ANY_TAG, w->session, &flag, &st) == MPI_SUCCESS && flag) {
            handle_front_message(w, &st);
            last_heard = proto_now_s();
            continue;
        }
        pthread_mutex_lock(&w->lock);
        bool stuck = w->abandon.run_id >= 0 && w->current_run == w->abandon.run_id && proto_now_s() > w->abandon_deadline;
        struct proto_abandon abandon = w->abandon;
        pthread_mutex_unlock(&w->lock);
        if (stuck) leave_for_lost_peer(w, abandon.run_id, abandon.lost_rank);
        if (proto_now_s() - last_heard > PROTO_FRONT_SILENCE_S) {
            fprintf(stderr, "longca worker %d: nothing from the front end for %.0f s; leaving\n", w->rank,
                    PROTO_FRONT_SILENCE_S);
            _exit(LC_EXIT_FAILED);
        }
        sleep_ms(2);
    }
    return NULL;
}

/* ------------------------------------------------------------ events to rank 0 */

static void send_event(struct worker *w, const struct event *ev)
{
    /* Stamped here, on rank 0's clock, whatever clock the producer (the driver, a CP method) used:
     * sinks are called the moment an event is made, so this is its time. */
    struct event shifted = *ev;
    shifted.t_ns = lc_now_ns() + w->clock.offset_ns;
    void *buf;
    int bytes;
    char err[LC_ERRMSG_LEN];
    if (proto_pack_event(&shifted, &buf, &bytes, err) != LC_OK) {
        struct event e;
        event_init(&e, EV_ERROR, ev->run_id, w->rank);
        e.u.error.status = LC_ERR_INTERNAL;
        snprintf(e.u.error.message, sizeof e.u.error.message, "%s event lost: %.200s", event_type_name(ev->type), err);
        if (proto_pack_event(&e, &buf, &bytes, err) != LC_OK) return;
    }
    MPI_Send(buf, bytes, MPI_BYTE, 0, PROTO_EVENT, w->session);
    free(buf);
}

static void sink_emit(void *ctx, const struct event *ev) { send_event(ctx, ev); }

static void send_error(struct worker *w, int run_id, enum lc_status status, const char *message)
{
    struct event ev;
    event_init(&ev, EV_ERROR, run_id, w->rank);
    ev.u.error.status = status;
    snprintf(ev.u.error.message, sizeof ev.u.error.message, "%s", message);
    send_event(w, &ev);
}

/* ------------------------------------------------------------ devices and runs */

/* CPU workers sharing a host take equal, disjoint slices of the cores this process may use,
 * pinned, with as many OpenMP threads: concurrent runs then do not skew each other's timings.
 * GPU workers keep every core (their host threads only launch) unless CPU workers share their
 * host: a CPU kernel run on the GPU worker would otherwise spread over the others' slices. */
static void take_core_share(struct worker *w)
{
    w->cores = omp_get_max_threads();
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    int avail = CPU_COUNT(&allowed), share = avail / (w->local_count > 0 ? w->local_count : 1);
    if (share < 1) share = 1; /* more workers than cores: they share by slices of one */
    int first = (w->local_index * share) % avail, seen = 0;
    cpu_set_t mine;
    CPU_ZERO(&mine);
    for (int c = 0, taken = 0; c < CPU_SETSIZE && taken < share; c++) {
        if (!CPU_ISSET(c, &allowed)) continue;
        if (seen++ >= first) CPU_SET(c, &mine), taken++;
    }
    if (sched_setaffinity(0, sizeof mine, &mine) != 0) return;
    omp_set_num_threads(share);
    w->cores = share;
}

/* The GPU of this worker's index on its node when there is one, and the hello describing it. */
static void open_devices(struct worker *w, struct ev_hello *hello)
{
    char err[LC_ERRMSG_LEN];
    const struct device_ops *gpu = device_for(DEVICE_CUDA);
    if (gpu && w->local_index < gpu->count()) {
        if (gpu->open(w->local_index, hello->device, sizeof hello->device, err) == LC_OK) {
            w->gpu = gpu;
            if (w->local_count > gpu->count()) take_core_share(w);
            else w->cores = omp_get_max_threads();
            snprintf(hello->backend, sizeof hello->backend, "%s", gpu->name);
            metadata_fill_stack(hello, gpu);
            return;
        }
        fprintf(stderr, "longca worker %d: GPU %d unusable (%s); running on the CPU\n", w->rank, w->local_index, err);
    }
    take_core_share(w);
    host_memory_take_share(w->local_count);
    if (device_cpu.open(0, hello->device, sizeof hello->device, err) == LC_OK) w->cpu_open = true;
    else snprintf(hello->device, sizeof hello->device, "CPU (%.80s)", err);
    snprintf(hello->backend, sizeof hello->backend, "%s", device_cpu.name);
}

/* The device a run's kernel needs; the driver explains a mismatch (a GPU kernel here on a CPU). */
static const struct device_ops *device_for_run(struct worker *w, const struct run_spec *spec)
{
    const struct longca_kernel *k = kernel_find(spec->kernel);
    if (k && k->device == DEVICE_CUDA && w->gpu) return w->gpu;
    if (!w->cpu_open) {
        char describe[96], err[LC_ERRMSG_LEN];
        if (device_cpu.open(0, describe, sizeof describe, err) == LC_OK) w->cpu_open = true;
    }
    return &device_cpu;
}

/* The communicator of the workers sharing a CP run: session ranks first_rank..first_rank+P-1,
 * i.e. workers ranks one lower. Only they call this (MPI_Comm_create_group is collective over
 * the group only, so groups of different runs form at once). */
static enum lc_status make_cp_comm(struct worker *w, const struct proto_run *run, MPI_Comm *out, char *err)
{
    MPI_Group all, members;
    MPI_Comm_group(w->workers, &all);
    int members_n = run->spec.cp_degree > 0 ? run->spec.cp_degree : 1; /* as the front end counts them */
    int range[1][3] = {{run->first_rank - 1, run->first_rank - 1 + members_n - 1, 1}};
    int rc = MPI_Group_range_incl(all, 1, range, &members);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_create_group(w->workers, members, run->run_id & 0x7fff, out);
    MPI_Group_free(&all);
    if (rc == MPI_SUCCESS) MPI_Group_free(&members);
    if (rc != MPI_SUCCESS) return lc_fail(err, LC_ERR_COMM, "cannot form the group of %d CP ranks", members_n);
    return LC_OK;
}

/* A kernel the front end loaded after this worker started comes with its plugin file. */
static enum lc_status ensure_kernel(const struct proto_run *run, char *err)
{
    if (kernel_find(run->spec.kernel) || !run->kernel_lib[0]) return LC_OK;
    if (!services()->load_kernel_library)
        return lc_fail(err, LC_ERR_UNSUPPORTED, "this program loads no kernel plugins (kernel %s)", run->spec.kernel);
    return services()->load_kernel_library(run->kernel_lib, err);
}

static enum lc_status execute_run(struct worker *w, const struct proto_run *run)
{
    char err[LC_ERRMSG_LEN];
    enum lc_status loaded = ensure_kernel(run, err);
    if (loaded != LC_OK) {
        send_error(w, run->run_id, loaded, err);
        return loaded;
    }
    const struct device_ops *dev = device_for_run(w, &run->spec);
    /* The recorder sees the GPU only: CPU runs here keep their host clock stamps. */
    struct engine_env env = {.device = dev, .rank = w->rank, .cores = w->cores, .sink = {sink_emit, w},
                             .cancel = &w->cancel, .timeline = &w->timeline,
                             .recorder = dev == w->gpu ? w->recorder : NULL};
    const struct lc_services *svc = services();
    MPI_Comm cp_comm = MPI_COMM_NULL;
    struct cp_group *group = NULL;
    /* A run of CP degree 1 needs no group: the driver gives it a local one. */
    bool cp = run_spec_is_cp(&run->spec) && run->spec.cp_degree > 1;
    if (cp) {
        enum lc_status st = LC_OK;
        if (!svc->cp_group_create)
            st = lc_fail(err, LC_ERR_UNSUPPORTED, "CP method %s: this program was built without CP groups",
                         run->spec.cp_method);
        if (st == LC_OK) st = make_cp_comm(w, run, &cp_comm, err);
        if (st == LC_OK) st = svc->cp_group_create(cp_comm, dev, &group, err);
        if (st != LC_OK) {
            send_error(w, run->run_id, st, err);
            if (cp_comm != MPI_COMM_NULL) MPI_Comm_free(&cp_comm);
            return st;
        }
        env.cp = group;
    }
    struct run_result res;
    enum lc_status st = engine_execute(&env, &run->spec, run->run_id, &res);
    if (group) svc->cp_group_destroy(group);
    if (cp_comm != MPI_COMM_NULL) MPI_Comm_free(&cp_comm);
    return st;
}

/* ------------------------------------------------------------ the loop */

static void *finalize_watchdog(void *arg)
{
    (void)arg;
    sleep(WORKER_FINALIZE_LIMIT_S);
    _exit(LC_EXIT_OK);
    return NULL;
}

/* Until the worker loop listens, a front end that never joins the set-up collectives (it
 * failed before opening its session) would leave this rank waiting in them forever. */
static volatile int setup_done;

static void *setup_watchdog(void *arg)
{
    (void)arg;
    sleep((unsigned)PROTO_FRONT_SILENCE_S);
    if (!setup_done) {
        fprintf(stderr, "longca worker: the front end never opened its session; leaving\n");
        _exit(LC_EXIT_FAILED);
    }
    return NULL;
}

static void start_setup_watchdog(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, setup_watchdog, NULL) == 0) pthread_detach(t);
}

static void say_hello(struct worker *w)
{
    struct proto_info info = {.pid = (int32_t)getpid()};
    gethostname(info.host, sizeof info.host - 1);
    MPI_Send(&info, (int)sizeof info, MPI_BYTE, 0, PROTO_INFO, w->session);

    struct event ev;
    event_init(&ev, EV_HELLO, -1, w->rank);
    memcpy(ev.u.hello.host, info.host, sizeof ev.u.hello.host);
    ev.u.hello.local_index = w->local_index;
    ev.u.hello.clock_offset_ns = w->clock.offset_ns;
    ev.u.hello.clock_residual_ns = w->clock.residual_ns;
    open_devices(w, &ev.u.hello);
    send_event(w, &ev);
}

/* On a GPU, its timeline recorder runs from hello to goodbye; a part missing, or a recorder
 * that would not start, is reported to rank 0 (the runs go on without it). */
static void start_recorder(struct worker *w)
{
    if (!w->gpu) return;
    char note[LC_ERRMSG_LEN];
    enum lc_status st = services_start_gpu_recorder(&w->timeline, &w->recorder, note);
    if (note[0]) send_error(w, -1, st != LC_OK ? st : LC_ERR_UNSUPPORTED, note);
}

int worker_main(MPI_Comm session, MPI_Comm workers)
{
    struct worker w = {.session = session, .workers = workers, .current_run = -1, .cancel_upto = -1,
                       .abandon = {.run_id = -1}};
    MPI_Comm_set_errhandler(session, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(workers, MPI_ERRORS_RETURN);
    MPI_Comm_rank(session, &w.rank);
    MPI_Comm node;
    MPI_Comm_split_type(workers, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &w.local_index);
    MPI_Comm_size(node, &w.local_count);
    MPI_Comm_free(&node);

    /* Collective with rank 0 right after the session forms, before any other traffic. */
    w.clock.residual_ns = -1;
    const struct lc_services *svc = services();
    struct clock_alignment measured;
    char err[LC_ERRMSG_LEN];
    if (svc->clock_sync && svc->clock_sync(session, PROTO_FRONT_SILENCE_S, &measured, err) == LC_OK)
        w.clock = measured;
    else if (svc->clock_sync)
        fprintf(stderr, "longca worker %d: clock not aligned with rank 0 (%s)\n", w.rank, err);
    timeline_init(&w.timeline);
    w.timeline.clock_offset_ns = w.clock.offset_ns;

    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    pthread_t listener;
    if (pthread_create(&listener, NULL, listener_main, &w) != 0) {
        fprintf(stderr, "longca worker %d: cannot start its listener thread\n", w.rank);
        return LC_EXIT_FAILED;
    }
    setup_done = 1;
    say_hello(&w);
    start_recorder(&w);

    for (;;) {
        pthread_mutex_lock(&w.lock);
        while (w.queue_len == 0 && !w.quit) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += WORKER_IDLE_DRAIN_S;
            if (pthread_cond_timedwait(&w.cond, &w.lock, &until) != ETIMEDOUT) continue;
            /* PM sampling runs from hello to goodbye: what it gathers meanwhile belongs to no
             * run and would pile up for as long as the front end leaves this worker idle. */
            pthread_mutex_unlock(&w.lock);
            timeline_recorder_drop_samples(w.recorder);
            pthread_mutex_lock(&w.lock);
        }
        if (w.quit) {
            pthread_mutex_unlock(&w.lock);
            break;
        }
        struct proto_run run = w.queue[0];
        memmove(w.queue, w.queue + 1, (size_t)--w.queue_len * sizeof w.queue[0]);
        w.current_run = run.run_id;
        w.cancel = run.run_id <= w.cancel_upto;
        pthread_mutex_unlock(&w.lock);

        struct proto_done done = {.run_id = run.run_id, .status = execute_run(&w, &run)};

        pthread_mutex_lock(&w.lock);
        w.current_run = -1;
        pthread_mutex_unlock(&w.lock);
        MPI_Send(&done, (int)sizeof done, MPI_BYTE, 0, PROTO_DONE, w.session);
    }

    struct event bye;
    event_init(&bye, EV_GOODBYE, -1, w.rank);
    send_event(&w, &bye);
    pthread_mutex_lock(&w.lock);
    w.stop_listener = true;
    pthread_mutex_unlock(&w.lock);
    pthread_join(listener, NULL);
    if (w.recorder) w.recorder->stop();
    if (w.gpu) w.gpu->close();
    if (w.cpu_open) device_cpu.close();
    timeline_destroy(&w.timeline);

    if (w.skip_finalize) return LC_EXIT_OK; /* the runtime cleans up after a process that exits */
    pthread_t watchdog;
    if (pthread_create(&watchdog, NULL, finalize_watchdog, NULL) == 0) pthread_detach(watchdog);
    MPI_Comm_free(&workers);
    MPI_Comm_free(&session);
    MPI_Finalize();
    return LC_EXIT_OK;
}

int worker_run_spawned(void)
{
    char err[LC_ERRMSG_LEN];
    if (proto_mpi_init(err) != LC_OK) {
        fprintf(stderr, "longca worker: %s\n", err);
        return LC_EXIT_FAILED;
    }
    MPI_Comm parent, session, workers;
    MPI_Comm_get_parent(&parent);
    if (parent == MPI_COMM_NULL) {
        fprintf(stderr, "longca worker: started by longca itself (MPI_Comm_spawn), not by hand\n");
        MPI_Finalize();
        return LC_EXIT_USAGE;
    }
    MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
    start_setup_watchdog();
    /* The same steps, in the same order, as session_open on the spawning side. */
    MPI_Intercomm_merge(parent, 1, &session);
    MPI_Comm_dup(MPI_COMM_WORLD, &workers);
    return worker_main(session, workers);
}

bool worker_take_rank(int *exit_status)
{
    char err[LC_ERRMSG_LEN];
    if (proto_mpi_init(err) != LC_OK) {
        fprintf(stderr, "longca: %s\n", err);
        return false;
    }
    int size = 1, rank = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (size <= 1 || rank == 0) return false;
    start_setup_watchdog();
    /* The same collective steps, in the same order, as session_open on rank 0. */
    MPI_Comm session, workers;
    MPI_Comm_dup(MPI_COMM_WORLD, &session);
    MPI_Comm_split(MPI_COMM_WORLD, 0, rank, &workers);
    *exit_status = worker_main(session, workers);
    return true;
}
