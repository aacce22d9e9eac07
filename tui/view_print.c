#define _GNU_SOURCE
#include "tui/view_print.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/model/status.h"
#include "core/io/report.h"
#include "tui/export.h"

/* The "vs B" cell of a printed row, as on Runs (this run's median against B's run of the same
 * key) with longca diff's verdict in words, since a pipe has no colour: "+24.3% slower". */
static void vs_b_text(const struct result_set *b_set, const struct run_spec *spec, const struct run_result *a,
                      char *buf, size_t len)
{
    char key[200];
    result_key(spec, key, sizeof key);
    const struct result_row *b = results_find(b_set, key);
    if (!b || b->result.status != LC_OK || !(b->result.ms_median > 0)) {
        snprintf(buf, len, "-");
        return;
    }
    const struct run_result *br = &b->result;
    snprintf(buf, len, "%+.1f%% %s", 100.0 * (a->ms_median / br->ms_median - 1.0),
             a->ms_p80 < br->ms_p20 ? "faster" : a->ms_p20 > br->ms_p80 ? "slower" : "same");
}

/* `longca view FILE | cat`: the results table, with --compare B a last "vs B" column (Runs' own),
 * added to each line the table writes (a failed run's line ends with its message instead). */
int view_print_results(const struct tui_model *m, const struct result_set *compare)
{
    struct run_spec *specs = malloc(sizeof *specs * (size_t)(m->n_runs > 0 ? m->n_runs : 1));
    char *text = NULL;
    size_t size = 0, done = 0;
    FILE *out = compare->n ? open_memstream(&text, &size) : stdout;
    if (!specs || !out) {
        free(specs);
        if (out && out != stdout) fclose(out), free(text);
        fprintf(stderr, "longca view: out of memory\n");
        return LC_EXIT_FAILED;
    }
    for (int i = 0; i < m->n_runs; i++) specs[i] = m->runs[i].spec;
    struct report rep;
    report_begin(&rep, out, REPORT_TABLE, specs, m->n_runs);
    free(specs);
    if (out != stdout) { /* the header line, then each row as it is written */
        fflush(out);
        printf("%.*s %14s\n", (int)(size - 1), text, "vs B");
        done = size;
    }
    for (int i = 0; i < m->n_runs; i++) {
        struct run_result res;
        if (!tui_run_outcome(&m->runs[i], &res)) continue;
        report_row(&rep, &m->runs[i].spec, &res);
        if (out == stdout) continue;
        fflush(out);
        char cell[48] = "";
        if (res.status == LC_OK) vs_b_text(compare, &m->runs[i].spec, &res, cell, sizeof cell);
        size_t n = size - done;
        if (n > 0 && text[size - 1] == '\n') n--;
        if (cell[0]) printf("%.*s %14s\n", (int)n, text + done, cell);
        else printf("%.*s\n", (int)n, text + done);
        done = size;
    }
    report_end(&rep);
    if (out != stdout) {
        fclose(out);
        fputs(text + done, stdout);
        free(text);
    }
    fflush(stdout);
    return LC_EXIT_OK;
}
