/* The results table to CSV and JSON files (see export.h). */
#define _POSIX_C_SOURCE 200809L
#include "tui/export.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/io/output_file.h"
#include "core/io/report.h"

bool tui_run_outcome(const struct tui_run *r, struct run_result *out)
{
    if (!r->have_spec || !r->outcome.known) return false;
    run_outcome_result(&r->outcome, out);
    return true;
}

/* The JSON's "meta" names what produced the runs: a replayed capture's own session and workers,
 * not the process exporting them (a live session has no session event: it is this process). */
static void describe_source(struct report *rep, const struct tui_model *m)
{
    struct event ev;
    if (m->session.schema > 0) {
        event_init(&ev, EV_SESSION, -1, 0);
        ev.u.session = m->session;
        report_event(rep, &ev);
    }
    for (int i = 0; i < m->n_workers; i++) {
        event_init(&ev, EV_HELLO, -1, m->workers[i].rank);
        ev.u.hello = m->workers[i].hello;
        report_event(rep, &ev);
    }
}

static enum lc_status write_one(const struct tui_model *m, const char *path, enum report_format format, int *rows,
                                char *err)
{
    struct output_file out;
    enum lc_status st = output_open(&out, path, err);
    if (st) return st;
    /* report_begin looks at the specs only to decide whether CP columns exist. */
    struct report rep;
    report_begin(&rep, out.f, format, NULL, 0);
    describe_source(&rep, m);
    for (int i = 0; i < m->n_runs; i++) {
        struct run_result res;
        if (tui_run_outcome(&m->runs[i], &res)) report_row(&rep, &m->runs[i].spec, &res);
    }
    report_end(&rep);
    *rows = rep.rows;
    return output_commit(&out, err);
}

enum lc_status tui_export_results(const struct tui_model *m, const char *base, int *rows, char *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s.csv", base);
    enum lc_status st = write_one(m, path, REPORT_CSV, rows, err);
    if (st) return st;
    snprintf(path, sizeof(path), "%s.json", base);
    return write_one(m, path, REPORT_JSON, rows, err);
}

void tui_export_base(char *buf, size_t len)
{
    char cwd[2048];
    if (!getcwd(cwd, sizeof(cwd))) snprintf(cwd, sizeof(cwd), ".");
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, len, "%s/longca-results-%s", cwd, stamp);
}
