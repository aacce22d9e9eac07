#define _POSIX_C_SOURCE 200809L
#include "profiling/kernel_names.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

enum interval_kind prof_kernel_kind(const char *name)
{
    if (strstr(name, "ncclDevKernel") || strstr(name, "ncclSymkDevKernel") || strstr(name, "ncclKernel") ||
        strncmp(name, "nccl", 4) == 0)
        return IV_COMM;
    /* Kernel names vary in case: cub's DeviceMemcpy, our own memset kernels, CUPTI's "Memcpy". */
    for (const char *p = name; *p; p++) {
        if (tolower((unsigned char)p[0]) != 'm') continue;
        char word[7];
        int k = 0;
        for (; k < 6 && p[k]; k++) word[k] = (char)tolower((unsigned char)p[k]);
        word[k] = '\0';
        if (strcmp(word, "memcpy") == 0 || strcmp(word, "memset") == 0) return IV_MEMORY;
    }
    return IV_COMPUTE;
}

/* ------------------------------------------------------------------ demangling, just enough */

#define MAX_SCOPES 8

struct mangled {
    const char *p;
    bool bad;
};

static long read_length(struct mangled *m)
{
    long n = 0;
    if (!isdigit((unsigned char)*m->p)) {
        m->bad = true;
        return 0;
    }
    while (isdigit((unsigned char)*m->p)) {
        n = n * 10 + (*m->p++ - '0');
        if (n > 4096) m->bad = true;
    }
    return n;
}

/* Skips an argument list "I ... E" (already past the 'I'): nested I/N/X open a level, E closes
 * one, a length prefix skips an identifier whole (it may hold 'E'), a literal "L<type><value>E"
 * is skipped to its own E. */
static void skip_template_args(struct mangled *m)
{
    int depth = 1;
    while (depth > 0 && !m->bad) {
        char c = *m->p;
        if (c == '\0') {
            m->bad = true;
        } else if (isdigit((unsigned char)c)) {
            long n = read_length(m);
            if ((long)strnlen(m->p, (size_t)n) < n) m->bad = true;
            else m->p += n;
        } else if (c == 'L') {
            m->p++;
            if (*m->p == '_' && m->p[1] == 'Z') depth++, m->p += 2; /* an external name: ends with E */
            else if (*m->p == 'Z') depth++, m->p++;
            else {
                while (*m->p && *m->p != 'E') m->p++;
                if (*m->p) m->p++;
            }
        } else if (c == 'I' || c == 'N' || c == 'X' || c == 'J') {
            depth++, m->p++;
        } else if (c == 'E') {
            depth--, m->p++;
        } else {
            m->p++;
        }
    }
}

struct scope {
    const char *text;
    int len;
};

/* One source name "<length><identifier>" into s; an anonymous namespace gets its usual name. */
static void read_source_name(struct mangled *m, struct scope *s)
{
    long n = read_length(m);
    if (m->bad || (long)strnlen(m->p, (size_t)n) < n) {
        m->bad = true;
        return;
    }
    static const char anon[] = "_GLOBAL__N";
    if (n >= (long)sizeof anon - 1 && strncmp(m->p, anon, sizeof anon - 1) == 0) {
        s->text = "(anonymous namespace)";
        s->len = (int)strlen(s->text);
    } else {
        s->text = m->p;
        s->len = (int)n;
    }
    m->p += n;
}

static int read_name(struct mangled *m, struct scope *scopes)
{
    int n = 0;
    if (*m->p == 'L') m->p++; /* internal linkage */
    if (*m->p != 'N') {
        read_source_name(m, &scopes[n++]);
        return m->bad ? 0 : n;
    }
    m->p++;
    while (*m->p == 'r' || *m->p == 'V' || *m->p == 'K' || *m->p == 'R' || *m->p == 'O') m->p++;
    while (!m->bad && *m->p != 'E') {
        if (*m->p == 'I') {
            m->p++;
            skip_template_args(m);
        } else if (m->p[0] == 'S' && m->p[1] == 't') {
            m->p += 2;
            if (n < MAX_SCOPES) scopes[n++] = (struct scope){"std", 3};
        } else if (isdigit((unsigned char)*m->p) && n < MAX_SCOPES) {
            read_source_name(m, &scopes[n++]);
        } else {
            m->bad = true; /* substitutions, operators, constructors: not for kernel names */
        }
    }
    return m->bad ? 0 : n;
}

static void copy_truncated(const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    if (n >= len) n = len - 1;
    memcpy(out, name, n);
    out[n] = '\0';
}

void prof_kernel_short_name(const char *name, char *out, size_t len)
{
    if (len == 0) return;
    if (strncmp(name, "_Z", 2) != 0) {
        copy_truncated(name, out, len);
        return;
    }
    struct mangled m = {name + 2, false};
    struct scope scopes[MAX_SCOPES];
    int n = read_name(&m, scopes);
    if (n == 0) {
        copy_truncated(name, out, len);
        return;
    }
    /* Drop leading scopes until the rest fits. */
    int first = 0;
    for (;;) {
        size_t need = 0;
        for (int k = first; k < n; k++) need += (size_t)scopes[k].len + (k > first ? 2 : 0);
        if (need < len || first == n - 1) break;
        first++;
    }
    size_t at = 0;
    for (int k = first; k < n && at + 1 < len; k++) {
        if (k > first) {
            for (int c = 0; c < 2 && at + 1 < len; c++) out[at++] = ':';
        }
        for (int c = 0; c < scopes[k].len && at + 1 < len; c++) out[at++] = scopes[k].text[c];
    }
    out[at] = '\0';
}
