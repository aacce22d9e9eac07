/* Runs: the workers, the run in flight with per-rank progress, and the queue as a results
 * table that fills in as runs finish (ms, TFLOP/s, memory, check). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/cp_method.h"
#include "core/io/report.h"
#include "tui/app.h"
#include "tui/widgets.h"

/* C_VS (view --compare B) is last: without B the table has the columns before it. */
enum col { C_ID, C_KERNEL, C_MASK, C_S, C_HEADS, C_D, C_DTYPE, C_DIR, C_CP, C_MS, C_TFLOPS, C_MEM, C_CHECK, C_VS, C_COUNT };

static const struct tui_column columns[C_COUNT] = {
    [C_ID] = {3, 0, false},     [C_KERNEL] = {8, 1, false}, [C_MASK] = {14, 0, true}, [C_S] = {5, 0, false},
    [C_HEADS] = {5, 3, false},  [C_D] = {3, 4, false},      [C_DTYPE] = {5, 3, false}, [C_DIR] = {7, 4, false},
    [C_CP] = {10, 2, false},    [C_MS] = {9, 0, false},     [C_TFLOPS] = {8, 0, false}, [C_MEM] = {9, 1, false},
    [C_CHECK] = {10, 0, false}, [C_VS] = {8, 0, false},
};
static const char *const titles[C_COUNT] = {"#",  "kernel", "mask",   "S",  "heads",   "d",      "dtype",
                                            "dir", "cp",    "ms",     "TFLOP/s", "memory", "check", "vs B"};
static const bool right_aligned[C_COUNT] = {[C_ID] = true, [C_S] = true, [C_D] = true, [C_MS] = true,
                                            [C_TFLOPS] = true, [C_MEM] = true, [C_VS] = true};

/* B's run with this run's key, when both have figures. */
static const struct result_row *compared(const struct tui_app *app, const struct tui_run *rn)
{
    if (!app->compare.n || !rn->have_spec || !rn->have_result || rn->result.status != LC_OK) return NULL;
    char key[200];
    result_key(&rn->spec, key, sizeof key);
    const struct result_row *b = results_find(&app->compare, key);
    return b && b->result.status == LC_OK && b->result.ms_median > 0 ? b : NULL;
}

/* The run's median against B's, in percent, coloured by longca diff's verdict: faster when this
 * run's p20-p80 range lies wholly below B's, slower when above. */
static enum tui_role vs_cell(const struct tui_app *app, const struct tui_run *rn, char *buf, size_t len)
{
    const struct result_row *b = compared(app, rn);
    if (!b) {
        snprintf(buf, len, "%s", app->compare.n && rn->have_result ? "-" : "");
        return TUI_ROLE_DIM;
    }
    const struct run_result *a = &rn->result, *br = &b->result;
    snprintf(buf, len, "%+.1f%%", 100.0 * (a->ms_median / br->ms_median - 1.0));
    if (a->ms_p80 < br->ms_p20) return TUI_ROLE_OK;
    if (a->ms_p20 > br->ms_p80) return TUI_ROLE_FAIL;
    return TUI_ROLE_NORMAL;
}

/* The worker's clock against rank 0's as aligned at the start: the correction applied to its
 * timeline and what a second measurement still found off. */
static int draw_clock(WINDOW *win, int y, int x, int w, const struct ev_hello *h)
{
    if (h->clock_residual_ns < 0) return tui_put(win, y, x, w, TUI_ROLE_DIM, "  clock not aligned");
    return tui_putf(win, y, x, w, TUI_ROLE_DIM, "  clock %+.1f us +-%.1f", (double)h->clock_offset_ns / 1e3,
                    (double)h->clock_residual_ns / 1e3);
}

