/* The front end's model fed hand-made events: workers come and go, runs queue, progress,
 * finish, fail and get cancelled; CP results merge; intervals kept per run, bounded; counters. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "core/io/json.h"
#include "tui/export.h"
#include "tui/model.h"

static struct event make(enum event_type type, int run_id, int rank)
{
    struct event ev;
    event_init(&ev, type, run_id, rank);
    return ev;
}

static void hello(struct tui_model *m, int rank, const char *backend)
{
    struct event ev = make(EV_HELLO, -1, rank);
    snprintf(ev.u.hello.host, sizeof(ev.u.hello.host), "node%d", rank);
    snprintf(ev.u.hello.backend, sizeof(ev.u.hello.backend), "%s", backend);
    tui_model_apply(m, &ev);
}

static void queue(struct tui_model *m, int run_id, enum mask_pattern mask, int64_t seqlen, int gpus, const char *cp)
{
    struct event ev = make(EV_RUN_QUEUED, run_id, 0);
    run_spec_defaults(&ev.u.spec, false);
    ev.u.spec.mask = mask;
    ev.u.spec.seqlen = seqlen;
    ev.u.spec.cp_degree = gpus;
    snprintf(ev.u.spec.cp_method, sizeof(ev.u.spec.cp_method), "%s", cp);
    tui_model_apply(m, &ev);
}

static void progress(struct tui_model *m, int run_id, int rank, int iter, int total)
{
    struct event ev = make(EV_PROGRESS, run_id, rank);
    ev.u.progress.phase = PHASE_TIMED;
    ev.u.progress.iter = iter;
    ev.u.progress.total = total;
    tui_model_apply(m, &ev);
}

static void result(struct tui_model *m, int run_id, int rank, double ms, double tflops)
{
    struct event ev = make(EV_RESULT, run_id, rank);
    ev.u.result.status = LC_OK;
    ev.u.result.ms_median = ms;
    ev.u.result.tflops = tflops;
    ev.u.result.peak_mem_bytes = (int64_t)(ms * 1e6);
    ev.u.result.ranks = rank < 0 ? 2 : 1;
    tui_model_apply(m, &ev);
}

/* Rank 0's merge of the run's ranks: the result every front end shows. */
static void run_done(struct tui_model *m, int run_id, int ranks, double ms, double tflops)
{
    struct event ev = make(EV_RUN_DONE, run_id, -1);
    ev.u.result.status = LC_OK;
    ev.u.result.ms_median = ms;
    ev.u.result.tflops = tflops;
    ev.u.result.peak_mem_bytes = (int64_t)(ms * 1e6);
    ev.u.result.ranks = ranks;
    tui_model_apply(m, &ev);
}

static void test_workers(void)
{
    struct tui_model m;
    tui_model_init(&m);
    hello(&m, 2, "cpu");
    hello(&m, 1, "cpu");
    CHECK(m.n_workers == 2 && m.workers[0].rank == 1 && m.workers[1].rank == 2);
    CHECK(tui_model_cpu_only(&m));
    struct event lost = make(EV_WORKER_LOST, -1, 2);
    lost.u.error.status = LC_ERR_COMM;
    snprintf(lost.u.error.message, sizeof(lost.u.error.message), "silent for 5.0 s");
    tui_model_apply(&m, &lost);
    CHECK(tui_model_worker(&m, 2)->lost);
    CHECK(strstr(tui_model_worker(&m, 2)->reason, "silent") != NULL);
    CHECK(!tui_model_worker(&m, 1)->lost);
    hello(&m, 3, "cuda");
    CHECK(!tui_model_cpu_only(&m));
    tui_model_free(&m);
}

