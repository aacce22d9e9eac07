/* Scale: what `longca model` predicts for the spec on Setup at 2 to 64 GPUs, per-GPU TFLOP/s of
 * the slowest rank, one line per CP method, with the capture's measured runs of the same spec
 * beside them (upper-case marks). Predictions are computed a few at a time between frames, so
 * the screen fills in without holding up the loop; the kernel's cost is its newest calibration,
 * or an assumed rate the header names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/cp_method.h"
#include "core/engine/kernel.h"
#include "core/io/report.h"
#include "cp/sim_calibration.h"
#include "cp/sim_predict.h"
#include "tui/app.h"
#include "tui/widgets.h"

static const int scale_gpus[TUI_SCALE_GPUS] = {2, 4, 8, 16, 32, 64};

/* The spec the screen predicts: Setup's first run, or in a replay the capture's first CP run. */
static bool base_spec(const struct tui_app *app, struct run_spec *out)
{
    if (!app->session)
        for (int i = 0; i < app->model.n_runs; i++)
            if (app->model.runs[i].have_spec && run_spec_is_cp(&app->model.runs[i].spec)) {
                *out = app->model.runs[i].spec;
                return true;
            }
    struct run_spec *runs = NULL;
    int n = 0;
    char err[LC_ERRMSG_LEN];
    if (tui_setup_build(&app->setup, &runs, &n, err) != LC_OK || n == 0) return false;
    *out = runs[0];
    free(runs);
    return true;
}

static bool same_problem(const struct run_spec *a, const struct run_spec *b)
{
    return !strcmp(a->kernel, b->kernel) && a->mask == b->mask && !memcmp(&a->mask_params, &b->mask_params, sizeof a->mask_params) &&
           a->seqlen == b->seqlen && a->batch == b->batch && a->heads_q == b->heads_q && a->heads_kv == b->heads_kv &&
           a->head_dim == b->head_dim && a->dtype == b->dtype && a->direction == b->direction;
}

/* Starts over when the spec changed: methods from the registry, the kernel's cost. */
static void restart(struct tui_scale *s, const struct run_spec *base)
{
    memset(s, 0, sizeof *s);
    s->valid = true;
    s->base = *base;
    for (int i = 0; i < cp_method_count() && s->n_methods < TUI_SCALE_METHODS; i++)
        if (!cp_method_at(i)->single_device) s->methods[s->n_methods++] = cp_method_at(i)->name;
    struct cp_calibration cal;
    char path[1024], err[LC_ERRMSG_LEN];
    if (cp_calibration_find(base->kernel, base->dtype, base->head_dim, &cal, path, sizeof path, err) == LC_OK) {
        s->cost = cal.cost;
        snprintf(s->source, sizeof s->source, "calibrated on %.60s (%.60s)", cal.device, cal.version);
        return;
    }
    const struct longca_kernel *k = kernel_find(base->kernel);
    const bool gpu = k && k->device != LONGCA_DEVICE_CPU;
    const double assumed = gpu ? 500 : 0.05;
    cp_cost_assumed(&s->cost, assumed, k && k->tile_q > 0 ? k->tile_q : 128, base->head_dim);
    snprintf(s->source, sizeof s->source, "assumed %g TFLOP/s: no calibration (longca model --calibrate)", assumed);
}

/* Predicts cells until a frame's worth of time is spent. */
static void advance(struct tui_scale *s)
{
    struct cp_topology topo;
    cp_topology_defaults(&topo);
    const int64_t until = lc_now_ns() + 30 * 1000000ll;
    const int total = s->n_methods * TUI_SCALE_GPUS;
    while (s->next < total && lc_now_ns() < until) {
        const int m = s->next / TUI_SCALE_GPUS, g = s->next % TUI_SCALE_GPUS;
        struct run_spec spec = s->base;
        snprintf(spec.cp_method, sizeof spec.cp_method, "%s", s->methods[m]);
        spec.cp_degree = scale_gpus[g];
        struct cp_model_row row;
        cp_model_predict(&spec, &topo, &s->cost, 0, NULL, &row);
        s->tflops[m][g] = row.status == LC_OK ? row.tflops : -1;
        s->next++;
    }
}

/* The capture's measured TFLOP/s of method m at GPU count g; -1 when it has none. */
static double measured(const struct tui_app *app, const struct tui_scale *s, int m, int g)
{
    for (int i = app->model.n_runs - 1; i >= 0; i--) {
        const struct tui_run *r = &app->model.runs[i];
        if (r->have_spec && r->have_result && r->result.status == LC_OK && r->spec.cp_degree == scale_gpus[g] &&
            !strcmp(r->spec.cp_method, s->methods[m]) && same_problem(&r->spec, &s->base))
            return r->result.tflops;
    }
    return -1;
}

