/* JSON reader (recursive descent into a tree) and the shared writing helpers. */
#include "core/io/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct json_reader {
    const char *text;
    const char *p;
    int depth;
    char *err;
};

static enum lc_status fail_at(struct json_reader *r, const char *what)
{
    return lc_fail(r->err, LC_ERR_INVALID, "column %ld: %s", (long)(r->p - r->text) + 1, what);
}

static void skip_space(struct json_reader *r)
{
    while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r') r->p++;
}

static enum lc_status read_value(struct json_reader *r, struct json_value *out);

static bool match_word(struct json_reader *r, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(r->p, word, n) != 0) return false;
    r->p += n;
    return true;
}

/* Growable byte buffer for decoded strings. */
struct byte_buf {
    char *data;
    size_t len, cap;
};

static bool buf_push(struct byte_buf *b, const char *bytes, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        while (cap < b->len + n + 1) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return false;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex4(struct json_reader *r, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hex_digit(r->p[k]);
        if (d < 0) return false;
        v = v * 16 + (unsigned)d;
    }
    r->p += 4;
    *out = v;
    return true;
}

static size_t utf8_encode(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* \uXXXX, with a surrogate pair read as one code point; \u0000 is refused (C strings end there). */
static enum lc_status read_unicode_escape(struct json_reader *r, struct byte_buf *b)
{
    unsigned cp;
    if (!read_hex4(r, &cp)) return fail_at(r, "\\u needs four hex digits");
    if (cp >= 0xdc00 && cp <= 0xdfff) return fail_at(r, "lone low surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        unsigned lo;
        if (r->p[0] != '\\' || r->p[1] != 'u') return fail_at(r, "high surrogate without its low half");
        r->p += 2;
        if (!read_hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff) return fail_at(r, "bad low surrogate");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (cp == 0) return fail_at(r, "\\u0000 is not supported");
    char utf8[4];
    if (!buf_push(b, utf8, utf8_encode(cp, utf8))) return lc_fail(r->err, LC_ERR_OOM, "out of memory");
    return LC_OK;
}

/* r->p is on the opening quote. */
static enum lc_status read_string(struct json_reader *r, char **out, size_t *len)
{
    struct byte_buf b = {0};
    enum lc_status st = LC_OK;
    r->p++;
    if (!buf_push(&b, "", 0)) return lc_fail(r->err, LC_ERR_OOM, "out of memory");
    for (;;) {
        const char *run = r->p;
        while (*r->p != '"' && *r->p != '\\' && (unsigned char)*r->p >= 0x20) r->p++;
        if (r->p > run && !buf_push(&b, run, (size_t)(r->p - run))) {
            st = lc_fail(r->err, LC_ERR_OOM, "out of memory");
            break;
        }
        if (*r->p == '"') {
            r->p++;
            break;
        }
        if (*r->p == '\0') {
            st = fail_at(r, "unterminated string");
            break;
        }
        if ((unsigned char)*r->p < 0x20) {
            st = fail_at(r, "control character inside a string");
            break;
        }
        r->p++; /* backslash */
        char c = *r->p++, lit;
        switch (c) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u':
            st = read_unicode_escape(r, &b);
            if (st != LC_OK) goto done;
            continue;
        default:
            r->p--;
            st = fail_at(r, "unknown escape in string");
            goto done;
        }
        if (!buf_push(&b, &lit, 1)) {
            st = lc_fail(r->err, LC_ERR_OOM, "out of memory");
            break;
        }
    }
done:
    if (st != LC_OK) {
        free(b.data);
        return st;
    }
    *out = b.data;
    *len = b.len;
    return LC_OK;
}

/* RFC 8259 number grammar, checked before strtod so "01", "1." and ".5" are refused. */
static enum lc_status read_number(struct json_reader *r, struct json_value *out)
{
    const char *start = r->p, *q = r->p;
    bool integral = true;
    if (*q == '-') q++;
    if (*q == '0') q++;
    else if (*q >= '1' && *q <= '9')
        while (*q >= '0' && *q <= '9') q++;
    else
        return fail_at(r, "invalid number");
    if (*q == '.') {
        integral = false;
        q++;
        if (!(*q >= '0' && *q <= '9')) return fail_at(r, "digit expected after '.'");
        while (*q >= '0' && *q <= '9') q++;
    }
    if (*q == 'e' || *q == 'E') {
        integral = false;
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!(*q >= '0' && *q <= '9')) return fail_at(r, "digit expected in exponent");
        while (*q >= '0' && *q <= '9') q++;
    }
    out->type = JSON_NUMBER;
    out->number = strtod(start, NULL);
    if (integral) {
        errno = 0;
        long long v = strtoll(start, NULL, 10);
        if (errno == 0) {
            out->is_int = true;
            out->i = v;
        }
        if (*start != '-') {
            errno = 0;
            unsigned long long uv = strtoull(start, NULL, 10);
            if (errno == 0) {
                out->is_uint = true;
                out->u = uv;
            }
        }
    }
    r->p = q;
    return LC_OK;
}

static bool grow_items(struct json_value *v, int *cap, bool with_keys)
{
    if (v->count < *cap) return true;
    int ncap = *cap ? *cap * 2 : 8;
    struct json_value *items = realloc(v->items, (size_t)ncap * sizeof *items);
    if (!items) return false;
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, (size_t)ncap * sizeof *keys);
        if (!keys) return false;
        v->keys = keys;
    }
    *cap = ncap;
    return true;
}

