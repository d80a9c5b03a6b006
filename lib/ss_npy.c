/* ss_npy: the header of NumPy .npy files, read and written.
 *
 * A .npy file starts with the magic "\x93NUMPY", a major and a minor version
 * byte, and a little-endian header length (u16 in version 1.0, u32 in 2.0
 * and 3.0). The header is a Python dict literal with the keys 'descr',
 * 'fortran_order' and 'shape', and the raw array data follows it. It is parsed
 * by a small parser for exactly that dict form, never evaluated. Only the
 * header is handled here: callers read or write the data themselves. Left
 * out: big-endian data, Fortran order, object and structured dtypes, string
 * and datetime dtypes, and the .npz archive format. */
#include "ss_npy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tsf.h"

#define SS_NPY_MAX_NDIM 8
#define SS_NPY_MAGIC "\x93NUMPY"
#define SS_NPY_MAGIC_LEN 6

/* Headers written by NumPy are a few hundred bytes. The cap keeps a corrupt
 * length field from allocating gigabytes. */
#define SS_NPY_MAX_HEADER (1u << 20)

/* NumPy aligns the start of the data to this many bytes, so that the data
 * can be memory-mapped and read with aligned loads. */
#define SS_NPY_ALIGN 64

/* Maximum length of a descr string that the parser keeps. Longer ones are
 * unsupported anyway and are shown shortened in messages. */
#define SS_NPY_MAX_DESCR 64

/* Maximum length of a header value quoted in a message. */
#define SS_NPY_MAX_QUOTE 80

typedef struct {
    const char *descr;
    int dtype;
    size_t item_bytes;
} npy_dtype_entry;

/* Accepted descr strings. The first entry for each dtype is the one written.
 * One-byte types have no byte order, so NumPy writes '|', and '<' and '>'
 * mean the same. */
static const npy_dtype_entry npy_dtypes[] = {
    {"|u1", TSF_UINT8, 1},    {"<u1", TSF_UINT8, 1},   {">u1", TSF_UINT8, 1},
    {"|i1", TSF_INT8, 1},     {"<i1", TSF_INT8, 1},    {">i1", TSF_INT8, 1},
    {"|b1", TSF_BOOL, 1},     {"<b1", TSF_BOOL, 1},    {">b1", TSF_BOOL, 1},
    {"<u2", TSF_UINT16, 2},   {"<i2", TSF_INT16, 2},
    {"<u4", TSF_UINT32, 4},   {"<i4", TSF_INT32, 4},
    {"<u8", TSF_UINT64, 8},   {"<i8", TSF_INT64, 8},
    {"<f2", TSF_FLOAT16, 2},  {"<f4", TSF_FLOAT32, 4}, {"<f8", TSF_FLOAT64, 8},
};

#define SS_NPY_SUPPORTED "|u1 |i1 |b1 <u2 <i2 <u4 <i4 <u8 <i8 <f2 <f4 <f8"

static const npy_dtype_entry *npy_find_descr(const char *descr)
{
    for (size_t i = 0; i < sizeof npy_dtypes / sizeof npy_dtypes[0]; i++)
        if (strcmp(npy_dtypes[i].descr, descr) == 0)
            return &npy_dtypes[i];
    return NULL;
}

static const npy_dtype_entry *npy_find_dtype(int dtype)
{
    for (size_t i = 0; i < sizeof npy_dtypes / sizeof npy_dtypes[0]; i++)
        if (npy_dtypes[i].dtype == dtype)
            return &npy_dtypes[i];
    return NULL;
}

/* ---- Header parser ---------------------------------------------------- */

typedef struct {
    const char *text;
    size_t len;
    size_t pos;
    const char *name;
    ss_error *err;
} npy_parser;

/* The values of the three keys as parsed, before they are checked. */
typedef struct {
    int have_descr, have_fortran, have_shape;
    char descr[SS_NPY_MAX_DESCR + 1];
    int descr_is_list;        /* a list, which is a structured dtype */
    size_t descr_at, descr_end;
    int fortran_order;
    int ndim;                 /* may exceed SS_NPY_MAX_NDIM; dims keeps the first 8 */
    uint64_t dims[SS_NPY_MAX_NDIM];
    size_t shape_at, shape_end;
} npy_dict;

static int npy_peek(const npy_parser *p)
{
    return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1;
}