static void test_runs(void)
{
    struct tui_model m;
    tui_model_init(&m);
    unsigned gen = m.generation;
    queue(&m, 0, MASK_CAUSAL, 1024, 1, "none");
    queue(&m, 1, MASK_SLIDING_WINDOW, 2048, 1, "none");
    queue(&m, 2, MASK_CAUSAL, 2048, 2, "ring");
    queue(&m, 3, MASK_FULL, 2048, 1, "none");
    CHECK(m.generation != gen);
    CHECK(m.n_runs == 4 && tui_model_count(&m, TUI_RUN_QUEUED) == 4);
    CHECK(tui_model_current(&m) == NULL);

    struct event started = make(EV_RUN_STARTED, 0, 1);
    tui_model_apply(&m, &started);
    CHECK(tui_model_current(&m) == tui_model_run(&m, 0));
    progress(&m, 0, 1, 3, 5);
    const struct tui_run *r0 = tui_model_run(&m, 0);
    CHECK(r0->state == TUI_RUN_RUNNING && r0->n_ranks == 1 && r0->ranks[0].iter == 3 && r0->ranks[0].total == 5);
    result(&m, 0, 1, 2.5, 1.25);
    CHECK(!r0->have_result && r0->ranks[0].finished); /* a rank's own figures are not the run's result */
    run_done(&m, 0, 1, 2.5, 1.25);
    CHECK(r0->state == TUI_RUN_DONE && r0->have_result && r0->result.tflops == 1.25);

    /* A run fails on one rank: the rank and reason are kept, also when the merged result fails
     * with another rank's consequence. */
    struct event err = make(EV_ERROR, 1, 1);
    err.u.error.status = LC_ERR_INVALID;
    snprintf(err.u.error.message, sizeof(err.u.error.message), "window larger than the sequence");
    tui_model_apply(&m, &err);
    const struct tui_run *r1 = tui_model_run(&m, 1);
    CHECK(r1->state == TUI_RUN_FAILED && r1->error_rank == 1);
    CHECK(!strcmp(r1->error, "window larger than the sequence"));
    struct event merged = make(EV_RUN_DONE, 1, -1);
    merged.u.result.status = LC_ERR_COMM;
    snprintf(merged.u.result.message, sizeof(merged.u.result.message), "rank 2: peer gone");
    tui_model_apply(&m, &merged);
    CHECK(r1->state == TUI_RUN_FAILED && r1->error_rank == 1 && !strcmp(r1->error, "window larger than the sequence"));
    struct run_result row;
    CHECK(tui_run_outcome(r1, &row) && row.status == LC_ERR_INVALID &&
          !strcmp(row.message, "rank 1: window larger than the sequence"));

    /* CP run: per-rank results are not the headline, the merged one (run_done) is. */
    progress(&m, 2, 1, 1, 5);
    progress(&m, 2, 2, 2, 5);
    const struct tui_run *r2 = tui_model_run(&m, 2);
    CHECK(r2->n_ranks == 2 && r2->ranks[1].iter == 2);
    result(&m, 2, 1, 3.0, 2.0);
    result(&m, 2, 2, 4.0, 1.5);
    CHECK(!r2->have_result && r2->state == TUI_RUN_RUNNING);
    CHECK(r2->ranks[0].finished && r2->ranks[1].finished);
    run_done(&m, 2, 2, 4.0, 1.5);
    CHECK(r2->have_result && r2->result.ranks == 2 && r2->result.ms_median == 4.0 && r2->state == TUI_RUN_DONE);

    /* Cancelled: the sweep ends with run 3 never started. */
    struct event done = make(EV_SWEEP_DONE, -1, 0);
    tui_model_apply(&m, &done);
    CHECK(m.sweep_done && tui_model_run(&m, 3)->state == TUI_RUN_CANCELLED);
    CHECK(tui_model_count(&m, TUI_RUN_DONE) == 2 && tui_model_count(&m, TUI_RUN_FAILED) == 1);

    /* A result for a run never announced (a capture cut short) still shows. */
    run_done(&m, 9, 1, 1.0, 9.0);
    CHECK(tui_model_run(&m, 9) && !tui_model_run(&m, 9)->have_spec && tui_model_run(&m, 9)->have_result);
    char label[64];
    tui_run_label(tui_model_run(&m, 9), label, sizeof(label));
    CHECK(!strcmp(label, "run 9"));

    /* Sort by TFLOP/s, best first; runs without a figure go last; filter by description. */
    int idx[8];
    int n = tui_model_select(&m, NULL, TUI_SORT_TFLOPS, true, idx);
    CHECK(n == 5);
    CHECK(m.runs[idx[0]].id == 9 && m.runs[idx[1]].id == 2 && m.runs[idx[2]].id == 0);
    CHECK(m.runs[idx[3]].id == 1 && m.runs[idx[4]].id == 3);
    n = tui_model_select(&m, NULL, TUI_SORT_MS, false, idx);
    CHECK(m.runs[idx[0]].id == 9 && m.runs[idx[1]].id == 0 && m.runs[idx[2]].id == 2);
    n = tui_model_select(&m, "SLIDING", TUI_SORT_ID, false, idx);
    CHECK(n == 1 && m.runs[idx[0]].id == 1);
    n = tui_model_select(&m, "no such run", TUI_SORT_ID, false, idx);
    CHECK(n == 0);
    tui_model_free(&m);
}

