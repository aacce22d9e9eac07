/* The front end's main loop (live session or capture replay): never blocks. Each turn waits
 * at most 50 ms for a key, takes whatever events the workers sent, and redraws only when
 * something changed (wnoutrefresh on each window, one doupdate). */
#define _POSIX_C_SOURCE 200809L
#include <curses.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/io/capture.h"
#include "cli/commands.h"
#include "core/model/parse.h"
#include "core/io/report.h"
#include "core/io/results_read.h"
#include "core/io/stderr_log.h"
#include "core/session/worker.h"
#include "core/io/config.h"
#include "tui/app.h"
#include "tui/settings.h"
#include "tui/terminal.h"
#include "tui/export.h"
#include "tui/view_print.h"
#include "tui/widgets.h"

static const struct tui_screen *const screens[TUI_SCREEN_COUNT] = {
    &tui_screen_setup, &tui_screen_runs, &tui_screen_timeline, &tui_screen_counters, &tui_screen_scale, &tui_screen_help,
};

enum action { ACT_HELP, ACT_SETUP, ACT_RUNS, ACT_FILTER, ACT_START, ACT_SORT, ACT_CANCEL, ACT_EXPORT, ACT_QUIT, ACT_COUNT };
static const char *const fbar_keys[ACT_COUNT] = {"F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F10"};
static const char *const fbar_labels[ACT_COUNT] = {"Help", "Setup", "Runs", "Filter", "Start", "Sort", "Cancel",
                                                   "Export", "Quit"};
static const char *const tab_keys[TUI_SCREEN_COUNT] = {" 1 ", " 2 ", " 3 ", " 4 ", " 5 ", " 6 "};
static const char *const tab_labels[TUI_SCREEN_COUNT] = {"Setup ", "Runs ", "Timeline ", "Counters ", "Scale ", "Help "};

struct tui_options {
    bool color, mouse;
    int workers;
    const char *capture;
    const char *compare; /* view: results to hold the capture's runs against */
};

/* The terminal: one window per part of the screen, rebuilt on resize. */
struct term {
    struct tui_screen_layout layout;
    WINDOW *title, *tabs, *body, *status, *fbar;
    struct tui_button fbar_buttons[ACT_COUNT], tab_buttons[TUI_SCREEN_COUNT];
    unsigned drawn_generation, drawn_setup;
    bool dirty;
    SCREEN *screen;
    FILE *tty; /* /dev/tty when stdin is not the terminal (rank 0 under mpirun); else NULL */
    pid_t saved_foreground; /* the terminal's foreground group before we took it; 0 = untouched */
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void term_free_windows(struct term *t)
{
    WINDOW **wins[] = {&t->title, &t->tabs, &t->body, &t->status, &t->fbar};
    for (size_t i = 0; i < sizeof(wins) / sizeof(wins[0]); i++)
        if (*wins[i]) {
            delwin(*wins[i]);
            *wins[i] = NULL;
        }
}

static WINDOW *window_for(const struct tui_rect *r)
{
    return r->h > 0 && r->w > 0 ? newwin(r->h, r->w, r->y, r->x) : NULL;
}

static void term_layout(struct term *t)
{
    term_free_windows(t);
    int rows, cols;
    getmaxyx(stdscr, rows, cols);
    tui_layout_screen(rows, cols, &t->layout);
    struct tui_screen_layout *l = &t->layout;
    if (!l->too_small) {
        t->title = window_for(&l->title);
        t->tabs = window_for(&l->tabs);
        t->status = window_for(&l->status);
        t->fbar = window_for(&l->fbar);
    }
    t->body = window_for(&l->body);
    tui_layout_buttons(fbar_keys, fbar_labels, ACT_COUNT, cols, 1, t->fbar_buttons);
    tui_layout_buttons(tab_keys, tab_labels, TUI_SCREEN_COUNT, cols, 1, t->tab_buttons);
    t->dirty = true;
}

/* Makes group pgrp the terminal's foreground (SIGTTOU blocked: we may be in the background). */
static void set_foreground(int fd, pid_t pgrp)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTTOU);
    sigprocmask(SIG_BLOCK, &block, &old);
    tcsetpgrp(fd, pgrp);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static bool term_start(struct term *t, const struct tui_options *opt)
{
    memset(t, 0, sizeof(*t));
    bool own;
    FILE *f = tui_open_terminal(&own);
    if (!f) return false;
    t->tty = own ? f : NULL;
    /* mpirun starts rank 0 outside the terminal's foreground group, where reading keys fails;
     * take the foreground for the session and give it back at the end. */
    if (own) {
        pid_t fg = tcgetpgrp(fileno(f));
        if (fg > 0 && fg != getpgrp()) {
            t->saved_foreground = fg;
            set_foreground(fileno(f), getpgrp());
        }
    }
    t->screen = newterm(NULL, f, own ? f : stdin);
    if (!t->screen) {
        if (t->tty) fclose(t->tty);
        return false;
    }
    set_term(t->screen);
    raw(); /* Ctrl-C arrives as a key: quit cleanly, never leave workers behind */
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);
    timeout(50);
    tui_theme_init(opt->color);
    if (opt->mouse) {
        mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
        mouseinterval(0);
    }
    term_layout(t);
    return true;
}

