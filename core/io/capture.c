/* The capture file: events as JSON lines in a file written whole or not at all (file_atomic),
 * so a reader never sees half a capture under the final name. */
#define _POSIX_C_SOURCE 200809L
#include "core/io/capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/io/file_atomic.h"

struct capture_writer {
    struct file_atomic file;
};

enum lc_status capture_open(const char *path, struct capture_writer **out, char *err)
{
    *out = NULL;
    struct capture_writer *w = calloc(1, sizeof *w);
    if (!w) return lc_fail(err, LC_ERR_OOM, "out of memory opening capture %s", path);
    enum lc_status st = file_atomic_open(&w->file, path, err);
    if (st != LC_OK) {
        free(w);
        return st;
    }
    *out = w;
    return LC_OK;
}

/* A write error sticks in the stream and is reported by capture_close. */
void capture_write(struct capture_writer *w, const struct event *ev)
{
    event_write_json(w->file.f, ev);
    fputc('\n', w->file.f);
}

const char *capture_path(const struct capture_writer *w) { return w->file.path; }

enum lc_status capture_close(struct capture_writer *w, char *err)
{
    enum lc_status st = file_atomic_commit(&w->file, err);
    free(w);
    return st;
}

static bool blank(const char *line)
{
    for (; *line; line++)
        if (*line != ' ' && *line != '\t' && *line != '\n' && *line != '\r') return false;
    return true;
}

enum lc_status capture_read(const char *path, void (*cb)(void *ctx, const struct event *ev), void *ctx, char *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return lc_fail(err, LC_ERR_IO, "cannot open capture %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    enum lc_status st = LC_OK;
    char why[LC_ERRMSG_LEN];
    for (;;) {
        errno = 0;
        ssize_t n = getline(&line, &cap, f);
        if (n < 0) {
            if (ferror(f)) st = lc_fail(err, LC_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
        lineno++;
        if (blank(line)) continue;
        if ((size_t)n != strlen(line)) {
            st = lc_fail(err, LC_ERR_INVALID, "%s:%ld: NUL byte inside a line (not a capture?)", path, lineno);
            break;
        }
        struct event ev;
        if (event_parse_json(line, &ev, why) != LC_OK) {
            bool cut = line[n - 1] != '\n';
            st = lc_fail(err, LC_ERR_INVALID, "%s:%ld: %s%s", path, lineno, cut ? "truncated last line: " : "",
                         why);
            break;
        }
        cb(ctx, &ev);
        event_free(&ev);
    }
    free(line);
    fclose(f);
    return st;
}
