/* Three readers into one list of rows. A capture is replayed event by event: a run's spec comes
 * with run_queued, its outcome as event_run_outcome settles it (the run_done, merged over ranks,
 * or the failure a capture cut before it shows); its rows in run order. JSON and JSON Lines rows
 * carry their spec (schema 2). */
#define _POSIX_C_SOURCE 200809L
#include "core/io/results_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/io/capture.h"
#include "core/io/json.h"
#include "core/mask/mask.h"
#include "core/mask/doclen.h"

#define MAX_RESULTS_BYTES (1LL << 30)

void result_key(const struct run_spec *spec, char *buf, size_t len)
{
    run_spec_describe(spec, buf, len);
    const struct mask_params *p = &spec->mask_params;
    size_t at = strlen(buf);
    const struct {
        const char *name;
        long long value;
    } ints[] = {{"window", (long long)p->window}, {"global", (long long)p->global_tokens},
                {"prefix", (long long)p->prefix}, {"block", (long long)p->block}, {"seed", (long long)p->seed}};
    for (size_t k = 0; k < sizeof ints / sizeof *ints && at < len; k++)
        if (ints[k].value) at += (size_t)snprintf(buf + at, len - at, " %s=%lld", ints[k].name, ints[k].value);
    if (p->density > 0 && at < len) at += (size_t)snprintf(buf + at, len - at, " density=%g", p->density);
    if (p->doclen != DOCLEN_AUTO && at < len) snprintf(buf + at, len - at, " doclen=%s", doclen_source_name(p->doclen));
}

static bool add_row(struct result_set *s, const struct run_spec *spec, const struct run_result *res)
{
    struct result_row *rows = realloc(s->rows, (size_t)(s->n + 1) * sizeof *rows);
    if (!rows) return false;
    s->rows = rows;
    struct result_row *r = &rows[s->n++];
    r->spec = *spec;
    r->result = *res;
    result_key(spec, r->key, sizeof r->key);
    return true;
}

/* ------------------------------------------------------------------ captures */

struct replay {
    struct result_set *set;
    struct run_spec *specs; /* by run id */
    bool *queued;
    struct run_outcome *outcomes;
    int cap;
    bool oom;
};

static bool ensure_run(struct replay *r, int run)
{
    if (run < r->cap) return true;
    int cap = r->cap ? r->cap : 64;
    while (cap <= run) cap *= 2;
    struct run_spec *specs = realloc(r->specs, (size_t)cap * sizeof *specs);
    if (specs) r->specs = specs;
    bool *queued = realloc(r->queued, (size_t)cap);
    if (queued) r->queued = queued;
    struct run_outcome *outcomes = realloc(r->outcomes, (size_t)cap * sizeof *outcomes);
    if (outcomes) r->outcomes = outcomes;
    if (!specs || !queued || !outcomes) return false;
    memset(r->queued + r->cap, 0, (size_t)(cap - r->cap));
    memset(r->outcomes + r->cap, 0, (size_t)(cap - r->cap) * sizeof *outcomes);
    r->cap = cap;
    return true;
}

static void replay_event(void *ctx, const struct event *ev)
{
    struct replay *r = ctx;
    if (r->oom || ev->run_id < 0 || ev->run_id > 10000000) return; /* run ids bounded before they size anything */
    if (!ensure_run(r, ev->run_id)) {
        r->oom = true;
        return;
    }
    int id = ev->run_id;
    if (ev->type == EV_RUN_QUEUED) {
        r->specs[id] = ev->u.spec;
        r->queued[id] = true;
        return;
    }
    if (r->queued[id]) event_run_outcome(ev, &r->outcomes[id]);
}

static enum lc_status read_capture(const char *path, struct result_set *out, char *err)
{
    struct replay r = {.set = out};
    long truncated_at = 0; /* a cut last line: the runs before it count */
    enum lc_status st = capture_read(path, replay_event, &r, &truncated_at, err);
    for (int id = 0; st == LC_OK && !r.oom && id < r.cap; id++) {
        struct run_result res;
        if (!r.queued[id] || !r.outcomes[id].known) continue;
        run_outcome_result(&r.outcomes[id], &res);
        if (!add_row(r.set, &r.specs[id], &res)) r.oom = true;
    }
    free(r.specs);
    free(r.queued);
    free(r.outcomes);
    if (st == LC_OK && r.oom) st = lc_fail(err, LC_ERR_OOM, "%s: out of memory reading results", path);
    return st;
}

/* ------------------------------------------------------------------ JSON and JSON Lines */

static double number(const struct json_value *row, const char *key)
{
    double x = 0;
    const struct json_value *v = json_get(row, key);
    if (!v || !json_as_double(v, &x)) return 0;
    return x;
}