static void term_stop(struct term *t)
{
    term_free_windows(t);
    endwin();
    delscreen(t->screen);
    if (t->saved_foreground > 0) set_foreground(fileno(t->tty), t->saved_foreground);
    if (t->tty) fclose(t->tty);
}

static void draw_title(WINDOW *w, int width, const struct tui_app *app)
{
    werase(w);
    tui_fill(w, 0, 0, width, TUI_ROLE_TITLE);
    const struct tui_model *m = &app->model;
    char right[96];
    int done = tui_model_count(m, TUI_RUN_DONE) + tui_model_count(m, TUI_RUN_FAILED) +
               tui_model_count(m, TUI_RUN_CANCELLED);
    snprintf(right, sizeof(right), " runs %d/%d%s ", done, m->n_runs,
             tui_model_current(m) ? " running" : m->sweep_done ? " done" : "");
    int rw = (int)strlen(right);
    char head[64], path[sizeof app->capture];
    if (app->session)
        snprintf(head, sizeof head, " longca  live, %d worker%s  capture: ", m->n_workers, m->n_workers == 1 ? "" : "s");
    else
        snprintf(head, sizeof head, " longca view  ");
    tui_fit_path(app->capture, width - rw - (int)strlen(head) - 1, path, sizeof path);
    tui_putf(w, 0, 0, width - rw, TUI_ROLE_TITLE, "%s%s", head, path);
    tui_put_right(w, 0, 0, width, TUI_ROLE_TITLE, right);
    wnoutrefresh(w);
}

static void draw_status(WINDOW *w, int width, const struct tui_app *app)
{
    werase(w);
    if (app->filter_editing)
        tui_putf(w, 0, 0, width, TUI_ROLE_WARN, "Filter: %s_   (Enter keep, Esc clear)", app->filter);
    else if (app->message[0])
        tui_put(w, 0, 0, width, app->message_error ? TUI_ROLE_FAIL : TUI_ROLE_OK, app->message);
    else if (app->filter[0] && app->screen == TUI_SCREEN_RUNS)
        tui_putf(w, 0, 0, width, TUI_ROLE_DIM, "filter \"%s\" (/ to change)   %s", app->filter,
                 screens[app->screen]->hint);
    else
        tui_put(w, 0, 0, width, TUI_ROLE_DIM, screens[app->screen]->hint);
    wnoutrefresh(w);
}

