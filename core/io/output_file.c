/* Outputs by kind: regular files through a temp file and a rename, streams written in place.
 * rename() never follows a symlink and would put a regular file where a device or FIFO was, so
 * the kind is decided first, on the symlink's target. */
#define _GNU_SOURCE
#include "core/io/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_BUFFER (1u << 20)
#define TEMP_ATTEMPTS 64
#define FIFO_READER_WAIT_MS 10000
#define FIFO_READER_POLL_MS 20

static void release(struct output_file *o)
{
    free(o->path);
    free(o->tmp_path);
    o->f = NULL;
    o->sink = NULL;
    o->path = o->tmp_path = NULL;
}

/* The descriptor under the FILE and the first write error on it: stdio keeps only a flag, and
 * glibc drops a buffer it failed to write, so a later fflush cannot say it was ENOSPC. */
struct output_sink {
    int fd;
    int error;
};

static ssize_t sink_write(void *cookie, const char *buf, size_t size)
{
    struct output_sink *s = cookie;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(s->fd, buf + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (!s->error) s->error = n < 0 ? errno : EIO;
            break;
        }
        done += (size_t)n;
    }
    return (ssize_t)done; /* short: stdio marks the stream failed */
}

static int sink_close(void *cookie)
{
    struct output_sink *s = cookie;
    int rc = close(s->fd);
    free(s);
    return rc;
}

/* A FILE over fd whose write errors keep their errno; fd stays the caller's on failure. */
static FILE *sink_open(struct output_file *o, int fd)
{
    struct output_sink *s = malloc(sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    *s = (struct output_sink){.fd = fd};
    FILE *f = fopencookie(s, "w", (cookie_io_functions_t){.write = sink_write, .close = sink_close});
    if (!f) {
        free(s);
        return NULL;
    }
    o->sink = s;
    return f;
}

/* "<path>.partial-" plus six random letters, created exclusively (never through a symlink). */
static int create_temp(struct output_file *o, const char *path, mode_t mode)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t len = strlen(path);
    o->tmp_path = malloc(len + sizeof ".partial-XXXXXX");
    if (!o->tmp_path) {
        errno = ENOMEM;
        return -1;
    }
    for (int attempt = 0; attempt < TEMP_ATTEMPTS; attempt++) {
        uint8_t noise[6];
        if (getrandom(noise, sizeof noise, 0) != (ssize_t)sizeof noise) {
            uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^ (uint64_t)attempt * 0x9e3779b97f4a7c15u;
            memcpy(noise, &t, sizeof noise);
        }
        char *p = o->tmp_path + len;
        memcpy(o->tmp_path, path, len);
        memcpy(p, ".partial-", 9);
        for (int k = 0; k < 6; k++) p[9 + k] = letters[noise[k] % (sizeof letters - 1)];
        p[15] = '\0';
        int fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

/* The file to write when path is a symlink: its target, which must exist (a dangling link
 * could point anywhere a later writer chooses). */
static enum lc_status follow_link(const char *path, char **real, struct stat *st, char *err)
{
    *real = realpath(path, NULL);
    if (!*real) {
        if (errno == ENOENT)
            return lc_fail(err, LC_ERR_INVALID, "%s is a symlink to a missing file (refused)", path);
        return lc_fail(err, LC_ERR_IO, "cannot follow the symlink %s: %s", path, strerror(errno));
    }
    if (lstat(*real, st) != 0) return lc_fail(err, LC_ERR_IO, "cannot stat %s: %s", *real, strerror(errno));
    return LC_OK;
}

static enum lc_status open_stream(struct output_file *o, int fd, char *err)
{
    o->stream = true;
    o->f = sink_open(o, fd);
    if (o->f && isatty(fd)) setvbuf(o->f, NULL, _IOLBF, 0); /* rows appear as they come */
    if (!o->f) {
        close(fd);
        enum lc_status st = lc_fail(err, LC_ERR_IO, "cannot open %s: %s", o->path, strerror(errno));
        release(o);
        return st;
    }
    return LC_OK;
}

/* A FIFO opened for writing blocks until a reader opens it, for ever if none comes: wait for
 * one a bounded time instead, then write blocking as to any stream. */
static int open_fifo(const char *path)
{
    for (int waited = 0;; waited += FIFO_READER_POLL_MS) {
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            int flags = fcntl(fd, F_GETFL);
            if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
                int saved = errno;
                close(fd);
                errno = saved;
                return -1;
            }
            return fd;
        }
        if (errno != ENXIO || waited >= FIFO_READER_WAIT_MS) return -1;
        nanosleep(&(struct timespec){.tv_nsec = FIFO_READER_POLL_MS * 1000000L}, NULL);
    }
}

static enum lc_status open_regular(struct output_file *o, const struct stat *existing, char *err)
{
    /* A new file: 0666 less the umask, as any tool. A replaced one keeps its bits and, for
     * root, its owner, so running as root does not take a user's file over. */
    int fd = create_temp(o, o->path, existing ? 0600 : 0666);
    if (fd < 0) { /* a folder that is missing or not the user's to write is bad input */
        bool named_wrong = errno == ENOENT || errno == ENOTDIR || errno == EACCES || errno == EROFS;
        enum lc_status st = lc_fail(err, errno == ENOMEM ? LC_ERR_OOM : named_wrong ? LC_ERR_INVALID : LC_ERR_IO,
                                    "cannot create %s: %s", o->path, strerror(errno));
        release(o);
        return st;
    }
    if (existing) {
        if (geteuid() == 0 && fchown(fd, existing->st_uid, existing->st_gid) != 0) { /* best effort */ }
        fchmod(fd, existing->st_mode & 0777);
    }
    o->f = sink_open(o, fd);
    if (!o->f) {
        enum lc_status st = lc_fail(err, LC_ERR_IO, "cannot open %s: %s", o->tmp_path, strerror(errno));
        close(fd);
        unlink(o->tmp_path);
        release(o);
        return st;
    }
    setvbuf(o->f, NULL, _IOFBF, OUTPUT_BUFFER);
    return LC_OK;
}

