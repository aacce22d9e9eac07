/* Finding the terminal and asking terminfo what it can do (tui/terminal.h). */
#define _POSIX_C_SOURCE 200809L
#include "tui/terminal.h"

#include <curses.h>
#include <stdlib.h>
#include <term.h>
#include <unistd.h>

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