static void draw_all(struct term *t, struct tui_app *app)
{
    const struct tui_screen_layout *l = &t->layout;
    /* stdscr is never drawn on, but a resize touches it: refreshing it here (a no-op otherwise)
     * stops getch's implicit refresh of stdscr from blanking the screen afterwards. */
    wnoutrefresh(stdscr);
    if (l->too_small) {
        werase(t->body);
        tui_putf(t->body, 0, 0, l->cols, TUI_ROLE_FAIL, "too small: %dx%d < %dx%d; q quits", l->cols,
                 l->rows, TUI_MIN_COLS, TUI_MIN_ROWS);
        wnoutrefresh(t->body);
        doupdate();
        return;
    }
    draw_title(t->title, l->cols, app);
    werase(t->tabs);
    tui_draw_buttons(t->tabs, 0, t->tab_buttons, tab_keys, tab_labels, TUI_SCREEN_COUNT, app->screen, true);
    wnoutrefresh(t->tabs);
    werase(t->body);
    struct tui_rect body = {0, 0, l->body.h, l->body.w};
    screens[app->screen]->draw(t->body, &body, app);
    wnoutrefresh(t->body);
    draw_status(t->status, l->cols, app);
    werase(t->fbar);
    tui_draw_buttons(t->fbar, 0, t->fbar_buttons, fbar_keys, fbar_labels, ACT_COUNT, -1, false);
    wnoutrefresh(t->fbar);
    doupdate();
}

static void run_action(struct tui_app *app, enum action a)
{
    switch (a) {
    case ACT_HELP: app->screen = TUI_SCREEN_HELP; break;
    case ACT_SETUP: app->screen = TUI_SCREEN_SETUP; break;
    case ACT_RUNS: app->screen = TUI_SCREEN_RUNS; break;
    case ACT_FILTER:
        app->screen = TUI_SCREEN_RUNS;
        app->filter_editing = true;
        break;
    case ACT_START: tui_app_start_sweep(app); break;
    case ACT_SORT:
        app->screen = TUI_SCREEN_RUNS;
        app->sort_key = (enum tui_sort_key)((app->sort_key + 1) % TUI_SORT_KEY_COUNT);
        /* Faster first: short times, high throughput, small memory. */
        app->sort_desc = app->sort_key == TUI_SORT_TFLOPS;
        tui_app_say(app, false, "sorted by %s", tui_sort_key_name(app->sort_key));
        break;
    case ACT_CANCEL: tui_app_cancel(app); break;
    case ACT_EXPORT: tui_app_export(app); break;
    case ACT_QUIT: app->quit = true; break;
    case ACT_COUNT: break;
    }
}

static void filter_key(struct tui_app *app, int ch)
{
    size_t n = strlen(app->filter);
    if (ch == 27) {
        app->filter[0] = 0;
        app->filter_editing = false;
    } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        app->filter_editing = false;
    } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (n > 0) app->filter[n - 1] = 0;
    } else if (ch >= 32 && ch < 127 && n + 1 < sizeof(app->filter)) {
        app->filter[n] = (char)ch;
        app->filter[n + 1] = 0;
    }
    if (app->picked_run >= 0)
        tui_app_pick_row(app, 0); /* what the Timeline shows stays the run under the cursor */
    else
        app->runs_sel = 0;
}

static void mouse_event(struct term *t, struct tui_app *app)
{
    MEVENT ev;
    if (getmouse(&ev) != OK) return;
    const struct tui_screen_layout *l = &t->layout;
    if (ev.bstate & (BUTTON4_PRESSED | BUTTON5_PRESSED)) {
        int key = ev.bstate & BUTTON4_PRESSED ? KEY_UP : KEY_DOWN;
        for (int i = 0; i < 3; i++) screens[app->screen]->key(app, key);
        return;
    }
    if (!(ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)) || l->too_small) return;
    if (tui_rect_contains(&l->fbar, ev.y, ev.x)) {
        int b = tui_button_at(t->fbar_buttons, ACT_COUNT, ev.x);
        if (b >= 0) run_action(app, (enum action)b);
    } else if (tui_rect_contains(&l->tabs, ev.y, ev.x)) {
        int b = tui_button_at(t->tab_buttons, TUI_SCREEN_COUNT, ev.x);
        if (b >= 0) app->screen = (enum tui_screen_id)b;
    } else if (tui_rect_contains(&l->body, ev.y, ev.x) && screens[app->screen]->click) {
        struct tui_rect body = {0, 0, l->body.h, l->body.w};
        screens[app->screen]->click(app, &body, ev.y - l->body.y, ev.x - l->body.x);
    }
}

