#define _POSIX_C_SOURCE 200809L
#include "core/io/file_atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_ATOMIC_BUFFER (1u << 20)

static void release(struct file_atomic *fa)
{
    free(fa->path);
    free(fa->tmp_path);
    fa->f = NULL;
    fa->path = fa->tmp_path = NULL;
}

enum lc_status file_atomic_open(struct file_atomic *fa, const char *path, char *err)
{
    static const char suffix[] = ".partial-XXXXXX";
    size_t len = strlen(path);
    fa->f = NULL;
    fa->path = strdup(path);
    fa->tmp_path = malloc(len + sizeof suffix);
    if (!fa->path || !fa->tmp_path) {
        release(fa);
        return lc_fail(err, LC_ERR_OOM, "out of memory opening %s", path);
    }
    memcpy(fa->tmp_path, path, len);
    memcpy(fa->tmp_path + len, suffix, sizeof suffix);
    int fd = mkstemp(fa->tmp_path);
    if (fd < 0) {
        enum lc_status st = lc_fail(err, LC_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        release(fa);
        return st;
    }
    fchmod(fd, 0644); /* mkstemp's 0600 would hide the file from other users */
    fa->f = fdopen(fd, "w");
    if (!fa->f) {
        enum lc_status st = lc_fail(err, LC_ERR_IO, "cannot open %s: %s", fa->tmp_path, strerror(errno));
        close(fd);
        unlink(fa->tmp_path);
        release(fa);
        return st;
    }
    setvbuf(fa->f, NULL, _IOFBF, FILE_ATOMIC_BUFFER);
    return LC_OK;
}

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

enum lc_status file_atomic_commit(struct file_atomic *fa, char *err)
{
    int failure = ferror(fa->f) ? (errno ? errno : EIO) : 0;
    if (!failure && fflush(fa->f) != 0) failure = errno;
    if (!failure && fsync(fileno(fa->f)) != 0) failure = errno;
    if (fclose(fa->f) != 0 && !failure) failure = errno;
    enum lc_status st = LC_OK;
    if (failure) {
        st = lc_fail(err, LC_ERR_IO, "cannot write %s: %s", fa->path, strerror(failure));
        unlink(fa->tmp_path);
    } else if (rename(fa->tmp_path, fa->path) != 0) {
        st = lc_fail(err, LC_ERR_IO, "cannot rename into %s: %s", fa->path, strerror(errno));
        unlink(fa->tmp_path);
    } else {
        sync_parent_dir(fa->path);
    }
    release(fa);
    return st;
}

void file_atomic_abort(struct file_atomic *fa)
{
    fclose(fa->f);
    unlink(fa->tmp_path);
    release(fa);
}
