/* The JSON reader accepts what RFC 8259 allows and refuses the rest with a located message;
 * the writers produce text the reader (and strict readers) take back unchanged. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "core/io/json.h"

static void test_values(void)
{
    struct json_value v;
    char err[LC_ERRMSG_LEN];
    const char *text = " {\"a\": [1, -2.5e3, true, false, null], \"s\": \"x\\\"y\\\\z\\n\\u00e9\\ud83d\\ude00\","
                       " \"big\": 1700000000123456789, \"u\": 18446744073709551615, \"neg\": -9223372036854775808,"
                       " \"e\": {}, \"ea\": [] } ";
    CHECK(json_parse(text, &v, err) == LC_OK);
    CHECK(v.type == JSON_OBJECT && v.count == 7);
    const struct json_value *a = json_get(&v, "a");
    CHECK(a && a->type == JSON_ARRAY && a->count == 5);
    if (a && a->count == 5) {
        CHECK(a->items[0].is_int && a->items[0].i == 1 && a->items[0].is_uint);
        CHECK(!a->items[1].is_int && a->items[1].number == -2500.0);
        CHECK(a->items[2].type == JSON_BOOL && a->items[2].boolean);
        CHECK(a->items[3].type == JSON_BOOL && !a->items[3].boolean);
        CHECK(a->items[4].type == JSON_NULL);
    }
    const struct json_value *s = json_get(&v, "s");
    CHECK(s && s->type == JSON_STRING && strcmp(s->string, "x\"y\\z\n\xc3\xa9\xf0\x9f\x98\x80") == 0);
    CHECK(s && s->length == strlen("x\"y\\z\n\xc3\xa9\xf0\x9f\x98\x80"));
    const struct json_value *big = json_get(&v, "big");
    CHECK(big && big->is_int && big->i == 1700000000123456789ll); /* beyond a double's 53 bits */
    const struct json_value *u = json_get(&v, "u");
    CHECK(u && !u->is_int && u->is_uint && u->u == UINT64_MAX);
    const struct json_value *neg = json_get(&v, "neg");
    CHECK(neg && neg->is_int && neg->i == INT64_MIN && !neg->is_uint);
    CHECK(json_get(&v, "e") && json_get(&v, "e")->type == JSON_OBJECT && json_get(&v, "e")->count == 0);
    CHECK(json_get(&v, "ea") && json_get(&v, "ea")->count == 0);
    CHECK(json_get(&v, "missing") == NULL);
    CHECK(json_get(a, "a") == NULL); /* not an object */
    json_free(&v);
}

/* Each bad text fails with a message naming the column where reading stopped. */
static void test_errors(void)
{
    static const struct {
        const char *text, *expect;
    } bad[] = {
        {"", "column 1: unexpected end"},
        {"{\"a\" 1}", "column 6: expected ':'"},
        {"{\"a\":1,}", "expected a quoted key"},
        {"[1 2]", "expected ',' or ']'"},
        {"[1,2", "column 5"},
        {"01", "text after the end"},
        {"1.", "digit expected after '.'"},
        {".5", "invalid number"},
        {"1e", "digit expected in exponent"},
        {"\"abc", "unterminated string"},
        {"\"a\tb\"", "control character"},
        {"\"\\x\"", "unknown escape"},
        {"\"\\u12\"", "four hex digits"},
        {"\"\\ud800\"", "high surrogate"},
        {"\"\\udc00\"", "lone low surrogate"},
        {"\"\\u0000\"", "\\u0000"},
        {"tru", "unknown literal"},
        {"{} {}", "text after the end"},
        {"{\"a\":[1,{\"b\":\"unterminated", "unterminated string"}, /* partial tree is freed (ASan) */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct json_value v;
        char err[LC_ERRMSG_LEN] = "";
        enum lc_status st = json_parse(bad[k].text, &v, err);
        if (st != LC_ERR_INVALID || !strstr(err, bad[k].expect)) {
            fprintf(stderr, "text '%s': status %d, message '%s', wanted '%s'\n", bad[k].text, st, err, bad[k].expect);
            failures++;
        }
    }
    /* Nesting is bounded, so hostile input cannot exhaust the stack. */
    char deep[JSON_MAX_DEPTH * 2 + 8];
    int n = JSON_MAX_DEPTH + 1;
    for (int k = 0; k < n; k++) deep[k] = '[';
    for (int k = 0; k < n; k++) deep[n + k] = ']';
    deep[2 * n] = '\0';
    struct json_value v;
    char err[LC_ERRMSG_LEN] = "";
    CHECK(json_parse(deep, &v, err) == LC_ERR_INVALID && strstr(err, "nested too deeply"));
    deep[0] = ' '; /* one level less parses */
    deep[2 * n - 1] = ' ';
    CHECK(json_parse(deep, &v, err) == LC_OK);
    json_free(&v);
}

