/* longca export CAPTURE [--format json|perfetto] [-o FILE] [--per-rank DIR] [--run LIST]: a
 * capture as a Chrome trace JSON or a Perfetto protobuf trace. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/io/capture.h"
#include "core/io/output_file.h"
#include "cli/commands.h"
#include "core/model/parse.h"
#include "profiling/trace_export.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: longca export CAPTURE [--format json|perfetto] [-o FILE] [--per-rank DIR] [--run LIST]\n"
            "  Writes the capture's timelines as a trace for https://ui.perfetto.dev, chrome://tracing and\n"
            "  Holistic Trace Analysis: one process per worker rank (numbered from 0), one track per CUDA\n"
            "  stream, runs, iterations (ProfilerStep#N) and launches on the host track, counters as\n"
            "  counter tracks, overlap breakdowns in the \"longca\" key (JSON).\n"
            "  --format F      json (Chrome trace, default) or perfetto (protobuf TrackEvent, streamed)\n"
            "  -o FILE         the trace (default: CAPTURE.trace.json or CAPTURE.perfetto-trace)\n"
            "  --per-rank DIR  also one JSON file per rank, DIR/rank<R>.json, for HTA's\n"
            "                  TraceAnalysis(trace_dir=DIR)\n"
            "  --run LIST      only these runs (0,2,5-7); one run keeps HTA's breakdown free of the\n"
            "                  gaps between runs\n");
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

static void print_breakdowns(FILE *say, const struct prof_trace *trace)
{
    for (int k = 0, shown = 0; k < prof_trace_rank_count(trace); k++) {
        int rank = prof_trace_rank_at(trace, k);
        struct prof_breakdown b;
        if (prof_trace_breakdown(trace, rank, -1, &b, NULL) != LC_OK) continue;
        char hta[16];
        fprintf(say, "rank %d (MPI %d): span %.3f ms, compute-only %.1f%%, comm-only %.1f%%, overlapped %.1f%%, other %.1f%%, "
               "idle %.1f%%, HTA overlap %s%s\n",
               shown++, rank, (double)b.span_ns / 1e6, b.compute_only_pct, b.comm_only_pct, b.overlapped_pct,
               b.other_only_pct, b.idle_pct, prof_pct_format(b.hta_overlap_pct, hta, sizeof hta),
               isnan(b.hta_overlap_pct) ? "" : "%");
    }
}

/* "0,2,5-7" into runs (at most max of them). */
static int parse_runs(const char *text, int *runs, int max)
{
    char buf[1024], err[LC_ERRMSG_LEN];
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf) return -1;
    int n = 0;
    for (char *save = NULL, *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        char *dash = strchr(part, '-');
        int64_t lo, hi;
        if (dash) *dash = 0;
        if (parse_int("--run", part, 0, INT32_MAX, &lo, err) != LC_OK) return -1;
        hi = lo;
        if (dash && (parse_int("--run", dash + 1, lo, INT32_MAX, &hi, err) != LC_OK || hi - lo >= max)) return -1;
        for (int64_t r = lo; r <= hi; r++) {
            if (n == max) return -1;
            runs[n++] = (int)r;
        }
    }
    return n;
}

