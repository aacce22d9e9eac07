/* longca diff A B: two result files (captures, --format json or jsonl) run by run. Rows match
 * by run key (kernel, mask and its parameters, S, batch, heads, d, dtype, direction, CP method
 * and degree); each gets both medians, their ratio and a verdict from the p20-p80 ranges: B is
 * faster when its whole range lies below A's, slower when above, else the same. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/io/json.h"
#include "core/io/results_read.h"

enum diff_format { DIFF_TABLE = 0, DIFF_CSV, DIFF_JSON };

enum verdict { V_FASTER = 0, V_SLOWER, V_SAME, V_FAILED, V_ONLY_A, V_ONLY_B, V_COUNT };
static const char *const verdict_names[V_COUNT] = {"faster", "slower", "same", "failed", "only in A", "only in B"};

struct pair {
    const struct result_row *a, *b; /* either may be NULL */
    enum verdict v;
    double ratio; /* B median / A median; NaN when not both measured */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: longca diff A B [--format table|csv|json] [--ignore kernel]\n"
            "  Compares two results files run by run: captures (.lccap), `longca run --format json`\n"
            "  documents or `--format jsonl` streams, in any mix. Runs match by kernel, mask and its\n"
            "  parameters, S, batch, heads, d, dtype, direction, CP method and degree. Each row: both\n"
            "  medians (ms), B/A, and a verdict from the p20-p80 ranges: faster (B's range wholly below\n"
            "  A's), slower (wholly above) or same (they overlap); runs that failed or are on one side\n"
            "  only are listed as such.\n"
            "  --ignore kernel  match runs whatever their kernel: one kernel against another on the\n"
            "                   same shapes (A's flash against B's naive, say)\n");
}

static enum verdict judge(const struct run_result *a, const struct run_result *b)
{
    if (a->status != LC_OK || b->status != LC_OK) return V_FAILED;
    if (b->ms_p80 < a->ms_p20) return V_FASTER;
    if (b->ms_p20 > a->ms_p80) return V_SLOWER;
    return V_SAME;
}

/* A's runs in A's order (the first of a key), then B's that A lacks. */
static int pair_up(const struct result_set *a, const struct result_set *b, struct pair *out)
{
    int n = 0;
    for (int k = 0; k < a->n; k++) {
        if (results_find(a, a->rows[k].key) != &a->rows[k]) continue;
        const struct result_row *match = results_find(b, a->rows[k].key);
        struct pair p = {&a->rows[k], match, V_ONLY_A, NAN};
        if (match) {
            p.v = judge(&p.a->result, &match->result);
            if (p.v != V_FAILED && p.a->result.ms_median > 0) p.ratio = match->result.ms_median / p.a->result.ms_median;
        }
        out[n++] = p;
    }
    for (int k = 0; k < b->n; k++)
        if (results_find(b, b->rows[k].key) == &b->rows[k] && !results_find(a, b->rows[k].key))
            out[n++] = (struct pair){NULL, &b->rows[k], V_ONLY_B, NAN};
    return n;
}

static const char *key_of(const struct pair *p) { return p->a ? p->a->key : p->b->key; }

static void cell_ms(const struct result_row *r, char *median, char *range, size_t len)
{
    if (!r || r->result.status != LC_OK) {
        snprintf(median, len, "%s", r ? lc_status_name(r->result.status) : "-");
        snprintf(range, len, "-");
        return;
    }
    snprintf(median, len, "%.3f", r->result.ms_median);
    snprintf(range, len, "%.3f-%.3f", r->result.ms_p20, r->result.ms_p80);
}

static void print_table(const struct pair *pairs, int n)
{
    int width = 3;
    for (int k = 0; k < n; k++)
        if ((int)strlen(key_of(&pairs[k])) > width) width = (int)strlen(key_of(&pairs[k]));
    printf("%-*s %10s %19s %10s %19s %7s  %s\n", width, "run", "A ms", "A p20-p80", "B ms", "B p20-p80", "B/A", "verdict");
    for (int k = 0; k < n; k++) {
        const struct pair *p = &pairs[k];
        char am[32], ar[48], bm[32], br[48], ratio[16] = "-";
        cell_ms(p->a, am, ar, sizeof am);
        cell_ms(p->b, bm, br, sizeof bm);
        if (isfinite(p->ratio)) snprintf(ratio, sizeof ratio, "%.3f", p->ratio);
        printf("%-*s %10s %19s %10s %19s %7s  %s\n", width, key_of(p), am, ar, bm, br, ratio, verdict_names[p->v]);
    }
}

static void csv_ms(const struct result_row *r)
{
    if (r && r->result.status == LC_OK)
        printf(",%.6f,%.6f,%.6f", r->result.ms_median, r->result.ms_p20, r->result.ms_p80);
    else
        printf(",,,");
}