static enum lc_status read_array(struct json_reader *r, struct json_value *out)
{
    int cap = 0;
    out->type = JSON_ARRAY;
    r->p++;
    skip_space(r);
    if (*r->p == ']') {
        r->p++;
        return LC_OK;
    }
    for (;;) {
        if (!grow_items(out, &cap, false)) return lc_fail(r->err, LC_ERR_OOM, "out of memory");
        /* Counted before it is read, so json_free releases a half-read item on error. */
        out->count++;
        enum lc_status st = read_value(r, &out->items[out->count - 1]);
        if (st != LC_OK) return st;
        skip_space(r);
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p == ']') {
            r->p++;
            return LC_OK;
        }
        return fail_at(r, "expected ',' or ']' in an array");
    }
}

static enum lc_status read_object(struct json_reader *r, struct json_value *out)
{
    int cap = 0;
    out->type = JSON_OBJECT;
    r->p++;
    skip_space(r);
    if (*r->p == '}') {
        r->p++;
        return LC_OK;
    }
    for (;;) {
        if (*r->p != '"') return fail_at(r, "expected a quoted key in an object");
        if (!grow_items(out, &cap, true)) return lc_fail(r->err, LC_ERR_OOM, "out of memory");
        char *key;
        size_t key_len;
        enum lc_status st = read_string(r, &key, &key_len);
        if (st != LC_OK) return st;
        skip_space(r);
        if (*r->p != ':') {
            free(key);
            return fail_at(r, "expected ':' after an object key");
        }
        r->p++;
        /* The key joins the object before its value is read, so json_free releases it on error. */
        out->keys[out->count] = key;
        out->count++;
        st = read_value(r, &out->items[out->count - 1]);
        if (st != LC_OK) return st;
        skip_space(r);
        if (*r->p == ',') {
            r->p++;
            skip_space(r);
            continue;
        }
        if (*r->p == '}') {
            r->p++;
            return LC_OK;
        }
        return fail_at(r, "expected ',' or '}' in an object");
    }
}

static enum lc_status read_value(struct json_reader *r, struct json_value *out)
{
    memset(out, 0, sizeof *out);
    skip_space(r);
    switch (*r->p) {
    case '{':
    case '[': {
        if (++r->depth > JSON_MAX_DEPTH) return fail_at(r, "nested too deeply");
        enum lc_status st = *r->p == '{' ? read_object(r, out) : read_array(r, out);
        r->depth--;
        return st;
    }
    case '"':
        out->type = JSON_STRING;
        return read_string(r, &out->string, &out->length);
    case 't':
    case 'f':
    case 'n':
        if (match_word(r, "true")) out->type = JSON_BOOL, out->boolean = true;
        else if (match_word(r, "false")) out->type = JSON_BOOL;
        else if (match_word(r, "null")) out->type = JSON_NULL;
        else return fail_at(r, "unknown literal");
        return LC_OK;
    case '\0': return fail_at(r, "unexpected end of text");
    default: return read_number(r, out);
    }
}

enum lc_status json_parse(const char *text, struct json_value *out, char *err)
{
    struct json_reader r = {.text = text, .p = text, .depth = 0, .err = err};
    enum lc_status st = read_value(&r, out);
    if (st == LC_OK) {
        skip_space(&r);
        if (*r.p != '\0') st = fail_at(&r, "text after the end of the value");
    }
    if (st != LC_OK) json_free(out);
    return st;
}

void json_free(struct json_value *v)
{
    for (int k = 0; k < v->count; k++) {
        json_free(&v->items[k]);
        if (v->keys) free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    memset(v, 0, sizeof *v);
}

const struct json_value *json_get(const struct json_value *v, const char *key)
{
    if (!v || v->type != JSON_OBJECT) return NULL;
    for (int k = 0; k < v->count; k++)
        if (strcmp(v->keys[k], key) == 0) return &v->items[k];
    return NULL;
}

bool json_as_double(const struct json_value *v, double *out)
{
    if (!v) return false;
    if (v->type == JSON_NUMBER) {
        *out = v->number;
        return true;
    }
    if (v->type != JSON_STRING) return false;
    if (strcmp(v->string, "NaN") == 0) *out = NAN;
    else if (strcmp(v->string, "Infinity") == 0) *out = INFINITY;
    else if (strcmp(v->string, "-Infinity") == 0) *out = -INFINITY;
    else return false;
    return true;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static int utf8_sequence_length(const unsigned char *s)
{
    int n;
    unsigned cp;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xe0) == 0xc0) n = 2, cp = s[0] & 0x1fu;
    else if ((s[0] & 0xf0) == 0xe0) n = 3, cp = s[0] & 0x0fu;
    else if ((s[0] & 0xf8) == 0xf0) n = 4, cp = s[0] & 0x07u;
    else return 0;
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3fu);
    }
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000}; /* overlong forms are invalid */
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

void json_write_string(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
            p++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            case '\b': fputs("\\b", f); break;
            case '\f': fputs("\\f", f); break;
            default: fprintf(f, "\\u%04x", c); break;
            }
            p++;
        } else {
            int n = utf8_sequence_length(p);
            if (n == 0) {
                fputs("\\ufffd", f);
                p++;
            } else {
                fwrite(p, 1, (size_t)n, f);
                p += n;
            }
        }
    }
    fputc('"', f);
}

void json_write_double(FILE *f, double x)
{
    if (isnan(x)) {
        fputs("\"NaN\"", f);
        return;
    }
    if (isinf(x)) {
        fputs(x > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
        return;
    }
    char buf[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) break;
    }
    fputs(buf, f);
}
