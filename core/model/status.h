/* Error returns shared by every room: an enum plus a message buffer filled by the callee. */
#ifndef LC_STATUS_H
#define LC_STATUS_H

#include <stddef.h>

enum lc_status {
    LC_OK = 0,
    LC_ERR_INVALID,     /* bad input: a flag, a size, a combination */
    LC_ERR_UNSUPPORTED, /* valid, but this kernel / method cannot do it */
    LC_ERR_OOM,         /* needs more memory than the device has */
    LC_ERR_IO,          /* a file could not be read or written */
    LC_ERR_COMM,        /* a peer failed, timed out or vanished */
    LC_ERR_DEVICE,      /* a CUDA / driver / library call failed */
    LC_ERR_CANCELLED,   /* the user cancelled the sweep */
    LC_ERR_INTERNAL
};

#define LC_ERRMSG_LEN 256

const char *lc_status_name(enum lc_status status);
/* The status lc_status_name gives name; LC_ERR_INVALID when none does. */
enum lc_status lc_status_parse(const char *name, enum lc_status *out);

/* printf into err (may be NULL), control characters sanitized, and return status: `return lc_fail(err, LC_ERR_INVALID, "...")`. */
enum lc_status lc_fail(char *err, enum lc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Control characters (newline, ESC, ...) replaced by '?', in place. */
void lc_sanitize(char *text);
/* "who: message" and a newline on stderr, the message sanitized (it may quote user text). */
void lc_print_error(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* lc_print_error for bad input, giving the exit status LC_EXIT_USAGE. */
int lc_usage_error(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Process exit statuses: every command's (cli/), and the worker ranks'. */
#define LC_EXIT_OK 0
#define LC_EXIT_FAILED 1 /* a run or check failed, a worker was lost, I/O or memory */
#define LC_EXIT_USAGE 2  /* bad input, one line on stderr */

/* The process exit status for a command's outcome: LC_EXIT_OK, LC_EXIT_USAGE for
 * LC_ERR_INVALID, LC_EXIT_FAILED for anything else. */
int lc_status_exit(enum lc_status status);

#endif
