/* Captures: every event type with every field set is written and read back bit-equal, and is
 * readable while the capture is still open; a garbage line stops the reader with the file, line
 * and reason (events before it are delivered), a last line cut by a stopped writer is reported
 * and what precedes it loads; only regular files are read; write errors are reported. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "core/io/capture.h"
#include "core/mask/doclen.h"

static void fill_spec(struct run_spec *s)
{
    snprintf(s->kernel, sizeof s->kernel, "cpu_tiled");
    s->mask = MASK_VARIABLE_BLOCK_SPARSE;
    s->mask_params.window = 1024;
    s->mask_params.global_tokens = 77;
    s->mask_params.prefix = -1;
    s->mask_params.block = 256;
    s->mask_params.density = 0.3;
    s->mask_params.doclen = DOCLEN_PROLONG512K;
    s->mask_params.seed = UINT64_MAX - 5; /* above INT64_MAX */
    s->seqlen = 512 * 1024;
    s->batch = 2;
    s->heads_q = 64;
    s->heads_kv = 8;
    s->head_dim = 128;
    s->dtype = LC_FP16;
    s->direction = DIR_FWD_BWD;
    snprintf(s->cp_method, sizeof s->cp_method, "double_ring");
    s->cp_degree = 8;
    s->cp_inner = 2;
    s->warmup = 3;
    s->iters = 11;
    s->check = true;
    s->deterministic = true;
    s->counters = COUNTERS_RANGE;
}

static void fill_result(struct run_result *r)
{
    r->status = LC_ERR_UNSUPPORTED;
    snprintf(r->message, sizeof r->message, "needs \"sm_90a\"\n\ttabs and \xc3\xa9");
    r->ms_median = 1.0 / 3.0;
    r->ms_p20 = 0.1;
    r->ms_p80 = 1e-300;
    r->ms_mean_ranks = -0.0;
    r->flops = 1.2345678901234567e18;
    r->tflops = NAN;
    r->tflops_mean = INFINITY;
    r->area = 137438953472.0;
    r->density = 0.49999999999999994;
    r->peak_mem_bytes = INT64_MAX - 1;
    r->check_ran = true;
    r->check_pass = false;
    r->max_abs_err = -INFINITY;
    r->max_rel_err = 5e-324;
    r->work = 6.5e15;
    r->work_imbalance = 1.25;
    r->comm_bytes = 3.0e9;
    r->algbw_gbs = 290.5;
    r->busbw_gbs = 358.25;
    r->cores = 24;
    r->ranks = 8;
}

