/* The one stream of events every front end reads: the TUI draws it, `longca run` prints it,
 * the capture file stores it, `longca export` turns it into a Chrome trace. */
#ifndef LC_EVENT_H
#define LC_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model/result.h"
#include "core/model/spec.h"
#include "core/model/status.h"

enum event_type {
    EV_HELLO = 1,    /* a worker joined: rank, host, device */
    EV_RUN_QUEUED,   /* rank 0: a run of the sweep, with its spec */
    EV_RUN_STARTED,  /* a worker began a run */
    EV_PROGRESS,     /* phase and iteration i of n */
    EV_INTERVALS,    /* timeline intervals of one rank */
    EV_COUNTERS,     /* counter samples of one rank */
    EV_RESULT,       /* one rank's measurements of one run */
    EV_ERROR,        /* a run failed on a rank: status and reason */
    EV_WORKER_LOST,  /* rank 0: a worker died or stopped answering */
    EV_SWEEP_DONE,   /* rank 0: every queued run has an outcome */
    EV_GOODBYE,      /* a worker left cleanly */
    EV_SESSION,      /* rank 0: the build, host and command line the stream came from (first line of a capture) */
    EV_RUN_DONE,     /* rank 0: a run's one final result, its ranks merged (rank -1), every run */
    EV_ESTIMATE,     /* a worker, before a run's reps: each is estimated to take over a minute */
    EV_TYPE_COUNT
};
const char *event_type_name(enum event_type t);
int event_type_parse(const char *name, enum event_type *out);

enum run_phase { PHASE_SETUP = 0, PHASE_WARMUP, PHASE_TIMED, PHASE_CHECK, PHASE_PROFILE };
const char *run_phase_name(enum run_phase p);

enum interval_kind { IV_COMPUTE = 0, IV_COMM, IV_MEMORY, IV_OTHER, IV_KIND_COUNT };
const char *interval_kind_name(enum interval_kind k);

/* Ranks in an event: -1 (merged), 0 (front end), 1..LC_MAX_RANK (workers); a capture that
 * says otherwise is refused before the number sizes anything. */
#define LC_MAX_RANK 65536
/* Times in an event (ns since the epoch, to year 2116) and clock offsets lie within
 * +-LC_MAX_TIME_NS, so a difference or a sum of two never overflows. */
#define LC_MAX_TIME_NS ((int64_t)1 << 62)

#define LC_HOST_LEN 64
/* Vendor kernels carry their configuration in long names (cuDNN's run past 100 characters). */
#define LC_IV_NAME_LEN 128

struct ev_hello {
    char host[LC_HOST_LEN];
    char device[96];  /* "NVIDIA H200, 132 SMs, 140.4 GiB" or "CPU, 16 threads" */
    char backend[16]; /* "cpu" | "cuda" */
    int local_index;  /* GPU index on its node */
    int64_t clock_offset_ns;   /* added to this worker's clock to read rank 0's */
    int64_t clock_residual_ns; /* error left after the correction, as re-measured; -1: clocks not aligned */
    /* The GPU software stack ("" where none or not known): the kernel driver's version, the CUDA
     * runtime's, NCCL's, cuDNN's. */
    char driver[24], cuda[16], nccl[16], cudnn[16];
};

struct ev_session {
    int schema;        /* LC_SCHEMA_VERSION of what this build writes */
    char version[24];  /* longca's version */
    char commit[24];   /* the git commit it was built from, "unknown" outside a checkout */
    char host[LC_HOST_LEN];
    char cpu[96];      /* the front end's CPU model */
    char command[400]; /* the command line, arguments quoted where needed */
};

/* Bumped when a field of the capture, JSON, JSON Lines or CSV output changes meaning. */
#define LC_SCHEMA_VERSION 2

struct ev_progress {
    enum run_phase phase;
    int iter, total;
};

/* A rep's time estimated before it runs: the rank's FLOPs (the mask's exact area) over a rate
 * for the kernel on this device, and where the rate came from. */
struct ev_estimate {
    double rep_s, flops, flops_per_s;
    char basis[96]; /* "measured here on a 2K full mask", "calibration of NVIDIA H200" */
};
/* "~3.4 min a rep (7.03e+13 FLOP at 21.2 GFLOP/s, measured here on ...)". */
void event_estimate_describe(const struct ev_estimate *e, char *buf, size_t len);

/* Times are ns on the worker's clock corrected to rank 0's (see profiling's clock sync). */
struct interval {
    int64_t start_ns, end_ns;
    uint8_t kind;      /* enum interval_kind */
    int16_t stream;    /* CUDA stream id, or 0 for the host thread */
    int32_t cp_step;   /* -1 outside CP */
    int32_t iter;      /* timed iteration it belongs to */
    uint32_t correlation;
    uint32_t grid[3], block[3];
    uint64_t bytes;    /* memcpy / communication payload */
    /* The host call that issued the work (cudaLaunchKernel, cudaMemcpyAsync, ...): its start and
     * end, 0 when not recorded. Work the host runs itself (CPU kernels, MPI transfers) is issued
     * as it starts: launch_ns = launch_end_ns = start_ns. */
    int64_t launch_ns, launch_end_ns;
    char name[LC_IV_NAME_LEN];
    bool simulated; /* predicted by `longca model`, not measured */
};

struct counter_sample {
    int64_t t_ns;
    char metric[64]; /* ncu's metric name */
    double value;
};

struct event {
    enum event_type type;
    int run_id; /* -1 where not about a run */
    int rank;   /* 0 = front end; 1..N workers; -1 = merged over ranks */
    int64_t t_ns;
    union {
        struct ev_hello hello;
        struct ev_session session;
        struct run_spec spec; /* EV_RUN_QUEUED */
        struct ev_progress progress;
        struct ev_estimate estimate;
        struct run_result result; /* EV_RESULT, EV_RUN_DONE */
        struct { enum lc_status status; char message[LC_ERRMSG_LEN]; } error; /* EV_ERROR, EV_WORKER_LOST */
    } u;
    /* EV_INTERVALS / EV_COUNTERS payloads, owned by the event (event_free releases them). */
    struct interval *intervals;
    int n_intervals;
    struct counter_sample *samples;
    int n_samples;
};

void event_init(struct event *ev, enum event_type type, int run_id, int rank);
void event_free(struct event *ev);
/* Deep copy (payload arrays duplicated). */
void event_copy(struct event *dst, const struct event *src);

int64_t lc_now_ns(void); /* CLOCK_REALTIME, the clock CUPTI uses by default */

/* A run's outcome as its events settle it, the one rule of every reader of the stream (view,
 * diff, the TUI): the front end's EV_RUN_DONE (its ranks merged) is final. Before it, an
 * EV_ERROR that is a failure settles the run as failed (live, or where a capture lost its
 * run_done), and stays its cause when the run_done fails too; an unsupported run or one out of
 * memory is an outcome to record, which its run_done carries. Starts zeroed. */
struct run_outcome {
    bool known, final;
    int rank;                 /* the worker whose EV_ERROR settled it; 0: none or the front end */
    struct run_result result; /* for an EV_ERROR, its status and bare reason */
};
/* Folds one event into its run's outcome; true when the outcome changed. */
bool event_run_outcome(const struct event *ev, struct run_outcome *o);
/* The outcome as a results row: a worker's reason named "rank N: reason". */
void run_outcome_result(const struct run_outcome *o, struct run_result *out);

/* A sink receives events in order: the capture writer, the table printer, the TUI model. */
struct event_sink {
    void (*emit)(void *ctx, const struct event *ev);
    void *ctx;
};

#endif
