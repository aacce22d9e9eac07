/* Results as a table (streamed row by row, in sweep order), CSV or JSON: the headless front end's
 * output. */
#ifndef LC_REPORT_H
#define LC_REPORT_H

#include <stdio.h>

#include "core/model/event.h"
#include "core/model/spec.h"

enum report_format { REPORT_TABLE = 0, REPORT_CSV, REPORT_JSON };
int report_format_parse(const char *name, enum report_format *out);

struct report {
    FILE *out;
    enum report_format format;
    int rows;
    bool any_cp;
    const struct run_spec *runs;
    int n_runs;
    struct run_result *done; /* [n_runs]: results that came before an earlier run's */
    bool *have;
    int next;                /* first run not printed yet */
};

/* runs (n_runs of them) must outlive the report. */
void report_begin(struct report *r, FILE *out, enum report_format format, const struct run_spec *runs, int n_runs);
/* One row now. */
void report_row(struct report *r, const struct run_spec *spec, const struct run_result *res);
/* A run's final result: printed at once when every earlier run is, else when they are (runs on
 * several workers finish out of order; the table keeps the sweep's). */
void report_run_done(struct report *r, int run_id, const struct run_result *res);
/* Prints what is still held back (runs that never finished leave no row), frees the report. */
void report_end(struct report *r);

/* 612.3, 41.27, 0.0123: enough digits for GPU and CPU figures alike. */
void format_tflops(double tflops, char *buf, size_t len);
/* "1.25 GiB", "312 MiB", "-" */
void format_bytes(double bytes, char *buf, size_t len);

#endif
