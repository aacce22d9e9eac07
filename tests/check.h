/* The test programs' assertion. CHECK(cond) or CHECK(cond, "format", ...) counts a failure and
 * prints where, what and why; only the first CHECK_PRINT_MAX failures are printed, so a check
 * inside a loop over many elements does not flood the log. check_context, when set, names the
 * case or rank being run; check_report ends main. */
#ifndef LC_TEST_CHECK_H
#define LC_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>

enum { CHECK_PRINT_MAX = 20 };

static int failures;
static const char *check_context; /* printed as "[context] " before each failure when set */

static inline void check_failed(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void check_failed(const char *file, int line, const char *cond, const char *fmt, ...)
{
    if (failures++ >= CHECK_PRINT_MAX) return;
    if (check_context) fprintf(stderr, "[%s] ", check_context);
    fprintf(stderr, "%s:%d: CHECK(%s) failed", file, line, cond);
    if (fmt[1]) { /* fmt is " " and the caller's message, if it gave one */
        va_list ap;
        va_start(ap, fmt);
        fputc(':', stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
}

/* The " " prefix gives a CHECK without a message a format too, and separates the message. */
#define CHECK(cond, ...)                                                                                   \
    do {                                                                                                   \
        if (!(cond)) check_failed(__FILE__, __LINE__, #cond, " " __VA_ARGS__);                              \
    } while (0)

/* The end of main: prints "<name>: N check(s) failed" (stderr) or "<name>: all checks passed";
 * returns the exit status. */
static inline int check_report(const char *name)
{
    if (failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
