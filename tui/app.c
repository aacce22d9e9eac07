/* Actions the keys and the function bar share: start, cancel, export, loading a kernel plugin;
 * the status line. */
#include "tui/app.h"
#include "tui/settings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/engine/services.h"
#include "tui/export.h"

void tui_app_say(struct tui_app *app, bool error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(app->message, sizeof(app->message), fmt, ap);
    va_end(ap);
    app->message_error = error;
}

int tui_key_delta(int key, int page)
{
    switch (key) {
    case KEY_UP:
    case 'k': return -1;
    case KEY_DOWN:
    case 'j': return 1;
    case KEY_PPAGE: return -page;
    case KEY_NPAGE: return page;
    case KEY_HOME: return -1000000;
    case KEY_END: return 1000000;
    default: return 0;
    }
}

void tui_app_workers_ready(struct tui_app *app)
{
    if (app->setup_for_workers || app->model.n_workers < app->workers) return;
    app->setup_for_workers = true;
    if (!tui_model_cpu_only(&app->model)) {
        tui_setup_init(&app->setup, app->workers, true);
        tui_settings_apply(&app->settings, &app->setup);
    }
}

void tui_app_pick_row(struct tui_app *app, int row)
{
    const struct tui_model *m = &app->model;
    int *idx = malloc(sizeof(int) * (size_t)(m->n_runs > 0 ? m->n_runs : 1));
    if (!idx) return;
    int n = tui_model_select(m, app->filter, app->sort_key, app->sort_desc, idx);
    app->runs_sel = tui_clamp(row, 0, n - 1);
    app->picked_run = n > 0 ? m->runs[idx[app->runs_sel]].id : -1;
    free(idx);
}

void tui_app_start_sweep(struct tui_app *app)
{
    if (!app->session) {
        tui_app_say(app, true, "replaying a capture: nothing runs here (start `longca` for a live session)");
        return;
    }
    struct run_spec *runs = NULL;
    int n = 0;
    char err[LC_ERRMSG_LEN];
    if (tui_setup_build(&app->setup, &runs, &n, err) != LC_OK) {
        tui_app_say(app, true, "not started: %s", err);
        return;
    }
    enum lc_status st = session_submit(app->session, runs, n, err);
    free(runs);
    if (st != LC_OK) {
        tui_app_say(app, true, "not started: %s", err);
        return;
    }
    tui_app_say(app, false, "queued %d run%s", n, n == 1 ? "" : "s");
    app->picked_run = -1; /* the Timeline follows the new sweep's live run until the user picks */
    app->screen = TUI_SCREEN_RUNS;
}

void tui_app_cancel(struct tui_app *app)
{
    if (!app->session || !session_busy(app->session)) {
        tui_app_say(app, false, "nothing to cancel");
        return;
    }
    session_cancel(app->session);
    tui_app_say(app, false, "cancelling the sweep...");
}

void tui_app_export(struct tui_app *app)
{
    char base[3072], err[LC_ERRMSG_LEN];
    int rows = 0;
    tui_export_base(base, sizeof(base));
    if (tui_export_results(&app->model, base, &rows, err) != LC_OK) {
        tui_app_say(app, true, "export failed: %s", err);
        return;
    }
    tui_app_say(app, false, "exported %d row%s: %s.csv and .json", rows, rows == 1 ? "" : "s", base);
}

void tui_app_load_kernel_lib(struct tui_app *app, const char *path)
{
    struct tui_setup *s = &app->setup;
    s->typing = false;
    s->generation++;
    char err[LC_ERRMSG_LEN];
    const struct lc_services *svc = services();
    enum lc_status st = svc->load_kernel_library ? svc->load_kernel_library(path, err)
                                                 : lc_fail(err, LC_ERR_UNSUPPORTED, "this program loads no kernel plugins");
    if (st != LC_OK) {
        tui_app_say(app, true, "not loaded: %s", err);
        return;
    }
    int before = s->fields[TUI_F_KERNELS].n_choices;
    tui_setup_list_kernels(s);
    int added = s->fields[TUI_F_KERNELS].n_choices - before;
    tui_app_say(app, false, "loaded %s: %d kernel%s added to Kernels", path, added, added == 1 ? "" : "s");
}
