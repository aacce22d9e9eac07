/* `longca run`: a sweep executed headless, printed as a table, CSV or JSON. In-process when one
 * device suffices; through a session of worker ranks under mpirun, with --workers, or when a
 * run needs several GPUs (CP). Bad input: one line on stderr, exit status 2. */
#define _POSIX_C_SOURCE 200809L /* gethostname, sigaction */
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io/capture.h"
#include "core/io/output_file.h"
#include "core/io/metadata.h"
#include "cli/commands.h"
#include "core/engine/cp_method.h"
#include "core/engine/kernel.h"
#include "core/model/parse.h"
#include "core/io/report.h"
#include "core/session/run_workers.h"
#include "core/engine/engine.h"
#include "core/engine/host_memory.h"
#include "core/engine/services.h"
#include "core/model/sweep.h"
#include "core/model/tally.h"
#include "core/session/worker.h"

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: longca run [--kernel K[,K..]] [--mask M[,M..]] [--seqlen LIST|LO:HI:xF] [options]\n"
            "Every axis takes a list (a,b,c) or a range (1k:16k:x2 geometric, 1k:4k:+1k arithmetic).\n"
            "  --kernel      kernels (longca list kernels); default cpu\n"
            "  --mask        mask patterns (longca list masks); default causal\n"
            "  --seqlen      sequence lengths (4096, 4k, 1m)\n"
            "  --batch       batch sizes; default 1\n"
            "  --heads       query:KV heads (64:8); default 64:8 on GPUs, 8:2 on the CPU\n"
            "  --head-dim    head dims; default 128 on GPUs, 64 on the CPU\n"
            "  --dtype       bf16, fp16, fp32; default bf16 on GPUs, fp32 on the CPU\n"
            "  --direction   fwd, bwd, fwd+bwd; default fwd\n"
            "  --cp          how runs spread over ranks (longca list cp): local (default) or a CP method\n"
            "  --gpus        workers (GPUs) per run: the CP degree (1 without --cp)\n"
            "  --cp-inner    usp: Ulysses degree; double_ring: window size\n"
            "  --warmup N    warm-up iterations (default 5 GPU, 1 CPU)\n"
            "  --iters N     timed iterations (default 20 GPU, 3 CPU)\n"
            "  --check       compare outputs and gradients with the CPU reference\n"
            "  --deterministic  deterministic backward where a kernel offers it\n"
            "  --counters    GPU counters: pm (live sampling, default), range (profiling reps), off\n"
            "  --window --global --prefix --block --density --doclen --seed   mask parameters\n"
            "  --format      table (default), csv, json (one document, closed on Ctrl-C), jsonl (a\n"
            "                header object: schema, version, commit, host, CPU, workers' GPUs with\n"
            "                driver/CUDA/NCCL/cuDNN, command line; then one object per finished run)\n"
            "  -o, --output F  write the results to F, replaced whole when the sweep ends\n"
            "  --capture F   write the event stream to F (open it with longca view F)\n"
            "  --workers N   run on N spawned worker ranks instead of in-process\n"
            "  --dry-run     validate and list the runs of the sweep, run nothing\n"
            "  --quiet       no progress line on stderr\n"
            "  --strict      unsupported runs fail the sweep too\n"
            "FLOPs: fwd 4*area*h_q*d from the mask's exact area; bwd 2.5x fwd. A run estimated at over\n"
            "a minute a rep says so on stderr before its reps; Ctrl-C stops a rep between kernel calls.\n"
            "Exit status: 0 every run that could run succeeded; 1 a run failed (an error, out of memory,\n"
            "a lost worker, a --check mismatch, Ctrl-C) or no run could run (all unsupported); 2 bad\n"
            "input. Unsupported runs in a sweep that otherwise ran are counted in the last line on\n"
            "stderr (\"N of M runs failed\"); --strict fails them. Under mpirun --enable-recovery\n"
            "(which exits 0 whatever its ranks return) rank 0 stops mpirun when it fails: exit 1,\n"
            "bad input included.\n");
}

/* The sink of a headless run: capture, progress on a terminal, a row per finished run. */
struct headless {
    struct report report;
    struct capture_writer *capture;
    struct output_file output; /* -o */
    const struct run_options *opt;
    const struct run_spec *runs;
    int n_runs;
    bool progress;
    struct tally tally;
};