/* One event of every type, each field set to something that is not its zero. */
static int make_events(struct event *evs)
{
    int n = 0;
    struct event *e;

    e = &evs[n++];
    event_init(e, EV_HELLO, -1, 3);
    snprintf(e->u.hello.host, sizeof e->u.hello.host, "gpu01.cluster");
    snprintf(e->u.hello.device, sizeof e->u.hello.device, "NVIDIA H200, 132 SMs, 140.4 GiB");
    snprintf(e->u.hello.backend, sizeof e->u.hello.backend, "cuda");
    e->u.hello.local_index = 2;
    e->u.hello.clock_offset_ns = INT64_C(-1763860000123456789); /* a clock a whole epoch behind */
    e->u.hello.clock_residual_ns = 1234;
    snprintf(e->u.hello.driver, sizeof e->u.hello.driver, "580.65.06");
    snprintf(e->u.hello.cuda, sizeof e->u.hello.cuda, "13.0");
    snprintf(e->u.hello.nccl, sizeof e->u.hello.nccl, "2.27.3");
    snprintf(e->u.hello.cudnn, sizeof e->u.hello.cudnn, "9.10.2");

    e = &evs[n++];
    event_init(e, EV_RUN_QUEUED, 7, 0);
    fill_spec(&e->u.spec);

    e = &evs[n++];
    event_init(e, EV_RUN_STARTED, 7, 1); /* no payload: the spec came with EV_RUN_QUEUED */

    e = &evs[n++];
    event_init(e, EV_PROGRESS, 7, 2);
    e->u.progress.phase = PHASE_CHECK;
    e->u.progress.iter = 9;
    e->u.progress.total = 11;

    e = &evs[n++];
    event_init(e, EV_INTERVALS, 7, 2);
    e->n_intervals = 3;
    e->intervals = calloc(3, sizeof *e->intervals);
    for (int k = 0; k < 3; k++) {
        struct interval *iv = &e->intervals[k];
        iv->start_ns = INT64_C(1763860000000000000) + k * 1000;
        iv->end_ns = iv->start_ns + 999;
        iv->kind = (uint8_t)(k == 0 ? IV_COMPUTE : k == 1 ? IV_COMM : IV_MEMORY);
        iv->stream = (int16_t)(k == 2 ? -3 : 7 + k);
        iv->cp_step = k - 1;
        iv->iter = 4;
        iv->correlation = UINT32_MAX - (uint32_t)k;
        iv->launch_ns = INT64_C(1763860000000000000) + k, iv->launch_end_ns = iv->launch_ns + 2500;
        for (int d = 0; d < 3; d++) {
            iv->grid[d] = (uint32_t)(1000 * (d + 1) + k);
            iv->block[d] = (uint32_t)(d == 0 ? 128 : 1);
        }
        iv->bytes = UINT64_MAX - (uint64_t)k;
        snprintf(iv->name, sizeof iv->name, k == 1 ? "_Z31ncclDevKernel_AllGather_RING_LL" : "attn \"fwd\" %d", k);
    }

    e = &evs[n++];
    event_init(e, EV_COUNTERS, 7, 2);
    e->n_samples = 2;
    e->samples = calloc(2, sizeof *e->samples);
    for (int k = 0; k < 2; k++) {
        e->samples[k].t_ns = INT64_C(1763860000000000000) + k;
        snprintf(e->samples[k].metric, sizeof e->samples[k].metric,
                 k ? "dram__throughput.avg.pct_of_peak_sustained_elapsed" : "sm__throughput.avg.pct_of_peak");
        e->samples[k].value = k ? 73.2 : NAN;
    }

    e = &evs[n++];
    event_init(e, EV_RESULT, 7, 5);
    fill_result(&e->u.result);

    e = &evs[n++];
    event_init(e, EV_RUN_DONE, 7, -1);
    fill_result(&e->u.result);

    e = &evs[n++];
    event_init(e, EV_ERROR, 8, 4);
    e->u.error.status = LC_ERR_OOM;
    snprintf(e->u.error.message, sizeof e->u.error.message, "rank 4: needs 96.0 GiB, has 80.0 GiB");

    e = &evs[n++];
    event_init(e, EV_WORKER_LOST, -1, 5);
    e->u.error.status = LC_ERR_COMM;
    snprintf(e->u.error.message, sizeof e->u.error.message, "no heartbeat for 5.0 s");

    e = &evs[n++];
    event_init(e, EV_SWEEP_DONE, -1, 0);
    e->t_ns = -LC_MAX_TIME_NS; /* extremes of the clock field (the bound, see event.h) */

    e = &evs[n++];
    event_init(e, EV_GOODBYE, -1, 6);
    e->t_ns = LC_MAX_TIME_NS;

    e = &evs[n++];
    event_init(e, EV_SESSION, -1, 0);
    e->u.session.schema = LC_SCHEMA_VERSION;
    snprintf(e->u.session.version, sizeof e->u.session.version, "0.1.0");
    snprintf(e->u.session.commit, sizeof e->u.session.commit, "0123456789ab");
    snprintf(e->u.session.host, sizeof e->u.session.host, "login01");
    snprintf(e->u.session.cpu, sizeof e->u.session.cpu, "Intel(R) Xeon(R) Platinum 8480+");
    snprintf(e->u.session.command, sizeof e->u.session.command, "longca run --mask 'causal,full' --format jsonl");
    return n;
}

/* Events are compared bytewise: writers and the parser both start from zeroed structs, so
 * padding and the bytes after each string's NUL are zero on both sides. */