static void npy_skip_space(npy_parser *p)
{
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

/* Sets a message that names the byte offset within the header text. */
static ss_status npy_syntax(npy_parser *p, const char *expected)
{
    int c = npy_peek(p);
    if (c < 0)
        return ss_error_set(p->err, SS_EDATA,
                            "%s: invalid .npy header: expected %s but the header ends",
                            p->name, expected);
    if (c >= 0x20 && c < 0x7f)
        return ss_error_set(p->err, SS_EDATA,
                            "%s: invalid .npy header: expected %s at byte %zu, found '%c'",
                            p->name, expected, p->pos, c);
    return ss_error_set(p->err, SS_EDATA,
                        "%s: invalid .npy header: expected %s at byte %zu, found byte 0x%02x",
                        p->name, expected, p->pos, (unsigned)c);
}

/* Parses a quoted string without escapes into out (cap bytes with the NUL).
 * A longer string is cut short and *cut set, so that a caller can still
 * quote it in a message. */
static ss_status npy_parse_string(npy_parser *p, char *out, size_t cap, int *cut)
{
    int quote = npy_peek(p);
    if (quote != '\'' && quote != '"')
        return npy_syntax(p, "a quoted string");
    p->pos++;

    size_t n = 0;
    *cut = 0;
    for (;;) {
        int c = npy_peek(p);
        if (c < 0)
            return npy_syntax(p, "the closing quote of a string");
        if (c == quote)
            break;
        if (c == '\\' || c < 0x20 || c >= 0x7f)
            return npy_syntax(p, "a string of plain ASCII characters without escapes");
        if (n + 1 < cap)
            out[n++] = (char)c;
        else
            *cut = 1;
        p->pos++;
    }
    p->pos++;
    out[n] = '\0';
    return SS_OK;
}

static int npy_match_word(npy_parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return 0;
    /* "Trueish" is not True. */
    if (p->pos + n < p->len) {
        char next = p->text[p->pos + n];
        if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
            (next >= '0' && next <= '9') || next == '_')
            return 0;
    }
    p->pos += n;
    return 1;
}

/* Skips a bracketed value such as a structured dtype's list of tuples,
 * honouring nesting and quotes, so that its text can be quoted. */
static ss_status npy_skip_bracketed(npy_parser *p)
{
    int depth = 0;
    int quote = 0;

    while (p->pos < p->len) {
        char c = p->text[p->pos++];
        if (quote) {
            if (c == quote)
                quote = 0;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '[' || c == '(') {
            depth++;
        } else if (c == ']' || c == ')') {
            if (--depth == 0)
                return SS_OK;
        }
    }
    return npy_syntax(p, "the end of the list");
}

static ss_status npy_parse_descr(npy_parser *p, npy_dict *d)
{
    d->descr_at = p->pos;
    if (npy_peek(p) == '[') {
        d->descr_is_list = 1;
        ss_status st = npy_skip_bracketed(p);
        d->descr_end = p->pos;
        return st;
    }
    int cut;
    ss_status st = npy_parse_string(p, d->descr, sizeof d->descr, &cut);
    d->descr_end = p->pos;
    return st;
}

static ss_status npy_parse_bool(npy_parser *p, int *value)
{
    if (npy_match_word(p, "True")) {
        *value = 1;
        return SS_OK;
    }
    if (npy_match_word(p, "False")) {
        *value = 0;
        return SS_OK;
    }
    return npy_syntax(p, "True or False");
}

/* Parses a non-negative decimal integer. Python 2 wrote long integers with
 * an L suffix, which old files still carry. */
