/* Private folders: made one level at a time with mkdir 0700 and checked with lstat, so a
 * symlink or another user's folder planted on the path is refused rather than written into. */
#define _POSIX_C_SOURCE 200809L
#include "core/io/private_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* path[0, upto) exists as a directory, or is made one (0700). */
static enum lc_status make_level(char *path, size_t upto, char *err)
{
    char saved = path[upto];
    path[upto] = '\0';
    enum lc_status st = LC_OK;
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        st = lc_fail(err, LC_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    } else {
        struct stat s;
        if (stat(path, &s) != 0 || !S_ISDIR(s.st_mode))
            st = lc_fail(err, LC_ERR_IO, "%s is not a directory", path);
    }
    path[upto] = saved;
    return st;
}

/* The last level must be ours, a real directory (not a symlink) that no one else may enter. */
static enum lc_status check_private(const char *path, char *err)
{
    struct stat s;
    if (lstat(path, &s) != 0) return lc_fail(err, LC_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISDIR(s.st_mode)) return lc_fail(err, LC_ERR_IO, "%s is not a directory (refused)", path);
    if (s.st_uid != geteuid()) return lc_fail(err, LC_ERR_IO, "%s belongs to another user (refused)", path);
    if ((s.st_mode & 077) && chmod(path, 0700) != 0)
        return lc_fail(err, LC_ERR_IO, "%s is open to other users and cannot be made private: %s", path,
                       strerror(errno));
    return LC_OK;
}

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] == '/' ? v : NULL; /* the XDG rule: a relative path is ignored */
}

enum lc_status private_dir(enum private_kind kind, char *path, size_t len, char *err)
{
    const char *runtime = kind == PRIVATE_RUNTIME ? nonempty_env("XDG_RUNTIME_DIR") : NULL;
    const char *xdg = nonempty_env(kind == PRIVATE_CONFIG ? "XDG_CONFIG_HOME" : "XDG_STATE_HOME");
    const char *home = nonempty_env("HOME");
    int n;
    if (runtime) n = snprintf(path, len, "%s/longca", runtime);
    else if (xdg) n = snprintf(path, len, "%s/longca", xdg);
    else if (home) n = snprintf(path, len, kind == PRIVATE_CONFIG ? "%s/.config/longca" : "%s/.local/state/longca", home);
    else return lc_fail(err, LC_ERR_INVALID, "neither XDG_%s_HOME nor HOME is set: no private folder for longca's files",
                        kind == PRIVATE_CONFIG ? "CONFIG" : "STATE");
    if (n < 0 || (size_t)n >= len) return lc_fail(err, LC_ERR_INVALID, "the private folder's path is too long");
    /* Only the levels longca adds are made here: the base ($HOME, $XDG_*) must exist already. */
    size_t base = strlen(runtime ? runtime : xdg ? xdg : home);
    for (size_t k = base + 1; k <= (size_t)n; k++) {
        if (path[k] != '/' && path[k] != '\0') continue;
        enum lc_status st = make_level(path, k, err);
        if (st != LC_OK) return st;
    }
    return check_private(path, err);
}

int private_file_create(enum private_kind kind, const char *stem, const char *suffix, char *path, size_t len,
                        char *err)
{
    char dir[3072];
    if (private_dir(kind, dir, sizeof dir, err) != LC_OK) return -1;
    for (int k = 0; k < 100; k++) {
        int n = k ? snprintf(path, len, "%s/%s-%ld.%d%s", dir, stem, (long)getpid(), k, suffix)
                  : snprintf(path, len, "%s/%s-%ld%s", dir, stem, (long)getpid(), suffix);
        if (n < 0 || (size_t)n >= len) {
            lc_fail(err, LC_ERR_INVALID, "the private file's path is too long");
            return -1;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) return fd;
        if (errno != EEXIST) break;
    }
    lc_fail(err, LC_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    return -1;
}