/* Ctrl-C: the sweep stops between iterations and the results so far are written out whole. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void headless_emit(void *ctx, const struct event *ev)
{
    struct headless *h = ctx;
    if (h->capture) capture_write(h->capture, ev);
    report_event(&h->report, ev);
    if (ev->type == EV_WORKER_LOST) { /* idle or not, a lost worker fails the sweep */
        tally_lost_worker(&h->tally);
        lc_print_error(h->progress ? "\r\033[Klongca run" : "longca run", "worker rank %d lost: %s", ev->rank,
                       ev->u.error.message);
    }
    if (ev->run_id < 0 || ev->run_id >= h->n_runs) {
        /* About the session, not a run (clocks not aligned, a GPU recorder without counters):
         * worth a line, not a failure. */
        if (ev->type == EV_ERROR)
            fprintf(stderr, "%slongca run: rank %d: %s\n", h->progress ? "\r\033[K" : "", ev->rank,
                    ev->u.error.message);
        return;
    }
    const struct run_spec *spec = &h->runs[ev->run_id];
    if (ev->type == EV_ESTIMATE) { /* said before the reps start, whatever --quiet */
        char what[160], estimate[320];
        run_spec_describe(spec, what, sizeof what);
        event_estimate_describe(&ev->u.estimate, estimate, sizeof estimate);
        fprintf(stderr, "%slongca run: run %d (%s) will take over a minute a rep: %s; Ctrl-C cancels\n",
                h->progress ? "\r\033[K" : "", ev->run_id + 1, what, estimate);
    }
    if (ev->type == EV_PROGRESS && h->progress) {
        char what[160];
        run_spec_describe(spec, what, sizeof what);
        fprintf(stderr, "\r\033[K[%d/%d] %s  %s %d/%d", ev->run_id + 1, h->n_runs, what,
                run_phase_name(ev->u.progress.phase), ev->u.progress.iter, ev->u.progress.total);
        fflush(stderr);
    }
    if (ev->type == EV_RUN_DONE) {
        if (h->progress) fprintf(stderr, "\r\033[K");
        tally_outcome(&h->tally, &ev->u.result); /* one outcome a run: its run_done */
        report_run_done(&h->report, ev->run_id, &ev->u.result);
    }
}

static void emit_queued(struct headless *h, int run_id)
{
    struct event ev;
    event_init(&ev, EV_RUN_QUEUED, run_id, 0);
    ev.t_ns = lc_now_ns();
    ev.u.spec = h->runs[run_id];
    headless_emit(h, &ev);
}

/* The GPU recorder on tl, from the device's opening to the end of the sweep; a note about it
 * goes out as an event of no run, as a worker's would. */
static const struct timeline_recorder *start_recorder(struct headless *h, struct timeline *tl)
{
    const struct timeline_recorder *rec;
    char note[LC_ERRMSG_LEN];
    enum lc_status st = services_start_gpu_recorder(tl, &rec, note);
    if (note[0]) {
        struct event ev;
        event_init(&ev, EV_ERROR, -1, 1);
        ev.t_ns = lc_now_ns();
        ev.u.error.status = st != LC_OK ? st : LC_ERR_UNSUPPORTED;
        snprintf(ev.u.error.message, sizeof ev.u.error.message, "%s", note);
        headless_emit(h, &ev);
    }
    return rec;
}

/* What a worker says on joining, for the one in-process "worker" (rank 1). */
static void emit_hello(struct headless *h, const struct device_ops *dev, const char *describe)
{
    struct event ev;
    event_init(&ev, EV_HELLO, -1, 1);
    ev.t_ns = lc_now_ns();
    if (gethostname(ev.u.hello.host, sizeof ev.u.hello.host - 1) != 0) snprintf(ev.u.hello.host, sizeof ev.u.hello.host, "?");
    snprintf(ev.u.hello.device, sizeof ev.u.hello.device, "%.95s", describe);
    snprintf(ev.u.hello.backend, sizeof ev.u.hello.backend, "%s", dev->name);
    if (dev->kind == DEVICE_CUDA) metadata_fill_stack(&ev.u.hello, dev);
    headless_emit(h, &ev);
}

