/* Timeline: one run's intervals per rank on a time axis (zoom and pan), and its breakdown per
 * rank with HTA's definitions (profiling/overlap.h computes every figure). The run is the one
 * picked on Runs; before any pick, the latest to send intervals (a sweep's live run). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiling/overlap.h"
#include "tui/app.h"
#include "tui/widgets.h"

enum { KIND_COMPUTE = 1, KIND_COMM = 2, KIND_OTHER = 4 };

/* The time range the axis shows: 1/zoom of the run starting at pan. */
static void view_range(const struct tui_app *app, const struct tui_timeline *tl, int64_t *v0, int64_t *v1)
{
    int64_t span = tl->t1_ns - tl->t0_ns;
    int zoom = app->zoom > 0 ? app->zoom : 1;
    int64_t width = span / zoom > 0 ? span / zoom : 1;
    int64_t start = tl->t0_ns + (int64_t)(app->pan * (double)span);
    if (start + width > tl->t1_ns) start = tl->t1_ns - width;
    if (start < tl->t0_ns) start = tl->t0_ns;
    *v0 = start;
    *v1 = start + width;
}

/* Which kinds touch each of the w columns of one lane. */
static void classify(const struct tui_lane *lane, int64_t v0, int64_t v1, int w, unsigned char *cols)
{
    memset(cols, 0, (size_t)w);
    for (int i = 0; i < lane->n; i++) {
        const struct interval *iv = &lane->items[i];
        if (iv->end_ns <= v0 || iv->start_ns >= v1) continue;
        int c0, c1;
        tui_axis_span(iv->start_ns, iv->end_ns, v0, v1, w, &c0, &c1);
        unsigned char bit = iv->kind == IV_COMPUTE ? KIND_COMPUTE : iv->kind == IV_COMM ? KIND_COMM : KIND_OTHER;
        for (int c = c0; c <= c1; c++) cols[c] |= bit;
    }
}

static void draw_lane(WINDOW *win, int y, int x, int w, int rows, const unsigned char *cols)
{
    for (int c = 0; c < w; c++) {
        unsigned char k = cols[c];
        bool both = (k & KIND_COMPUTE) && (k & KIND_COMM);
        if (rows >= 2) {
            /* Upper row: compute (or memory/other); lower row: communication. */
            const char *up = k & KIND_COMPUTE ? "#" : k & KIND_OTHER ? "m" : " ";
            tui_put(win, y, x + c, 1, both ? TUI_ROLE_OVERLAP : k & KIND_COMPUTE ? TUI_ROLE_COMPUTE : TUI_ROLE_MEMORY, up);
            tui_put(win, y + 1, x + c, 1, both ? TUI_ROLE_OVERLAP : TUI_ROLE_COMM, k & KIND_COMM ? "~" : " ");
        } else {
            const char *ch = both ? "X" : k & KIND_COMPUTE ? "#" : k & KIND_COMM ? "~" : k & KIND_OTHER ? "m" : " ";
            enum tui_role role = both ? TUI_ROLE_OVERLAP
                                 : k & KIND_COMPUTE ? TUI_ROLE_COMPUTE
                                 : k & KIND_COMM    ? TUI_ROLE_COMM
                                                    : TUI_ROLE_MEMORY;
            tui_put(win, y, x + c, 1, role, ch);
        }
    }
}

