/* ss_json: a strict RFC 8259 parser and a canonical compact writer.
 *
 * The parser is iterative, so the only bound on nesting is max_depth, and it
 * reports every error as one line with a 0-based byte offset into the text.
 * Duplicate keys are found by sorting each object's keys when it closes,
 * which keeps objects with many keys at O(n log n).
 *
 * Left out on purpose: comments, trailing commas, NaN and Infinity, a byte
 * order mark, streaming input, and object keys containing U+0000 (keys are
 * NUL-terminated in the public struct, so such a key is rejected rather than
 * silently truncated). Tree operations other than parsing (free, clone,
 * equal, dump) recurse once per nesting level. Object lookups by key
 * (get, set, remove) scan the keys linearly. */
#include "ss_json.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- nodes ------------------------------------------------------------ */

static ss_json *node_new(ss_json_type type)
{
    ss_json *v = calloc(1, sizeof *v);
    if (v)
        v->type = type;
    return v;
}

/* NOTE: recurses once per nesting level, like clone, equal and dump. The
 * parser caps nesting at max_depth, but trees built with the constructors
 * have no cap. */
void ss_json_free(ss_json *v)
{
    if (!v)
        return;
    for (size_t k = 0; k < v->len && v->items; k++)
        ss_json_free(v->items[k]);
    if (v->keys)
        for (size_t k = 0; k < v->len; k++)
            free(v->keys[k]);
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

ss_json *ss_json_new_null(void)
{
    return node_new(SS_JSON_NULL);
}

ss_json *ss_json_new_bool(int b)
{
    ss_json *v = node_new(SS_JSON_BOOL);
    if (v)
        v->boolean = b != 0;
    return v;
}

ss_json *ss_json_new_int(int64_t i)
{
    ss_json *v = node_new(SS_JSON_INT);
    if (v) {
        v->i = i;
        v->d = (double)i;
    }
    return v;
}

ss_json *ss_json_new_double(double d)
{
    ss_json *v = node_new(SS_JSON_DOUBLE);
    if (v)
        v->d = d;
    return v;
}

ss_json *ss_json_new_string_len(const char *s, size_t len)
{
    if (len == SIZE_MAX || (!s && len > 0))
        return NULL;
    ss_json *v = node_new(SS_JSON_STRING);
    if (!v)
        return NULL;
    v->str = malloc(len + 1);
    if (!v->str) {
        free(v);
        return NULL;
    }
    if (len > 0)
        memcpy(v->str, s, len);
    v->str[len] = '\0';
    v->len = len;
    return v;
}

ss_json *ss_json_new_string(const char *s)
{
    if (!s)
        return NULL;
    return ss_json_new_string_len(s, strlen(s));
}

ss_json *ss_json_new_array(void)
{
    return node_new(SS_JSON_ARRAY);
}

ss_json *ss_json_new_object(void)
{
    return node_new(SS_JSON_OBJECT);
}

/* Makes room for one more item (and key, for objects). */
static ss_status container_reserve(ss_json *c)
{
    if (c->len < c->cap)
        return SS_OK;
    size_t new_cap = c->cap ? c->cap * 2 : 4;
    if (new_cap < c->cap || new_cap > SIZE_MAX / sizeof(void *))
        return SS_ENOMEM;
    ss_json **items = realloc(c->items, new_cap * sizeof *items);
    if (!items)
        return SS_ENOMEM;
    c->items = items;
    if (c->type == SS_JSON_OBJECT) {
        char **keys = realloc(c->keys, new_cap * sizeof *keys);
        if (!keys)
            return SS_ENOMEM;
        c->keys = keys;
    }
    c->cap = new_cap;
    return SS_OK;
}

ss_status ss_json_append(ss_json *array, ss_json *item)
{
    if (!item)
        return SS_ENOMEM;
    if (!array || array->type != SS_JSON_ARRAY) {
        ss_json_free(item);
        return SS_EINVAL;
    }
    if (container_reserve(array) != SS_OK) {
        ss_json_free(item);
        return SS_ENOMEM;
    }
    array->items[array->len++] = item;
    return SS_OK;
}

static size_t object_find(const ss_json *v, const char *key)
{
    for (size_t k = 0; k < v->len; k++)
        if (strcmp(v->keys[k], key) == 0)
            return k;
    return SIZE_MAX;
}

const ss_json *ss_json_get(const ss_json *v, const char *key)
{
    if (!v || v->type != SS_JSON_OBJECT || !key)
        return NULL;
    size_t k = object_find(v, key);
    return k == SIZE_MAX ? NULL : v->items[k];
}

const char *ss_json_get_string(const ss_json *v, const char *key)
{
    const ss_json *s = ss_json_get(v, key);
    return s && s->type == SS_JSON_STRING ? s->str : NULL;
}

/* Appends key and value without a duplicate check; takes ownership of both
 * and frees both on failure. */
static ss_status object_push(ss_json *object, char *key, ss_json *value)
{
    if (container_reserve(object) != SS_OK) {
        free(key);
        ss_json_free(value);
        return SS_ENOMEM;
    }
    object->keys[object->len] = key;
    object->items[object->len] = value;
    object->len++;
    return SS_OK;
}

ss_status ss_json_set(ss_json *object, const char *key, ss_json *value)
{
    if (!value)
        return SS_ENOMEM;
    if (!object || object->type != SS_JSON_OBJECT || !key) {
        ss_json_free(value);
        return SS_EINVAL;
    }
    size_t k = object_find(object, key);
    if (k != SIZE_MAX) {
        ss_json_free(object->items[k]);
        object->items[k] = value;
        return SS_OK;
    }
    char *copy = strdup(key);
    if (!copy) {
        ss_json_free(value);
        return SS_ENOMEM;
    }
    return object_push(object, copy, value);
}

void ss_json_remove(ss_json *object, const char *key)
{
    if (!object || object->type != SS_JSON_OBJECT || !key)
        return;
    size_t k = object_find(object, key);
    if (k == SIZE_MAX)
        return;
    free(object->keys[k]);
    ss_json_free(object->items[k]);
    size_t tail = object->len - k - 1;
    memmove(object->keys + k, object->keys + k + 1, tail * sizeof *object->keys);
    memmove(object->items + k, object->items + k + 1, tail * sizeof *object->items);
    object->len--;
}

static ss_json *clone_container(const ss_json *v)
{
    ss_json *c = node_new(v->type);
    if (!c)
        return NULL;
    for (size_t k = 0; k < v->len; k++) {
        ss_json *item = ss_json_clone(v->items[k]);
        ss_status st;
        if (v->type == SS_JSON_ARRAY) {
            st = ss_json_append(c, item);
        } else {
            char *key = item ? strdup(v->keys[k]) : NULL;
            if (item && !key)
                ss_json_free(item);
            st = key ? object_push(c, key, item) : SS_ENOMEM;
        }
        if (st != SS_OK) {
            ss_json_free(c);
            return NULL;
        }
    }
    return c;
}

ss_json *ss_json_clone(const ss_json *v)
{
    if (!v)
        return NULL;
    switch (v->type) {
    case SS_JSON_STRING:
        return ss_json_new_string_len(v->str, v->len);
    case SS_JSON_ARRAY:
    case SS_JSON_OBJECT:
        return clone_container(v);
    default: {
        ss_json *c = node_new(v->type);
        if (c) {
            c->boolean = v->boolean;
            c->i = v->i;
            c->d = v->d;
        }
        return c;
    }
    }
}

/* ---- sorted key order, shared by the parser, equal and dump ----------- */

/* An object key with its position: the item index, or while parsing the
 * byte offset where the key starts. */
typedef struct {
    const char *key;
    size_t pos;
} key_ref;

/* Orders keys by unsigned byte value, a shorter key first when it is a
 * prefix of the other (strcmp semantics), then by position. */
static int key_ref_compare(const void *a, const void *b)
{
    const key_ref *x = a;
    const key_ref *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Returns the keys of object v sorted by key, with pos = item index, or NULL
 * when out of memory. An empty object gives a valid one-element buffer. */
static key_ref *sorted_keys(const ss_json *v)
{
    key_ref *refs = malloc((v->len ? v->len : 1) * sizeof *refs);
    if (!refs)
        return NULL;
    for (size_t k = 0; k < v->len; k++) {
        refs[k].key = v->keys[k];
        refs[k].pos = k;
    }
    qsort(refs, v->len, sizeof *refs, key_ref_compare);
    return refs;
}

/* ---- equality --------------------------------------------------------- */

/* Compares objects by key set. Sorting keeps large objects fast. When the
 * sort buffers cannot be allocated, a linear lookup per key returns the same
 * result more slowly. */
static int objects_equal(const ss_json *a, const ss_json *b)
{
    key_ref *ra = sorted_keys(a);
    key_ref *rb = ra ? sorted_keys(b) : NULL;
    int equal = 1;
    if (ra && rb) {
        for (size_t k = 0; k < a->len && equal; k++)
            equal = strcmp(ra[k].key, rb[k].key) == 0 &&
                    ss_json_equal(a->items[ra[k].pos], b->items[rb[k].pos]);
    } else {
        for (size_t k = 0; k < a->len && equal; k++)
            equal = ss_json_equal(a->items[k], ss_json_get(b, a->keys[k]));
    }
    free(ra);
    free(rb);
    return equal;
}

int ss_json_equal(const ss_json *a, const ss_json *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case SS_JSON_NULL:
        return 1;
    case SS_JSON_BOOL:
        return a->boolean == b->boolean;
    case SS_JSON_INT:
        return a->i == b->i;
    case SS_JSON_DOUBLE:
        return a->d == b->d;
    case SS_JSON_STRING:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case SS_JSON_ARRAY:
        if (a->len != b->len)
            return 0;
        for (size_t k = 0; k < a->len; k++)
            if (!ss_json_equal(a->items[k], b->items[k]))
                return 0;
        return 1;
    case SS_JSON_OBJECT:
        return a->len == b->len && objects_equal(a, b);
    }
    return 0;
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Returns the length of the well-formed UTF-8 sequence at s (n bytes
 * available), or 0 when it is invalid: a stray continuation byte, an
 * overlong form, an encoded surrogate, a code point above U+10FFFF or a
 * truncated sequence. The ranges are those of RFC 3629, section 4. */
static size_t utf8_sequence_length(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return len;
}

/* Returns the offset of the first invalid UTF-8 byte, or n when all valid. */
static size_t utf8_first_invalid(const unsigned char *s, size_t n)
{
    size_t pos = 0;
    while (pos < n) {
        if (s[pos] < 0x80) {
            pos++;
            continue;
        }
        size_t len = utf8_sequence_length(s + pos, n - pos);
        if (len == 0)
            return pos;
        pos += len;
    }
    return n;
}

static size_t utf8_encode(unsigned char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- growable byte buffer --------------------------------------------- */

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    int failed; /* set once an allocation failed; later appends do nothing */
} byte_buf;

static int buf_reserve(byte_buf *b, size_t extra)
{
    if (b->failed)
        return 0;
    if (extra <= b->cap - b->len)
        return 1;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return 0;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) {
        b->failed = 1;
        return 0;
    }
    b->data = data;
    b->cap = cap;
    return 1;
}

static void buf_append(byte_buf *b, const void *bytes, size_t n)
{
    if (n > 0 && buf_reserve(b, n)) {
        memcpy(b->data + b->len, bytes, n);
        b->len += n;
    }
}

static void buf_putc(byte_buf *b, char c)
{
    if (buf_reserve(b, 1))
        b->data[b->len++] = c;
}

static void buf_puts(byte_buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

/* ---- locale-independent number conversion ----------------------------- */

/* strtod and printf follow LC_NUMERIC, so the thread switches to the C
 * locale around each conversion; the caller's locale is restored after. */
typedef struct {
    locale_t c_locale;
} c_numeric;

static int c_numeric_open(c_numeric *cn)
{
    cn->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    return cn->c_locale != (locale_t)0;
}

static void c_numeric_close(c_numeric *cn)
{
    if (cn->c_locale != (locale_t)0)
        freelocale(cn->c_locale);
    cn->c_locale = (locale_t)0;
}

/* Converts the NUL-terminated text s, which the caller has checked against
 * the JSON number grammar. */
static double c_strtod(const c_numeric *cn, const char *s)
{
    locale_t old = uselocale(cn->c_locale);
    double d = strtod(s, NULL);
    uselocale(old);
    return d;
}

/* Writes d with the fewest of 15, 16 or 17 significant digits that read
 * back as the same double, and adds ".0" when the result would otherwise
 * read back as an integer. */
static void format_double(const c_numeric *cn, double d, char *out, size_t size)
{
    locale_t old = uselocale(cn->c_locale);
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(out, size, "%.*g", digits, d);
        if (strtod(out, NULL) == d)
            break;
    }
    uselocale(old);
    if (!strpbrk(out, ".eE")) {
        size_t n = strlen(out);
        if (n + 3 <= size)
            memcpy(out + n, ".0", 3);
    }
}

/* ---- writer ----------------------------------------------------------- */

/* Writes bytes as a JSON string. Bytes that are not valid UTF-8 (possible
 * only in strings built through the constructors) become \ufffd, so the
 * output is always valid JSON. */
static void dump_string(byte_buf *b, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    static const char hex[] = "0123456789abcdef";
    buf_putc(b, '"');
    size_t run = 0; /* start of the pending run of bytes copied unchanged */
    size_t pos = 0;
    while (pos < len) {
        unsigned char c = u[pos];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            pos++;
            continue;
        }
        size_t seq = c >= 0x80 ? utf8_sequence_length(u + pos, len - pos) : 0;
        if (seq > 0) {
            pos += seq;
            continue;
        }
        buf_append(b, s + run, pos - run);
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (c < 0x20)
                memcpy(esc + 1, (char[]){'u', '0', '0', hex[c >> 4], hex[c & 15]}, 5);
            else
                memcpy(esc + 1, "ufffd", 5);
        }
        buf_puts(b, esc);
        pos++;
        run = pos;
    }
    buf_append(b, s + run, pos - run);
    buf_putc(b, '"');
}

