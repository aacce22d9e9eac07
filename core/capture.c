/* The capture file: events as JSON lines in a temp file beside the final path, fsynced and
 * renamed into place on close, so a reader never sees half a capture under the final name. */
#define _POSIX_C_SOURCE 200809L
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct capture_writer {
    FILE *f;
    char *path;     /* final name */
    char *tmp_path; /* where lines go until close */
    int write_errno; /* first write error, reported by close */
};

enum lc_status capture_open(const char *path, struct capture_writer **out, char *err)
{
    *out = NULL;
    struct capture_writer *w = calloc(1, sizeof *w);
    size_t len = strlen(path);
    if (w) {
        w->path = strdup(path);
        w->tmp_path = malloc(len + sizeof ".partial-XXXXXX");
    }
    if (!w || !w->path || !w->tmp_path) {
        if (w) free(w->path), free(w->tmp_path);
        free(w);
        return lc_fail(err, LC_ERR_OOM, "out of memory opening capture %s", path);
    }
    memcpy(w->tmp_path, path, len);
    memcpy(w->tmp_path + len, ".partial-XXXXXX", sizeof ".partial-XXXXXX");
    int fd = mkstemp(w->tmp_path);
    if (fd < 0) {
        enum lc_status st = lc_fail(err, LC_ERR_IO, "cannot create capture %s: %s", w->tmp_path, strerror(errno));
        free(w->path), free(w->tmp_path), free(w);
        return st;
    }
    fchmod(fd, 0644); /* mkstemp's 0600 would hide the capture from the rest of the team */
    w->f = fdopen(fd, "w");
    if (!w->f) {
        enum lc_status st = lc_fail(err, LC_ERR_IO, "cannot open capture %s: %s", w->tmp_path, strerror(errno));
        close(fd);
        unlink(w->tmp_path);
        free(w->path), free(w->tmp_path), free(w);
        return st;
    }
    *out = w;
    return LC_OK;
}

void capture_write(struct capture_writer *w, const struct event *ev)
{
    if (w->write_errno) return;
    event_write_json(w->f, ev);
    fputc('\n', w->f);
    if (ferror(w->f)) w->write_errno = errno ? errno : EIO;
}

const char *capture_path(const struct capture_writer *w) { return w->path; }

/* The rename is only durable once the directory entry is on disk too. */
static void sync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

enum lc_status capture_close(struct capture_writer *w, char *err)
{
    enum lc_status st = LC_OK;
    if (!w->write_errno && fflush(w->f) != 0) w->write_errno = errno;
    if (!w->write_errno && fsync(fileno(w->f)) != 0) w->write_errno = errno;
    if (fclose(w->f) != 0 && !w->write_errno) w->write_errno = errno;
    if (w->write_errno) {
        st = lc_fail(err, LC_ERR_IO, "cannot write capture %s: %s", w->path, strerror(w->write_errno));
        unlink(w->tmp_path);
    } else if (rename(w->tmp_path, w->path) != 0) {
        st = lc_fail(err, LC_ERR_IO, "cannot rename capture into %s: %s", w->path, strerror(errno));
        unlink(w->tmp_path);
    } else {
        sync_parent_dir(w->path);
    }
    free(w->path);
    free(w->tmp_path);
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
