/* A read(2) loop over one growing buffer: the scan for '\n' resumes where it stopped, so a
 * file is read in time linear in its size whatever its line lengths. */
#define _POSIX_C_SOURCE 200809L
#include "core/io/line_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (1u << 16)

struct line_reader {
    int fd;
    bool owns_fd;
    const char *path;
    size_t max_line;
    char *buf;
    size_t cap, start, end, scanned; /* the unread bytes are buf[start, end); no '\n' in [start, scanned) */
    long line_number;
    bool at_eof;
};

static enum lc_status refuse_kind(const char *path, mode_t mode, char *err)
{
    const char *kind = S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) ? "a character device"
                       : S_ISBLK(mode) ? "a block device" : "not a regular file";
    return lc_fail(err, LC_ERR_INVALID, "%s is %s (refused: name a regular file, or - for stdin)", path, kind);
}

enum lc_status line_reader_open(struct line_reader **out, const char *path, size_t max_line, char *err)
{
    *out = NULL;
    bool stdin_named = !strcmp(path, "-");
    /* O_NONBLOCK: opening a FIFO must not wait for a writer before it is refused. */
    int fd = stdin_named ? STDIN_FILENO : open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) /* a name that leads nowhere is bad input; anything else is the system's failure */
        return lc_fail(err, errno == ENOENT || errno == ENOTDIR || errno == EACCES ? LC_ERR_INVALID : LC_ERR_IO,
                       "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    enum lc_status status = LC_OK;
    if (!stdin_named) {
        if (fstat(fd, &st) != 0) status = lc_fail(err, LC_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
        else if (!S_ISREG(st.st_mode)) status = refuse_kind(path, st.st_mode, err);
        else fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    }
    struct line_reader *r = status == LC_OK ? calloc(1, sizeof *r) : NULL;
    if (r) r->buf = malloc(READ_CHUNK + 1);
    if (status == LC_OK && (!r || !r->buf)) status = lc_fail(err, LC_ERR_OOM, "out of memory reading %s", path);
    if (status != LC_OK) {
        if (r) free(r->buf);
        free(r);
        if (!stdin_named) close(fd);
        return status;
    }
    r->fd = fd;
    r->owns_fd = !stdin_named;
    r->path = path;
    r->max_line = max_line;
    r->cap = READ_CHUNK + 1;
    *out = r;
    return LC_OK;
}

/* Room for READ_CHUNK more bytes after end (and a NUL): unread bytes move to the front, the
 * buffer doubles when that is not enough. */
static enum lc_status make_room(struct line_reader *r, char *err)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->scanned -= r->start;
        r->start = 0;
    }
    if (r->cap - r->end > READ_CHUNK) return LC_OK;
    size_t cap = r->cap * 2;
    char *grown = realloc(r->buf, cap);
    if (!grown)
        return lc_fail(err, LC_ERR_OOM, "%s: out of memory for line %ld (%zu bytes so far)", r->path,
                       r->line_number + 1, r->end);
    r->buf = grown;
    r->cap = cap;
    return LC_OK;
}

enum lc_status line_reader_next(struct line_reader *r, const char **line, size_t *len, bool *complete, char *err)
{
    *line = NULL;
    *len = 0;
    *complete = false;
    for (;;) {
        char *nl = memchr(r->buf + r->scanned, '\n', r->end - r->scanned);
        if (nl || (r->at_eof && r->end > r->start)) {
            size_t stop = nl ? (size_t)(nl - r->buf) : r->end;
            if (stop - r->start > r->max_line) break;
            r->buf[stop] = '\0';
            *line = r->buf + r->start;
            *len = stop - r->start;
            *complete = nl != NULL;
            r->start = r->scanned = nl ? stop + 1 : stop;
            r->line_number++;
            return LC_OK;
        }
        r->scanned = r->end;
        if (r->at_eof) return LC_OK;
        if (r->end - r->start > r->max_line) break;
        enum lc_status st = make_room(r, err);
        if (st != LC_OK) return st;
        ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return lc_fail(err, LC_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
        if (got == 0) r->at_eof = true;
        r->end += (size_t)got;
    }
    return lc_fail(err, LC_ERR_INVALID, "%s:%ld: line longer than %zu MiB (not a capture?)", r->path,
                   r->line_number + 1, r->max_line >> 20);
}

long line_reader_line_number(const struct line_reader *r) { return r->line_number; }

void line_reader_close(struct line_reader *r)
{
    if (!r) return;
    if (r->owns_fd) close(r->fd);
    free(r->buf);
    free(r);
}