static void dump_value(byte_buf *b, const c_numeric *cn, const ss_json *v);

static void dump_object(byte_buf *b, const c_numeric *cn, const ss_json *v)
{
    key_ref *refs = sorted_keys(v);
    if (!refs) {
        b->failed = 1;
        return;
    }
    buf_putc(b, '{');
    for (size_t k = 0; k < v->len && !b->failed; k++) {
        if (k > 0)
            buf_putc(b, ',');
        dump_string(b, refs[k].key, strlen(refs[k].key));
        buf_putc(b, ':');
        dump_value(b, cn, v->items[refs[k].pos]);
    }
    buf_putc(b, '}');
    free(refs);
}

static void dump_value(byte_buf *b, const c_numeric *cn, const ss_json *v)
{
    char num[40];
    switch (v->type) {
    case SS_JSON_NULL:
        buf_puts(b, "null");
        break;
    case SS_JSON_BOOL:
        buf_puts(b, v->boolean ? "true" : "false");
        break;
    case SS_JSON_INT:
        snprintf(num, sizeof num, "%" PRId64, v->i);
        buf_puts(b, num);
        break;
    case SS_JSON_DOUBLE:
        /* NOTE: JSON has no NaN or infinity. ss_json_new_double() requires a
         * finite value; one that slipped through is written as null. */
        if (!isfinite(v->d)) {
            buf_puts(b, "null");
            break;
        }
        format_double(cn, v->d, num, sizeof num);
        buf_puts(b, num);
        break;
    case SS_JSON_STRING:
        dump_string(b, v->str, v->len);
        break;
    case SS_JSON_ARRAY:
        buf_putc(b, '[');
        for (size_t k = 0; k < v->len && !b->failed; k++) {
            if (k > 0)
                buf_putc(b, ',');
            dump_value(b, cn, v->items[k]);
        }
        buf_putc(b, ']');
        break;
    case SS_JSON_OBJECT:
        dump_object(b, cn, v);
        break;
    }
}