static void draw_lanes(WINDOW *win, const struct tui_timeline_layout *l, int rows_per_lane, struct tui_app *app,
                       const struct tui_timeline *tl)
{
    const struct tui_rect *r = &l->lanes;
    const struct tui_run *run = tui_model_run(&app->model, tl->run_id);
    char label[160] = "";
    if (run) tui_run_label(run, label, sizeof(label));
    int64_t v0, v1;
    view_range(app, tl, &v0, &v1);
    tui_putf(win, r->y, r->x, r->w, tl->truncated ? TUI_ROLE_WARN : TUI_ROLE_HEADER, "Run %d [%.3f of %.3f ms] %s%s",
             tl->run_id, (double)(v1 - v0) / 1e6, (double)(tl->t1_ns - tl->t0_ns) / 1e6, label,
             tl->truncated ? " (truncated: past the intervals kept)" : "");
    int w = r->w - l->label_w;
    if (w < 1) return;
    unsigned char *cols = malloc((size_t)w);
    if (!cols) return;
    int fit = (r->h - 1) / rows_per_lane;
    app->lanes_top = tui_clamp(app->lanes_top, 0, tl->n_lanes - fit > 0 ? tl->n_lanes - fit : 0);
    for (int i = 0; i < fit && app->lanes_top + i < tl->n_lanes; i++) {
        const struct tui_lane *lane = &tl->lanes[app->lanes_top + i];
        int y = r->y + 1 + i * rows_per_lane;
        tui_putf(win, y, r->x, l->label_w, TUI_ROLE_NORMAL, "rank %d", lane->rank);
        if (rows_per_lane >= 2) tui_put(win, y + 1, r->x, l->label_w, TUI_ROLE_DIM, "  comm");
        classify(lane, v0, v1, w, cols);
        draw_lane(win, y, r->x + l->label_w, w, rows_per_lane, cols);
    }
    free(cols);
    tui_draw_axis(win, l->axis.y, l->axis.x + l->label_w, w, tl->t0_ns, v0, v1);
    tui_put(win, l->axis.y + 1, l->axis.x, l->label_w, TUI_ROLE_DIM, "t (ms)");
}

#define BD_LABEL_W 9
#define BD_COL_W 10

static void put_col(WINDOW *win, int y, const struct tui_rect *r, int col, enum tui_role role, const char *text)
{
    int x = BD_LABEL_W + col * BD_COL_W;
    if (x + BD_COL_W > r->w) return;
    tui_put_right(win, y, r->x + x, BD_COL_W, role, text);
}

static void draw_breakdown(WINDOW *win, const struct tui_rect *r, const struct tui_app *app,
                           const struct tui_timeline *tl)
{
    static const char *const heads[] = {"comp-only", "comm-only", "overlap", "mem/other", "idle", "span", "HTA ovl%"};
    tui_fill(win, r->y, r->x, r->w, TUI_ROLE_HEADER);
    tui_put(win, r->y, r->x, BD_LABEL_W, TUI_ROLE_HEADER, "breakdown");
    for (int c = 0; c < 7; c++) put_col(win, r->y, r, c, TUI_ROLE_HEADER, heads[c]);
    int y = r->y + 1;
    for (int i = app->lanes_top; i < tl->n_lanes && y + 1 < r->y + r->h; i++) {
        const struct tui_lane *lane = &tl->lanes[i];
        struct prof_breakdown b;
        char err[LC_ERRMSG_LEN];
        if (prof_breakdown_compute(lane->items, lane->n, &b, err) != LC_OK) {
            tui_putf(win, y++, r->x, r->w, TUI_ROLE_FAIL, "rank %d: %s", lane->rank, err);
            continue;
        }
        const int64_t ns[6] = {b.compute_only_ns, b.comm_only_ns, b.overlapped_ns, b.other_only_ns, b.idle_ns,
                               b.span_ns};
        const double pct[6] = {b.compute_only_pct, b.comm_only_pct, b.overlapped_pct, b.other_only_pct, b.idle_pct,
                               b.span_ns > 0 ? 100.0 : 0.0};
        char text[32];
        tui_putf(win, y, r->x, BD_LABEL_W, TUI_ROLE_NORMAL, "rank %d ms", lane->rank);
        for (int c = 0; c < 6; c++) {
            snprintf(text, sizeof(text), "%.3f", (double)ns[c] / 1e6);
            put_col(win, y, r, c, c == 2 ? TUI_ROLE_OVERLAP : TUI_ROLE_NORMAL, text);
        }
        y++;
        tui_put(win, y, r->x, BD_LABEL_W, TUI_ROLE_NORMAL, "       %");
        for (int c = 0; c < 6; c++) {
            snprintf(text, sizeof(text), "%.2f", pct[c]);
            put_col(win, y, r, c, c == 2 ? TUI_ROLE_OVERLAP : TUI_ROLE_NORMAL, text);
        }
        put_col(win, y, r, 6, TUI_ROLE_OVERLAP, prof_pct_format(b.hta_overlap_pct, text, (int)sizeof(text)));
        y++;
    }
    if (y < r->y + r->h)
        tui_put(win, y, r->x, r->w, TUI_ROLE_DIM,
                "HTA-compatible: ovl% = overlap / union(comm); the five buckets sum to the span");
}

