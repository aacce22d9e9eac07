/* The front end as a whole: the model the events build, the Setup choices, the session (absent
 * when replaying a capture), and what each screen remembers (cursor, scroll, filter, sort). */
#ifndef LC_TUI_APP_H
#define LC_TUI_APP_H

#include <curses.h>
#include <stdbool.h>

#include "core/io/config.h"
#include "core/io/results_read.h"
#include "core/session/session.h"
#include "cp/sim.h"
#include "tui/layout.h"
#include "tui/model.h"
#include "tui/setup.h"

enum tui_screen_id {
    TUI_SCREEN_SETUP = 0,
    TUI_SCREEN_RUNS,
    TUI_SCREEN_TIMELINE,
    TUI_SCREEN_COUNTERS,
    TUI_SCREEN_SCALE,
    TUI_SCREEN_HELP,
    TUI_SCREEN_COUNT
};

/* The mask picture of the Setup screen, rebuilt only when what it shows changes. */
struct tui_picture {
    bool valid;
    enum mask_pattern mask;
    int64_t seqlen;
    struct mask_params params;
    int heads_kv, cells;
    float *coverage; /* cells x cells, from mask_picture */
    double density;
    char error[LC_ERRMSG_LEN];
};

/* The Scale screen's predictions (tui/screen_scale.c) for one spec: per method and GPU count,
 * TFLOP/s per GPU (-1: the method refuses it), cells before `next` computed. */
#define TUI_SCALE_METHODS 8
#define TUI_SCALE_GPUS 6
struct tui_scale {
    bool valid, pending;
    struct run_spec base;
    const char *methods[TUI_SCALE_METHODS];
    int n_methods, next;
    double tflops[TUI_SCALE_METHODS][TUI_SCALE_GPUS];
    struct cp_cost cost;
    char source[200];
};

struct tui_app {
    struct tui_model model;
    struct tui_setup setup;
    struct session *session; /* NULL when replaying a capture */
    char capture[4096];      /* live: where events are written; view: the file replayed */
    int workers;             /* live: workers the session has */
    bool setup_for_workers;  /* Setup's defaults follow the workers' backend (after their hello) */
    enum tui_screen_id screen;

    int runs_sel, runs_top;  /* Runs: cursor and first row of the results table */
    int picked_run;          /* the run id the user put the cursor on; -1: none since the sweep began */
    char filter[64];
    bool filter_editing;
    enum tui_sort_key sort_key;
    bool sort_desc;

    int lanes_top;           /* Timeline: first rank lane shown */
    int zoom;                /* 1, 2, 4 ...: the axis shows 1/zoom of the run */
    double pan;              /* left edge of the view, as a fraction of the run */

    int counters_top;
    struct tui_scale scale;
    int help_top;

    struct tui_picture picture;
    struct result_set compare; /* view --compare B: B's results (n = 0: none) */
    struct config settings;    /* live: what the settings file said, saved back at the end */

    char message[LC_ERRMSG_LEN + 128]; /* the status line */
    bool message_error;
    bool quit;
};

/* The status line says fmt (an error in the error colour). */
void tui_app_say(struct tui_app *app, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Once every worker said hello: GPU workers get GPU defaults on Setup (CPU ones already have theirs). */
void tui_app_workers_ready(struct tui_app *app);

/* Puts the Runs cursor on row (clamped) of the results table as filtered and sorted, and picks
 * that row's run: the cursor then stays on it through re-sorts, and the Timeline shows it. */
void tui_app_pick_row(struct tui_app *app, int row);

/* Actions shared by keys and the function bar. */
void tui_app_start_sweep(struct tui_app *app);
void tui_app_cancel(struct tui_app *app);
void tui_app_export(struct tui_app *app);
/* Loads the kernel plugin at path (Setup's Kernel libs) and lists its kernels on Setup; workers
 * load it with the first run of one of them. The outcome on the status line. */
void tui_app_load_kernel_lib(struct tui_app *app, const char *path);

/* Screens: draw into win inside r; a key the screen understands returns true. Drawing only
 * reads the model; it may adjust scroll positions to keep the cursor in view. */
struct tui_screen {
    const char *name;
    void (*draw)(WINDOW *win, const struct tui_rect *r, struct tui_app *app);
    bool (*key)(struct tui_app *app, int key);
    void (*click)(struct tui_app *app, const struct tui_rect *r, int y, int x); /* NULL: clicks ignored */
    const char *hint; /* the status line when there is nothing to say */
};

extern const struct tui_screen tui_screen_setup;
extern const struct tui_screen tui_screen_runs;
extern const struct tui_screen tui_screen_timeline;
extern const struct tui_screen tui_screen_counters;
extern const struct tui_screen tui_screen_scale;
extern const struct tui_screen tui_screen_help;

/* Cursor keys as deltas: up/k -1, down/j +1, page keys by page, home/end to the ends; 0 otherwise. */
int tui_key_delta(int key, int page);

#endif