int cmd_export(int argc, char **argv)
{
    const char *capture = NULL, *out = NULL, *per_rank = NULL, *format = "json", *run_list = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return LC_EXIT_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--per-rank")) {
            if (i + 1 >= argc || !*argv[i + 1]) return lc_usage_error("longca export", "%s needs a path", a);
            *(!strcmp(a, "--per-rank") ? &per_rank : &out) = argv[++i];
        } else if (!strcmp(a, "--format") || !strcmp(a, "--run")) {
            if (i + 1 >= argc || !*argv[i + 1]) return lc_usage_error("longca export", "%s needs a value", a);
            *(!strcmp(a, "--run") ? &run_list : &format) = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return lc_usage_error("longca export", "unknown flag '%s' (see longca export --help)", a);
        } else if (capture) {
            return lc_usage_error("longca export", "one capture at a time ('%s' is extra)", a);
        } else {
            capture = a;
        }
    }
    if (!capture)
        return lc_usage_error("longca export", "needs a capture file (usage: longca export CAPTURE -o trace.json)");
    bool perfetto = !strcmp(format, "perfetto");
    if (!perfetto && strcmp(format, "json"))
        return lc_usage_error("longca export", "--format '%s': json or perfetto", format);
    enum { MAX_RUNS = 4096 };
    static int runs[MAX_RUNS];
    int n_runs = run_list ? parse_runs(run_list, runs, MAX_RUNS) : 0;
    if (n_runs < 0)
        return lc_usage_error("longca export", "--run '%s': run numbers as in longca view, a list (0,2,5-7)", run_list);
    char default_out[4096];
    if (!out) {
        if (snprintf(default_out, sizeof default_out, "%s.%s", capture, perfetto ? "perfetto-trace" : "trace.json") >=
            (int)sizeof default_out)
            return lc_usage_error("longca export", "capture path too long: %s", capture);
        out = default_out;
    }
    if (per_rank && mkdir(per_rank, 0755) != 0 && errno != EEXIST)
        return lc_usage_error("longca export", "cannot create the per-rank directory %s", per_rank);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[LC_ERRMSG_LEN];
    struct prof_trace *trace = NULL;
    enum lc_status st = LC_OK;
    long truncated_at = 0;
    struct prof_trace_summary sum = {0};
    /* Perfetto from a file streams (read twice, a run at a time); a pipe cannot be read twice and
     * the per-rank JSON files need the whole trace, so those gather it in memory. */
    bool stream = perfetto && strcmp(capture, "-") && !per_rank;
    if (stream) {
        st = prof_trace_stream_perfetto(capture, run_list ? runs : NULL, n_runs, out, &sum, &truncated_at, err);
    } else {
        st = prof_trace_create(&trace, err);
        if (st == LC_OK && run_list) st = prof_trace_select_runs(trace, runs, n_runs, err);
        if (st == LC_OK) st = capture_read(capture, prof_trace_add, trace, &truncated_at, err);
        for (int k = 0; st == LC_OK && k < n_runs; k++)
            if (!prof_trace_has_run(trace, runs[k])) st = lc_fail(err, LC_ERR_INVALID, "the capture has no run %d", runs[k]);
        if (st == LC_OK) st = (perfetto ? prof_trace_write_perfetto : prof_trace_write)(trace, out, &sum, err);
        if (st == LC_OK && per_rank) st = prof_trace_write_per_rank(trace, per_rank, NULL, err);
    }
    if (st != LC_OK) {
        prof_trace_free(trace);
        fprintf(stderr, "longca export: %s\n", err);
        return lc_status_exit(st);
    }
    if (truncated_at)
        lc_print_error("longca export", "%s: truncated at line %ld (the writer stopped mid-line); exported what precedes",
                       capture, truncated_at);
    /* With -o - the trace is on stdout: the summary goes to stderr. */
    FILE *say = output_names_descriptor(out) == STDOUT_FILENO ? stderr : stdout;
    fprintf(say, "wrote %s: %d rank(s), %lld interval(s), %lld launch(es), %lld host range(s), %lld counter sample(s) in "
            "%.2f s\n",
            out, sum.ranks, (long long)sum.kernels, (long long)sum.launches, (long long)sum.ranges,
            (long long)sum.counters, seconds_since(&t0));
    if (sum.moved)
        fprintf(say, "  %lld interval(s) overlapped a neighbour without nesting and went to overflow tracks\n",
               (long long)sum.moved);
    if (per_rank) fprintf(say, "wrote %s/rank<R>.json, one file per rank (HTA: TraceAnalysis(trace_dir=\"%s\"))\n", per_rank, per_rank);
    if (sum.kernels == 0) fprintf(say, "  the capture holds no timeline intervals\n");
    if (trace) print_breakdowns(say, trace);
    prof_trace_free(trace);
    return LC_EXIT_OK;
}
