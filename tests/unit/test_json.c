/* Unit tests for ss_json: parsing of every value type, each rejection with
 * its message, the depth cap, duplicate keys, the canonical writer and the
 * tree operations. */
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "ss_json.h"

static ss_json *parse_str(const char *text, int max_depth, ss_error *err)
{
    ss_error_clear(err);
    return ss_json_parse(text, strlen(text), max_depth, err);
}

/* Parses text, which must fail with SS_EDATA and a message containing
 * expected. */
static void check_rejects(const char *text, size_t len, const char *expected)
{
    ss_error err;
    ss_error_clear(&err);
    ss_json *v = ss_json_parse(text, len, 32, &err);
    CHECK_MSG(v == NULL, "accepted: %s", text);
    ss_json_free(v);
    CHECK_MSG(err.status == SS_EDATA, "status %d for: %s", (int)err.status, text);
    CHECK_STR_CONTAINS(err.msg, expected);
    CHECK_MSG(strchr(err.msg, '\n') == NULL, "message has a newline: %s", err.msg);
}

static void check_rejects_str(const char *text, const char *expected)
{
    check_rejects(text, strlen(text), expected);
}

/* Dumps v and compares with expected byte for byte. */
static void check_dump(const ss_json *v, const char *expected)
{
    size_t len = 0;
    char *out = ss_json_dump(v, &len);
    CHECK(out != NULL);
    if (!out)
        return;
    CHECK_MSG(strcmp(out, expected) == 0, "dumped %s, expected %s", out, expected);
    CHECK(len == strlen(out));
    free(out);
}

/* Parses text, dumps it and compares with expected. */
static void check_canonical(const char *text, const char *expected)
{
    ss_error err;
    ss_json *v = parse_str(text, 32, &err);
    CHECK_MSG(v != NULL, "%s: %s", text, err.msg);
    if (v)
        check_dump(v, expected);
    ss_json_free(v);
}

/* Parses text and checks the type of the result. Returns the value, or
 * NULL after a failed check. */
static ss_json *parse_typed(const char *text, ss_json_type type)
{
    ss_error err;
    ss_json *v = parse_str(text, 32, &err);
    CHECK_MSG(v != NULL, "%s: %s", text, err.msg);
    if (v && v->type != type) {
        CHECK_MSG(v->type == type, "%s: type %d", text, (int)v->type);
        ss_json_free(v);
        return NULL;
    }
    return v;
}

static void check_int(const char *text, int64_t expected)
{
    ss_json *v = parse_typed(text, SS_JSON_INT);
    if (v) {
        CHECK_MSG(v->i == expected, "%s", text);
        CHECK_MSG(v->d == (double)expected, "%s", text);
    }
    ss_json_free(v);
}

static void check_double(const char *text, double expected)
{
    ss_json *v = parse_typed(text, SS_JSON_DOUBLE);
    if (v)
        CHECK_MSG(v->d == expected, "%s", text);
    ss_json_free(v);
}

