/* The terminal the front end draws on: finding it, and whether it can draw a screen at all
 * (core/io/stderr_log keeps other processes' stderr off it while it does). */
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

#endif