char *ss_json_dump(const ss_json *v, size_t *len)
{
    if (!v)
        return NULL;
    c_numeric cn;
    if (!c_numeric_open(&cn))
        return NULL;
    byte_buf b = {0};
    dump_value(&b, &cn, v);
    buf_putc(&b, '\0');
    c_numeric_close(&cn);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    if (len)
        *len = b.len - 1;
    return b.data;
}

/* ---- parser ----------------------------------------------------------- */

/* One open array or object. */
typedef struct {
    ss_json *node;
    char *pending_key; /* an object key read but not yet stored with its value */
    size_t key_base;   /* where this object's entries start in parser.key_refs */
} open_level;

typedef struct {
    const unsigned char *text;
    size_t len;
    size_t pos;
    int max_depth;
    ss_error *err;
    ss_json *root;
    open_level *stack;
    size_t depth;
    size_t stack_cap;
    key_ref *key_refs; /* keys of all open objects, with their byte offsets */
    size_t key_refs_len;
    size_t key_refs_cap;
    byte_buf scratch; /* the decoded string or number text being read */
    c_numeric numeric;
    int numeric_open;
} parser;

/* Sets an SS_EDATA error: the formatted description, then " at byte N". */
__attribute__((format(printf, 3, 4)))
static ss_status parse_fail(parser *p, size_t at, const char *fmt, ...)
{
    char what[SS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ss_error_set(p->err, SS_EDATA, "%s at byte %zu", what, at);
}

static ss_status parse_nomem(parser *p)
{
    return ss_error_set(p->err, SS_ENOMEM,
                        "out of memory while parsing JSON at byte %zu", p->pos);
}

static ss_status parse_eof(parser *p)
{
    return parse_fail(p, p->len, "unexpected end of input");
}

static void skip_whitespace(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

/* Reads 4 hex digits at p->pos into *out. */
static ss_status read_hex4(parser *p, uint32_t *out)
{
    uint32_t value = 0;
    for (size_t k = 0; k < 4; k++) {
        if (p->pos + k >= p->len)
            return parse_eof(p);
        unsigned char c = p->text[p->pos + k];
        uint32_t digit;
        if (c >= '0' && c <= '9')
            digit = c - '0';
        else if (c >= 'a' && c <= 'f')
            digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            digit = c - 'A' + 10;
        else
            return parse_fail(p, p->pos + k, "invalid hex digit in \\u escape");
        value = value * 16 + digit;
    }
    p->pos += 4;
    *out = value;
    return SS_OK;
}

/* Decodes a \u escape whose 'u' is at p->pos - 1, joining a surrogate pair
 * into one code point. */
static ss_status read_unicode_escape(parser *p, uint32_t *cp)
{
    size_t start = p->pos - 2;
    ss_status st = read_hex4(p, cp);
    if (st != SS_OK)
        return st;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return parse_fail(p, start, "unpaired low surrogate in \\u escape");
    if (*cp < 0xD800 || *cp > 0xDBFF)
        return SS_OK;
    if (p->len - p->pos < 2 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u')
        return parse_fail(p, start, "high surrogate in \\u escape not followed by a low surrogate");
    p->pos += 2;
    uint32_t low;
    st = read_hex4(p, &low);
    if (st != SS_OK)
        return st;
    if (low < 0xDC00 || low > 0xDFFF)
        return parse_fail(p, start, "high surrogate in \\u escape not followed by a low surrogate");
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
    return SS_OK;
}

/* Decodes the escape sequence whose backslash is at p->pos into scratch. */
static ss_status read_escape(parser *p)
{
    size_t start = p->pos;
    if (p->len - p->pos < 2)
        return parse_eof(p);
    unsigned char c = p->text[p->pos + 1];
    p->pos += 2;
    char simple;
    switch (c) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': {
        uint32_t cp;
        ss_status st = read_unicode_escape(p, &cp);
        if (st != SS_OK)
            return st;
        unsigned char utf8[4];
        buf_append(&p->scratch, utf8, utf8_encode(utf8, cp));
        return SS_OK;
    }
    default:
        if (c >= 0x21 && c < 0x7F)
            return parse_fail(p, start, "invalid escape '\\%c' in string", c);
        return parse_fail(p, start, "invalid escape (byte 0x%02x after '\\') in string", c);
    }
    buf_putc(&p->scratch, simple);
    return SS_OK;
}

/* Decodes the string whose opening quote is at p->pos into p->scratch
 * (without a NUL terminator). The text is already known to be valid UTF-8. */
static ss_status read_string(parser *p)
{
    p->scratch.len = 0;
    p->pos++;
    for (;;) {
        size_t run = p->pos;
        while (p->pos < p->len) {
            unsigned char c = p->text[p->pos];
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            p->pos++;
        }
        buf_append(&p->scratch, p->text + run, p->pos - run);
        if (p->pos >= p->len)
            return parse_eof(p);
        unsigned char c = p->text[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return parse_fail(p, p->pos, "unescaped control character 0x%02x in string", c);
        ss_status st = read_escape(p);
        if (st != SS_OK)
            return st;
    }
    return p->scratch.failed ? parse_nomem(p) : SS_OK;
}

/* Checks the JSON number grammar at p->pos and advances past the number.
 * Sets *is_integer when it has neither fraction nor exponent. */
static ss_status scan_number(parser *p, int *is_integer)
{
    size_t start = p->pos;
    const unsigned char *t = p->text;
    if (t[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len)
        return parse_eof(p);
    if (t[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && t[p->pos] >= '0' && t[p->pos] <= '9')
            return parse_fail(p, start, "invalid number (leading zero)");
    } else if (t[p->pos] >= '1' && t[p->pos] <= '9') {
        while (p->pos < p->len && t[p->pos] >= '0' && t[p->pos] <= '9')
            p->pos++;
    } else {
        return parse_fail(p, start, "invalid number (expected a digit after '-')");
    }
    *is_integer = 1;
    if (p->pos < p->len && t[p->pos] == '.') {
        *is_integer = 0;
        p->pos++;
        if (p->pos >= p->len || t[p->pos] < '0' || t[p->pos] > '9')
            return parse_fail(p, start, "invalid number (expected a digit after '.')");
        while (p->pos < p->len && t[p->pos] >= '0' && t[p->pos] <= '9')
            p->pos++;
    }
    if (p->pos < p->len && (t[p->pos] == 'e' || t[p->pos] == 'E')) {
        *is_integer = 0;
        p->pos++;
        if (p->pos < p->len && (t[p->pos] == '+' || t[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || t[p->pos] < '0' || t[p->pos] > '9')
            return parse_fail(p, start, "invalid number (expected a digit in the exponent)");
        while (p->pos < p->len && t[p->pos] >= '0' && t[p->pos] <= '9')
            p->pos++;
    }
    return SS_OK;
}

/* Converts the integer text [start, end), already checked by scan_number. */
static ss_status convert_integer(parser *p, size_t start, size_t end, int64_t *out)
{
    const unsigned char *t = p->text;
    int negative = t[start] == '-';
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t value = 0;
    for (size_t k = start + (size_t)negative; k < end; k++) {
        uint64_t digit = (uint64_t)(t[k] - '0');
        if (value > (limit - digit) / 10)
            return parse_fail(p, start, "integer out of range");
        value = value * 10 + digit;
    }
    if (!negative)
        *out = (int64_t)value;
    else if (value == (uint64_t)INT64_MAX + 1)
        *out = INT64_MIN;
    else
        *out = -(int64_t)value;
    return SS_OK;
}

static ss_status read_number(parser *p, ss_json **out)
{
    size_t start = p->pos;
    int is_integer = 0;
    ss_status st = scan_number(p, &is_integer);
    if (st != SS_OK)
        return st;
    if (is_integer) {
        int64_t i = 0;
        st = convert_integer(p, start, p->pos, &i);
        if (st != SS_OK)
            return st;
        *out = ss_json_new_int(i);
        return *out ? SS_OK : parse_nomem(p);
    }
    if (!p->numeric_open) {
        if (!c_numeric_open(&p->numeric))
            return parse_nomem(p);
        p->numeric_open = 1;
    }
    p->scratch.len = 0;
    buf_append(&p->scratch, p->text + start, p->pos - start);
    buf_putc(&p->scratch, '\0');
    if (p->scratch.failed)
        return parse_nomem(p);
    double d = c_strtod(&p->numeric, p->scratch.data);
    if (!isfinite(d))
        return parse_fail(p, start, "number out of range (not a finite double)");
    *out = ss_json_new_double(d);
    return *out ? SS_OK : parse_nomem(p);
}

static ss_status read_literal(parser *p, ss_json **out)
{
    static const char *const words[] = {"true", "false", "null"};
    size_t rest = p->len - p->pos;
    for (int w = 0; w < 3; w++) {
        size_t n = strlen(words[w]);
        if (p->text[p->pos] != (unsigned char)words[w][0])
            continue;
        if (rest < n && memcmp(p->text + p->pos, words[w], rest) == 0)
            return parse_eof(p);
        if (rest < n || memcmp(p->text + p->pos, words[w], n) != 0)
            return parse_fail(p, p->pos, "invalid literal (expected true, false or null)");
        p->pos += n;
        *out = w == 2 ? ss_json_new_null() : ss_json_new_bool(w == 0);
        return *out ? SS_OK : parse_nomem(p);
    }
    unsigned char c = p->text[p->pos];
    if (c >= 0x21 && c < 0x7F)
        return parse_fail(p, p->pos, "expected a JSON value but found '%c'", c);
    return parse_fail(p, p->pos, "expected a JSON value but found byte 0x%02x", c);
}

/* Stores a new value in the innermost open container, or as the root.
 * Takes ownership of v. */
static ss_status attach_value(parser *p, ss_json *v)
{
    if (p->depth == 0) {
        p->root = v;
        return SS_OK;
    }
    open_level *top = &p->stack[p->depth - 1];
    ss_status st;
    if (top->node->type == SS_JSON_ARRAY) {
        st = ss_json_append(top->node, v);
    } else {
        st = object_push(top->node, top->pending_key, v);
        top->pending_key = NULL;
    }
    return st == SS_OK ? SS_OK : parse_nomem(p);
}

/* Writes key into out, escaped as in a JSON string and cut to at most 64
 * bytes (plus "...") at a boundary between characters or escapes, so that a
 * message stays one short printable line. */
static void describe_key(const char *key, char *out, size_t size)
{
    enum { SHOWN_MAX = 64 };
    byte_buf b = {0};
    dump_string(&b, key, strlen(key));
    if (b.failed || size < SHOWN_MAX + 4) {
        snprintf(out, size, "?");
        free(b.data);
        return;
    }
    const char *body = b.data + 1; /* between the quotes dump_string added */
    size_t body_len = b.len - 2;
    size_t n = 0;
    while (n < body_len) {
        size_t step;
        if (body[n] == '\\')
            step = body[n + 1] == 'u' ? 6 : 2;
        else
            step = utf8_sequence_length((const unsigned char *)body + n, body_len - n);
        if (n + step > SHOWN_MAX)
            break;
        n += step;
    }
    snprintf(out, size, "%.*s%s", (int)n, body, n < body_len ? "..." : "");
    free(b.data);
}

/* Checks the keys of the object that is closing for duplicates, and drops
 * its entries from key_refs. Reports the duplicate that comes first in the
 * text. */
static ss_status check_duplicate_keys(parser *p, size_t key_base)
{
    size_t n = p->key_refs_len - key_base;
    p->key_refs_len = key_base;
    if (n < 2)
        return SS_OK;
    key_ref *refs = p->key_refs + key_base;
    qsort(refs, n, sizeof *refs, key_ref_compare);
    size_t found = SIZE_MAX;
    for (size_t k = 1; k < n; k++) {
        int duplicate = strcmp(refs[k - 1].key, refs[k].key) == 0;
        if (duplicate && (found == SIZE_MAX || refs[k].pos < refs[found].pos))
            found = k;
    }
    if (found == SIZE_MAX)
        return SS_OK;
    char shown[96];
    describe_key(refs[found].key, shown, sizeof shown);
    return ss_error_set(p->err, SS_EDATA, "duplicate key '%s' at byte %zu", shown, refs[found].pos);
}

/* Opens an array or object whose bracket is at p->pos. */
static ss_status open_level_at(parser *p, ss_json_type type)
{
    if (p->max_depth < 0 || p->depth >= (size_t)p->max_depth)
        return parse_fail(p, p->pos, "nesting deeper than %d", p->max_depth);
    ss_json *node = node_new(type);
    if (!node)
        return parse_nomem(p);
    ss_status st = attach_value(p, node);
    if (st != SS_OK)
        return st;
    if (p->depth == p->stack_cap) {
        size_t cap = p->stack_cap ? p->stack_cap * 2 : 16;
        open_level *stack = realloc(p->stack, cap * sizeof *stack);
        if (!stack)
            return parse_nomem(p);
        p->stack = stack;
        p->stack_cap = cap;
    }
    p->stack[p->depth++] = (open_level){node, NULL, p->key_refs_len};
    p->pos++;
    return SS_OK;
}

/* Reads an object key and the ':' after it; the key waits in pending_key
 * for its value. */
static ss_status read_key(parser *p)
{
    skip_whitespace(p);
    if (p->pos >= p->len)
        return parse_eof(p);
    if (p->text[p->pos] != '"')
        return parse_fail(p, p->pos, "expected '\"' to start an object key");
    size_t start = p->pos;
    ss_status st = read_string(p);
    if (st != SS_OK)
        return st;
    if (p->scratch.len > 0 && memchr(p->scratch.data, '\0', p->scratch.len))
        return parse_fail(p, start, "object key containing \\u0000 is not supported");
    char *key = malloc(p->scratch.len + 1);
    if (!key)
        return parse_nomem(p);
    if (p->scratch.len > 0)
        memcpy(key, p->scratch.data, p->scratch.len);
    key[p->scratch.len] = '\0';
    p->stack[p->depth - 1].pending_key = key;

    if (p->key_refs_len == p->key_refs_cap) {
        size_t cap = p->key_refs_cap ? p->key_refs_cap * 2 : 64;
        key_ref *refs = realloc(p->key_refs, cap * sizeof *refs);
        if (!refs)
            return parse_nomem(p);
        p->key_refs = refs;
        p->key_refs_cap = cap;
    }
    p->key_refs[p->key_refs_len++] = (key_ref){key, start};

    skip_whitespace(p);
    if (p->pos >= p->len)
        return parse_eof(p);
    if (p->text[p->pos] != ':')
        return parse_fail(p, p->pos, "expected ':' after object key");
    p->pos++;
    return SS_OK;
}

/* Reads what follows a complete value: closes the containers that end here,
 * and after a comma reads the next object key. Sets *done once the root
 * value is complete. */
static ss_status after_value(parser *p, int *done)
{
    *done = 0;
    while (p->depth > 0) {
        open_level *top = &p->stack[p->depth - 1];
        int is_array = top->node->type == SS_JSON_ARRAY;
        skip_whitespace(p);
        if (p->pos >= p->len)
            return parse_eof(p);
        unsigned char c = p->text[p->pos];
        if (c == ',') {
            p->pos++;
            return is_array ? SS_OK : read_key(p);
        }
        if (c != (is_array ? ']' : '}'))
            return parse_fail(p, p->pos, is_array ? "expected ',' or ']' after array item"
                                                  : "expected ',' or '}' after object member");
        p->pos++;
        if (!is_array) {
            ss_status st = check_duplicate_keys(p, top->key_base);
            if (st != SS_OK)
                return st;
        }
        p->depth--;
    }
    *done = 1;
    return SS_OK;
}

/* Reads one value at p->pos. A bracket opens a container, and the loop then
 * reads its items, so nesting uses the explicit stack and never the C
 * call stack. */
static ss_status parse_document(parser *p)
{
    for (;;) {
        skip_whitespace(p);
        if (p->pos >= p->len)
            return parse_eof(p);
        unsigned char c = p->text[p->pos];
        ss_status st;
        if (c == '[' || c == '{') {
            st = open_level_at(p, c == '[' ? SS_JSON_ARRAY : SS_JSON_OBJECT);
            if (st != SS_OK)
                return st;
            skip_whitespace(p);
            int empty = p->pos < p->len && p->text[p->pos] == (c == '[' ? ']' : '}');
            if (!empty) {
                st = c == '{' ? read_key(p) : SS_OK;
                if (st != SS_OK)
                    return st;
                continue;
            }
        } else {
            ss_json *v = NULL;
            if (c == '"') {
                st = read_string(p);
                if (st == SS_OK) {
                    v = ss_json_new_string_len(p->scratch.data ? p->scratch.data : "", p->scratch.len);
                    st = v ? SS_OK : parse_nomem(p);
                }
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                st = read_number(p, &v);
            } else {
                st = read_literal(p, &v);
            }
            if (st == SS_OK)
                st = attach_value(p, v);
            if (st != SS_OK)
                return st;
        }
        int done;
        st = after_value(p, &done);
        if (st != SS_OK || done)
            return st;
    }
}

ss_json *ss_json_parse(const char *text, size_t len, int max_depth, ss_error *err)
{
    if (!text && len > 0) {
        ss_error_set(err, SS_EINVAL, "ss_json_parse: text is NULL but len is %zu", len);
        return NULL;
    }
    const unsigned char *u = (const unsigned char *)text;
    size_t bad = utf8_first_invalid(u, len);
    if (bad < len) {
        ss_error_set(err, SS_EDATA, "invalid UTF-8 at byte %zu", bad);
        return NULL;
    }

    parser p = {.text = u, .len = len, .max_depth = max_depth, .err = err};
    ss_status st = parse_document(&p);
    if (st == SS_OK) {
        skip_whitespace(&p);
        if (p.pos < p.len)
            st = parse_fail(&p, p.pos, "trailing characters after the JSON value");
    }

    for (size_t k = 0; k < p.depth; k++)
        free(p.stack[k].pending_key);
    free(p.stack);
    free(p.key_refs);
    free(p.scratch.data);
    if (p.numeric_open)
        c_numeric_close(&p.numeric);
    if (st != SS_OK) {
        ss_json_free(p.root);
        return NULL;
    }
    return p.root;
}
