/* Counters: the hardware counter samples per rank (GPU only: CUPTI), last value and a
 * sparkline of the recent ones. The CPU backend has none, and says so. */
#include <stdio.h>
#include <string.h>

#include "tui/app.h"
#include "tui/widgets.h"

static void draw(WINDOW *win, const struct tui_rect *r, struct tui_app *app)
{
    const struct tui_model *m = &app->model;
    tui_put(win, r->y, r->x, r->w, TUI_ROLE_HEADER, "Counters (ncu metric names: reproduce with ncu --metrics)");
    if (m->n_series == 0) {
        const char *why = m->n_workers > 0 && tui_model_cpu_only(m)
                              ? "Counters: not available on the CPU backend (they come from CUPTI on GPUs)."
                              : "No counter samples yet: GPU workers send them while a run is profiled.";
        tui_put(win, r->y + 2, r->x + 2, r->w - 2, TUI_ROLE_WARN, why);
        return;
    }
    int metric_w = r->w - 8 - 12 - 3 - 24;
    if (metric_w < 16) metric_w = 16;
    int spark_x = 8 + metric_w + 1 + 12 + 2;
    tui_fill(win, r->y + 1, r->x, r->w, TUI_ROLE_HEADER);
    tui_put(win, r->y + 1, r->x, 8, TUI_ROLE_HEADER, "rank");
    tui_put(win, r->y + 1, r->x + 8, metric_w, TUI_ROLE_HEADER, "metric");
    tui_put_right(win, r->y + 1, r->x + 8 + metric_w + 1, 12, TUI_ROLE_HEADER, "last");
    tui_put(win, r->y + 1, r->x + spark_x, r->w - spark_x, TUI_ROLE_HEADER, "recent");
    int visible = r->h - 2;
    app->counters_top = tui_clamp(app->counters_top, 0, m->n_series - visible > 0 ? m->n_series - visible : 0);
    for (int i = 0; i < visible && app->counters_top + i < m->n_series; i++) {
        const struct tui_series *s = &m->series[app->counters_top + i];
        int y = r->y + 2 + i;
        char last[32];
        tui_putf(win, y, r->x, 8, TUI_ROLE_NORMAL, "%d", s->rank);
        tui_put(win, y, r->x + 8, metric_w, TUI_ROLE_NORMAL, s->metric);
        tui_format_number(s->last, last, sizeof(last));
        tui_put_right(win, y, r->x + 8 + metric_w + 1, 12, TUI_ROLE_NORMAL, last);
        /* The ring in time order, scaled to its own range. */
        double ordered[TUI_SERIES_LEN], lo = 0, hi = 0;
        for (int k = 0; k < s->n; k++) {
            ordered[k] = s->values[(s->head + k) % TUI_SERIES_LEN];
            if (k == 0 || ordered[k] < lo) lo = ordered[k];
            if (k == 0 || ordered[k] > hi) hi = ordered[k];
        }
        tui_draw_sparkline(win, y, r->x + spark_x, r->w - spark_x, ordered, s->n, lo, hi);
    }
}

static bool key(struct tui_app *app, int k)
{
    int d = tui_key_delta(k, 10);
    if (!d) return false;
    app->counters_top += d;
    if (app->counters_top < 0) app->counters_top = 0;
    return true;
}

const struct tui_screen tui_screen_counters = {
    .name = "Counters",
    .draw = draw,
    .key = key,
    .click = NULL,
    .hint = "j/k scroll   counters come from CUPTI on GPU workers",
};