static void draw_workers(WINDOW *win, const struct tui_rect *r, const struct tui_app *app)
{
    if (r->h < 1) return;
    const struct tui_model *m = &app->model;
    tui_putf(win, r->y, r->x, r->w, TUI_ROLE_HEADER, "Workers: %d", m->n_workers);
    tui_fill(win, r->y, r->x + 11, r->w - 11, TUI_ROLE_NORMAL);
    const struct ev_session *s = &m->session;
    if (s->schema > 0 && r->w > 18) { /* what wrote the stream: a capture says so on its first line */
        char source[1024];
        snprintf(source, sizeof source, "longca %s (%s) on %s, %s: %s", s->version, s->commit, s->host, s->cpu,
                 s->command);
        tui_put_wrapped(win, r->y, r->x + 14, r->w - 14, 1, TUI_ROLE_DIM, source); /* a cut command ends in "..." */
    }
    if (m->n_workers == 0) {
        if (r->h > 1)
            tui_put(win, r->y + 1, r->x + 2, r->w - 2, TUI_ROLE_DIM,
                    app->session ? "waiting for workers to say hello..." : "(no worker hello in this capture)");
        return;
    }
    for (int i = 0; i < m->n_workers && i + 1 < r->h; i++) {
        const struct tui_worker *w = &m->workers[i];
        int y = r->y + 1 + i;
        int pid = app->session ? session_worker_pid(app->session, w->rank) : 0;
        char pid_text[24] = "";
        if (pid > 0) snprintf(pid_text, sizeof(pid_text), "pid %d", pid);
        char device[40]; /* its column: a longer description ends in "..." */
        const char *d = w->hello.device;
        snprintf(device, sizeof device, strlen(d) > 34 ? "%.31s..." : "%s", d);
        int x = r->x + 2 + tui_putf(win, y, r->x + 2, r->w - 2, TUI_ROLE_NORMAL, "rank %-3d %-12.12s %-34s %-10s ",
                                    w->rank, w->hello.host, device, pid_text);
        int room = r->x + r->w - x;
        if (w->lost)
            tui_putf(win, y, x, room, TUI_ROLE_FAIL, "LOST: %s", w->reason);
        else if (w->left)
            tui_put(win, y, x, room, TUI_ROLE_DIM, "left");
        else {
            int used = tui_putf(win, y, x, room, TUI_ROLE_OK, "%s ready", w->hello.backend);
            used += draw_clock(win, y, x + used, room - used, &w->hello);
            const struct ev_hello *h = &w->hello;
            if (h->driver[0] || h->cuda[0] || h->nccl[0])
                tui_putf(win, y, x + used, room - used, TUI_ROLE_DIM, "  driver %s, CUDA %s, NCCL %s",
                         h->driver[0] ? h->driver : "?", h->cuda[0] ? h->cuda : "?", h->nccl[0] ? h->nccl : "-");
        }
    }
}

static void progress_label(const struct tui_rank_progress *p, char *buf, size_t len, double *frac)
{
    *frac = 0;
    if (p->finished) {
        snprintf(buf, len, "finished");
        *frac = 1;
    } else if (!p->started) {
        snprintf(buf, len, "waiting");
    } else if (p->total > 0) {
        snprintf(buf, len, "%s %d/%d", run_phase_name(p->phase), p->iter, p->total);
        *frac = (double)p->iter / p->total;
    } else {
        snprintf(buf, len, "%s", run_phase_name(p->phase));
    }
}

