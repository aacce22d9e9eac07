#define _POSIX_C_SOURCE 200809L
#include "core/io/stderr_log.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io/private_dir.h"

void stderr_log_open(struct stderr_log *log)
{
    log->terminal_fd = log->file_fd = -1;
    char err[LC_ERRMSG_LEN];
    int fd = private_file_create(PRIVATE_RUNTIME, "stderr", ".log", log->path, sizeof log->path, err);
    if (fd < 0) { /* no message is lost: they stay on the terminal */
        fprintf(stderr, "longca: MPI's messages stay on the terminal: %s\n", err);
        return;
    }
    fflush(stderr);
    log->terminal_fd = dup(STDERR_FILENO);
    if (log->terminal_fd < 0) {
        close(fd);
        unlink(log->path);
        return;
    }
    log->file_fd = fd;
    dup2(fd, STDERR_FILENO);
}

static void point_stderr(const struct stderr_log *log, int fd)
{
    if (log->terminal_fd < 0) return;
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
}

void stderr_log_pause(struct stderr_log *log) { point_stderr(log, log->terminal_fd); }

void stderr_log_resume(struct stderr_log *log) { point_stderr(log, log->file_fd); }

void stderr_log_close(struct stderr_log *log, const char *who)
{
    if (log->terminal_fd < 0) return;
    point_stderr(log, log->terminal_fd);
    struct stat st;
    bool empty = fstat(log->file_fd, &st) == 0 && st.st_size == 0;
    close(log->terminal_fd);
    close(log->file_fd);
    log->terminal_fd = log->file_fd = -1;
    if (empty) unlink(log->path);
    else fprintf(stderr, "%s: MPI's messages during the session are in %s\n", who, log->path);
}
