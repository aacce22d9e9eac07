/* Pure layout arithmetic (see layout.h); every function here is a function of its arguments. */
#include "tui/layout.h"

#include <math.h>
#include <string.h>

bool tui_rect_contains(const struct tui_rect *r, int y, int x)
{
    return y >= r->y && y < r->y + r->h && x >= r->x && x < r->x + r->w;
}

static struct tui_rect rect(int y, int x, int h, int w)
{
    struct tui_rect r = {y, x, h > 0 ? h : 0, w > 0 ? w : 0};
    return r;
}

int tui_clamp(int v, int lo, int hi)
{
    if (hi < lo) return lo;
    return v < lo ? lo : v > hi ? hi : v;
}

void tui_layout_screen(int rows, int cols, struct tui_screen_layout *out)
{
    memset(out, 0, sizeof(*out));
    out->rows = rows;
    out->cols = cols;
    out->too_small = rows < TUI_MIN_ROWS || cols < TUI_MIN_COLS;
    if (out->too_small) {
        out->body = rect(0, 0, rows, cols);
        return;
    }
    out->title = rect(0, 0, 1, cols);
    out->tabs = rect(1, 0, 1, cols);
    out->body = rect(2, 0, rows - 4, cols);
    out->status = rect(rows - 2, 0, 1, cols);
    out->fbar = rect(rows - 1, 0, 1, cols);
}

int tui_layout_buttons(const char *const *keys, const char *const *labels, int n, int width, int gap,
                       struct tui_button *out)
{
    int x = 0, shown = 0;
    for (int i = 0; i < n; i++) {
        int kw = (int)strlen(keys[i]);
        int w = kw + (int)strlen(labels[i]);
        bool fits = shown == i && x + w <= width;
        out[i].x = fits ? x : width;
        out[i].w = fits ? w : 0;
        out[i].key_w = fits ? kw : 0;
        if (fits) {
            shown++;
            x += w + gap;
        }
    }
    return shown;
}

int tui_button_at(const struct tui_button *b, int n, int x)
{
    for (int i = 0; i < n; i++)
        if (b[i].w > 0 && x >= b[i].x && x < b[i].x + b[i].w) return i;
    return -1;
}

int tui_layout_columns(const struct tui_column *cols, int n, int width, int *x, int *w)
{
    /* Drop the columns of the highest priority number until the rest fit. */
    int max_prio = 0;
    for (int i = 0; i < n; i++)
        if (cols[i].priority > max_prio) max_prio = cols[i].priority;
    int limit = max_prio, need = 0, shown = 0;
    for (;;) {
        need = 0;
        shown = 0;
        for (int i = 0; i < n; i++)
            if (cols[i].priority <= limit) {
                need += cols[i].min_w;
                shown++;
            }
        if (shown > 0) need += shown - 1;
        if (need <= width || limit == 0) break;
        limit--;
    }
    int spare = width - need > 0 ? width - need : 0;
    int pos = 0;
    for (int i = 0; i < n; i++) {
        if (cols[i].priority > limit || pos >= width) {
            x[i] = pos;
            w[i] = 0;
            continue;
        }
        int cw = cols[i].min_w;
        if (cols[i].grow) {
            cw += spare;
            spare = 0;
        }
        if (pos + cw > width) cw = width - pos; /* only priority-0 columns can overflow: clip them */
        x[i] = pos;
        w[i] = cw;
        pos += cw + 1;
    }
    int count = 0;
    for (int i = 0; i < n; i++) count += w[i] > 0;
    return count;
}

int tui_scroll_top(int selected, int top, int visible, int count)
{
    if (visible <= 0 || count <= 0) return 0;
    if (selected < top) top = selected;
    if (selected >= top + visible) top = selected - visible + 1;
    return tui_clamp(top, 0, count - visible > 0 ? count - visible : 0);
}

int tui_axis_col(int64_t t, int64_t t0, int64_t t1, int width)
{
    if (width <= 1 || t1 <= t0) return 0;
    double f = (double)(t - t0) / (double)(t1 - t0);
    int c = (int)floor(f * width);
    return tui_clamp(c, 0, width - 1);
}

void tui_axis_span(int64_t start, int64_t end, int64_t t0, int64_t t1, int width, int *c0, int *c1)
{
    *c0 = tui_axis_col(start, t0, t1, width);
    /* The last column the interval reaches into: end is exclusive. */
    int last = end > start ? tui_axis_col(end - 1, t0, t1, width) : *c0;
    *c1 = last < *c0 ? *c0 : last;
}

double tui_axis_step(double span, int max_ticks)
{
    if (span <= 0 || max_ticks < 1) return 1;
    double raw = span / max_ticks;
    double mag = pow(10, floor(log10(raw)));
    const double steps[] = {1, 2, 5, 10};
    for (int i = 0; i < 4; i++)
        if (steps[i] * mag >= raw) return steps[i] * mag;
    return 10 * mag;
}

int tui_picture_cells(int rows, int cols)
{
    int n = cols / 2 < rows ? cols / 2 : rows;
    return n > 0 ? n : 0;
}

void tui_layout_setup(const struct tui_rect *body, struct tui_setup_layout *out)
{
    /* Fields take about 40 % (30..44 columns); choices 26..30 (the longest mask name fits);
     * the picture the rest. */
    int fw = tui_clamp(body->w * 2 / 5, 30, 44);
    int cw = tui_clamp(body->w / 4, 26, 30);
    if (fw + cw > body->w) {
        fw = body->w / 2;
        cw = body->w - fw;
    }
    out->fields = rect(body->y, body->x, body->h, fw);
    out->choices = rect(body->y, body->x + fw, body->h, cw);
    out->picture = rect(body->y, body->x + fw + cw, body->h, body->w - fw - cw);
}

void tui_layout_runs(const struct tui_rect *body, int n_workers, int n_progress_rows, struct tui_runs_layout *out)
{
    /* Headings take one row each; the results table keeps at least 5 rows (heading + 4). */
    int avail = body->h - 1; /* detail line */
    int wh = n_workers > 0 ? n_workers + 1 : 2;
    int ph = n_progress_rows + 1;
    int min_table = 5;
    if (wh + ph + min_table > avail) {
        int spare = avail - min_table;
        if (spare < 2) spare = 2;
        wh = tui_clamp(wh, 0, spare / 2);
        ph = tui_clamp(ph, 0, spare - wh);
    }
    int y = body->y;
    out->workers = rect(y, body->x, wh, body->w);
    y += wh;
    out->progress = rect(y, body->x, ph, body->w);
    y += ph;
    out->table = rect(y, body->x, body->y + avail - y, body->w);
    out->detail = rect(body->y + body->h - 1, body->x, 1, body->w);
}

void tui_layout_timeline(const struct tui_rect *body, int n_lanes, int rows_per_lane, int breakdown_rows,
                         struct tui_timeline_layout *out)
{
    int bh = tui_clamp(breakdown_rows, 1, body->h / 2);
    int lane_rows = body->h - bh - 2;
    if (lane_rows < 0) lane_rows = 0;
    int per = rows_per_lane > 0 ? rows_per_lane : 1;
    int fit = lane_rows > 1 ? (lane_rows - 1) / per : 0; /* below the title row */
    out->label_w = 8;
    out->lanes_shown = fit < n_lanes ? fit : n_lanes;
    out->lanes = rect(body->y, body->x, lane_rows, body->w);
    out->axis = rect(body->y + lane_rows, body->x, 2, body->w);
    out->breakdown = rect(body->y + lane_rows + 2, body->x, body->h - lane_rows - 2, body->w);
}