static void draw_progress(WINDOW *win, const struct tui_rect *r, const struct tui_app *app)
{
    if (r->h < 1) return;
    const struct tui_model *m = &app->model;
    const struct tui_run *cur = tui_model_current(m);
    int done = tui_model_count(m, TUI_RUN_DONE), failed = tui_model_count(m, TUI_RUN_FAILED);
    int cancelled = tui_model_count(m, TUI_RUN_CANCELLED);
    char label[160];
    if (cur) {
        tui_run_label(cur, label, sizeof(label));
        int pos = 0;
        for (int i = 0; i < m->n_runs; i++)
            if (&m->runs[i] == cur) pos = i + 1;
        tui_putf(win, r->y, r->x, r->w, TUI_ROLE_HEADER, "Running %d of %d: run %d  %s", pos, m->n_runs, cur->id,
                 label);
        int y0 = r->y + 1; /* a rep estimated over a minute says so above the bars */
        if (cur->estimate.rep_s > 0 && r->h > 1) {
            char estimate[320];
            event_estimate_describe(&cur->estimate, estimate, sizeof estimate);
            tui_putf(win, y0++, r->x, r->w, TUI_ROLE_WARN, "over a minute a rep: %s; F7 cancels", estimate);
        }
        for (int i = 0; i < cur->n_ranks && y0 + i < r->y + r->h; i++) {
            double frac;
            char what[48];
            progress_label(&cur->ranks[i], what, sizeof(what), &frac);
            int y = y0 + i;
            tui_putf(win, y, r->x + 2, 8, TUI_ROLE_NORMAL, "rank %d", i + 1);
            tui_draw_bar(win, y, r->x + 10, r->w - 10 > 60 ? 60 : r->w - 10, frac, what);
        }
    } else if (m->n_runs == 0) {
        tui_put(win, r->y, r->x, r->w, TUI_ROLE_HEADER,
                app->session ? "No runs yet: choose them on Setup (F2), start with F5" : "No runs in this capture");
    } else {
        tui_putf(win, r->y, r->x, r->w, TUI_ROLE_HEADER, "%s: %d done, %d failed, %d cancelled, %d queued",
                 m->sweep_done ? "Sweep finished" : "Idle", done, failed, cancelled,
                 tui_model_count(m, TUI_RUN_QUEUED));
    }
    if (m->note[0] && r->h > 1 && !cur) tui_putf(win, r->y + 1, r->x, r->w, TUI_ROLE_DIM, "note: %s", m->note);
}

/* The cell text of column c for run rn, and its role. */
static enum tui_role cell(const struct tui_run *rn, enum col c, char *buf, size_t len)
{
    const struct run_spec *s = &rn->spec;
    const struct run_result *res = &rn->result;
    bool figures = rn->have_result && res->status == LC_OK;
    buf[0] = 0;
    if (!rn->have_spec && c != C_ID && c != C_CHECK && !figures) return TUI_ROLE_DIM;
    switch (c) {
    case C_ID: snprintf(buf, len, "%d", rn->id); break;
    case C_KERNEL: snprintf(buf, len, "%s", s->kernel); break;
    case C_MASK: snprintf(buf, len, "%s", mask_pattern_name(s->mask)); break;
    case C_S: tui_format_tokens(s->seqlen, buf, len); break;
    case C_HEADS: snprintf(buf, len, "%d:%d", s->heads_q, s->heads_kv); break;
    case C_D: snprintf(buf, len, "%d", s->head_dim); break;
    case C_DTYPE: snprintf(buf, len, "%s", dtype_name(s->dtype)); break;
    case C_DIR: snprintf(buf, len, "%s", direction_name(s->direction)); break;
    case C_CP:
        if (run_spec_is_cp(s))
            snprintf(buf, len, "%s x%d", s->cp_method, s->cp_degree);
        else
            snprintf(buf, len, "-");
        break;
    case C_MS:
        if (figures) tui_format_number(res->ms_median, buf, len);
        break;
    case C_TFLOPS:
        if (figures) tui_format_number(res->tflops, buf, len);
        break;
    case C_MEM:
        if (figures) format_bytes((double)res->peak_mem_bytes, buf, len);
        break;
    case C_CHECK:
        switch (rn->state) {
        case TUI_RUN_QUEUED: snprintf(buf, len, "queued"); return TUI_ROLE_DIM;
        case TUI_RUN_RUNNING: snprintf(buf, len, "running"); return TUI_ROLE_WARN;
        case TUI_RUN_CANCELLED: snprintf(buf, len, "cancelled"); return TUI_ROLE_DIM;
        case TUI_RUN_FAILED:
            if (rn->error_rank > 0)
                snprintf(buf, len, "FAIL r%d", rn->error_rank);
            else
                snprintf(buf, len, "FAILED");
            return TUI_ROLE_FAIL;
        case TUI_RUN_DONE:
            if (res->status != LC_OK) {
                snprintf(buf, len, "%s", lc_status_name(res->status));
                return TUI_ROLE_WARN;
            }
            if (!res->check_ran) {
                snprintf(buf, len, "-");
                return TUI_ROLE_NORMAL;
            }
            snprintf(buf, len, "%s", res->check_pass ? "pass" : "WRONG");
            return res->check_pass ? TUI_ROLE_OK : TUI_ROLE_FAIL;
        }
        break;
    case C_VS:
    case C_COUNT: break;
    }
    return TUI_ROLE_NORMAL;
}