/* Runs every spec in this process, opening each device kind once, until Ctrl-C. */
static void run_in_process(struct headless *h)
{
    const struct device_ops *opened[2] = {NULL, NULL};
    const struct timeline_recorder *recorder = NULL;
    struct timeline tl;
    timeline_init(&tl);
    bool cpu_only = true; /* a GPU runtime maps large regions of its own: no data limit then */
    for (int i = 0; i < h->n_runs; i++) cpu_only &= kernel_find(h->runs[i].kernel)->device == DEVICE_CPU;
    if (cpu_only) host_memory_take_share(1);
    for (int i = 0; i < h->n_runs && !interrupted; i++) {
        emit_queued(h, i);
        const struct longca_kernel *k = kernel_find(h->runs[i].kernel);
        const struct device_ops *dev = device_for(k->device);
        if (!dev) dev = &device_cpu; /* the driver reports that the kernel needs a GPU */
        if (!opened[dev->kind]) {
            char describe[128], err[LC_ERRMSG_LEN];
            if (dev->open(0, describe, sizeof describe, err)) dev = &device_cpu;
            opened[dev->kind] = dev;
            emit_hello(h, dev, describe);
            if (dev->kind == DEVICE_CUDA) recorder = start_recorder(h, &tl);
        }
        struct engine_env env = {.device = dev, .rank = 1, .cores = omp_get_max_threads(), .sink = {headless_emit, h},
                                 .cancel = (volatile int *)&interrupted, .timeline = &tl,
                                 .recorder = dev->kind == DEVICE_CUDA ? recorder : NULL};
        struct run_result mine;
        engine_execute(&env, &h->runs[i], i, &mine);
        struct event done; /* one rank: the merge is its result, said once as for any run */
        event_init(&done, EV_RUN_DONE, i, -1);
        done.t_ns = lc_now_ns();
        run_result_merge(&mine, 1, env.rank, &done.u.result);
        headless_emit(h, &done);
    }
    if (recorder) recorder->stop();
    for (int d = 0; d < 2; d++)
        if (opened[d]) opened[d]->close();
    timeline_destroy(&tl);
}