static bool same_event(const struct event *a, const struct event *b)
{
    struct event ha = *a, hb = *b;
    ha.intervals = hb.intervals = NULL;
    ha.samples = hb.samples = NULL;
    if (memcmp(&ha, &hb, sizeof ha) != 0) return false;
    if (a->n_intervals && memcmp(a->intervals, b->intervals, (size_t)a->n_intervals * sizeof *a->intervals) != 0)
        return false;
    if (a->n_samples && memcmp(a->samples, b->samples, (size_t)a->n_samples * sizeof *a->samples) != 0) return false;
    return true;
}

struct collected {
    struct event evs[32];
    int n;
};

static void collect(void *ctx, const struct event *ev)
{
    struct collected *c = ctx;
    if (c->n < 32) event_copy(&c->evs[c->n++], ev);
}

static void collected_free(struct collected *c)
{
    for (int k = 0; k < c->n; k++) event_free(&c->evs[k]);
    c->n = 0;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_roundtrip(const char *dir)
{
    struct event evs[16];
    int n = make_events(evs);
    char path[1024], err[LC_ERRMSG_LEN];
    snprintf(path, sizeof path, "%s/run.lccap", dir);

    struct capture_writer *w;
    CHECK(capture_open(path, &w, err) == LC_OK);
    CHECK(strcmp(capture_path(w), path) == 0);
    for (int k = 0; k < n; k++) capture_write(w, &evs[k]);
    /* Mid-session every event is already readable under the final name (a kill loses nothing). */
    long truncated = -1;
    struct collected got = {.n = 0};
    CHECK(capture_read(path, collect, &got, &truncated, err) == LC_OK && got.n == n + 1 && truncated == 0);
    collected_free(&got);
    CHECK(count_entries(dir) == 1);
    CHECK(capture_close(w, err) == LC_OK);
    CHECK(access(path, F_OK) == 0);
    CHECK(count_entries(dir) == 1); /* the temp file became the capture */

    got.n = 0;
    CHECK(capture_read(path, collect, &got, &truncated, err) == LC_OK);
    CHECK(got.n == n + 1); /* the writer's own first line says what wrote it */
    CHECK(got.n > 0 && got.evs[0].type == EV_SESSION && got.evs[0].u.session.schema == LC_SCHEMA_VERSION);
    for (int k = 0; k < n && k + 1 < got.n; k++) {
        if (!same_event(&evs[k], &got.evs[k + 1])) {
            fprintf(stderr, "event %d (%s) differs after the round trip\n", k, event_type_name(evs[k].type));
            failures++;
        }
    }
    collected_free(&got);

    /* Each line is also parseable on its own, and an intervals event without intervals keeps "[]". */
    struct event empty, back;
    event_init(&empty, EV_INTERVALS, 1, 1);
    char *line = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&line, &len);
    event_write_json(mem, &empty);
    fclose(mem);
    CHECK(strstr(line, "\"intervals\":[]") != NULL);
    CHECK(event_parse_json(line, &back, err) == LC_OK && same_event(&empty, &back));
    event_free(&back);
    free(line);
    for (int k = 0; k < n; k++) event_free(&evs[k]);
    unlink(path);
}

/* The reader delivers the good lines, then stops at the first bad one with a clear message. */
static void expect_read_error(const char *dir, const char *content, int good_lines, const char *expect)
{
    char path[1024], err[LC_ERRMSG_LEN] = "";
    snprintf(path, sizeof path, "%s/bad.lccap", dir);
    write_file(path, content);
    struct collected got = {.n = 0};
    long truncated;
    enum lc_status st = capture_read(path, collect, &got, &truncated, err);
    if (st != LC_ERR_INVALID || got.n != good_lines || !strstr(err, expect)) {
        fprintf(stderr, "bad capture: status %d, %d events, message '%s'; wanted %d events and '%s'\n", st, got.n,
                err, good_lines, expect);
        failures++;
    }
    collected_free(&got);
    unlink(path);
}