static void draw_table(WINDOW *win, const struct tui_rect *r, struct tui_app *app, int y)
{
    const struct tui_scale *s = &app->scale;
    const int col = (r->w - 14) / TUI_SCALE_GPUS > 10 ? (r->w - 14) / TUI_SCALE_GPUS : 10;
    tui_fill(win, y, r->x, r->w, TUI_ROLE_HEADER);
    tui_put(win, y, r->x, 14, TUI_ROLE_HEADER, "cp  \\  GPUs");
    for (int g = 0; g < TUI_SCALE_GPUS; g++) tui_putf(win, y, r->x + 14 + g * col, col, TUI_ROLE_HEADER, "%8d", scale_gpus[g]);
    for (int m = 0; m < s->n_methods; m++) {
        const int row = y + 1 + m;
        tui_putf(win, row, r->x, 14, TUI_ROLE_NORMAL, "%c %s", 'a' + m, s->methods[m]);
        for (int g = 0; g < TUI_SCALE_GPUS; g++) {
            char text[40], pred[16], meas[16];
            const int k = m * TUI_SCALE_GPUS + g;
            const double got = measured(app, s, m, g);
            if (k >= s->next) snprintf(pred, sizeof pred, "...");
            else if (s->tflops[m][g] < 0) snprintf(pred, sizeof pred, "-");
            else format_tflops(s->tflops[m][g], pred, sizeof pred);
            if (got >= 0) format_tflops(got, meas, sizeof meas);
            snprintf(text, sizeof text, got >= 0 ? "%8s (%s)" : "%8s", pred, meas);
            tui_put(win, row, r->x + 14 + g * col, col, got >= 0 ? TUI_ROLE_OK : TUI_ROLE_NORMAL, text);
        }
    }
}

/* TFLOP/s (rows, from 0 at the bottom) against GPU count (columns, log scale): each method's
 * predictions as its letter, measured runs as the capital. */
static void draw_chart(WINDOW *win, const struct tui_rect *r, struct tui_app *app, int y, int h)
{
    const struct tui_scale *s = &app->scale;
    double top = 0;
    for (int m = 0; m < s->n_methods; m++)
        for (int g = 0; g < TUI_SCALE_GPUS; g++) {
            const double got = measured(app, s, m, g);
            if (s->tflops[m][g] > top) top = s->tflops[m][g];
            if (got > top) top = got;
        }
    if (h < 4 || top <= 0) return;
    const int axis = 10, span = (r->w - axis - 2) / TUI_SCALE_GPUS;
    for (int row = 0; row < h - 1; row++) {
        char label[16];
        format_tflops(top * (h - 2 - row) / (h - 2), label, sizeof label);
        tui_putf(win, y + row, r->x, axis, TUI_ROLE_DIM, "%8s |", label);
    }
    for (int g = 0; g < TUI_SCALE_GPUS; g++)
        tui_putf(win, y + h - 1, r->x + axis + g * span, span, TUI_ROLE_DIM, "%d", scale_gpus[g]);
    for (int m = 0; m < s->n_methods; m++)
        for (int g = 0; g < TUI_SCALE_GPUS; g++) {
            const double values[2] = {m * TUI_SCALE_GPUS + g < s->next ? s->tflops[m][g] : -1, measured(app, s, m, g)};
            for (int v = 0; v < 2; v++) {
                if (values[v] < 0) continue;
                const int row = y + (int)((h - 2) * (1 - values[v] / top) + 0.5);
                const char mark[2] = {(char)((v ? 'A' : 'a') + m), 0};
                tui_put(win, row, r->x + axis + g * span + 1 + m % (span > 2 ? span - 1 : 1), 1,
                        v ? TUI_ROLE_OK : TUI_ROLE_NORMAL, mark);
            }
        }
}

static void draw(WINDOW *win, const struct tui_rect *r, struct tui_app *app)
{
    struct tui_scale *s = &app->scale;
    struct run_spec base;
    if (!base_spec(app, &base)) {
        tui_put(win, r->y, r->x, r->w, TUI_ROLE_WARN, "Scale: Setup has no valid run to predict.");
        return;
    }
    if (!s->valid || memcmp(&s->base, &base, sizeof base)) restart(s, &base);
    advance(s);
    s->pending = s->next < s->n_methods * TUI_SCALE_GPUS;
    char what[160];
    run_spec_describe(&base, what, sizeof what);
    tui_putf(win, r->y, r->x, r->w, TUI_ROLE_HEADER, "Scale: predicted TFLOP/s per GPU (longca model), %s", what);
    tui_putf(win, r->y + 1, r->x, r->w, TUI_ROLE_DIM, "kernel %s; 8 GPUs a node; measured runs in brackets, capitals",
             s->source);
    draw_table(win, r, app, r->y + 3);
    const int chart_y = r->y + 5 + s->n_methods;
    draw_chart(win, r, app, chart_y, r->y + r->h - chart_y);
}

static bool key(struct tui_app *app, int k)
{
    if (k != 'R') return false;
    app->scale.valid = false; /* predict again (a new calibration) */
    return true;
}

const struct tui_screen tui_screen_scale = {
    .name = "Scale",
    .draw = draw,
    .key = key,
    .click = NULL,
    .hint = "R predict again   lines: a.. methods as listed; capitals: measured runs of the capture",
};