/* --flag value or --flag=value; sweep flags go to the sweep, the rest are the command's own. */
static enum lc_status parse_args(int argc, char **argv, struct sweep_axes *axes, struct run_options *opt, bool *help,
                                 char *err)
{
    sweep_init(axes);
    memset(opt, 0, sizeof *opt);
    opt->format = REPORT_TABLE;
    for (int i = 1; i < argc; i++) {
        char flag[64];
        const char *arg = argv[i], *value = NULL;
        const char *eq = strchr(arg, '=');
        if (!strcmp(arg, "-o")) arg = "--output"; /* the one short flag, as in longca export */
        if (strncmp(arg, "--", 2) || strlen(arg) < 3)
            return lc_fail(err, LC_ERR_INVALID, "unexpected argument '%s' (flags start with --)", arg);
        if ((eq ? (size_t)(eq - arg) : strlen(arg)) >= sizeof flag)
            return lc_fail(err, LC_ERR_INVALID, "unknown flag '%.40s...'", arg);
        snprintf(flag, sizeof flag, "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
        bool has_next = !eq && i + 1 < argc;
        value = eq ? eq + 1 : has_next ? argv[i + 1] : NULL;
        bool consumed = true, takes_value = true;
        enum lc_status st = LC_OK;
        if (!strcmp(flag, "--help") || !strcmp(flag, "-h")) {
            *help = true;
            takes_value = false;
        } else if (!strcmp(flag, "--dry-run") || !strcmp(flag, "--quiet") || !strcmp(flag, "--strict")) {
            *(!strcmp(flag, "--quiet") ? &opt->quiet : !strcmp(flag, "--strict") ? &opt->strict : &opt->dry_run) = true;
            takes_value = false;
        } else if (!strcmp(flag, "--format")) {
            if (!value || report_format_parse(value, &opt->format))
                st = lc_fail(err, LC_ERR_INVALID, "--format takes table, csv, json or jsonl");
        } else if (!strcmp(flag, "--output") || !strcmp(flag, "-o")) {
            if (!value || !*value) st = lc_fail(err, LC_ERR_INVALID, "%s needs a file name", flag);
            opt->output = value;
        } else if (!strcmp(flag, "--capture")) {
            if (!value || !*value) st = lc_fail(err, LC_ERR_INVALID, "--capture needs a file name");
            opt->capture = value;
        } else if (!strcmp(flag, "--workers")) {
            int64_t n = 0;
            st = parse_int(flag, value, 1, 4096, &n, err);
            opt->workers = (int)n;
        } else {
            st = sweep_parse_flag(axes, flag, value, &consumed, &takes_value, err);
            if (!st && !consumed) st = lc_fail(err, LC_ERR_INVALID, "unknown flag '%s' (see longca run --help)", flag);
        }
        if (st) return st;
        if (!takes_value && eq) return lc_fail(err, LC_ERR_INVALID, "%s takes no value", flag);
        if (takes_value && !eq) i++;
    }
    return LC_OK;
}

/* Lists the runs; a CP run adds what its method predicts without running (the run's own
 * imbalance and bytes per rank, largest and mean). */
static void print_dry_run(const struct run_spec *runs, int n_runs)
{
    for (int i = 0; i < n_runs; i++) {
        char what[160], err[LC_ERRMSG_LEN];
        run_spec_describe(&runs[i], what, sizeof what);
        printf("%4d  %s", i + 1, what);
        struct cp_prediction p;
        if (run_spec_is_cp(&runs[i])) {
            if (cp_method_predict(&runs[i], &p, err) == LC_OK)
                printf("  predicted: imbalance %.4f, bytes per rank max %.4g mean %.4g", p.imbalance, p.max_bytes,
                       p.mean_bytes);
            else
                printf("  predicted: %s", err);
            cp_prediction_free(&p);
        }
        putchar('\n');
    }
    printf("%d run%s\n", n_runs, n_runs == 1 ? "" : "s");
}

/* The sweep is over: results and capture closed, the last line said; the exit status. */
static int finish_sweep(struct headless *h)
{
    char err[LC_ERRMSG_LEN];
    int status = tally_exit_status(&h->tally);
    const char *unwritten = NULL; /* the runs went well but a file of them did not */
    report_end(&h->report);
    if (h->opt->output && output_commit(&h->output, err)) {
        lc_print_error("longca run", "%s", err);
        status = LC_EXIT_FAILED;
        unwritten = "the results file";
    }
    if (interrupted) fprintf(stderr, "longca run: interrupted; the runs that finished are written\n");
    if (h->capture && capture_close(h->capture, err)) {
        lc_print_error("longca run", "%s", err);
        status = LC_EXIT_FAILED;
        unwritten = unwritten ? "the results file and the capture" : "the capture";
    }
    char summary[LC_ERRMSG_LEN];
    tally_summary(&h->tally, summary, sizeof summary);
    fprintf(stderr, "longca run: %s%s%s\n", summary, unwritten ? "; not written: " : "", unwritten ? unwritten : "");
    fflush(stdout);
    return status;
}

static int run_command(int argc, char **argv)
{
    struct sweep_axes axes;
    struct run_options opt;
    char err[LC_ERRMSG_LEN];
    bool help = false;
    int worker_status;
    /* Under mpirun every rank runs this command; ranks above 0 become workers at once. */
    if (run_under_mpirun() && worker_take_rank(&worker_status)) return worker_status;
    if (parse_args(argc, argv, &axes, &opt, &help, err)) {
        lc_print_error("longca run", "%s", err);
        return run_release_workers(LC_EXIT_USAGE);
    }
    if (help) {
        run_usage(stdout);
        return run_release_workers(LC_EXIT_OK);
    }
    struct run_spec *runs = NULL;
    int n_runs = 0;
    if (sweep_expand(&axes, &runs, &n_runs, err)) {
        lc_print_error("longca run", "%s", err);
        return run_release_workers(LC_EXIT_USAGE);
    }
    if (opt.dry_run) {
        print_dry_run(runs, n_runs);
        free(runs);
        return run_release_workers(LC_EXIT_OK);
    }
    bool with_workers = run_needs_workers(&opt, runs, n_runs);
    struct headless h = {.runs = runs, .n_runs = n_runs, .opt = &opt, .progress = isatty(STDERR_FILENO) && !opt.quiet};
    tally_init(&h.tally, n_runs, opt.strict);
    /* A session writes its own capture; in-process runs write theirs here. */
    enum lc_status opened = LC_OK;
    if (!with_workers && opt.capture && (opened = capture_open(opt.capture, &h.capture, err)) != LC_OK) {
        lc_print_error("longca run", "%s", err);
        free(runs);
        return lc_status_exit(opened);
    }
    if (opt.output && (opened = output_open(&h.output, opt.output, err)) != LC_OK) {
        lc_print_error("longca run", "%s", err);
        if (h.capture) capture_close(h.capture, err);
        free(runs);
        return run_release_workers(lc_status_exit(opened));
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    opt.stop = &interrupted;
    report_begin(&h.report, opt.output ? h.output.f : stdout, opt.format, runs, n_runs);
    int status = LC_EXIT_OK;
    if (with_workers) {
        struct event_sink sink = {headless_emit, &h};
        status = run_with_workers(&opt, runs, n_runs, &sink);
    } else {
        run_in_process(&h);
    }
    int finished = finish_sweep(&h);
    if (finished > status) status = finished;
    free(runs);
    return status;
}

int cmd_run(int argc, char **argv) { return run_end_job(run_command(argc, argv)); }