static void test_bad_files(const char *dir)
{
    const char *good = "{\"type\":\"sweep_done\",\"run\":-1,\"rank\":0,\"t_ns\":5}\n";
    char text[1024];

    /* A line cut by a stopped writer: the events before it load, and its number is told. */
    char path[1024], err[LC_ERRMSG_LEN] = "";
    long truncated = 0;
    struct collected got = {.n = 0};
    snprintf(path, sizeof path, "%s/cut.lccap", dir);
    snprintf(text, sizeof text, "%s%s%s", good, good, "{\"type\":\"progress\",\"run\":1,\"rank\":1,\"t_ns\":5,\"pha");
    write_file(path, text);
    CHECK(capture_read(path, collect, &got, &truncated, err) == LC_OK && got.n == 2 && truncated == 3);
    collected_free(&got);
    unlink(path);
    /* ... but a capture that is nothing but a cut line, or nothing at all, is not a capture. */
    expect_read_error(dir, "{\"type\":\"progress\",\"run\":1,", 0, "bad.lccap:1: column");
    expect_read_error(dir, "", 0, "holds no events");
    expect_read_error(dir, "\n\n", 0, "holds no events");
    /* A cut line in the middle is corruption, not a stopped writer. */
    snprintf(text, sizeof text, "%s%s\n%s", good, "{\"type\":\"progress\"", good);
    expect_read_error(dir, text, 1, "bad.lccap:2: column");
    /* Numbers that would size an allocation are bounded first. */
    expect_read_error(dir, "{\"type\":\"progress\",\"run\":1,\"rank\":300000000,\"t_ns\":5}\n", 0,
                      "field \"rank\" is out of range");
    expect_read_error(dir, "{\"type\":\"progress\",\"run\":-7,\"rank\":1,\"t_ns\":5}\n", 0,
                      "field \"run\" is out of range");
    /* Times whose difference would overflow (UBSan in the overlap and the timeline), and an
     * interval that ends before it starts. */
    expect_read_error(dir,
                      "{\"type\":\"intervals\",\"run\":1,\"rank\":1,\"t_ns\":5,\"intervals\":[{\"start_ns\":-9223372036854775808,"
                      "\"end_ns\":9223372036854775807}]}\n", 0, "field \"start_ns\" is out of range");
    expect_read_error(dir,
                      "{\"type\":\"intervals\",\"run\":1,\"rank\":1,\"t_ns\":5,\"intervals\":[{\"start_ns\":9,\"end_ns\":8,"
                      "\"kind\":\"compute\",\"stream\":0,\"cp_step\":-1,\"iter\":0,\"correlation\":0,\"grid\":[0,0,0],"
                      "\"block\":[0,0,0],\"bytes\":0,\"name\":\"k\"}]}\n", 0, "is before start_ns");

    snprintf(text, sizeof text, "%s\n%s%s", good, good, "this is not json\n");
    expect_read_error(dir, text, 2, "bad.lccap:4: column 1");

    snprintf(text, sizeof text, "%s", "{\"type\":\"teleport\",\"run\":1,\"rank\":1,\"t_ns\":5}\n");
    expect_read_error(dir, text, 0, ":1: event: field \"type\" is not an event type");

    snprintf(text, sizeof text, "%s", "{\"type\":\"progress\",\"run\":1,\"rank\":1,\"t_ns\":5,\"iter\":1,\"total\":2}\n");
    expect_read_error(dir, text, 0, "progress: missing field \"phase\"");

    snprintf(text, sizeof text, "%s", "{\"type\":\"error\",\"run\":1,\"rank\":\"one\",\"t_ns\":5}\n");
    expect_read_error(dir, text, 0, "field \"rank\" has the wrong type");

    snprintf(text, sizeof text, "%s", "[1,2,3]\n");
    expect_read_error(dir, text, 0, "must be a JSON object");

    snprintf(text, sizeof text, "%s",
             "{\"type\":\"intervals\",\"run\":1,\"rank\":1,\"t_ns\":5,\"intervals\":[{\"start_ns\":1}]}\n");
    expect_read_error(dir, text, 0, "intervals: missing field \"end_ns\"");

    snprintf(text, sizeof text, "%s",
             "{\"type\":\"hello\",\"run\":-1,\"rank\":1,\"t_ns\":5,\"host\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
             "\"device\":\"d\",\"backend\":\"cpu\",\"local_index\":0}\n");
    expect_read_error(dir, text, 0, "field \"host\" is too long");

    /* Binary garbage with a NUL byte in it. */
    snprintf(path, sizeof path, "%s/bin.lccap", dir);
    FILE *f = fopen(path, "wb");
    fwrite("{\"ty\0pe\":1}\n\xff\xfe", 1, 14, f);
    fclose(f);
    CHECK(capture_read(path, collect, &got, &truncated, err) == LC_ERR_INVALID && strstr(err, "NUL byte"));
    collected_free(&got);
    unlink(path);

    /* Blank lines are skipped; a missing file is an I/O error naming it. */
    snprintf(text, sizeof text, "\n%s\n  \n%s", good, good);
    snprintf(path, sizeof path, "%s/blank.lccap", dir);
    write_file(path, text);
    CHECK(capture_read(path, collect, &got, &truncated, err) == LC_OK && got.n == 2);
    collected_free(&got);
    unlink(path);
    CHECK(capture_read("/nonexistent/x.lccap", collect, &got, &truncated, err) == LC_ERR_INVALID &&
          strstr(err, "/nonexistent/x.lccap"));
    /* Only regular files are read: /dev/zero would grow without end, a FIFO would block. */
    CHECK(capture_read("/dev/zero", collect, &got, &truncated, err) == LC_ERR_INVALID && strstr(err, "character device"));
    CHECK(capture_read(dir, collect, &got, &truncated, err) == LC_ERR_INVALID && strstr(err, "a directory"));
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK(mkfifo(path, 0600) == 0);
    CHECK(capture_read(path, collect, &got, &truncated, err) == LC_ERR_INVALID && strstr(err, "a FIFO"));
    unlink(path);
    CHECK(got.n == 0);

    /* Captures from before run_done: a run's merged result was rank -1's "result". */
    struct event merged, old;
    event_init(&merged, EV_RUN_DONE, 3, -1);
    fill_result(&merged.u.result);
    char *line = NULL;
    size_t line_len = 0;
    FILE *mem = open_memstream(&line, &line_len);
    event_write_json(mem, &merged);
    fclose(mem);
    char *type = strstr(line, "\"run_done\"");
    CHECK(type != NULL);
    if (type) memmove(type + 7, type + 9, strlen(type + 9) + 1), memcpy(type, "\"result\"", 8); /* the old name */
    CHECK(event_parse_json(line, &old, err) == LC_OK, "%s", err);
    CHECK(old.type == EV_RUN_DONE && old.run_id == 3 && old.u.result.ms_median == merged.u.result.ms_median);
    free(line);
    event_free(&old);
}

/* A write error (a full disk) sticks and is reported at close; a capture in a missing
 * directory fails to open; a capture to a device streams into it and leaves it a device. */
static void test_failures(const char *dir)
{
    char err[LC_ERRMSG_LEN] = "";
    struct capture_writer *w;
    struct event ev;
    event_init(&ev, EV_SWEEP_DONE, -1, 0);
    if (access("/dev/full", W_OK) == 0) {
        CHECK(capture_open("/dev/full", &w, err) == LC_OK);
        capture_write(w, &ev);
        capture_write(w, &ev);
        CHECK(capture_close(w, err) == LC_ERR_IO && strstr(err, "/dev/full") && strstr(err, "No space"));
    }
    CHECK(capture_open("/dev/null", &w, err) == LC_OK);
    capture_write(w, &ev);
    CHECK(capture_close(w, err) == LC_OK);
    struct stat st;
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(capture_open("/nonexistent/dir/x.lccap", &w, err) == LC_ERR_INVALID && strstr(err, "/nonexistent/dir"));
    CHECK(count_entries(dir) == 0);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lc_capture_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_roundtrip(dir);
    test_bad_files(dir);
    test_failures(dir);
    rmdir(dir);
    return check_report("test_capture_roundtrip");
}
