/* Open MPI's own messages (its daemons', the spawned workers', PMIx's) sent to a private log file
 * instead of the terminal: fd 2 points at the file while the processes that inherit it are
 * started and while MPI shuts down; longca's own lines go to the terminal in between. */
#ifndef LC_STDERR_LOG_H
#define LC_STDERR_LOG_H

#include <stdbool.h>

struct stderr_log {
    int terminal_fd; /* the original stderr, -1 when no log could be made */
    int file_fd;
    char path[4096];
};

/* fd 2 to a new file in the private runtime folder (a note on the terminal when that fails). */
void stderr_log_open(struct stderr_log *log);
void stderr_log_pause(struct stderr_log *log);  /* fd 2 to the terminal; children keep the file */
void stderr_log_resume(struct stderr_log *log); /* fd 2 to the file again */
/* fd 2 to the terminal for good; the file removed when empty, else named in one line after who. */
void stderr_log_close(struct stderr_log *log, const char *who);

#endif
