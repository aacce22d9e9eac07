/* Layout arithmetic of the front end, kept free of ncurses so it is unit tested: where each
 * part of the screen goes at any terminal size, which table columns fit, where the buttons of
 * the function bar lie (for mouse clicks), scrolling, and time axes. */
#ifndef LC_TUI_LAYOUT_H
#define LC_TUI_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tui_rect {
    int y, x, h, w;
};

bool tui_rect_contains(const struct tui_rect *r, int y, int x);

/* The smallest terminal we draw in; below it only a "terminal too small" line. */
#define TUI_MIN_ROWS 10
#define TUI_MIN_COLS 40

/* Title (one row), tabs (one row), body, status line, function bar (bottom row). */
struct tui_screen_layout {
    int rows, cols;
    bool too_small;
    struct tui_rect title, tabs, body, status, fbar;
};
void tui_layout_screen(int rows, int cols, struct tui_screen_layout *out);

/* Buttons laid left to right: button i is key[i] then label[i] (htop's "F1Help"), gap columns apart.
 * Returns how many fit in width; those past it get w = 0. */
struct tui_button {
    int x, w;
    int key_w; /* columns of the key part */
};
int tui_layout_buttons(const char *const *keys, const char *const *labels, int n, int width, int gap,
                       struct tui_button *out);
/* Index of the button under column x, or -1. */
int tui_button_at(const struct tui_button *b, int n, int x);

/* Table columns: each has a minimum width and a priority (0 = always kept; higher numbers are
 * dropped first when the table is too narrow). One column may grow into the spare width.
 * Fills x and w (w = 0: hidden); returns the columns shown. Columns are 1 space apart. */
struct tui_column {
    int min_w;
    int priority;
    bool grow;
};
int tui_layout_columns(const struct tui_column *cols, int n, int width, int *x, int *w);

/* First row to show so that row `selected` of count stays visible in a window of `visible` rows,
 * moving from `top` as little as possible. */
int tui_scroll_top(int selected, int top, int visible, int count);
/* Clamps a selection to [0, count - 1] (0 when count is 0). */
int tui_clamp(int v, int lo, int hi);

/* Time axes: the column of time t on an axis from t0 to t1 drawn over width columns (clamped to
 * [0, width - 1]); and the column range [*c0, *c1] an interval covers (at least one column). */
int tui_axis_col(int64_t t, int64_t t0, int64_t t1, int width);
void tui_axis_span(int64_t start, int64_t end, int64_t t0, int64_t t1, int width, int *c0, int *c1);
/* A 1-2-5 tick step (in the axis unit) giving at most max_ticks ticks over span. */
double tui_axis_step(double span, int max_ticks);

/* The mask picture: a square of n x n cells drawn 2 columns per cell (terminal cells are about
 * twice as tall as wide) inside rows x cols; returns n (0 when nothing fits). */
int tui_picture_cells(int rows, int cols);

/* Setup screen panes: the field list, the choices of the focused field, the mask picture. */
struct tui_setup_layout {
    struct tui_rect fields, choices, picture;
};
void tui_layout_setup(const struct tui_rect *body, struct tui_setup_layout *out);

/* Runs screen: workers, the runs in flight with per-rank progress, the results table, a detail
 * line for the selected row. The results table gets what the others leave. */
struct tui_runs_layout {
    struct tui_rect workers, progress, table, detail;
};
void tui_layout_runs(const struct tui_rect *body, int n_workers, int n_progress_rows, struct tui_runs_layout *out);

/* Timeline screen: a title row and one lane per rank (rows_per_lane rows each), the axis (2 rows),
 * and the breakdown table, which asks for breakdown_rows and gets at most half the body. */
struct tui_timeline_layout {
    struct tui_rect lanes, axis, breakdown;
    int label_w;    /* columns left of the lanes for "rank N" */
    int lanes_shown; /* lanes that fit */
};
void tui_layout_timeline(const struct tui_rect *body, int n_lanes, int rows_per_lane, int breakdown_rows,
                         struct tui_timeline_layout *out);

#endif