/* One line on the picked run; with B, first the figures its "vs B" cell came from. */
static void draw_detail(WINDOW *win, const struct tui_rect *r, const struct tui_run *rn, const struct result_row *b)
{
    if (!rn || r->h < 1) return;
    char label[160];
    tui_run_label(rn, label, sizeof(label));
    struct tui_rect rest = *r;
    if (b) {
        int used = tui_putf(win, r->y, r->x, r->w, TUI_ROLE_DIM, "B %.3f ms (%.3f-%.3f) | ", b->result.ms_median,
                            b->result.ms_p20, b->result.ms_p80);
        rest.x += used, rest.w -= used;
        r = &rest;
    }
    if (rn->state == TUI_RUN_FAILED || rn->state == TUI_RUN_CANCELLED) {
        if (rn->error_rank > 0)
            tui_putf(win, r->y, r->x, r->w, TUI_ROLE_FAIL, "run %d %s on rank %d: %s", rn->id,
                     tui_run_state_name(rn->state), rn->error_rank, rn->error);
        else
            tui_putf(win, r->y, r->x, r->w, TUI_ROLE_FAIL, "run %d %s: %s", rn->id, tui_run_state_name(rn->state),
                     rn->error);
    } else if (rn->have_result && rn->result.status != LC_OK) {
        tui_putf(win, r->y, r->x, r->w, TUI_ROLE_WARN, "run %d %s: %s", rn->id, lc_status_name(rn->result.status),
                 rn->result.message);
    } else if (rn->have_result && rn->result.ranks > 1) {
        const struct run_result *res = &rn->result;
        tui_putf(win, r->y, r->x, r->w, TUI_ROLE_NORMAL,
                 "run %d: %d ranks, slowest %.3f ms / mean %.3f ms, TFLOP/s %.4g (mean rank %.4g), busbw %.2f GB/s, "
                 "imbalance %.2f | %s",
                 rn->id, res->ranks, res->ms_median, res->ms_mean_ranks, res->tflops, res->tflops_mean, res->busbw_gbs,
                 res->work_imbalance, label);
    } else if (rn->have_result) {
        const struct run_result *res = &rn->result;
        tui_putf(win, r->y, r->x, r->w, TUI_ROLE_NORMAL, "run %d: p20-p80 %.3f-%.3f ms, density %.1f%%, max err %.2g | %s",
                 rn->id, res->ms_p20, res->ms_p80, 100.0 * res->density, res->max_abs_err, label);
    } else {
        tui_putf(win, r->y, r->x, r->w, TUI_ROLE_NORMAL, "run %d: %s", rn->id, label);
    }
}