static void test_worker_lost_fails_its_run(void)
{
    struct tui_model m;
    tui_model_init(&m);
    queue(&m, 0, MASK_CAUSAL, 1024, 2, "ring");
    progress(&m, 0, 2, 1, 5);
    struct event lost = make(EV_WORKER_LOST, -1, 2);
    lost.u.error.status = LC_ERR_COMM;
    snprintf(lost.u.error.message, sizeof(lost.u.error.message), "exited");
    tui_model_apply(&m, &lost);
    const struct tui_run *r = tui_model_run(&m, 0);
    CHECK(r->state == TUI_RUN_FAILED && r->error_rank == 2 && strstr(r->error, "exited"));
    struct run_result row;
    CHECK(tui_run_outcome(r, &row) && row.status == LC_ERR_COMM && !strcmp(row.message, "rank 2: worker lost: exited"));
    tui_model_free(&m);
}

/* The front end refuses a run it cannot place: an unsupported run, as `longca run` counts it,
 * not a failed one. */
static void test_refused_run_is_unsupported(void)
{
    struct tui_model m;
    tui_model_init(&m);
    queue(&m, 0, MASK_CAUSAL, 1024, 4, "ring");
    struct event refused = make(EV_ERROR, 0, 0);
    refused.u.error.status = LC_ERR_UNSUPPORTED;
    snprintf(refused.u.error.message, sizeof(refused.u.error.message), "needs 4 workers; this session has 2");
    tui_model_apply(&m, &refused);
    struct event done = make(EV_RUN_DONE, 0, -1);
    done.u.result = (struct run_result){.status = LC_ERR_UNSUPPORTED};
    snprintf(done.u.result.message, sizeof(done.u.result.message), "needs 4 workers; this session has 2");
    tui_model_apply(&m, &done);
    const struct tui_run *r = tui_model_run(&m, 0);
    CHECK(r->state == TUI_RUN_DONE && r->have_result && r->result.status == LC_ERR_UNSUPPORTED,
          "state %s", tui_run_state_name(r->state));
    CHECK(tui_model_count(&m, TUI_RUN_FAILED) == 0);
    tui_model_free(&m);
}

static void intervals(struct tui_model *m, int run_id, int rank, int64_t start, int64_t end, enum interval_kind kind)
{
    struct event ev = make(EV_INTERVALS, run_id, rank);
    ev.intervals = calloc(1, sizeof(*ev.intervals));
    ev.n_intervals = 1;
    ev.intervals[0].start_ns = start;
    ev.intervals[0].end_ns = end;
    ev.intervals[0].kind = (uint8_t)kind;
    tui_model_apply(m, &ev);
    event_free(&ev);
}

static void test_timeline(void)
{
    struct tui_model m;
    tui_model_init(&m);
    CHECK(tui_model_latest_timeline(&m) == NULL && tui_model_timeline(&m, 0) == NULL);
    queue(&m, 0, MASK_CAUSAL, 1024, 2, "ring");
    queue(&m, 1, MASK_CAUSAL, 1024, 1, "none");
    intervals(&m, 0, 1, 100, 200, IV_COMPUTE);
    intervals(&m, 0, 2, 150, 400, IV_COMM);
    intervals(&m, 0, 1, 250, 300, IV_COMM);
    const struct tui_timeline *t0 = tui_model_timeline(&m, 0);
    CHECK(t0 && t0->run_id == 0 && t0->n_lanes == 2 && t0->n_items == 3);
    CHECK(t0 && t0->lanes[0].rank == 1 && t0->lanes[0].n == 2);
    CHECK(t0 && t0->t0_ns == 100 && t0->t1_ns == 400);
    /* The next run's intervals go beside the first run's, never over them. */
    intervals(&m, 1, 2, 1000, 1100, IV_COMPUTE);
    const struct tui_timeline *t1 = tui_model_timeline(&m, 1);
    t0 = tui_model_timeline(&m, 0);
    CHECK(t1 && t1->run_id == 1 && t1->n_lanes == 1 && t1->lanes[0].rank == 2);
    CHECK(t1 && t1->t0_ns == 1000 && t1->t1_ns == 1100);
    CHECK(t0 && t0->n_lanes == 2 && t0->t0_ns == 100 && t0->t1_ns == 400, "run 0's timeline changed");
    CHECK(tui_model_latest_timeline(&m) == t1 && m.timeline_items == 4);
    /* A run that sent none has no timeline (the screen says so rather than show another run). */
    CHECK(tui_model_timeline(&m, 7) == NULL);
    /* Intervals of no run are ignored. */
    intervals(&m, -1, 1, 5, 6, IV_COMPUTE);
    CHECK(m.timeline_items == 4 && tui_model_latest_timeline(&m) == t1);
    tui_model_free(&m);
}