/* The run to show: picked on Runs, else the latest to send intervals; -1 when none. */
static int shown_run(const struct tui_app *app)
{
    if (app->picked_run >= 0) return app->picked_run;
    const struct tui_timeline *latest = tui_model_latest_timeline(&app->model);
    return latest ? latest->run_id : -1;
}

/* One line on why run_id has nothing to draw; never another run's timeline in its place. */
static void draw_missing(WINDOW *win, const struct tui_rect *r, const struct tui_app *app, int run_id)
{
    const struct tui_run *run = tui_model_run(&app->model, run_id);
    tui_put(win, r->y, r->x, r->w, TUI_ROLE_HEADER, "Timeline");
    if (run_id < 0)
        tui_put(win, r->y + 2, r->x + 2, r->w - 2, TUI_ROLE_DIM,
                "No intervals yet: a run's timeline shows here once it has been timed.");
    else if (run && run->timeline_dropped)
        tui_putf(win, r->y + 2, r->x + 2, r->w - 2, TUI_ROLE_WARN,
                 "Run %d: its intervals were dropped to bound memory (the newest %lld over all runs are kept).",
                 run_id, (long long)app->model.max_timeline_items);
    else
        tui_putf(win, r->y + 2, r->x + 2, r->w - 2, TUI_ROLE_DIM, "Run %d (%s) sent no timeline intervals%s.", run_id,
                 run ? tui_run_state_name(run->state) : "unknown",
                 run && (run->state == TUI_RUN_QUEUED || run->state == TUI_RUN_RUNNING) ? " yet" : "");
    tui_put(win, r->y + 3, r->x + 2, r->w - 2, TUI_ROLE_DIM,
            "Legend: # compute  ~ communication  X both (overlap)  m memory/other");
}

static void draw(WINDOW *win, const struct tui_rect *r, struct tui_app *app)
{
    int run_id = shown_run(app);
    const struct tui_timeline *tl = tui_model_timeline(&app->model, run_id);
    if (!tl || tl->n_lanes == 0) {
        draw_missing(win, r, app, run_id);
        return;
    }
    /* Two rows per rank (compute above communication) when they fit, else one. */
    struct tui_timeline_layout l;
    int rows_per_lane = 2, breakdown_rows = 2 + 2 * tl->n_lanes;
    tui_layout_timeline(r, tl->n_lanes, rows_per_lane, breakdown_rows, &l);
    if (l.lanes_shown < tl->n_lanes) {
        rows_per_lane = 1;
        tui_layout_timeline(r, tl->n_lanes, rows_per_lane, breakdown_rows, &l);
    }
    draw_lanes(win, &l, rows_per_lane, app, tl);
    draw_breakdown(win, &l.breakdown, app, tl);
}

static bool key(struct tui_app *app, int k)
{
    switch (k) {
    case '+':
    case '=':
        if (app->zoom < 1024) app->zoom *= 2;
        return true;
    case '-':
        if (app->zoom > 1) app->zoom /= 2;
        if (app->pan > 1.0 - 1.0 / app->zoom) app->pan = 1.0 - 1.0 / app->zoom;
        return true;
    case KEY_LEFT:
    case 'h':
        app->pan -= 0.25 / app->zoom;
        if (app->pan < 0) app->pan = 0;
        return true;
    case KEY_RIGHT:
    case 'l':
        app->pan += 0.25 / app->zoom;
        if (app->pan > 1.0 - 1.0 / app->zoom) app->pan = 1.0 - 1.0 / app->zoom;
        return true;
    case '0':
        app->zoom = 1;
        app->pan = 0;
        return true;
    }
    int d = tui_key_delta(k, 4);
    if (d) {
        app->lanes_top += d;
        if (app->lanes_top < 0) app->lanes_top = 0;
        return true;
    }
    return false;
}

const struct tui_screen tui_screen_timeline = {
    .name = "Timeline",
    .draw = draw,
    .key = key,
    .click = NULL,
    .hint = "+/- zoom  h/l pan  0 all  jk ranks   # compute  ~ comm  X both  m memory",
};
