/* The capture file: events as JSON lines, written through as they arrive so that a crash or a
 * kill of rank 0 loses nothing already emitted, and fsynced at the end of each run so that a
 * power loss costs at most the run in flight. A regular file appears under its name with the
 * first event (output_publish); until then a previous file of that name is left alone. */
#define _POSIX_C_SOURCE 200809L
#include "core/io/capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/line_reader.h"
#include "core/io/metadata.h"
#include "core/io/output_file.h"

struct capture_writer {
    struct output_file file;
    bool published;
    enum lc_status failed; /* the first write error, reported by capture_close */
    char failure[LC_ERRMSG_LEN];
};

enum lc_status capture_open(const char *path, struct capture_writer **out, char *err)
{
    *out = NULL;
    struct capture_writer *w = calloc(1, sizeof *w);
    if (!w) return lc_fail(err, LC_ERR_OOM, "out of memory opening capture %s", path);
    enum lc_status st = output_open(&w->file, path, err);
    if (st != LC_OK) {
        free(w);
        return st;
    }
    /* The first line says what wrote the stream; it waits in the buffer for the first event,
     * so a session that never starts leaves a previous file of the name alone. */
    struct event session;
    metadata_session(&session);
    event_write_json(w->file.f, &session);
    fputc('\n', w->file.f);
    *out = w;
    return LC_OK;
}

static bool ends_a_run(const struct event *ev)
{
    return ev->type == EV_RESULT || ev->type == EV_ERROR || ev->type == EV_WORKER_LOST || ev->type == EV_SWEEP_DONE;
}

void capture_write(struct capture_writer *w, const struct event *ev)
{
    if (w->failed) return;
    event_write_json(w->file.f, ev);
    fputc('\n', w->file.f);
    if (!w->published) {
        w->failed = output_publish(&w->file, w->failure);
        w->published = true;
    } else {
        w->failed = output_flush(&w->file, ends_a_run(ev), w->failure);
    }
}

const char *capture_path(const struct capture_writer *w) { return w->file.path; }

enum lc_status capture_close(struct capture_writer *w, char *err)
{
    enum lc_status st;
    if (w->failed) {
        output_abort(&w->file);
        st = lc_fail(err, w->failed, "%s", w->failure);
    } else {
        st = output_commit(&w->file, err);
    }
    free(w);
    return st;
}

static bool blank(const char *line)
{
    for (; *line; line++)
        if (*line != ' ' && *line != '\t' && *line != '\n' && *line != '\r') return false;
    return true;
}

enum lc_status capture_read(const char *path, void (*cb)(void *ctx, const struct event *ev), void *ctx,
                            long *truncated_at, char *err)
{
    struct line_reader *in;
    *truncated_at = 0;
    enum lc_status st = line_reader_open(&in, path, CAPTURE_MAX_LINE, err);
    if (st != LC_OK) return st;
    char why[LC_ERRMSG_LEN];
    long events = 0;
    for (;;) {
        const char *line;
        size_t n;
        bool complete;
        if ((st = line_reader_next(in, &line, &n, &complete, err)) != LC_OK) break;
        if (!line) break;
        long lineno = line_reader_line_number(in);
        if (blank(line)) continue;
        if (n != strlen(line)) {
            st = lc_fail(err, LC_ERR_INVALID, "%s:%ld: NUL byte inside a line (not a capture?)", path, lineno);
            break;
        }
        struct event ev;
        if ((st = event_parse_json(line, &ev, why)) != LC_OK) {
            if (!complete && st == LC_ERR_INVALID && events > 0) { /* the writer stopped mid-line: keep the rest */
                *truncated_at = lineno;
                st = LC_OK;
                break;
            }
            st = lc_fail(err, st, "%s:%ld: %s", path, lineno, why);
            break;
        }
        cb(ctx, &ev);
        event_free(&ev);
        events++;
    }
    line_reader_close(in);
    if (st == LC_OK && events == 0) st = lc_fail(err, LC_ERR_INVALID, "%s holds no events (not a capture?)", path);
    return st;
}