static void handle_key(struct term *t, struct tui_app *app, int ch)
{
    t->dirty = true;
    if (ch == KEY_RESIZE) {
        term_layout(t);
        return;
    }
    if (ch == KEY_MOUSE) {
        mouse_event(t, app);
        return;
    }
    app->message[0] = 0; /* a key press acknowledges the last message */
    if (app->filter_editing) {
        filter_key(app, ch);
        return;
    }
    if (app->setup.typing) { /* a plugin file name on Setup: every key is text */
        screens[TUI_SCREEN_SETUP]->key(app, ch);
        return;
    }
    if (ch >= KEY_F(1) && ch <= KEY_F(8)) {
        run_action(app, (enum action)(ch - KEY_F(1)));
        return;
    }
    switch (ch) {
    case 'q':
    case 3: /* Ctrl-C */
    case KEY_F(10): run_action(app, ACT_QUIT); return;
    case '?': run_action(app, ACT_HELP); return;
    case '/': run_action(app, ACT_FILTER); return;
    case 'r': run_action(app, ACT_START); return;
    case 's': run_action(app, ACT_SORT); return;
    case 'c': run_action(app, ACT_CANCEL); return;
    case 'e': run_action(app, ACT_EXPORT); return;
    case 'I':
        app->sort_desc = !app->sort_desc;
        return;
    case '\t': app->screen = (enum tui_screen_id)((app->screen + 1) % TUI_SCREEN_COUNT); return;
    case KEY_BTAB: app->screen = (enum tui_screen_id)((app->screen + TUI_SCREEN_COUNT - 1) % TUI_SCREEN_COUNT); return;
    case 12: /* Ctrl-L */
        clearok(curscr, TRUE);
        return;
    }
    if (screens[app->screen]->key(app, ch)) return;
    if (ch >= '1' && ch < '1' + TUI_SCREEN_COUNT) app->screen = (enum tui_screen_id)(ch - '1');
}

/* The loop both front ends share; returns when the user quits (or a signal asks us to), false
 * when the terminal could not be started. */
static bool main_loop(struct tui_app *app, const struct tui_options *opt)
{
    struct term t;
    if (!term_start(&t, opt)) return false;
    struct event_sink sink = tui_model_sink(&app->model);
    while (!app->quit && !stop_requested) {
        int ch = getch();
        if (ch != ERR) handle_key(&t, app, ch);
        if (app->session) {
            session_poll(app->session, &sink);
            tui_app_workers_ready(app);
        }
        if (t.dirty || t.drawn_generation != app->model.generation || t.drawn_setup != app->setup.generation) {
            draw_all(&t, app);
            t.dirty = false;
            t.drawn_generation = app->model.generation;
            t.drawn_setup = app->setup.generation;
        }
        /* The Scale screen computes its predictions a frame at a time until it has them all. */
        if (app->screen == TUI_SCREEN_SCALE && app->scale.pending) t.dirty = true;
    }
    term_stop(&t);
    return true;
}

static void app_init(struct tui_app *app)
{
    memset(app, 0, sizeof(*app));
    tui_model_init(&app->model);
    app->zoom = 1;
    app->picked_run = -1;
    app->screen = TUI_SCREEN_SETUP;
}

static void app_free(struct tui_app *app)
{
    free(app->picture.coverage);
    tui_model_free(&app->model);
    results_free(&app->compare);
}

static void usage(FILE *f, bool view)
{
    if (view)
        fprintf(f, "usage: longca view FILE|- [--compare B] [--no-color] [--no-mouse]\n"
                   "  Replays a capture (- : read from stdin) in the terminal UI (no MPI, no GPU). When stdout is not a\n"
                   "  terminal, prints the capture's results table instead.\n"
                   "  --compare B   a column on Runs with each run's median against B's run of the same key\n"
                   "                (B: a capture, --format json or jsonl results; see longca diff)\n"
                   "  NO_COLOR set and not empty: monochrome, as --no-color\n");
    else
        fprintf(f, "usage: longca [--workers N] [--capture FILE] [--no-color] [--no-mouse]\n"
                   "  The live terminal profiler. Under mpirun rank 0 draws and ranks 1..N work; otherwise\n"
                   "  it spawns N workers (default: one per GPU, or 2 CPU workers).\n"
                   "  --workers N     workers to spawn when not under mpirun\n"
                   "  --capture FILE  where the session's events are written (default: in $XDG_STATE_HOME/longca)\n"
                   "  --no-color      monochrome (also when the terminal has no colours)\n"
                   "  --no-mouse      leave the mouse to the terminal\n");
}

