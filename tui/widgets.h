/* Drawing pieces the screens share: attributes by role (colour, 8-colour or monochrome),
 * clipped text, the function bar and tabs, progress bars, sparklines, time axes, tables and the
 * mask picture. Everything here draws into a window and keeps inside the width it is given. */
#ifndef LC_TUI_WIDGETS_H
#define LC_TUI_WIDGETS_H

#include <curses.h>
#include <stdbool.h>
#include <stdint.h>

#include "tui/layout.h"

enum tui_role {
    TUI_ROLE_NORMAL = 0,
    TUI_ROLE_TITLE,
    TUI_ROLE_TAB,
    TUI_ROLE_TAB_ACTIVE,
    TUI_ROLE_FKEY,
    TUI_ROLE_FLABEL,
    TUI_ROLE_HEADER,
    TUI_ROLE_SELECTED,
    TUI_ROLE_CURSOR,  /* a cursor in a pane without the focus */
    TUI_ROLE_OK,
    TUI_ROLE_FAIL,
    TUI_ROLE_WARN,
    TUI_ROLE_DIM,
    TUI_ROLE_COMPUTE,
    TUI_ROLE_COMM,
    TUI_ROLE_OVERLAP,
    TUI_ROLE_MEMORY,
    TUI_ROLE_COUNT
};

/* After initscr: colour when wanted and the terminal has it, else attributes only. */
void tui_theme_init(bool want_color);
attr_t tui_attr(enum tui_role role);

/* text at (y, x), at most w columns, in role; returns the columns written. */
int tui_put(WINDOW *win, int y, int x, int w, enum tui_role role, const char *text);
int tui_putf(WINDOW *win, int y, int x, int w, enum tui_role role, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* text word-wrapped into w columns over at most rows rows from (y, x); returns the rows used.
 * Text that needs more rows ends its last row with "..." rather than stop mid-line unmarked. */
int tui_put_wrapped(WINDOW *win, int y, int x, int w, int rows, enum tui_role role, const char *text);
/* Right-aligned in [x, x + w). */
void tui_put_right(WINDOW *win, int y, int x, int w, enum tui_role role, const char *text);
/* Blanks w columns in role (a highlighted row, a title bar). */
void tui_fill(WINDOW *win, int y, int x, int w, enum tui_role role);

/* Buttons laid out by tui_layout_buttons: key part, then label part. active >= 0 marks one
 * (the current tab). */
void tui_draw_buttons(WINDOW *win, int y, const struct tui_button *b, const char *const *keys,
                      const char *const *labels, int n, int active, bool tabs);

/* "[#######.....] label" over w columns, frac in [0, 1]. */
void tui_draw_bar(WINDOW *win, int y, int x, int w, double frac, const char *label);
/* The last w values scaled to [lo, hi] as ASCII levels. */
void tui_draw_sparkline(WINDOW *win, int y, int x, int w, const double *values, int n, double lo, double hi);
/* Tick marks on row y and their labels on row y + 1 for the view from t0 to t1 ns; labels are
 * ms from origin_ns (the run's start), so a panned or zoomed view keeps the run's times. */
void tui_draw_axis(WINDOW *win, int y, int x, int w, int64_t origin_ns, int64_t t0_ns, int64_t t1_ns);
/* n x n cells of coverage in [0, 1] (row-major, from mask_picture), 2 columns per cell. */
void tui_draw_picture(WINDOW *win, int y, int x, int n, const float *coverage);

/* A path in at most w columns: whole when it fits, else "..." and its end (the file's name), so a
 * cut path never reads as a whole one. */
void tui_fit_path(const char *path, int w, char *buf, size_t len);

/* Compact figures for table cells: "1234", "12.3", "0.0412", "n/a". */
void tui_format_number(double v, char *buf, size_t len);

#endif