static void print_csv(const struct pair *pairs, int n)
{
    printf("run,a_ms_median,a_ms_p20,a_ms_p80,b_ms_median,b_ms_p20,b_ms_p80,ratio,verdict\n");
    for (int k = 0; k < n; k++) {
        const struct pair *p = &pairs[k];
        printf("\"%s\"", key_of(p)); /* keys hold no quotes: names, numbers and '=' */
        csv_ms(p->a);
        csv_ms(p->b);
        if (isfinite(p->ratio)) printf(",%.6f", p->ratio);
        else printf(",");
        printf(",%s\n", verdict_names[p->v]);
    }
}

static void json_side(const char *name, const struct result_row *r)
{
    printf(", \"%s\": ", name);
    if (!r) {
        fputs("null", stdout);
        return;
    }
    printf("{\"status\": \"%s\", \"ms_median\": ", lc_status_name(r->result.status));
    json_write_double(stdout, r->result.ms_median);
    fputs(", \"ms_p20\": ", stdout);
    json_write_double(stdout, r->result.ms_p20);
    fputs(", \"ms_p80\": ", stdout);
    json_write_double(stdout, r->result.ms_p80);
    fputc('}', stdout);
}

static void print_json(const struct pair *pairs, int n, const char *path_a, const char *path_b)
{
    fputs("{\"a\": ", stdout);
    json_write_string(stdout, path_a);
    fputs(", \"b\": ", stdout);
    json_write_string(stdout, path_b);
    fputs(", \"rows\": [", stdout);
    for (int k = 0; k < n; k++) {
        const struct pair *p = &pairs[k];
        fputs(k ? ",\n  {\"run\": " : "\n  {\"run\": ", stdout);
        json_write_string(stdout, key_of(p));
        json_side("a", p->a);
        json_side("b", p->b);
        fputs(", \"ratio\": ", stdout);
        json_write_double(stdout, p->ratio);
        printf(", \"verdict\": \"%s\"}", verdict_names[p->v]);
    }
    fputs("\n]}\n", stdout);
}

int cmd_diff(int argc, char **argv)
{
    const char *paths[2] = {NULL, NULL}, *format = "table";
    bool any_kernel = false;
    int n_paths = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return LC_EXIT_OK;
        } else if (!strcmp(a, "--format")) {
            if (i + 1 >= argc) return lc_usage_error("longca diff", "%s needs table, csv or json", a);
            format = argv[++i];
        } else if (!strcmp(a, "--ignore")) {
            if (i + 1 >= argc || strcmp(argv[i + 1], "kernel"))
                return lc_usage_error("longca diff", "%s takes kernel", a);
            any_kernel = true, i++;
        } else if (a[0] == '-' && a[1]) {
            return lc_usage_error("longca diff", "unknown flag '%s' (see longca diff --help)", a);
        } else if (n_paths == 2) {
            return lc_usage_error("longca diff", "two files at a time ('%s' is a third)", a);
        } else {
            paths[n_paths++] = a;
        }
    }
    enum diff_format fmt = !strcmp(format, "csv") ? DIFF_CSV : !strcmp(format, "json") ? DIFF_JSON : DIFF_TABLE;
    if (fmt == DIFF_TABLE && strcmp(format, "table"))
        return lc_usage_error("longca diff", "--format '%s': table, csv or json", format);
    if (n_paths < 2) return lc_usage_error("longca diff", "needs two results files (usage: longca diff A B)");

    struct result_set sets[2];
    char err[LC_ERRMSG_LEN];
    for (int k = 0; k < 2; k++) {
        enum lc_status st = results_read(paths[k], &sets[k], err);
        if (st) {
            if (k) results_free(&sets[0]);
            lc_print_error("longca diff", "%s", err);
            return lc_status_exit(st);
        }
    }
    for (int k = 0; any_kernel && k < 2; k++)
        for (int r = 0; r < sets[k].n; r++) {
            struct run_spec spec = sets[k].rows[r].spec;
            snprintf(spec.kernel, sizeof spec.kernel, "*");
            result_key(&spec, sets[k].rows[r].key, sizeof sets[k].rows[r].key);
        }
    struct pair *pairs = calloc((size_t)(sets[0].n + sets[1].n + 1), sizeof *pairs);
    if (!pairs) {
        results_free(&sets[0]), results_free(&sets[1]);
        fprintf(stderr, "longca diff: out of memory\n");
        return LC_EXIT_FAILED;
    }
    int n = pair_up(&sets[0], &sets[1], pairs);
    if (fmt == DIFF_CSV) print_csv(pairs, n);
    else if (fmt == DIFF_JSON) print_json(pairs, n, paths[0], paths[1]);
    else {
        printf("A: %s (%s, %d runs)\nB: %s (%s, %d runs)\n", paths[0], sets[0].kind, sets[0].n, paths[1], sets[1].kind,
               sets[1].n);
        print_table(pairs, n);
        int count[V_COUNT] = {0};
        for (int k = 0; k < n; k++) count[pairs[k].v]++;
        printf("%d faster, %d slower, %d same, %d failed, %d only in A, %d only in B\n", count[V_FASTER],
               count[V_SLOWER], count[V_SAME], count[V_FAILED], count[V_ONLY_A], count[V_ONLY_B]);
    }
    free(pairs);
    results_free(&sets[0]);
    results_free(&sets[1]);
    return LC_EXIT_OK;
}
