/* Private folders and files: made 0700 under $XDG_STATE_HOME / $XDG_RUNTIME_DIR (else
 * ~/.local/state), a folder open to others made private, a symlink or a file planted where the
 * folder goes refused; files created exclusively (a planted symlink at the name is skipped, its
 * target left untouched), mode 0600 whatever the umask. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/io/private_dir.h"

static mode_t mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_mode & 07777 : 0;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char base[512], path[4096], want[2048], err[LC_ERRMSG_LEN];
    snprintf(base, sizeof base, "%s/lc_private_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base)) return 1;
    umask(0);

    /* ~/.local/state/longca when no XDG variable is set; every level made 0700. */
    unsetenv("XDG_STATE_HOME");
    unsetenv("XDG_RUNTIME_DIR");
    setenv("HOME", base, 1);
    CHECK(private_dir(PRIVATE_STATE, path, sizeof path, err) == LC_OK, " %s", err);
    snprintf(want, sizeof want, "%s/.local/state/longca", base);
    CHECK(!strcmp(path, want), " got %s", path);
    snprintf(want, sizeof want, "%s/.local", base);
    CHECK(mode_of(path) == 0700 && mode_of(want) == 0700);

    /* $XDG_STATE_HOME wins; a folder others can enter is made private. */
    char state[600];
    snprintf(state, sizeof state, "%s/state", base);
    mkdir(state, 0755);
    setenv("XDG_STATE_HOME", state, 1);
    snprintf(want, sizeof want, "%s/longca", state);
    mkdir(want, 0777);
    CHECK(private_dir(PRIVATE_STATE, path, sizeof path, err) == LC_OK && !strcmp(path, want), " %s", err);
    CHECK(mode_of(want) == 0700, " mode %o", mode_of(want));

    /* A symlink planted where the folder goes is refused, never followed. */
    char runtime[600], planted[700];
    snprintf(runtime, sizeof runtime, "%s/run", base);
    mkdir(runtime, 0700);
    setenv("XDG_RUNTIME_DIR", runtime, 1);
    snprintf(planted, sizeof planted, "%s/longca", runtime);
    CHECK(symlink(state, planted) == 0);
    CHECK(private_dir(PRIVATE_RUNTIME, path, sizeof path, err) != LC_OK && strstr(err, "not a directory"), " %s", err);
    unlink(planted);

    /* Files: exclusive, 0600, a planted symlink at the first name skipped and its target kept. */
    int fd = private_file_create(PRIVATE_RUNTIME, "stderr", ".log", path, sizeof path, err);
    CHECK(fd >= 0 && mode_of(path) == 0600, " %s", err);
    if (fd >= 0) close(fd);
    char victim[600], trap_name[4200];
    snprintf(victim, sizeof victim, "%s/victim", base);
    FILE *f = fopen(victim, "w");
    fputs("keep me\n", f);
    fclose(f);
    unlink(path);
    snprintf(trap_name, sizeof trap_name, "%s/longca/stderr-%ld.log", runtime, (long)getpid());
    CHECK(symlink(victim, trap_name) == 0);
    fd = private_file_create(PRIVATE_RUNTIME, "stderr", ".log", path, sizeof path, err);
    CHECK(fd >= 0 && strcmp(path, trap_name) != 0, " %s", path);
    if (fd >= 0) {
        CHECK(write(fd, "x", 1) == 1);
        close(fd);
    }
    struct stat st;
    CHECK(stat(victim, &st) == 0 && st.st_size == 8);
    unlink(path);
    unlink(trap_name);

    /* No HOME and no XDG: refused with the reason, nothing made anywhere. */
    unsetenv("HOME");
    unsetenv("XDG_STATE_HOME");
    CHECK(private_dir(PRIVATE_STATE, path, sizeof path, err) == LC_ERR_INVALID && strstr(err, "HOME"));

    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) return 1;
    return check_report("test_private_dir");
}