/* The bound: the oldest runs' timelines go first (flagged on the run), the run sending now is
 * kept, and one run alone past the bound keeps what fits, marked truncated. */
static void test_timeline_bound(void)
{
    struct tui_model m;
    tui_model_init(&m);
    CHECK(m.max_timeline_items == TUI_TIMELINE_MAX_ITEMS);
    m.max_timeline_items = 4;
    for (int run = 0; run < 4; run++) queue(&m, run, MASK_CAUSAL, 1024, 1, "none");
    intervals(&m, 0, 1, 0, 10, IV_COMPUTE);
    intervals(&m, 0, 1, 10, 20, IV_COMPUTE);
    intervals(&m, 1, 1, 100, 110, IV_COMPUTE);
    intervals(&m, 1, 1, 110, 120, IV_COMPUTE);
    CHECK(m.n_timelines == 2 && m.timeline_items == 4 && m.timelines_dropped == 0);
    intervals(&m, 2, 1, 200, 210, IV_COMPUTE);
    CHECK(tui_model_timeline(&m, 0) == NULL && tui_model_run(&m, 0)->timeline_dropped);
    CHECK(tui_model_timeline(&m, 1) && tui_model_timeline(&m, 2) && !tui_model_run(&m, 1)->timeline_dropped);
    CHECK(m.timeline_items == 3 && m.timelines_dropped == 1);
    /* Late intervals of a dropped run would make a partial timeline: ignored. */
    intervals(&m, 0, 1, 20, 30, IV_COMPUTE);
    CHECK(tui_model_timeline(&m, 0) == NULL && m.timeline_items == 3);
    /* Run 3 alone passes the bound: every older timeline goes, then what is past it. */
    struct event ev = make(EV_INTERVALS, 3, 1);
    ev.n_intervals = 6;
    ev.intervals = calloc((size_t)ev.n_intervals, sizeof(*ev.intervals));
    for (int i = 0; ev.intervals && i < ev.n_intervals; i++) {
        ev.intervals[i].start_ns = 300 + 10 * i;
        ev.intervals[i].end_ns = 305 + 10 * i;
    }
    tui_model_apply(&m, &ev);
    event_free(&ev);
    const struct tui_timeline *t3 = tui_model_timeline(&m, 3);
    CHECK(m.n_timelines == 1 && t3 && t3->n_items == 4 && t3->truncated);
    CHECK(t3 && t3->t0_ns == 300 && t3->t1_ns == 335);
    CHECK(m.timeline_items == 4 && m.timelines_dropped == 3);
    tui_model_free(&m);
}

