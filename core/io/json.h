/* A small JSON reader (a DOM: the whole text becomes a tree of values) and the writing
 * helpers every JSON producer shares: string escaping and exact doubles. Used by the capture
 * file, the headless JSON output, the trace exporter and their tests. */
#ifndef LC_JSON_H
#define LC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/model/status.h"

enum json_type { JSON_NULL = 0, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
    enum json_type type;
    bool boolean;
    double number;
    /* Integer literals keep every digit: nanosecond clocks and 64-bit seeds exceed a double's 53 bits. */
    bool is_int;  /* an integer literal that fits int64_t: in i */
    bool is_uint; /* a non-negative integer literal that fits uint64_t: in u */
    int64_t i;
    uint64_t u;
    char *string;  /* JSON_STRING: decoded UTF-8, NUL-terminated */
    size_t length; /* bytes of string */
    /* JSON_ARRAY: items[0..count); JSON_OBJECT: keys[k] names items[k], in file order. */
    struct json_value *items;
    char **keys;
    int count;
};

#define JSON_MAX_DEPTH 64

/* Parses text (NUL-terminated) holding exactly one value with optional surrounding white space.
 * On failure err says what and where ("column 17: expected ':' after an object key"). */
enum lc_status json_parse(const char *text, struct json_value *out, char *err);
void json_free(struct json_value *v); /* releases what v owns, not v itself */

/* Member of an object by key (the first, if repeated); NULL if v is not an object or has none. */
const struct json_value *json_get(const struct json_value *v, const char *key);

/* A number, or one of the strings "NaN", "Infinity", "-Infinity" written by json_write_double. */
bool json_as_double(const struct json_value *v, double *out);

/* s as a quoted JSON string: quotes, backslashes and control characters escaped, bytes that are
 * not valid UTF-8 replaced by U+FFFD so strict readers accept the file. */
void json_write_string(FILE *f, const char *s);
/* Shortest decimal that reads back to the same double; non-finite values as the strings above. */
void json_write_double(FILE *f, double x);

#endif
