/* Results as a table (streamed row by row, in sweep order), CSV, JSON or JSON Lines: the headless
 * front end's output. JSON is one document {"schema", "runs": [...], "meta": {...}} closed by
 * report_end (which an interrupted sweep still reaches); JSON Lines is a header object
 * (core/io/metadata.h) then one object per run. CSV integers are printed whole. */
#ifndef LC_REPORT_H
#define LC_REPORT_H

#include <stdio.h>

#include "core/model/event.h"
#include "core/model/spec.h"

enum report_format { REPORT_TABLE = 0, REPORT_CSV, REPORT_JSON, REPORT_JSONL };
int report_format_parse(const char *name, enum report_format *out);

struct report {
    FILE *out;
    enum report_format format;
    int rows;
    bool any_cp;
    bool dtypes_differ; /* table: a dtype column when the runs' dtypes are not all one */
    const struct run_spec *runs;
    int n_runs;
    struct run_result *done; /* [n_runs]: results that came before an earlier run's */
    bool *have;
    int next;                /* first run not printed yet */
    bool header_written; /* JSON Lines */
    struct ev_session session;
    struct ev_hello *hellos; /* the workers', in order of arrival */
    int *hello_ranks;
    int n_hellos;
};

/* runs (n_runs of them) must outlive the report. */
void report_begin(struct report *r, FILE *out, enum report_format format, const struct run_spec *runs, int n_runs);
/* Keeps what the header says: the session (EV_SESSION) and the workers (EV_HELLO). */
void report_event(struct report *r, const struct event *ev);
/* One row now. */
void report_row(struct report *r, const struct run_spec *spec, const struct run_result *res);
/* A run's final result: printed at once when every earlier run is, else when they are (runs on
 * several workers finish out of order; the table keeps the sweep's). */
void report_run_done(struct report *r, int run_id, const struct run_result *res);
/* Prints what is still held back (runs that never finished leave no row); frees what
 * report_event kept. */
void report_end(struct report *r);

/* 612.3, 41.27, 0.0123: enough digits for GPU and CPU figures alike. */
void format_tflops(double tflops, char *buf, size_t len);
/* "1.25 GiB", "312 MiB", "-" */
void format_bytes(double bytes, char *buf, size_t len);

#endif
