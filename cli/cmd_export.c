/* longca export CAPTURE [-o trace.json] [--per-rank DIR]: a capture as Chrome trace JSON. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/io/capture.h"
#include "cli/commands.h"
#include "profiling/trace_export.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: longca export CAPTURE [-o FILE] [--per-rank DIR]\n"
            "  Writes the capture's timelines as Chrome trace JSON (open in https://ui.perfetto.dev or\n"
            "  chrome://tracing): one process per rank, one track per CUDA stream, runs and iterations\n"
            "  on the host track, counters as counter tracks, overlap breakdowns in the \"longca\" key.\n"
            "  -o FILE         the trace (default: CAPTURE.trace.json)\n"
            "  --per-rank DIR  also one file per rank, DIR/rank<R>.json, for Holistic Trace Analysis\n");
}

static int fail(const char *fmt, const char *what)
{
    fputs("longca export: ", stderr);
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
    return LC_EXIT_USAGE;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

static void print_breakdowns(const struct prof_trace *trace)
{
    for (int k = 0; k < prof_trace_rank_count(trace); k++) {
        int rank = prof_trace_rank_at(trace, k);
        struct prof_breakdown b;
        if (prof_trace_breakdown(trace, rank, -1, &b, NULL) != LC_OK) continue;
        char hta[16];
        printf("rank %d: span %.3f ms, compute-only %.1f%%, comm-only %.1f%%, overlapped %.1f%%, other %.1f%%, "
               "idle %.1f%%, HTA overlap %s%s\n",
               rank, (double)b.span_ns / 1e6, b.compute_only_pct, b.comm_only_pct, b.overlapped_pct,
               b.other_only_pct, b.idle_pct, prof_pct_format(b.hta_overlap_pct, hta, sizeof hta),
               isnan(b.hta_overlap_pct) ? "" : "%");
    }
}

static int exit_for(enum lc_status st) { return st == LC_ERR_OOM || st == LC_ERR_INTERNAL ? LC_EXIT_FAILED : LC_EXIT_USAGE; }

int cmd_export(int argc, char **argv)
{
    const char *capture = NULL, *out = NULL, *per_rank = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return LC_EXIT_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--per-rank")) {
            if (i + 1 >= argc || !*argv[i + 1]) return fail("%s needs a path", a);
            *(!strcmp(a, "--per-rank") ? &per_rank : &out) = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return fail("unknown flag '%s' (see longca export --help)", a);
        } else if (capture) {
            return fail("one capture at a time ('%s' is extra)", a);
        } else {
            capture = a;
        }
    }
    if (!capture) return fail("%s", "needs a capture file (usage: longca export CAPTURE -o trace.json)");
    char default_out[4096];
    if (!out) {
        if (snprintf(default_out, sizeof default_out, "%s.trace.json", capture) >= (int)sizeof default_out)
            return fail("capture path too long: %s", capture);
        out = default_out;
    }
    if (per_rank && mkdir(per_rank, 0755) != 0 && errno != EEXIST)
        return fail("cannot create the per-rank directory %s", per_rank);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[LC_ERRMSG_LEN];
    struct prof_trace *trace;
    enum lc_status st = prof_trace_create(&trace, err);
    if (st == LC_OK) st = capture_read(capture, prof_trace_add, trace, err);
    struct prof_trace_summary sum = {0};
    if (st == LC_OK) st = prof_trace_write(trace, out, &sum, err);
    if (st == LC_OK && per_rank) st = prof_trace_write_per_rank(trace, per_rank, NULL, err);
    if (st != LC_OK) {
        prof_trace_free(trace);
        fprintf(stderr, "longca export: %s\n", err);
        return exit_for(st);
    }
    printf("wrote %s: %d rank(s), %lld interval(s), %lld host range(s), %lld counter sample(s) in %.2f s\n", out,
           sum.ranks, (long long)sum.kernels, (long long)sum.ranges, (long long)sum.counters, seconds_since(&t0));
    if (sum.moved)
        printf("  %lld interval(s) overlapped a neighbour without nesting and went to overflow tracks\n",
               (long long)sum.moved);
    if (per_rank) printf("wrote %s/rank<R>.json, one file per rank (HTA: TraceAnalysis(trace_dir=\"%s\"))\n", per_rank, per_rank);
    if (sum.kernels == 0) printf("  the capture holds no timeline intervals\n");
    print_breakdowns(trace);
    prof_trace_free(trace);
    return LC_EXIT_OK;
}