static enum lc_status read_row(const struct json_value *row, struct result_set *out, char *err)
{
    struct run_spec spec;
    enum lc_status st = run_spec_parse_json(row, &spec, err);
    if (st) return st;
    struct run_result res;
    memset(&res, 0, sizeof res);
    const struct json_value *status = json_get(row, "status"), *message = json_get(row, "message");
    if (!status || status->type != JSON_STRING || lc_status_parse(status->string, &res.status) != LC_OK)
        return lc_fail(err, LC_ERR_INVALID, "a run without a known \"status\"");
    if (message && message->type == JSON_STRING) snprintf(res.message, sizeof res.message, "%s", message->string);
    res.ms_median = number(row, "ms_median");
    res.ms_p20 = number(row, "ms_p20");
    res.ms_p80 = number(row, "ms_p80");
    res.tflops = number(row, "tflops");
    res.busbw_gbs = number(row, "busbw_gbs");
    return add_row(out, &spec, &res) ? LC_OK : lc_fail(err, LC_ERR_OOM, "out of memory reading results");
}

/* The whole file in *text: a file that is not a regular one is bad input; running out of memory
 * or a read error is not. */
static enum lc_status slurp(const char *path, char **text, char *err)
{
    *text = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return lc_fail(err, LC_ERR_INVALID, "%s: not a readable file", path);
    if (sb.st_size > MAX_RESULTS_BYTES) return lc_fail(err, LC_ERR_INVALID, "%s: over 1 GiB, not a results file", path);
    FILE *f = fopen(path, "r");
    if (!f) return lc_fail(err, LC_ERR_IO, "%s: cannot be opened", path);
    char *buf = malloc((size_t)sb.st_size + 1);
    size_t got = buf ? fread(buf, 1, (size_t)sb.st_size, f) : 0;
    bool read_error = buf && ferror(f);
    fclose(f);
    if (!buf) return lc_fail(err, LC_ERR_OOM, "%s: out of memory reading %lld bytes", path, (long long)sb.st_size);
    if (read_error || got != (size_t)sb.st_size) {
        free(buf);
        return lc_fail(err, LC_ERR_IO, "%s: read error", path);
    }
    if (memchr(buf, 0, got)) { /* the readers take text: a NUL would end it early, unseen */
        free(buf);
        return lc_fail(err, LC_ERR_INVALID, "%s: holds NUL bytes, not a results file", path);
    }
    buf[got] = 0;
    *text = buf;
    return LC_OK;
}

/* The whole text as one JSON document: {"schema", "runs": [...]}. */
static enum lc_status read_document(const char *path, const struct json_value *doc, struct result_set *out, char *err)
{
    const struct json_value *runs = json_get(doc, "runs");
    if (!runs || runs->type != JSON_ARRAY)
        return lc_fail(err, LC_ERR_INVALID, "%s: a JSON document without \"runs\"", path);
    out->kind = "json";
    for (int k = 0; k < runs->count; k++) {
        char why[LC_ERRMSG_LEN];
        enum lc_status st = read_row(&runs->items[k], out, why);
        if (st) return lc_fail(err, st, "%s: run %d: %s", path, k, why);
    }
    return LC_OK;
}

/* One object a line: the header (it has "schema"), then runs. */
static enum lc_status read_lines(const char *path, char *text, struct result_set *out, char *err)
{
    out->kind = "jsonl";
    int line_no = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        if (strspn(line, " \t\r") == strlen(line)) continue;
        struct json_value row;
        char why[LC_ERRMSG_LEN];
        enum lc_status st = json_parse(line, &row, why);
        if (st) return lc_fail(err, st, "%s: line %d: %s", path, line_no, why);
        if (!json_get(&row, "schema")) st = read_row(&row, out, why);
        json_free(&row);
        if (st) return lc_fail(err, st, "%s: line %d: %s", path, line_no, why);
    }
    return LC_OK;
}

enum lc_status results_read(const char *path, struct result_set *out, char *err)
{
    memset(out, 0, sizeof *out);
    char *text;
    enum lc_status st = slurp(path, &text, err);
    if (st) return st;
    /* A capture's lines are events ("type"); a results document parses whole; else lines. */
    struct json_value first;
    char why[LC_ERRMSG_LEN];
    char *newline = strchr(text, '\n');
    if (newline) *newline = 0;
    bool capture = false;
    if (json_parse(text, &first, why) == LC_OK) { /* a failed parse leaves nothing to free */
        capture = json_get(&first, "type") != NULL;
        json_free(&first);
    }
    if (newline) *newline = '\n';
    if (capture) {
        out->kind = "capture";
        st = read_capture(path, out, err);
    } else {
        struct json_value doc;
        if ((st = json_parse(text, &doc, why)) == LC_OK) {
            st = read_document(path, &doc, out, err);
            json_free(&doc);
        } else if (st == LC_ERR_OOM) {
            st = lc_fail(err, st, "%s: %s", path, why);
        } else {
            st = read_lines(path, text, out, err);
        }
    }
    free(text);
    if (st) results_free(out);
    return st;
}

void results_free(struct result_set *s)
{
    free(s->rows);
    memset(s, 0, sizeof *s);
}

const struct result_row *results_find(const struct result_set *s, const char *key)
{
    for (int k = 0; k < s->n; k++)
        if (!strcmp(s->rows[k].key, key)) return &s->rows[k];
    return NULL;
}
