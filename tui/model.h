/* The front end's state, fed only by events (core/model/event.h): the workers, the runs of the
 * sweep with their per-rank progress and results, each run's timeline intervals (bounded) and
 * the counter samples. No ncurses here: tests feed it hand-made events, and `longca view` feeds
 * it a capture. */
#ifndef LC_TUI_MODEL_H
#define LC_TUI_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model/event.h"

struct tui_worker {
    int rank;
    struct ev_hello hello;
    bool lost, left;
    char reason[LC_ERRMSG_LEN]; /* why it was lost */
};

enum tui_run_state { TUI_RUN_QUEUED = 0, TUI_RUN_RUNNING, TUI_RUN_DONE, TUI_RUN_FAILED, TUI_RUN_CANCELLED };
const char *tui_run_state_name(enum tui_run_state s);

struct tui_rank_progress {
    bool started, finished;
    enum run_phase phase;
    int iter, total;
};

struct tui_run {
    int id;
    bool have_spec; /* false when the capture lost its EV_RUN_QUEUED */
    struct run_spec spec;
    enum tui_run_state state;
    struct tui_rank_progress *ranks; /* index rank - 1; n_ranks = workers the run uses */
    int n_ranks;
    struct run_outcome outcome; /* as its events settle it (event_run_outcome); the fields below show it */
    bool have_result; /* from EV_RUN_DONE */
    struct run_result result; /* merged over ranks (rank -1), or the only rank's */
    int error_rank;           /* the worker that failed; 0 = none or the front end */
    char error[LC_ERRMSG_LEN];
    bool timeline_dropped; /* its intervals were let go to keep the timelines' bound */
    bool has_timeline;     /* it sent intervals: a new run's timeline is made without a search */
    struct ev_estimate estimate; /* said before reps of over a minute (rep_s 0: none) */
};

/* One rank's intervals of one run. */
struct tui_lane {
    int rank;
    struct interval *items;
    int n, cap;
};

/* One run's intervals, a lane per rank. */
struct tui_timeline {
    int run_id;
    struct tui_lane *lanes;
    int n_lanes;
    int64_t t0_ns, t1_ns; /* over every lane */
    int64_t n_items;      /* over every lane */
    bool truncated;       /* the run alone passed the bound: its later intervals were not kept */
};

/* The intervals kept over every run's timeline (112 bytes each: about 112 MB); past it the
 * oldest runs' timelines go, so a long sweep or a huge capture never grows without end. */
#define TUI_TIMELINE_MAX_ITEMS ((int64_t)1 << 20)

/* Per-rank progress kept over every run (20 bytes each): a capture naming huge ranks gets
 * no progress for them rather than a huge allocation. */
#define TUI_MAX_RANK_SLOTS ((int64_t)1 << 22)

#define TUI_SERIES_LEN 64

/* The recent values of one counter on one rank, oldest first (a ring). */
struct tui_series {
    int rank;
    char metric[64];
    double values[TUI_SERIES_LEN];
    int n, head;
    double last;
};

struct tui_model {
    struct tui_worker *workers; /* sorted by rank */
    int n_workers;
    struct tui_run *runs; /* in queue order */
    int n_runs, cap_runs;
    int *run_index;         /* open addressing: run id -> index in runs + 1 (0 = empty) */
    int run_index_cap;      /* a power of two, at least twice n_runs */
    int64_t rank_slots;     /* progress slots over every run, bounded by TUI_MAX_RANK_SLOTS */
    struct tui_timeline *timelines; /* of the runs that sent intervals, oldest first */
    int n_timelines, cap_timelines;
    int64_t timeline_items;     /* kept over every timeline */
    int64_t max_timeline_items; /* the bound (TUI_TIMELINE_MAX_ITEMS; tests lower it) */
    int timelines_dropped;      /* runs whose timeline went to keep the bound */
    struct tui_series *series;
    int n_series, cap_series;
    bool sweep_done;     /* every queued run has an outcome */
    int64_t events;      /* applied so far */
    unsigned generation; /* moves on every change: screens redraw when it does */
    bool dropped;        /* memory ran out and some data was not kept */
    /* The latest note about no run (an error event with run id -1: a GPU recorder running
     * without counters, mpirun without recovery), "rank N: reason". */
    char note[LC_ERRMSG_LEN + 16];
    struct ev_session session; /* what wrote the stream (schema 0: not said, an older capture) */
};

void tui_model_init(struct tui_model *m);
void tui_model_free(struct tui_model *m);
void tui_model_apply(struct tui_model *m, const struct event *ev);
/* A sink that applies every event to m. */
struct event_sink tui_model_sink(struct tui_model *m);

const struct tui_run *tui_model_run(const struct tui_model *m, int run_id);
const struct tui_worker *tui_model_worker(const struct tui_model *m, int rank);
int tui_model_count(const struct tui_model *m, enum tui_run_state state);
/* The run in flight (the first running one), or NULL. */
const struct tui_run *tui_model_current(const struct tui_model *m);
/* The intervals of run_id, or NULL when it sent none or they were dropped. */
const struct tui_timeline *tui_model_timeline(const struct tui_model *m, int run_id);
/* The timeline of the run that last began sending intervals (the live one in a sweep), or NULL. */
const struct tui_timeline *tui_model_latest_timeline(const struct tui_model *m);
/* True when every worker that said hello runs the CPU backend (no counters exist there). */
bool tui_model_cpu_only(const struct tui_model *m);

/* The results table: which runs to show and in what order. */
enum tui_sort_key { TUI_SORT_ID = 0, TUI_SORT_MS, TUI_SORT_TFLOPS, TUI_SORT_MEMORY, TUI_SORT_KEY_COUNT };
const char *tui_sort_key_name(enum tui_sort_key k);

/* Fills idx with indexes into m->runs of the runs whose description contains filter (case
 * blind; NULL or "" keeps all), sorted by key (runs without that figure last); returns the count. */
int tui_model_select(const struct tui_model *m, const char *filter, enum tui_sort_key key, bool descending,
                     int *idx);

/* The short description shown in tables and matched by the filter ("cpu_flash causal 1K h8:2 d64 fp32 fwd"). */
void tui_run_label(const struct tui_run *r, char *buf, size_t len);
/* "1K", "512K", "1M", or the plain number when not a multiple of 1024. */
void tui_format_tokens(int64_t n, char *buf, size_t len);

#endif