/* Parses the flags both front ends take; view takes one positional FILE. Returns -1 to go on,
 * else the exit status. */
static int parse_options(int argc, char **argv, bool view, struct tui_options *opt, const char **file)
{
    memset(opt, 0, sizeof(*opt));
    opt->mouse = true;
    opt->color = !getenv("NO_COLOR") || !getenv("NO_COLOR")[0]; /* no-color.org */
    char err[LC_ERRMSG_LEN];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, view);
            return LC_EXIT_OK;
        } else if (!strcmp(a, "--no-color") || !strcmp(a, "--no-colour")) {
            opt->color = false;
        } else if (!strcmp(a, "--no-mouse")) {
            opt->mouse = false;
        } else if (!view && !strcmp(a, "--workers") && i + 1 < argc) {
            int64_t n;
            if (parse_int("--workers", argv[++i], 1, 4096, &n, err) != LC_OK) {
                fprintf(stderr, "longca: %s\n", err);
                return LC_EXIT_USAGE;
            }
            opt->workers = (int)n;
        } else if (!view && !strcmp(a, "--capture") && i + 1 < argc) {
            opt->capture = argv[++i];
        } else if (view && !strcmp(a, "--compare") && i + 1 < argc) {
            opt->compare = argv[++i];
        } else if (view && (a[0] != '-' || !strcmp(a, "-")) && !*file) { /* - : stdin, as its refusals say */
            *file = a;
        } else {
            return lc_usage_error(view ? "longca view" : "longca", "unknown or incomplete option '%s' (try --help)", a);
        }
    }
    if (view && !*file) {
        fprintf(stderr, "longca view: which capture? usage: longca view FILE\n");
        return LC_EXIT_USAGE;
    }
    return -1;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int cmd_tui(int argc, char **argv)
{
    struct tui_options opt;
    const char *unused = NULL;
    int rc = parse_options(argc, argv, false, &opt, &unused);
    if (rc >= 0) return rc;
    /* Under mpirun every rank but 0 is a worker. */
    int worker_status;
    if (worker_take_rank(&worker_status)) return worker_status;
    bool own;
    FILE *tty = tui_open_terminal(&own);
    if (!tty) {
        fprintf(stderr, "longca: the live profiler needs a terminal; for batch use: longca run (see --help)\n");
        return LC_EXIT_USAGE;
    }
    char why[160];
    bool addressable = tui_terminal_addressable(tty, why, sizeof why);
    if (own) fclose(tty);
    if (!addressable) {
        fprintf(stderr, "longca: %s (the same sweep headless: longca run)\n", why);
        return LC_EXIT_USAGE;
    }
    struct session_options so = {
        .workers = opt.workers, .capture_path = opt.capture, .lost_after_s = 0, .self_path = argv[0]};
    static struct tui_app app;
    app_init(&app);
    char err[LC_ERRMSG_LEN];
    /* While the TUI owns the terminal, what MPI, its daemons and the workers print would tear
     * the screen: it goes to a file, named at exit when not empty. */
    struct stderr_log log;
    stderr_log_open(&log);
    if (session_open(&so, &app.session, err) != LC_OK) {
        stderr_log_close(&log, "longca");
        fprintf(stderr, "longca: %s\n", err);
        app_free(&app);
        return LC_EXIT_FAILED;
    }
    snprintf(app.capture, sizeof(app.capture), "%s", session_capture_path(app.session));
    app.workers = session_worker_count(app.session);
    tui_setup_init(&app.setup, app.workers, false);
    /* Setup's last choices and the colour, from the settings file (a bad one is named, not fatal). */
    char settings_path[4096];
    bool settings = config_path(settings_path, sizeof settings_path, err) == LC_OK;
    if (settings && config_load(settings_path, &app.settings, err) != LC_OK)
        tui_app_say(&app, true, "settings not read: %s", err);
    if (settings && tui_settings_load_libs(&app.settings, &app.setup, err) != LC_OK)
        tui_app_say(&app, true, "settings: %s", err);
    tui_settings_apply(&app.settings, &app.setup);
    if (!tui_settings_color(&app.settings)) opt.color = false;
    catch_stop_signals();
    bool drew = main_loop(&app, &opt);
    if (session_busy(app.session)) session_cancel(app.session);
    enum lc_status closed = session_close(app.session, err);
    stderr_log_close(&log, "longca");
    if (drew && settings) { /* kept whole or not at all */
        tui_settings_store(&app.settings, &app.setup, tui_settings_color(&app.settings));
        char not_saved[LC_ERRMSG_LEN]; /* err still holds session_close's reason */
        if (config_save(settings_path, &app.settings,
                        "# longca's settings: Setup's last choices (counter mode included) and colour = on|off.\n"
                        "# Written when the terminal UI closes.\n",
                        not_saved) == LC_OK)
            printf("longca: Setup's choices saved in %s\n", settings_path);
        else
            fprintf(stderr, "longca: settings not saved: %s\n", not_saved);
    }
    rc = drew ? LC_EXIT_OK : LC_EXIT_FAILED;
    if (!drew) fprintf(stderr, "longca: cannot start the terminal (TERM=%s)\n", getenv("TERM") ? getenv("TERM") : "");
    if (closed != LC_OK) {
        fprintf(stderr, "longca: %s\n", err);
        rc = LC_EXIT_FAILED;
    } else {
        printf("longca: capture written to %s\n", app.capture);
    }
    app_free(&app);
    return rc;
}