static void test_counters(void)
{
    struct tui_model m;
    tui_model_init(&m);
    for (int i = 0; i < TUI_SERIES_LEN + 10; i++) {
        struct event ev = make(EV_COUNTERS, 0, 1);
        ev.samples = calloc(2, sizeof(*ev.samples));
        ev.n_samples = 2;
        snprintf(ev.samples[0].metric, sizeof(ev.samples[0].metric), "sm__throughput.avg.pct_of_peak_sustained_elapsed");
        ev.samples[0].value = i;
        snprintf(ev.samples[1].metric, sizeof(ev.samples[1].metric), "dram__throughput.avg.pct_of_peak_sustained_elapsed");
        ev.samples[1].value = 2.0 * i;
        tui_model_apply(&m, &ev);
        event_free(&ev);
    }
    CHECK(m.n_series == 2);
    const struct tui_series *s = &m.series[0];
    CHECK(s->n == TUI_SERIES_LEN && s->last == TUI_SERIES_LEN + 9);
    CHECK(s->values[s->head] == 10); /* the oldest kept */
    CHECK(m.series[1].last == 2.0 * (TUI_SERIES_LEN + 9));
    tui_model_free(&m);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    if (buf) fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

/* Export: CSV and JSON of every finished run, failures with their rank; the JSON's meta names
 * the stream's session and workers (a replayed capture's, not the exporting process's); no temp
 * file left. */
static void test_export(void)
{
    struct tui_model m;
    tui_model_init(&m);
    struct event session = make(EV_SESSION, -1, 0);
    session.u.session.schema = 2;
    snprintf(session.u.session.host, sizeof(session.u.session.host), "capture-host");
    snprintf(session.u.session.command, sizeof(session.u.session.command), "longca run --cp ring");
    tui_model_apply(&m, &session);
    struct event gpu = make(EV_HELLO, -1, 1);
    snprintf(gpu.u.hello.backend, sizeof(gpu.u.hello.backend), "cuda");
    snprintf(gpu.u.hello.driver, sizeof(gpu.u.hello.driver), "580.65.06");
    tui_model_apply(&m, &gpu);
    queue(&m, 0, MASK_CAUSAL, 1024, 1, "none");
    queue(&m, 1, MASK_SLIDING_WINDOW, 2048, 1, "none");
    queue(&m, 2, MASK_FULL, 1024, 1, "none");
    result(&m, 0, 1, 2.5, 1.25);
    run_done(&m, 0, 1, 2.5, 1.25);
    struct event err = make(EV_ERROR, 1, 1);
    err.u.error.status = LC_ERR_DEVICE;
    snprintf(err.u.error.message, sizeof(err.u.error.message), "kernel launch failed");
    tui_model_apply(&m, &err);
    /* run 2 stays queued: not exported */

    char dir[] = "/tmp/longca-export-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char base[128], path[160], msg[LC_ERRMSG_LEN];
    snprintf(base, sizeof(base), "%s/results", dir);
    int rows = -1;
    CHECK(tui_export_results(&m, base, &rows, msg) == LC_OK && rows == 2);

    snprintf(path, sizeof(path), "%s.csv", base);
    char *csv = slurp(path);
    CHECK(csv && !strncmp(csv, "kernel,mask,seqlen", 18));
    int lines = 0;
    for (char *c = csv; c && *c; c++) lines += *c == '\n';
    CHECK(lines == 3);
    CHECK(csv && strstr(csv, "rank 1: kernel launch failed"));
    free(csv);

    snprintf(path, sizeof(path), "%s.json", base);
    char *text = slurp(path);
    struct json_value doc;
    CHECK(text && json_parse(text, &doc, msg) == LC_OK);
    if (text && doc.type == JSON_OBJECT) {
        const struct json_value *list = json_get(&doc, "runs");
        CHECK(list && list->type == JSON_ARRAY && list->count == 2);
        if (list && list->count == 2) {
            double ms = 0;
            CHECK(json_as_double(json_get(&list->items[0], "ms_median"), &ms) && ms == 2.5);
            const struct json_value *st = json_get(&list->items[1], "status");
            CHECK(st && st->type == JSON_STRING && !strcmp(st->string, lc_status_name(LC_ERR_DEVICE)));
        }
        const struct json_value *meta = json_get(&doc, "meta");
        const struct json_value *host = meta ? json_get(meta, "host") : NULL;
        const struct json_value *command = meta ? json_get(meta, "command") : NULL;
        const struct json_value *workers = meta ? json_get(meta, "workers") : NULL;
        CHECK(host && host->type == JSON_STRING && !strcmp(host->string, "capture-host"), "meta.host");
        CHECK(command && command->type == JSON_STRING && !strcmp(command->string, "longca run --cp ring"));
        CHECK(workers && workers->type == JSON_ARRAY && workers->count == 1, "meta.workers");
        if (workers && workers->type == JSON_ARRAY && workers->count == 1) {
            const struct json_value *driver = json_get(&workers->items[0], "driver");
            CHECK(driver && driver->type == JSON_STRING && !strcmp(driver->string, "580.65.06"));
        }
        json_free(&doc);
    }
    free(text);

    /* Only the two files: the temp files were renamed into place. */
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') files++;
    if (d) closedir(d);
    CHECK(files == 2);
    /* A directory that does not exist: an error, no crash. */
    char missing[200];
    snprintf(missing, sizeof(missing), "%s/no/such/dir/results", dir);
    CHECK(tui_export_results(&m, missing, &rows, msg) != LC_OK && msg[0]);

    snprintf(path, sizeof(path), "%s.csv", base);
    unlink(path);
    snprintf(path, sizeof(path), "%s.json", base);
    unlink(path);
    rmdir(dir);
    tui_model_free(&m);
}

/* An error about no run (run id -1) is a note, never a phantom failed run. */
static void test_session_note(void)
{
    struct tui_model m;
    tui_model_init(&m);
    struct event note = make(EV_ERROR, -1, 2);
    note.u.error.status = LC_ERR_UNSUPPORTED;
    snprintf(note.u.error.message, sizeof(note.u.error.message), "GPU recorder runs without counters");
    tui_model_apply(&m, &note);
    CHECK(m.n_runs == 0, "a run was made from a note");
    CHECK(strstr(m.note, "rank 2") && strstr(m.note, "without counters"), "note: '%s'", m.note);
    tui_model_free(&m);
}

int main(void)
{
    test_session_note();
    test_workers();
    test_runs();
    test_worker_lost_fails_its_run();
    test_refused_run_is_unsupported();
    test_timeline();
    test_timeline_bound();
    test_counters();
    test_export();
    return check_report("tui model");
}