static void test_parse_scalars(void)
{
    ss_json *v = parse_typed(" \t\r\nnull \n", SS_JSON_NULL);
    ss_json_free(v);
    v = parse_typed("true", SS_JSON_BOOL);
    if (v)
        CHECK(v->boolean == 1);
    ss_json_free(v);
    v = parse_typed("false", SS_JSON_BOOL);
    if (v)
        CHECK(v->boolean == 0);
    ss_json_free(v);

    check_int("-42", -42);
    check_int("0", 0);
    check_int("9223372036854775807", INT64_MAX);
    check_int("-9223372036854775808", INT64_MIN);

    check_double("1.5", 1.5);
    check_double("-2.5E-3", -2.5e-3);
    check_double("1e2", 100.0);
    check_double("0e+1", 0.0);
    check_double("1e-400", 0.0);

    v = parse_typed("\"h\\u00e9llo \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"", SS_JSON_STRING);
    if (v) {
        const char expected[] = "h\xc3\xa9llo \"q\" \\ / \b\f\n\r\t";
        CHECK(v->len == sizeof expected - 1);
        CHECK(memcmp(v->str, expected, sizeof expected) == 0);
    }
    ss_json_free(v);
}

static void test_parse_containers(void)
{
    ss_error err;
    ss_json *v = parse_str("{ \"kind\" : \"image\", \"shape\":[3, 32 ,32],"
                           "\"meta\":{\"empty\":{},\"list\":[]}, \"ok\":true }",
                           32, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    if (!v)
        return;
    CHECK(v->type == SS_JSON_OBJECT);
    CHECK(v->len == 4);
    CHECK(strcmp(v->keys[0], "kind") == 0);
    CHECK(strcmp(v->keys[3], "ok") == 0);
    CHECK(strcmp(ss_json_get_string(v, "kind"), "image") == 0);
    CHECK(ss_json_get_string(v, "shape") == NULL);
    CHECK(ss_json_get(v, "missing") == NULL);
    const ss_json *shape = ss_json_get(v, "shape");
    CHECK(shape != NULL);
    if (shape) {
        CHECK(shape->type == SS_JSON_ARRAY);
        CHECK(shape->len == 3);
        CHECK(shape->items[0]->i == 3);
        CHECK(shape->items[2]->i == 32);
    }
    const ss_json *meta = ss_json_get(v, "meta");
    CHECK(meta != NULL);
    if (meta) {
        CHECK(meta->type == SS_JSON_OBJECT);
        CHECK(meta->len == 2);
    }
    const ss_json *empty = ss_json_get(meta, "empty");
    CHECK(empty != NULL);
    if (empty) {
        CHECK(empty->type == SS_JSON_OBJECT);
        CHECK(empty->len == 0);
    }
    const ss_json *list = ss_json_get(meta, "list");
    CHECK(list != NULL);
    if (list) {
        CHECK(list->type == SS_JSON_ARRAY);
        CHECK(list->len == 0);
    }
    CHECK(ss_json_get(shape, "kind") == NULL);
    ss_json_free(v);

    v = parse_str("[[],[{}],[1,[2,[3]]]]", 32, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    ss_json_free(v);
}

static void test_rejects_structure(void)
{
    check_rejects_str("", "unexpected end of input at byte 0");
    check_rejects_str("   ", "unexpected end of input at byte 3");
    check_rejects_str("[1,2", "unexpected end of input at byte 4");
    check_rejects_str("{\"kind\":\"image\"", "unexpected end of input at byte 15");
    check_rejects_str("{\"kind\"", "unexpected end of input at byte 7");
    check_rejects_str("\"abc", "unexpected end of input at byte 4");
    check_rejects_str("tr", "unexpected end of input at byte 2");
    check_rejects_str("{\"kind\" 1}", "expected ':' after object key at byte 8");
    check_rejects_str("null]", "trailing characters after the JSON value at byte 4");
    check_rejects_str("1 2", "trailing characters after the JSON value at byte 2");
    check_rejects_str("{} {}", "trailing characters after the JSON value at byte 3");
    check_rejects_str("[1 2]", "expected ',' or ']' after array item at byte 3");
    check_rejects_str("{\"a\":1 \"b\":2}", "expected ',' or '}' after object member at byte 7");
    check_rejects_str("[1,]", "expected a JSON value but found ']' at byte 3");
    check_rejects_str("[,1]", "expected a JSON value but found ',' at byte 1");
    check_rejects_str("{\"a\":1,}", "expected '\"' to start an object key at byte 7");
    check_rejects_str("{,}", "expected '\"' to start an object key at byte 1");
    check_rejects_str("{1:2}", "expected '\"' to start an object key at byte 1");
    check_rejects_str("[1}", "expected ',' or ']' after array item at byte 2");
    check_rejects_str("{\"a\":1]", "expected ',' or '}' after object member at byte 6");
    check_rejects_str("tru", "unexpected end of input at byte 3");
    check_rejects_str("trUe", "invalid literal (expected true, false or null) at byte 0");
    check_rejects_str("True", "expected a JSON value but found 'T' at byte 0");
    check_rejects_str("NaN", "expected a JSON value but found 'N' at byte 0");
    check_rejects_str("Infinity", "expected a JSON value but found 'I' at byte 0");
    check_rejects_str("nulll", "trailing characters after the JSON value at byte 4");
    check_rejects_str("'a'", "expected a JSON value but found ''' at byte 0");
    check_rejects_str("/* c */ 1", "expected a JSON value but found '/' at byte 0");
    check_rejects_str("\xEF\xBB\xBF{}", "expected a JSON value but found byte 0xef at byte 0");
    check_rejects_str("\f1", "expected a JSON value but found byte 0x0c at byte 0");
    check_rejects_str("1\v", "trailing characters after the JSON value at byte 1");
    check_rejects("1\0", 2, "trailing characters after the JSON value at byte 1");
}

static void test_rejects_numbers(void)
{
    check_rejects_str("01", "invalid number (leading zero) at byte 0");
    check_rejects_str("-01", "invalid number (leading zero) at byte 0");
    check_rejects_str("[00]", "invalid number (leading zero) at byte 1");
    check_rejects_str("+1", "expected a JSON value but found '+' at byte 0");
    check_rejects_str(".5", "expected a JSON value but found '.' at byte 0");
    check_rejects_str("1.", "invalid number (expected a digit after '.') at byte 0");
    check_rejects_str("[1.]", "invalid number (expected a digit after '.') at byte 1");
    check_rejects_str("1.e5", "invalid number (expected a digit after '.') at byte 0");
    check_rejects_str("1e", "invalid number (expected a digit in the exponent) at byte 0");
    check_rejects_str("1e+", "invalid number (expected a digit in the exponent) at byte 0");
    check_rejects_str("-", "unexpected end of input at byte 1");
    check_rejects_str("-a", "invalid number (expected a digit after '-') at byte 0");
    check_rejects_str("0x10", "trailing characters after the JSON value at byte 1");
    check_rejects_str("9223372036854775808", "integer out of range at byte 0");
    check_rejects_str("-9223372036854775809", "integer out of range at byte 0");
    check_rejects_str("[1, 99999999999999999999]", "integer out of range at byte 4");
    check_rejects_str("1e999", "number out of range (not a finite double) at byte 0");
    check_rejects_str("[-1.5e999]", "number out of range (not a finite double) at byte 1");
}

static void test_rejects_strings(void)
{
    check_rejects_str("\"a\nb\"", "unescaped control character 0x0a in string at byte 2");
    check_rejects_str("\"a\tb\"", "unescaped control character 0x09 in string at byte 2");
    check_rejects_str("\"\x1f\"", "unescaped control character 0x1f in string at byte 1");
    check_rejects("\"a\0\"", 4, "unescaped control character 0x00 in string at byte 2");
    check_rejects_str("\"\\x\"", "invalid escape '\\x' in string at byte 1");
    check_rejects_str("\"\\U0041\"", "invalid escape '\\U' in string at byte 1");
    check_rejects_str("\"\\u12G4\"", "invalid hex digit in \\u escape at byte 5");
    check_rejects_str("\"\\u12\"", "invalid hex digit in \\u escape at byte 5");
    check_rejects_str("\"\\u12", "unexpected end of input at byte 5");
    check_rejects_str("\"\\", "unexpected end of input at byte 2");
    check_rejects_str("\"\\ud800\"", "high surrogate in \\u escape not followed by a low surrogate at byte 1");
    check_rejects_str("\"x\\uD800\\u0041\"", "high surrogate in \\u escape not followed by a low surrogate at byte 2");
    check_rejects_str("\"\\ud800\\ud800\"", "high surrogate in \\u escape not followed by a low surrogate at byte 1");
    check_rejects_str("\"\\ud800\\n\"", "high surrogate in \\u escape not followed by a low surrogate at byte 1");
    check_rejects_str("\"\\udc00\"", "unpaired low surrogate in \\u escape at byte 1");
    check_rejects_str("\"\\uDFFF\\uD800\"", "unpaired low surrogate in \\u escape at byte 1");
    check_rejects_str("{\"a\\u0000b\":1}", "object key containing \\u0000 is not supported at byte 1");
}

static void test_rejects_utf8(void)
{
    check_rejects_str("\"ab\xC0\x80\"", "invalid UTF-8 at byte 3");          /* overlong NUL */
    check_rejects_str("\"\xC1\xBF\"", "invalid UTF-8 at byte 1");            /* overlong 2-byte */
    check_rejects_str("\"\xE0\x80\xAF\"", "invalid UTF-8 at byte 1");        /* overlong 3-byte */
    check_rejects_str("\"\xF0\x8F\xBF\xBF\"", "invalid UTF-8 at byte 1");    /* overlong 4-byte */
    check_rejects_str("\"\xED\xA0\x80\"", "invalid UTF-8 at byte 1");        /* U+D800 */
    check_rejects_str("\"\xED\xBF\xBF\"", "invalid UTF-8 at byte 1");        /* U+DFFF */
    check_rejects_str("\"\xF4\x90\x80\x80\"", "invalid UTF-8 at byte 1");    /* U+110000 */
    check_rejects_str("\"\xF5\x80\x80\x80\"", "invalid UTF-8 at byte 1");
    check_rejects_str("\"\xFF\"", "invalid UTF-8 at byte 1");
    check_rejects_str("\"\x80\"", "invalid UTF-8 at byte 1");                /* stray continuation */
    check_rejects_str("\"\xE2\x82\"", "invalid UTF-8 at byte 1");            /* truncated */
    check_rejects_str("\"\xF0\x9F\x98\"", "invalid UTF-8 at byte 1");
    check_rejects_str("\"\xE2\x82", "invalid UTF-8 at byte 1");              /* truncated at the end */
    check_rejects_str("[1, 2] \xC3", "invalid UTF-8 at byte 7");
    check_rejects_str("{\"k\xC3\x28\":1}", "invalid UTF-8 at byte 3");

    /* The largest valid code points of each length are accepted. */
    ss_error err;
    ss_json *v = parse_str("\"\x7F\xDF\xBF\xEF\xBF\xBF\xF4\x8F\xBF\xBF\xEE\x80\x80\"", 32, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    if (v)
        CHECK(v->len == 13);
    ss_json_free(v);
}

static void test_unicode_escapes(void)
{
    ss_error err;
    ss_json *v = parse_str("\"\\ud83d\\ude00|\\uD83D\\uDE00|\\u20AC|\\u00e9|\\u0041\"", 32, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    if (v) {
        const char expected[] = "\xF0\x9F\x98\x80|\xF0\x9F\x98\x80|\xE2\x82\xAC|\xC3\xA9|A";
        CHECK(v->len == sizeof expected - 1);
        CHECK(memcmp(v->str, expected, sizeof expected) == 0);
    }
    ss_json_free(v);

    v = parse_str("\"\\udbff\\udfff\"", 32, &err);
    CHECK(v != NULL);
    if (v) {
        CHECK(v->len == 4);
        CHECK(memcmp(v->str, "\xF4\x8F\xBF\xBF", 5) == 0);
    }
    ss_json_free(v);
}

static void test_nul_in_string(void)
{
    ss_error err;
    ss_json *v = parse_str("[\"a\\u0000b\", \"\\u0000\"]", 32, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    if (!v)
        return;
    const ss_json *s = v->items[0];
    CHECK(s->len == 3);
    CHECK(memcmp(s->str, "a\0b", 4) == 0);
    CHECK(v->items[1]->len == 1);
    CHECK(v->items[1]->str[0] == '\0');
    check_dump(v, "[\"a\\u0000b\",\"\\u0000\"]");

    ss_json *a = ss_json_new_string_len("a\0b", 3);
    ss_json *b = ss_json_new_string_len("a\0c", 3);
    CHECK(ss_json_equal(a, s));
    CHECK(!ss_json_equal(a, b));
    ss_json_free(a);
    ss_json_free(b);
    ss_json_free(v);
}

static void test_depth_cap(void)
{
    char text[200];
    ss_error err;
    for (int depth = 1; depth <= 33; depth++) {
        memset(text, '[', (size_t)depth);
        memset(text + depth, ']', (size_t)depth);
        text[2 * depth] = '\0';
        ss_json *v = parse_str(text, 32, &err);
        if (depth <= 32) {
            CHECK_MSG(v != NULL, "depth %d: %s", depth, err.msg);
        } else {
            CHECK(v == NULL);
            CHECK(err.status == SS_EDATA);
            CHECK_STR_CONTAINS(err.msg, "nesting deeper than 32 at byte 32");
        }
        ss_json_free(v);
    }

    ss_json *v = parse_str("{\"a\":1}", 1, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    ss_json_free(v);
    v = parse_str("{\"a\":[1]}", 1, &err);
    CHECK(v == NULL);
    CHECK_STR_CONTAINS(err.msg, "nesting deeper than 1 at byte 5");
    v = parse_str("{\"a\":{\"b\":[{}]}}", 3, &err);
    CHECK(v == NULL);
    CHECK_STR_CONTAINS(err.msg, "nesting deeper than 3 at byte 11");
    v = parse_str("7", 0, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    if (v)
        CHECK(v->i == 7);
    ss_json_free(v);
    v = parse_str("[]", 0, &err);
    CHECK(v == NULL);
    CHECK_STR_CONTAINS(err.msg, "nesting deeper than 0 at byte 0");
}

static void test_deep_brackets(void)
{
    enum { N = 100000 };
    char *text = malloc(2 * N + 1);
    CHECK(text != NULL);
    if (!text)
        return;
    memset(text, '[', N);
    ss_error err;
    ss_error_clear(&err);
    ss_json *v = ss_json_parse(text, N, 32, &err);
    CHECK(v == NULL);
    CHECK(err.status == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "nesting deeper than 32 at byte 32");

    memset(text, '{', N);
    v = ss_json_parse(text, N, 32, &err);
    CHECK(v == NULL);
    CHECK_STR_CONTAINS(err.msg, "expected '\"' to start an object key at byte 1");

    /* The parser itself keeps no C stack per level, so a caller may allow
     * deep nesting. */
    enum { DEEP = 5000 };
    memset(text, '[', DEEP);
    memset(text + DEEP, ']', DEEP);
    v = ss_json_parse(text, 2 * DEEP, DEEP, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    ss_json_free(v);
    free(text);
}

/* Builds an object text with n keys "k0".."k{n-1}", and a repeat of key
 * "k{dup}" at the end when dup >= 0. */
static char *big_object_text(int n, int dup, size_t *dup_offset)
{
    size_t cap = (size_t)n * 32 + 64;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    size_t len = 0;
    text[len++] = '{';
    for (int k = 0; k < n; k++)
        len += (size_t)snprintf(text + len, cap - len, "%s\"k%d\":%d", k ? "," : "", k, k);
    if (dup >= 0) {
        *dup_offset = len + 1;
        len += (size_t)snprintf(text + len, cap - len, ",\"k%d\":0", dup);
    }
    snprintf(text + len, cap - len, "}");
    return text;
}

static void test_big_object(void)
{
    enum { N = 5000 };
    size_t dup_offset = 0;
    char *text = big_object_text(N, -1, &dup_offset);
    CHECK(text != NULL);
    if (!text)
        return;
    ss_error err;
    clock_t start = clock();
    ss_json *v = parse_str(text, 32, &err);
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    CHECK_MSG(v != NULL, "%s", err.msg);
    /* Reported, not asserted: timing belongs to benchmarks. */
    printf("# parsing %d keys took %.3f s\n", N, seconds);
    if (v) {
        CHECK(v->len == N);
        const ss_json *last = ss_json_get(v, "k4999");
        CHECK(last != NULL);
        if (last)
            CHECK(last->i == 4999);
        ss_json *copy = ss_json_clone(v);
        CHECK(ss_json_equal(v, copy));
        ss_json_free(copy);
    }
    ss_json_free(v);
    free(text);

    text = big_object_text(N, 1234, &dup_offset);
    CHECK(text != NULL);
    if (!text)
        return;
    v = parse_str(text, 32, &err);
    CHECK(v == NULL);
    char expected[64];
    snprintf(expected, sizeof expected, "duplicate key 'k1234' at byte %zu", dup_offset);
    CHECK_STR_CONTAINS(err.msg, expected);
    free(text);
}

static void test_duplicate_keys(void)
{
    check_rejects_str("{\"kind\":1,\"kind\":2}", "duplicate key 'kind' at byte 10");
    check_rejects_str("{\"a\":{\"x\":1,\"y\":{\"z\":1,\"z\":2}}}", "duplicate key 'z' at byte 23");
    check_rejects_str("[{\"a\":1},{\"b\":1,\"b\":1}]", "duplicate key 'b' at byte 16");
    check_rejects_str("{\"\":1,\"\":2}", "duplicate key '' at byte 6");
    /* Escaped and literal spellings of one key are the same key. */
    check_rejects_str("{\"ab\":1,\"a\\u0062\":2}", "duplicate key 'ab' at byte 8");
    /* The first duplicate in the text is named. */
    check_rejects_str("{\"b\":1,\"a\":1,\"a\":2,\"b\":2}", "duplicate key 'a' at byte 13");
    check_rejects_str("{\"q\\\"\\\\\\n\\u0001\":1,\"q\\\"\\\\\\n\\u0001\":2}",
                      "duplicate key 'q\\\"\\\\\\n\\u0001' at byte ");

    char text[400];
    char key[101];
    memset(key, 'x', 100);
    key[100] = '\0';
    snprintf(text, sizeof text, "{\"%s\":1,\"%s\":2}", key, key);
    char expected[100];
    snprintf(expected, sizeof expected, "duplicate key '%.64s...' at byte 106", key);
    check_rejects_str(text, expected);

    /* A cut never splits an escape or a UTF-8 sequence. */
    memset(key, 'x', 63);
    memcpy(key + 63, "\\n", 3);
    snprintf(text, sizeof text, "{\"%s\":1,\"%s\":2}", key, key);
    snprintf(expected, sizeof expected, "duplicate key '%.63s...' at byte ", key);
    check_rejects_str(text, expected);
    memcpy(key + 63, "\xC3\xA9", 3);
    snprintf(text, sizeof text, "{\"%s\":1,\"%s\":2}", key, key);
    check_rejects_str(text, expected);

    ss_error err;
    ss_json *v = parse_str("{\"a\":{\"a\":1},\"b\":{\"a\":{\"a\":2}},\"c\":[{\"a\":1},{\"a\":1}]}", 32, &err);
    CHECK_MSG(v != NULL, "%s", err.msg);
    ss_json_free(v);
}

static void test_dump_sorted(void)
{
    ss_json *o = ss_json_new_object();
    CHECK(o != NULL);
    if (!o)
        return;
    CHECK(ss_json_set(o, "b", ss_json_new_int(-7)) == SS_OK);
    CHECK(ss_json_set(o, "ab", ss_json_new_double(0.5)) == SS_OK);
    CHECK(ss_json_set(o, "a", ss_json_new_string("q\"\\/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9")) == SS_OK);
    CHECK(ss_json_set(o, "\xc3\xa9", ss_json_new_null()) == SS_OK);
    CHECK(ss_json_set(o, "A", ss_json_new_bool(1)) == SS_OK);
    CHECK(ss_json_set(o, "", ss_json_new_bool(0)) == SS_OK);
    ss_json *arr = ss_json_new_array();
    CHECK(ss_json_append(arr, ss_json_new_int(1)) == SS_OK);
    CHECK(ss_json_append(arr, ss_json_new_object()) == SS_OK);
    CHECK(ss_json_append(arr, ss_json_new_array()) == SS_OK);
    CHECK(ss_json_set(o, "z", arr) == SS_OK);
    check_dump(o, "{\"\":false,\"A\":true,"
                  "\"a\":\"q\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xc3\xa9\","
                  "\"ab\":0.5,\"b\":-7,\"z\":[1,{},[]],\"\xc3\xa9\":null}");
    ss_json_free(o);

    check_canonical(" { \"b\" : [ 1 , 2 ] , \"a\" : { \"y\" : null , \"x\" : \"\\u00e9\" } } ",
                    "{\"a\":{\"x\":\"\xc3\xa9\",\"y\":null},\"b\":[1,2]}");
    check_canonical("-0", "0");
    check_canonical("[-9223372036854775808,9223372036854775807]",
                    "[-9223372036854775808,9223372036854775807]");
}

static void test_dump_doubles(void)
{
    static const struct {
        double d;
        const char *text;
    } cases[] = {
        {1.0, "1.0"},
        {-0.0, "-0.0"},
        {0.1, "0.1"},
        {100.0, "100.0"},
        {1e300, "1e+300"},
        {-2.5e-8, "-2.5e-08"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3.0, "0.3333333333333333"},
        {5e-324, "4.94065645841247e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {123456789012345678.0, "1.2345678901234568e+17"},
    };
    ss_error err;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ss_json *v = ss_json_new_double(cases[k].d);
        check_dump(v, cases[k].text);
        ss_json *back = parse_str(cases[k].text, 32, &err);
        CHECK_MSG(back != NULL, "%s: %s", cases[k].text, err.msg);
        if (back) {
            CHECK(back->type == SS_JSON_DOUBLE);
            CHECK(memcmp(&back->d, &cases[k].d, sizeof(double)) == 0);
        }
        ss_json_free(back);
        ss_json_free(v);
    }

    /* Many doubles survive dump and parse bit for bit. */
    uint64_t state = 0x9E3779B97F4A7C15u;
    for (int k = 0; k < 20000; k++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        double d;
        memcpy(&d, &state, sizeof d);
        if (d != d || d - d != 0.0)
            continue;
        ss_json *v = ss_json_new_double(d);
        char *text = ss_json_dump(v, NULL);
        ss_json *back = text ? parse_str(text, 32, &err) : NULL;
        CHECK_MSG(back && back->type == SS_JSON_DOUBLE && memcmp(&back->d, &d, sizeof d) == 0,
                  "%s", text ? text : "(null)");
        ss_json_free(back);
        free(text);
        ss_json_free(v);
    }
}

static void test_dump_invalid_utf8(void)
{
    ss_json *v = ss_json_new_string_len("a\xC3(\xFF\xE2\x82", 6);
    check_dump(v, "\"a\\ufffd(\\ufffd\\ufffd\\ufffd\"");
    ss_json_free(v);
}

static void test_round_trip(void)
{
    const char *text =
        "{\"kind\":\"image\",\"shape\":[3,32,32],\"dtype\":\"f32\",\"scale\":0.00392156862745098,"
        "\"labels\":[\"cat\",\"dog\",\"\\u00fcber\",\"\\ud83d\\ude00\",\"tab\\there\"],"
        "\"nested\":{\"z\":{\"y\":{\"x\":[true,false,null,-1,1e-5,12345678901234]}}},"
        "\"empty_o\":{},\"empty_a\":[],\"nul\":\"\\u0000x\"}";
    ss_error err;
    ss_json *a = parse_str(text, 32, &err);
    CHECK_MSG(a != NULL, "%s", err.msg);
    if (!a)
        return;
    size_t len1 = 0;
    char *out1 = ss_json_dump(a, &len1);
    CHECK(out1 != NULL);
    ss_json *b = out1 ? ss_json_parse(out1, len1, 32, &err) : NULL;
    CHECK_MSG(b != NULL, "%s", err.msg);
    CHECK(ss_json_equal(a, b));
    size_t len2 = 0;
    char *out2 = b ? ss_json_dump(b, &len2) : NULL;
    CHECK(out2 != NULL);
    CHECK(len1 == len2);
    if (out1 && out2 && len1 == len2)
        CHECK(memcmp(out1, out2, len1) == 0);
    free(out1);
    free(out2);
    ss_json_free(b);
    ss_json_free(a);
}

static void test_equal_and_set(void)
{
    ss_error err;
    ss_json *a = parse_str("{\"x\":1,\"y\":[1,2.5,\"s\"],\"z\":{\"p\":null,\"q\":true}}", 32, &err);
    ss_json *b = parse_str("{\"z\":{\"q\":true,\"p\":null},\"y\":[1,2.5,\"s\"],\"x\":1}", 32, &err);
    CHECK(a != NULL);
    CHECK(b != NULL);
    if (!a || !b) {
        ss_json_free(a);
        ss_json_free(b);
        return;
    }
    CHECK(ss_json_equal(a, b));
    CHECK(ss_json_equal(NULL, NULL));
    CHECK(!ss_json_equal(a, NULL));

    /* An int and a double of the same value are different values. */
    CHECK(ss_json_set(b, "x", ss_json_new_double(1.0)) == SS_OK);
    CHECK(!ss_json_equal(a, b));
    CHECK(ss_json_set(b, "x", ss_json_new_int(1)) == SS_OK);
    CHECK(ss_json_equal(a, b));
    CHECK(b->len == 3);

    CHECK(ss_json_set(b, "w", ss_json_new_null()) == SS_OK);
    CHECK(b->len == 4);
    CHECK(!ss_json_equal(a, b));
    ss_json_remove(b, "w");
    ss_json_remove(b, "not there");
    CHECK(b->len == 3);
    CHECK(ss_json_equal(a, b));
    ss_json_remove(b, "z");
    CHECK(b->len == 2);
    CHECK(ss_json_get(b, "z") == NULL);
    CHECK(strcmp(b->keys[0], "y") == 0);
    CHECK(strcmp(b->keys[1], "x") == 0);
    CHECK(!ss_json_equal(a, b));

    ss_json *c = ss_json_clone(a);
    CHECK(c != NULL);
    if (c) {
        CHECK(c != a);
        CHECK(ss_json_equal(a, c));
        ss_json *y = c->items[1];
        CHECK(strcmp(c->keys[1], "y") == 0);
        CHECK(y != ss_json_get(a, "y"));
        CHECK(ss_json_append(y, ss_json_new_int(3)) == SS_OK);
        CHECK(!ss_json_equal(a, c));
        CHECK(ss_json_get(a, "y")->len == 3);
    }
    ss_json_free(c);

    ss_json *arr = ss_json_new_array();
    CHECK(ss_json_set(arr, "k", ss_json_new_null()) == SS_EINVAL);
    CHECK(ss_json_append(a, ss_json_new_null()) == SS_EINVAL);
    CHECK(ss_json_append(arr, NULL) == SS_ENOMEM);
    CHECK(ss_json_set(a, "k", NULL) == SS_ENOMEM);
    ss_json_free(arr);
    ss_json_free(a);
    ss_json_free(b);
}

static void test_invalid_arguments(void)
{
    ss_error err;
    ss_error_clear(&err);
    CHECK(ss_json_parse(NULL, 3, 32, &err) == NULL);
    CHECK(err.status == SS_EINVAL);
    CHECK(ss_json_parse(NULL, 0, 32, &err) == NULL);
    CHECK(err.status == SS_EDATA);
    CHECK(ss_json_parse("[", 1, 32, NULL) == NULL);
    CHECK(ss_json_dump(NULL, NULL) == NULL);
    CHECK(ss_json_get_string(NULL, "a") == NULL);
}

/* Numbers are read and written with '.' whatever the LC_NUMERIC locale is.
 * The test checks nothing when no locale with a decimal comma is installed. */
static void test_locale_independent(void)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    const char *found = NULL;
    for (size_t k = 0; k < sizeof names / sizeof names[0] && !found; k++)
        found = setlocale(LC_NUMERIC, names[k]);
    if (!found) {
        printf("# no decimal-comma locale installed; locale check skipped\n");
        return;
    }
    check_canonical("[1.5,-2.25e-3]", "[1.5,-0.00225]");
    setlocale(LC_NUMERIC, "C");
}

int main(void)
{
    RUN(test_parse_scalars);
    RUN(test_parse_containers);
    RUN(test_rejects_structure);
    RUN(test_rejects_numbers);
    RUN(test_rejects_strings);
    RUN(test_rejects_utf8);
    RUN(test_unicode_escapes);
    RUN(test_nul_in_string);
    RUN(test_depth_cap);
    RUN(test_deep_brackets);
    RUN(test_big_object);
    RUN(test_duplicate_keys);
    RUN(test_dump_sorted);
    RUN(test_dump_doubles);
    RUN(test_dump_invalid_utf8);
    RUN(test_round_trip);
    RUN(test_equal_and_set);
    RUN(test_invalid_arguments);
    RUN(test_locale_independent);
    return CHECK_DONE();
}