static void capture_event(void *ctx, const struct event *ev)
{
    tui_model_apply(ctx, ev);
}

int cmd_view(int argc, char **argv)
{
    struct tui_options opt;
    const char *file = NULL;
    int rc = parse_options(argc, argv, true, &opt, &file);
    if (rc >= 0) return rc;
    static struct tui_app app;
    app_init(&app);
    char err[LC_ERRMSG_LEN];
    long truncated_at = 0;
    enum lc_status st = capture_read(file, capture_event, &app.model, &truncated_at, err);
    if (st == LC_OK && app.model.dropped)
        st = lc_fail(err, LC_ERR_OOM, "%s: out of memory holding the capture", file);
    if (st != LC_OK) {
        fprintf(stderr, "longca view: %s\n", err);
        app_free(&app);
        return lc_status_exit(st);
    }
    if (truncated_at) {
        snprintf(app.model.note, sizeof(app.model.note), "capture truncated at line %ld: showing what precedes", truncated_at);
        lc_print_error("longca view", "%s: truncated at line %ld (the writer stopped mid-line); showing what precedes",
                       file, truncated_at);
    }
    if (opt.compare && (st = results_read(opt.compare, &app.compare, err)) != LC_OK) {
        lc_print_error("longca view", "--compare: %s", err);
        app_free(&app);
        return lc_status_exit(st);
    }
    snprintf(app.capture, sizeof(app.capture), "%s", file);
    app.screen = TUI_SCREEN_RUNS;
    /* The settings' colour choice holds here too (view never writes the settings back). */
    char settings_path[4096], not_read[LC_ERRMSG_LEN];
    if (config_path(settings_path, sizeof settings_path, not_read) == LC_OK &&
        config_load(settings_path, &app.settings, not_read) == LC_OK && !tui_settings_color(&app.settings))
        opt.color = false;
    tui_setup_init(&app.setup, app.model.n_workers, !tui_model_cpu_only(&app.model));
    char why[160];
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        rc = view_print_results(&app.model, &app.compare);
    } else if (!tui_terminal_addressable(stdout, why, sizeof why)) {
        fprintf(stderr, "longca view: %s (the results table: longca view FILE | cat)\n", why);
        rc = LC_EXIT_USAGE;
    } else {
        catch_stop_signals();
        rc = LC_EXIT_OK;
        if (!main_loop(&app, &opt)) {
            fprintf(stderr, "longca view: cannot start the terminal (TERM=%s)\n", getenv("TERM") ? getenv("TERM") : "");
            rc = LC_EXIT_FAILED;
        }
    }
    app_free(&app);
    return rc;
}