/* Writes with a writer into a string, then parses it back as one value. */
static char *written(void (*write)(FILE *, const void *), const void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    write(f, arg);
    fclose(f);
    return buf;
}

static void write_str(FILE *f, const void *s) { json_write_string(f, s); }
static void write_dbl(FILE *f, const void *x) { json_write_double(f, *(const double *)x); }

static void test_write_string(void)
{
    const char *cases[] = {"plain", "quote \" backslash \\ slash /", "tab\tnl\ncr\rbell\a", "\xc3\xa9t\xc3\xa9 \xe2\x82\xac",
                           ""};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *text = written(write_str, cases[k]);
        struct json_value v;
        char err[LC_ERRMSG_LEN];
        CHECK(json_parse(text, &v, err) == LC_OK && v.type == JSON_STRING && strcmp(v.string, cases[k]) == 0);
        json_free(&v);
        free(text);
    }
    char *text = written(write_str, "\a");
    CHECK(strcmp(text, "\"\\u0007\"") == 0);
    free(text);
    /* Invalid UTF-8 (a lone continuation byte, a truncated sequence, an overlong '/') becomes U+FFFD. */
    text = written(write_str, "a\x80" "b\xe2\x82" "c\xc0\xaf");
    CHECK(strcmp(text, "\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\"") == 0);
    free(text);
}

static void test_write_double(void)
{
    const double cases[] = {0.0, -0.0, 1.0, 0.1, 1.0 / 3.0, 6.02214076e23, -1e-300, 5e-324, 1.7976931348623157e308,
                            123456.789};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *text = written(write_dbl, &cases[k]);
        struct json_value v;
        char err[LC_ERRMSG_LEN];
        double back = 42;
        CHECK(json_parse(text, &v, err) == LC_OK && json_as_double(&v, &back));
        CHECK(memcmp(&back, &cases[k], sizeof back) == 0); /* bit-exact, sign of zero included */
        json_free(&v);
        free(text);
    }
    char *text = written(write_dbl, &(double){0.1});
    CHECK(strcmp(text, "0.1") == 0); /* shortest form, not 0.10000000000000001 */
    free(text);
    const double odd[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        text = written(write_dbl, &odd[k]);
        struct json_value v;
        char err[LC_ERRMSG_LEN];
        double back = 0;
        CHECK(json_parse(text, &v, err) == LC_OK && v.type == JSON_STRING && json_as_double(&v, &back));
        CHECK(k == 0 ? isnan(back) : back == odd[k]);
        json_free(&v);
        free(text);
    }
    struct json_value v;
    char err[LC_ERRMSG_LEN];
    double x;
    CHECK(json_parse("\"nan?\"", &v, err) == LC_OK && !json_as_double(&v, &x));
    json_free(&v);
}

int main(void)
{
    test_values();
    test_errors();
    test_write_string();
    test_write_double();
    return check_report("test_json");
}