static ss_status npy_parse_dim(npy_parser *p, uint64_t *value)
{
    int c = npy_peek(p);
    if (c == '-')
        return ss_error_set(p->err, SS_EDATA,
                            "%s: invalid .npy header: negative dimension at byte %zu",
                            p->name, p->pos);
    if (c < '0' || c > '9')
        return npy_syntax(p, "a dimension (a non-negative integer)");

    uint64_t v = 0;
    while ((c = npy_peek(p)) >= '0' && c <= '9') {
        unsigned digit = (unsigned)(c - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return ss_error_set(p->err, SS_ELIMIT,
                                "%s: invalid .npy header: dimension at byte %zu exceeds 2^64-1",
                                p->name, p->pos);
        v = v * 10 + digit;
        p->pos++;
    }
    if (c == 'L' || c == 'l')
        p->pos++;
    *value = v;
    return SS_OK;
}

/* Parses a tuple of dimensions: "()", "(5,)", "(2, 3)" or "(2, 3,)". A
 * bare "(5)" is an integer in Python, not a tuple, and is rejected. */
static ss_status npy_parse_shape(npy_parser *p, npy_dict *d)
{
    d->shape_at = p->pos;
    if (npy_peek(p) != '(')
        return npy_syntax(p, "'(' to start the shape tuple");
    p->pos++;
    npy_skip_space(p);

    d->ndim = 0;
    while (npy_peek(p) != ')') {
        uint64_t dim = 0;
        ss_status st = npy_parse_dim(p, &dim);
        if (st != SS_OK)
            return st;
        if (d->ndim < SS_NPY_MAX_NDIM)
            d->dims[d->ndim] = dim;
        d->ndim++;  /* at most SS_NPY_MAX_HEADER / 2, so no overflow */
        npy_skip_space(p);

        if (npy_peek(p) == ',') {
            p->pos++;
            npy_skip_space(p);
        } else if (npy_peek(p) == ')') {
            if (d->ndim == 1)
                return ss_error_set(p->err, SS_EDATA,
                                    "%s: invalid .npy header: shape %.*s) is an integer in "
                                    "Python, not a tuple; write a 1-d shape as (5,)",
                                    p->name, (int)(p->pos - d->shape_at),
                                    p->text + d->shape_at);
        } else {
            return npy_syntax(p, "',' or ')' in the shape tuple");
        }
    }
    p->pos++;
    d->shape_end = p->pos;
    return SS_OK;
}

static ss_status npy_parse_entry(npy_parser *p, npy_dict *d)
{
    char key[32];
    int cut;
    size_t key_at = p->pos;
    ss_status st = npy_parse_string(p, key, sizeof key, &cut);
    if (st != SS_OK)
        return st;

    int *have;
    if (!cut && strcmp(key, "descr") == 0)
        have = &d->have_descr;
    else if (!cut && strcmp(key, "fortran_order") == 0)
        have = &d->have_fortran;
    else if (!cut && strcmp(key, "shape") == 0)
        have = &d->have_shape;
    else
        return ss_error_set(p->err, SS_EDATA,
                            "%s: invalid .npy header: unknown key '%s%s' at byte %zu (expected "
                            "only 'descr', 'fortran_order' and 'shape')",
                            p->name, key, cut ? "..." : "", key_at);
    if (*have)
        return ss_error_set(p->err, SS_EDATA,
                            "%s: invalid .npy header: key '%s' appears twice", p->name, key);
    *have = 1;

    npy_skip_space(p);
    if (npy_peek(p) != ':')
        return npy_syntax(p, "':' after a key");
    p->pos++;
    npy_skip_space(p);

    if (have == &d->have_descr)
        return npy_parse_descr(p, d);
    if (have == &d->have_fortran)
        return npy_parse_bool(p, &d->fortran_order);
    return npy_parse_shape(p, d);
}

static ss_status npy_parse_dict(npy_parser *p, npy_dict *d)
{
    npy_skip_space(p);
    if (npy_peek(p) != '{')
        return npy_syntax(p, "'{' to start the header dict");
    p->pos++;

    for (;;) {
        npy_skip_space(p);
        if (npy_peek(p) == '}')
            break;
        ss_status st = npy_parse_entry(p, d);
        if (st != SS_OK)
            return st;
        npy_skip_space(p);
        if (npy_peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (npy_peek(p) != '}')
            return npy_syntax(p, "',' or '}' after a value");
    }
    p->pos++;

    /* NumPy pads the header with spaces and ends it with '\n'. */
    npy_skip_space(p);
    if (p->pos != p->len)
        return npy_syntax(p, "only spaces after the header dict");

    const char *missing = !d->have_descr ? "descr"
                          : !d->have_fortran ? "fortran_order"
                          : !d->have_shape ? "shape" : NULL;
    if (missing)
        return ss_error_set(p->err, SS_EDATA, "%s: invalid .npy header: key '%s' is missing",
                            p->name, missing);
    return SS_OK;
}

/* Copies text[at, end) into out for a message, shortened with "..." when it
 * is longer than SS_NPY_MAX_QUOTE. */
static void npy_quote(const npy_parser *p, size_t at, size_t end, char *out, size_t cap)
{
    size_t n = end - at;
    if (n > SS_NPY_MAX_QUOTE)
        snprintf(out, cap, "%.*s...", SS_NPY_MAX_QUOTE, p->text + at);
    else
        snprintf(out, cap, "%.*s", (int)n, p->text + at);
}

/* Maps the parsed descr to a dtype, or explains why it is not supported. */
static ss_status npy_check_descr(const npy_parser *p, const npy_dict *d, int *dtype,
                                 size_t *item_bytes)
{
    char text[SS_NPY_MAX_QUOTE + 8];
    npy_quote(p, d->descr_at, d->descr_end, text, sizeof text);

    if (d->descr_is_list)
        return ss_error_set(p->err, SS_EDATA,
                            "%s: dtype %s is a structured dtype, which is not supported; "
                            "save each field as its own array", p->name, text);

    const npy_dtype_entry *e = npy_find_descr(d->descr);
    if (e) {
        *dtype = e->dtype;
        *item_bytes = e->item_bytes;
        return SS_OK;
    }

    char little[SS_NPY_MAX_DESCR + 1];
    snprintf(little, sizeof little, "<%s", d->descr[0] ? d->descr + 1 : "");
    if (d->descr[0] == '>' && npy_find_descr(little))
        return ss_error_set(p->err, SS_EDATA,
                            "%s: dtype '%s' is big-endian; convert with arr.astype('%s')",
                            p->name, d->descr, little);
    if (d->descr[0] == '=' && npy_find_descr(little))
        return ss_error_set(p->err, SS_EDATA,
                            "%s: dtype '%s' has native byte order, which a file cannot "
                            "state; save with arr.astype('%s')", p->name, d->descr, little);
    if (strchr(d->descr, 'O'))
        return ss_error_set(p->err, SS_EDATA,
                            "%s: dtype '%s' is an object array, which only Python can "
                            "load; save a numeric array instead", p->name, d->descr);
    return ss_error_set(p->err, SS_EDATA,
                        "%s: dtype %s is not supported; convert the array to one of "
                        SS_NPY_SUPPORTED, p->name, text);
}

/* Checks the parsed dict and fills h, except data_offset. */
static ss_status npy_check_dict(const npy_parser *p, const npy_dict *d, ss_npy_header *h)
{
    size_t item_bytes = 0;
    ss_status st = npy_check_descr(p, d, &h->dtype, &item_bytes);
    if (st != SS_OK)
        return st;

    if (d->fortran_order)
        return ss_error_set(p->err, SS_EDATA,
                            "%s: fortran_order is True, which is not supported; save "
                            "np.ascontiguousarray(arr) instead", p->name);

    char shape[SS_NPY_MAX_QUOTE + 8];
    npy_quote(p, d->shape_at, d->shape_end, shape, sizeof shape);
    if (d->ndim > SS_NPY_MAX_NDIM)
        return ss_error_set(p->err, SS_ELIMIT,
                            "%s: shape %s has %d dimensions, more than the maximum of %d; "
                            "reshape the array", p->name, shape, d->ndim, SS_NPY_MAX_NDIM);

    /* The data size must fit in 64 bits for callers to compute offsets. */
    uint64_t bytes = item_bytes;
    for (int i = 0; i < d->ndim; i++) {
        if (d->dims[i] != 0 && bytes > UINT64_MAX / d->dims[i])
            return ss_error_set(p->err, SS_ELIMIT,
                                "%s: shape %s holds more than 2^64-1 bytes of data",
                                p->name, shape);
        bytes *= d->dims[i];
    }

    h->ndim = d->ndim;
    for (int i = 0; i < SS_NPY_MAX_NDIM; i++)
        h->dims[i] = i < d->ndim ? d->dims[i] : 0;
    return SS_OK;
}

/* ---- Reading ---------------------------------------------------------- */

/* Reads exactly len bytes, or reports what ended or failed. */
static ss_status npy_read(FILE *fp, const char *name, void *buf, size_t len, const char *what,
                          ss_error *err)
{
    size_t got = fread(buf, 1, len, fp);
    if (got == len)
        return SS_OK;
    if (ferror(fp))
        return ss_error_set(err, SS_EIO, "%s: read failed: %s", name, strerror(errno));
    return ss_error_set(err, SS_EDATA, "%s: truncated .npy file (%zu of %zu bytes of %s)",
                        name, got, len, what);
}

ss_status ss_npy_read_header(FILE *fp, const char *name, ss_npy_header *h, ss_error *err)
{
    unsigned char prefix[12];
    ss_status st = npy_read(fp, name, prefix, 8, "the magic and version", err);
    if (st != SS_OK)
        return st;
    if (memcmp(prefix, SS_NPY_MAGIC, SS_NPY_MAGIC_LEN) != 0)
        return ss_error_set(err, SS_EDATA,
                            "%s: not a .npy file (it does not start with \\x93NUMPY)", name);

    int major = prefix[6], minor = prefix[7];
    uint64_t header_len;
    uint64_t prefix_len;
    if (major == 1 && minor == 0) {
        st = npy_read(fp, name, prefix + 8, 2, "the header length", err);
        if (st != SS_OK)
            return st;
        header_len = (uint64_t)prefix[8] | (uint64_t)prefix[9] << 8;
        prefix_len = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
        st = npy_read(fp, name, prefix + 8, 4, "the header length", err);
        if (st != SS_OK)
            return st;
        header_len = (uint64_t)prefix[8] | (uint64_t)prefix[9] << 8 |
                     (uint64_t)prefix[10] << 16 | (uint64_t)prefix[11] << 24;
        prefix_len = 12;
    } else {
        return ss_error_set(err, SS_EDATA,
                            "%s: unsupported .npy format version %d.%d (supported: 1.0, 2.0, "
                            "3.0)", name, major, minor);
    }
    if (header_len > SS_NPY_MAX_HEADER)
        return ss_error_set(err, SS_ELIMIT,
                            "%s: .npy header length %llu exceeds the limit of %u bytes",
                            name, (unsigned long long)header_len, SS_NPY_MAX_HEADER);

    char *text = malloc(header_len ? header_len : 1);
    if (!text)
        return ss_error_set(err, SS_ENOMEM, "%s: out of memory for the .npy header", name);
    st = npy_read(fp, name, text, header_len, "the header", err);
    if (st != SS_OK) {
        free(text);
        return st;
    }

    npy_parser p = {text, header_len, 0, name, err};
    npy_dict d;
    memset(&d, 0, sizeof d);
    st = npy_parse_dict(&p, &d);
    if (st == SS_OK)
        st = npy_check_dict(&p, &d, h);
    free(text);
    if (st != SS_OK)
        return st;
    h->data_offset = prefix_len + header_len;
    return SS_OK;
}

/* ---- Writing ---------------------------------------------------------- */

ss_status ss_npy_write_header(FILE *fp, const char *name, int dtype, int ndim,
                              const uint64_t *dims, ss_error *err)
{
    const npy_dtype_entry *e = npy_find_dtype(dtype);
    if (!e)
        return ss_error_set(err, SS_EINVAL, "%s: dtype code %d has no .npy equivalent",
                            name, dtype);
    if (ndim < 0 || ndim > SS_NPY_MAX_NDIM)
        return ss_error_set(err, SS_EINVAL, "%s: %d dimensions; .npy output supports 0 to %d",
                            name, ndim, SS_NPY_MAX_NDIM);

    /* Same limit as the reader, so that every file written can be read. */
    uint64_t bytes = e->item_bytes;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] != 0 && bytes > UINT64_MAX / dims[i])
            return ss_error_set(err, SS_EINVAL, "%s: the shape holds more than 2^64-1 bytes",
                                name);
        bytes *= dims[i];
    }

    /* The dict, in NumPy's key order and spacing. Python writes a 1-tuple
     * as "(5,)" and the empty tuple as "()". */
    char dict[256 + SS_NPY_MAX_NDIM * 24];
    size_t n = (size_t)snprintf(dict, sizeof dict,
                                "{'descr': '%s', 'fortran_order': False, 'shape': (", e->descr);
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%llu", i ? ", " : "",
                              (unsigned long long)dims[i]);
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", ndim == 1 ? "," : "");

    /* Pad with spaces so that prefix, dict, padding and '\n' end on a
     * multiple of SS_NPY_ALIGN. Version 2.0 only when 1.0's u16 length
     * cannot hold the header. */
    size_t prefix_len = 10;
    size_t header_len = n + 1;
    header_len += (SS_NPY_ALIGN - (prefix_len + header_len) % SS_NPY_ALIGN) % SS_NPY_ALIGN;
    if (header_len > 65535) {
        prefix_len = 12;
        header_len = n + 1;
        header_len += (SS_NPY_ALIGN - (prefix_len + header_len) % SS_NPY_ALIGN) % SS_NPY_ALIGN;
    }

    size_t total = prefix_len + header_len;
    unsigned char *out = malloc(total);
    if (!out)
        return ss_error_set(err, SS_ENOMEM, "%s: out of memory for the .npy header", name);
    memcpy(out, SS_NPY_MAGIC, SS_NPY_MAGIC_LEN);
    out[6] = prefix_len == 10 ? 1 : 2;
    out[7] = 0;
    for (size_t i = 0; i < prefix_len - 8; i++)
        out[8 + i] = (unsigned char)(header_len >> (8 * i));
    memcpy(out + prefix_len, dict, n);
    memset(out + prefix_len + n, ' ', header_len - n - 1);
    out[total - 1] = '\n';

    size_t put = fwrite(out, 1, total, fp);
    free(out);
    if (put != total)
        return ss_error_set(err, SS_EIO, "%s: write failed: %s", name, strerror(errno));
    return SS_OK;
}
