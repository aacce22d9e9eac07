#include "core/model/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *lc_status_name(enum lc_status status)
{
    switch (status) {
    case LC_OK: return "ok";
    case LC_ERR_INVALID: return "invalid";
    case LC_ERR_UNSUPPORTED: return "unsupported";
    case LC_ERR_OOM: return "out of memory";
    case LC_ERR_IO: return "i/o error";
    case LC_ERR_COMM: return "communication error";
    case LC_ERR_DEVICE: return "device error";
    case LC_ERR_CANCELLED: return "cancelled";
    case LC_ERR_INTERNAL: return "internal error";
    }
    return "unknown";
}

/* Messages quote what users typed and what files held: a newline or an escape sequence in
 * there must not forge lines or drive the terminal. */
void lc_sanitize(char *text)
{
    for (unsigned char *c = (unsigned char *)text; *c; c++)
        if (*c < 0x20 || *c == 0x7f) *c = '?';
}

/* who's message on stderr as one line: control characters from the caller's values shown as '?' */
__attribute__((format(printf, 2, 0))) static void print_line(const char *who, const char *fmt, va_list ap)
{
    char line[LC_ERRMSG_LEN * 2];
    vsnprintf(line, sizeof line, fmt, ap);
    lc_sanitize(line);
    fprintf(stderr, "%s: %s\n", who, line);
}

void lc_print_error(const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_line(who, fmt, ap);
    va_end(ap);
}

int lc_usage_error(const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_line(who, fmt, ap);
    va_end(ap);
    return LC_EXIT_USAGE;
}

int lc_status_exit(enum lc_status status)
{
    return status == LC_OK ? LC_EXIT_OK : status == LC_ERR_INVALID ? LC_EXIT_USAGE : LC_EXIT_FAILED;
}

enum lc_status lc_fail(char *err, enum lc_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, LC_ERRMSG_LEN, fmt, ap);
        va_end(ap);
        lc_sanitize(err);
    }
    return status;
}

enum lc_status lc_status_parse(const char *name, enum lc_status *out)
{
    for (int s = LC_OK; s <= LC_ERR_INTERNAL; s++)
        if (strcmp(name, lc_status_name((enum lc_status)s)) == 0) {
            *out = (enum lc_status)s;
            return LC_OK;
        }
    return LC_ERR_INVALID;
}