int output_names_descriptor(const char *path)
{
    if (!strcmp(path, "-") || !strcmp(path, "/dev/stdout")) return STDOUT_FILENO;
    if (!strcmp(path, "/dev/stderr")) return STDERR_FILENO;
    const char *digits = !strncmp(path, "/dev/fd/", 8) ? path + 8 : !strncmp(path, "/proc/self/fd/", 14) ? path + 14 : NULL;
    if (!digits || !*digits || strlen(digits) > 6 || strspn(digits, "0123456789") != strlen(digits)) return -1;
    return atoi(digits);
}

enum lc_status output_open(struct output_file *o, const char *path, char *err)
{
    memset(o, 0, sizeof *o);
    /* -, /dev/stdout, /dev/stderr, /dev/fd/N: the descriptor itself, as a stream. Through the
     * symlink, a pipe or socket has no file to resolve to, and a regular file the shell opened
     * (perhaps to append) must not be replaced by a rename. */
    int named_fd = output_names_descriptor(path);
    if (named_fd >= 0) {
        o->path = strdup(path);
        int fd = o->path ? fcntl(named_fd, F_DUPFD_CLOEXEC, 0) : -1;
        if (fd < 0) {
            int saved = errno;
            release(o);
            return lc_fail(err, LC_ERR_IO, "cannot write to %s: %s", path, strerror(saved));
        }
        return open_stream(o, fd, err);
    }
    struct stat st;
    char *real = NULL;
    enum lc_status status = LC_OK;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) return lc_fail(err, LC_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
        o->path = strdup(path);
        if (!o->path) return lc_fail(err, LC_ERR_OOM, "out of memory opening %s", path);
        return open_regular(o, NULL, err);
    }
    if (S_ISLNK(st.st_mode) && (status = follow_link(path, &real, &st, err)) != LC_OK) {
        free(real);
        return status;
    }
    o->path = real ? real : strdup(path);
    if (!o->path) return lc_fail(err, LC_ERR_OOM, "out of memory opening %s", path);
    if (S_ISREG(st.st_mode)) return open_regular(o, &st, err);
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
        int fd = S_ISFIFO(st.st_mode) ? open_fifo(o->path) : open(o->path, O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENXIO && S_ISFIFO(st.st_mode))
            status = lc_fail(err, LC_ERR_IO, "no reader opened the FIFO %s within %d s", o->path, FIFO_READER_WAIT_MS / 1000);
        else if (fd < 0)
            status = lc_fail(err, LC_ERR_IO, "cannot open %s: %s", o->path, strerror(errno));
        if (fd < 0) {
            release(o);
            return status;
        }
        return open_stream(o, fd, err);
    }
    status = lc_fail(err, LC_ERR_INVALID, "%s is %s (refused: output goes to a regular file, a character device, "
                     "a FIFO or -)", path, S_ISDIR(st.st_mode) ? "a directory" : S_ISBLK(st.st_mode) ? "a block device" : "a socket");
    release(o);
    return status;
}

/* The first write error of the stream, with its errno (ENOSPC, EPIPE, EIO). */
static int flush_error(struct output_file *o)
{
    bool failed = fflush(o->f) != 0 || ferror(o->f);
    if (!failed) return 0;
    clearerr(o->f);
    return o->sink->error ? o->sink->error : EIO;
}

/* The rename is only durable once the directory entry is on disk too. */
static void sync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

enum lc_status output_flush(struct output_file *o, bool durable, char *err)
{
    int failure = flush_error(o);
    if (!failure && durable && !o->stream && fsync(o->sink->fd) != 0) failure = errno;
    if (failure) return lc_fail(err, LC_ERR_IO, "cannot write %s: %s", o->path, strerror(failure));
    return LC_OK;
}

enum lc_status output_publish(struct output_file *o, char *err)
{
    enum lc_status st = output_flush(o, true, err);
    if (st != LC_OK || !o->tmp_path) return st;
    if (rename(o->tmp_path, o->path) != 0)
        return lc_fail(err, LC_ERR_IO, "cannot rename into %s: %s", o->path, strerror(errno));
    sync_parent_dir(o->path);
    free(o->tmp_path);
    o->tmp_path = NULL;
    return LC_OK;
}

enum lc_status output_commit(struct output_file *o, char *err)
{
    enum lc_status st = output_flush(o, true, err);
    if (fclose(o->f) != 0 && st == LC_OK) st = lc_fail(err, LC_ERR_IO, "cannot write %s: %s", o->path, strerror(errno));
    o->f = NULL;
    if (o->tmp_path) {
        if (st == LC_OK && rename(o->tmp_path, o->path) != 0)
            st = lc_fail(err, LC_ERR_IO, "cannot rename into %s: %s", o->path, strerror(errno));
        if (st == LC_OK) sync_parent_dir(o->path);
        else unlink(o->tmp_path);
    }
    release(o);
    return st;
}

void output_abort(struct output_file *o)
{
    if (o->f) fclose(o->f);
    if (o->tmp_path) unlink(o->tmp_path);
    release(o);
}
