/* The terminal the front end draws on: finding it, whether it can draw a screen at all, and
 * keeping other processes' stderr off it while it does. */
#ifndef LC_TUI_TERMINAL_H
#define LC_TUI_TERMINAL_H

#include <stdbool.h>
#include <stdio.h>

/* stdin/stdout when they are one; else the controlling terminal, as for rank 0 under mpirun,
 * whose stdin is mpirun's pipe (*own: the caller closes it). NULL when there is none. */
FILE *tui_open_terminal(bool *own);

/* Whether the terminal $TERM describes can place the cursor (terminfo's cup): a dumb terminal
 * would draw every screen on one line. When not, why says so in a few words. */
bool tui_terminal_addressable(FILE *tty, char *why, size_t len);

/* While the TUI owns the terminal, what MPI, its daemons and the workers print on stderr would
 * tear the screen: it goes to a private file instead (inherited by the processes spawned after
 * this), named at exit when not empty. */
struct tui_stderr_log {
    int saved_fd;
    char path[4096];
};
void tui_stderr_to_file(struct tui_stderr_log *log);
void tui_stderr_restore(struct tui_stderr_log *log); /* keeps and names the file if anything was written */

#endif
