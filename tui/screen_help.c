/* Help: the keys, the mouse, what each screen shows, and the definitions behind the numbers. */
#include <stdio.h>

#include "tui/app.h"
#include "tui/widgets.h"

static const char *const lines[] = {
    "#Keys: every action has a letter, an F-key and a button on the bottom bar",
    "  F1 ?        this help               Tab Shift-Tab  next / previous screen",
    "  F2 1        Setup                   F3 2           Runs",
    "  3 4 5 6     Timeline Counters Scale Help   q F10 Ctrl-C  quit (cancels a sweep)",
    "  arrows hjkl move (PgUp PgDn Home)   Enter Space    choose / toggle",
    "  F5 r        start the sweep         F7 c           cancel the sweep",
    "  F4 /        filter runs (Esc ends)  F6 s           sort: run ms TFLOP/s mem",
    "  I           invert the sort         F8 e           export results CSV+JSON",
    "  + - 0       timeline zoom / all     Ctrl-L         redraw",
    "  Mouse: click the bottom bar or a tab, the wheel scrolls (--no-mouse: off).",
    "",
    "#Screens",
    "  Setup     the sweep: kernels, masks and their parameters, sequence lengths,",
    "            heads, head dim, dtype, direction, CP method, GPUs, iterations,",
    "            check; the selected mask drawn as a picture (q down, k across).",
    "  Runs      workers; the run in flight per rank; the results table: ms is",
    "            the median timed iteration, TFLOP/s per GPU (slowest CP rank),",
    "            memory the peak, check the comparison with the CPU reference.",
    "  Timeline  the intervals per rank of the run picked on Runs (before any pick,",
    "            the live or last run) and its breakdown.",
    "  Counters  CUPTI metrics from GPU workers (none on the CPU backend).",
    "  Scale     predicted TFLOP/s per GPU at 2-64 GPUs, per CP method (R: again)",
    "",
    "#Breakdown: Holistic Trace Analysis definitions, per rank",
    "  Intervals of one kind merge into their union (streams count once).",
    "  span       first start to last end of the run's intervals",
    "  comp-only  compute runs, communication does not",
    "  comm-only  communication runs, compute does not",
    "  overlap    both run: union(compute) intersected with union(comm)",
    "  mem/other  only memory copies or other work run",
    "  idle       nothing runs; the five buckets sum to the span (100 %)",
    "  HTA ovl%   overlap / union(comm), HTA's comp_comm_overlap_pctg;",
    "             n/a when the rank does not communicate",
    "",
    "#Files",
    "  Each session writes its events to a capture (path on the title bar).",
    "  longca view FILE replays it here, without MPI or a GPU; longca export",
    "  FILE turns it into a Chrome trace. Export (e) writes the results table",
    "  as CSV and JSON into the current directory and shows the path.",
};

#define N_LINES ((int)(sizeof(lines) / sizeof(lines[0])))

static void draw(WINDOW *win, const struct tui_rect *r, struct tui_app *app)
{
    app->help_top = tui_clamp(app->help_top, 0, N_LINES - r->h > 0 ? N_LINES - r->h : 0);
    for (int i = 0; i < r->h && app->help_top + i < N_LINES; i++) {
        const char *line = lines[app->help_top + i];
        if (line[0] == '#')
            tui_put(win, r->y + i, r->x, r->w, TUI_ROLE_HEADER, line + 1);
        else
            tui_put(win, r->y + i, r->x, r->w, TUI_ROLE_NORMAL, line);
    }
    if (app->capture[0] && r->h > 0 && app->help_top + r->h >= N_LINES && N_LINES < r->h)
        tui_putf(win, r->y + N_LINES, r->x, r->w, TUI_ROLE_DIM, "  capture: %s", app->capture);
}

static bool key(struct tui_app *app, int k)
{
    int d = tui_key_delta(k, 10);
    if (!d) return false;
    app->help_top += d;
    if (app->help_top < 0) app->help_top = 0;
    return true;
}

const struct tui_screen tui_screen_help = {
    .name = "Help",
    .draw = draw,
    .key = key,
    .click = NULL,
    .hint = "j/k scroll   Tab next screen   q quit",
};
