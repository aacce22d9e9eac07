/* `e` on the Runs screen: the results table as CSV and JSON (core/io/report.c's formats, the same
 * `longca run --format` prints), each written whole or not at all. */
#ifndef LC_TUI_EXPORT_H
#define LC_TUI_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/model/status.h"
#include "tui/model.h"

/* The result a finished run is reported with: its own, or one made from its failure (status and
 * "rank N: reason"); false for runs without an outcome or a spec. */
bool tui_run_outcome(const struct tui_run *r, struct run_result *out);

/* Writes base.csv and base.json with one row per finished run (failed runs carry the failing
 * rank and reason as their message), the JSON's meta naming the stream's session and workers;
 * *rows gets the count. */
enum lc_status tui_export_results(const struct tui_model *m, const char *base, int *rows, char *err);

/* "longca-results-20250101-120000" in the current directory, as an absolute path. */
void tui_export_base(char *buf, size_t len);

#endif