static void draw_table(WINDOW *win, const struct tui_rect *r, const struct tui_rect *detail, struct tui_app *app)
{
    const struct tui_model *m = &app->model;
    /* With CP runs in the table the CP column matters more than the kernel's name. */
    struct tui_column cols[C_COUNT];
    memcpy(cols, columns, sizeof(cols));
    for (int i = 0; i < m->n_runs; i++)
        if (run_spec_is_cp(&m->runs[i].spec) && m->runs[i].have_spec) {
            cols[C_CP].priority = 1;
            cols[C_KERNEL].priority = 2;
            break;
        }
    int xs[C_COUNT], ws[C_COUNT];
    int n_cols = app->compare.n ? C_COUNT : C_VS;
    ws[C_VS] = 0;
    tui_layout_columns(cols, n_cols, r->w, xs, ws);
    tui_fill(win, r->y, r->x, r->w, TUI_ROLE_HEADER);
    for (int c = 0; c < n_cols; c++) {
        if (!ws[c]) continue;
        char title[24];
        bool sorted = (c == C_MS && app->sort_key == TUI_SORT_MS) ||
                      (c == C_TFLOPS && app->sort_key == TUI_SORT_TFLOPS) ||
                      (c == C_MEM && app->sort_key == TUI_SORT_MEMORY) || (c == C_ID && app->sort_key == TUI_SORT_ID);
        snprintf(title, sizeof(title), "%s%s", titles[c], sorted ? (app->sort_desc ? "v" : "^") : "");
        if (right_aligned[c])
            tui_put_right(win, r->y, r->x + xs[c], ws[c], TUI_ROLE_HEADER, title);
        else
            tui_put(win, r->y, r->x + xs[c], ws[c], TUI_ROLE_HEADER, title);
    }
    int *idx = malloc(sizeof(int) * (size_t)(m->n_runs > 0 ? m->n_runs : 1));
    if (!idx) return;
    int n = tui_model_select(m, app->filter, app->sort_key, app->sort_desc, idx);
    int visible = r->h - 1;
    /* The cursor stays on the picked run when sorting or new results move its row. */
    for (int i = 0; i < n && app->picked_run >= 0; i++)
        if (m->runs[idx[i]].id == app->picked_run) app->runs_sel = i;
    app->runs_sel = tui_clamp(app->runs_sel, 0, n - 1);
    app->runs_top = tui_scroll_top(app->runs_sel, app->runs_top, visible, n);
    if (n == 0 && m->n_runs > 0 && visible > 0)
        tui_putf(win, r->y + 1, r->x + 2, r->w - 2, TUI_ROLE_DIM, "no run matches the filter \"%s\"", app->filter);
    for (int i = 0; i < visible && app->runs_top + i < n; i++) {
        int at = app->runs_top + i;
        const struct tui_run *rn = &m->runs[idx[at]];
        int y = r->y + 1 + i;
        bool sel = at == app->runs_sel;
        if (sel) tui_fill(win, y, r->x, r->w, TUI_ROLE_SELECTED);
        for (int c = 0; c < n_cols; c++) {
            if (!ws[c]) continue;
            char text[64];
            enum tui_role role = c == C_VS ? vs_cell(app, rn, text, sizeof text) : cell(rn, (enum col)c, text, sizeof(text));
            if (sel) role = TUI_ROLE_SELECTED;
            if (right_aligned[c])
                tui_put_right(win, y, r->x + xs[c], ws[c], role, text);
            else
                tui_put(win, y, r->x + xs[c], ws[c], role, text);
        }
    }
    const struct tui_run *picked = n > 0 ? &m->runs[idx[app->runs_sel]] : NULL;
    draw_detail(win, detail, picked, picked ? compared(app, picked) : NULL);
    free(idx);
}

/* Under the heading of the run in flight: its estimate, if over a minute a rep, and a bar a rank. */
static int progress_rows(const struct tui_run *cur)
{
    return cur ? cur->n_ranks + (cur->estimate.rep_s > 0) : 0;
}

static void draw(WINDOW *win, const struct tui_rect *r, struct tui_app *app)
{
    const struct tui_run *cur = tui_model_current(&app->model);
    struct tui_runs_layout l;
    tui_layout_runs(r, app->model.n_workers, progress_rows(cur), &l);
    draw_workers(win, &l.workers, app);
    draw_progress(win, &l.progress, app);
    draw_table(win, &l.table, &l.detail, app);
}

static bool key(struct tui_app *app, int k)
{
    int d = tui_key_delta(k, 10);
    if (d) {
        tui_app_pick_row(app, app->runs_sel + d);
        return true;
    }
    return false;
}

static void click(struct tui_app *app, const struct tui_rect *r, int y, int x)
{
    const struct tui_run *cur = tui_model_current(&app->model);
    struct tui_runs_layout l;
    tui_layout_runs(r, app->model.n_workers, progress_rows(cur), &l);
    if (y > l.table.y && y < l.table.y + l.table.h) tui_app_pick_row(app, app->runs_top + (y - l.table.y - 1));
}

const struct tui_screen tui_screen_runs = {
    .name = "Runs",
    .draw = draw,
    .key = key,
    .click = click,
    .hint = "arrows/jk move  / filter  s sort  I invert  e export  F5 start  F7 cancel",
};
