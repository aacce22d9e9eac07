/* Finding the terminal, asking terminfo what it can do, and the stderr log (tui/terminal.h). */
#define _POSIX_C_SOURCE 200809L
#include "tui/terminal.h"

#include <curses.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <term.h>
#include <unistd.h>

#include "core/io/private_dir.h"
#include "core/model/status.h"

FILE *tui_open_terminal(bool *own)
{
    *own = false;
    if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) return stdout;
    FILE *f = fopen("/dev/tty", "r+");
    if (f) *own = true;
    return f;
}

bool tui_terminal_addressable(FILE *tty, char *why, size_t len)
{
    const char *term = getenv("TERM");
    int status = 0;
    if (setupterm(NULL, fileno(tty), &status) != OK) {
        snprintf(why, len, "TERM=%s is unknown to terminfo", term && *term ? term : "(unset)");
        return false;
    }
    const char *cup = tigetstr("cup");
    bool ok = cup != NULL && cup != (char *)-1;
    del_curterm(cur_term);
    if (!ok) snprintf(why, len, "TERM=%s cannot place the cursor", term ? term : "");
    return ok;
}

void tui_stderr_to_file(struct tui_stderr_log *log)
{
    log->saved_fd = -1;
    char err[LC_ERRMSG_LEN];
    int fd = private_file_create(PRIVATE_RUNTIME, "stderr", ".log", log->path, sizeof(log->path), err);
    if (fd < 0) { /* the screen may tear, but no message is lost */
        fprintf(stderr, "longca: messages stay on the terminal: %s\n", err);
        return;
    }
    fflush(stderr);
    log->saved_fd = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

void tui_stderr_restore(struct tui_stderr_log *log)
{
    if (log->saved_fd < 0) return;
    fflush(stderr);
    dup2(log->saved_fd, STDERR_FILENO);
    close(log->saved_fd);
    log->saved_fd = -1;
    struct stat st;
    if (stat(log->path, &st) == 0 && st.st_size == 0)
        unlink(log->path);
    else
        fprintf(stderr, "longca: messages printed during the session are in %s\n", log->path);
}

