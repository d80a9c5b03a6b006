/* tsf_read: the validating TSF reader.
 *
 * Every byte of the input is checked before it is used: signatures, CRCs,
 * sizes against limits, reserved bytes and padding, exact cover of chunks by
 * records and of records by fields, and the declared schema. A DATA chunk is
 * read and validated whole before its first record is returned, so a record
 * is never handed out from a chunk that later proves damaged.
 *
 * Left out: read-ahead on a second thread and mapping of regular files;
 * payloads are read with plain read() calls into a reusable buffer. */
#include "tsf.h"
#include "tsf_internal.h"
#include "ss_utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader */
#include <zstd.h>

#define IBUF_SIZE (64 * 1024)
/* Payload buffers grow by at most this much beyond the bytes that actually
 * arrived, so a forged length cannot force a huge allocation up front. */
#define GROW_STEP (8u << 20)

typedef struct {
    char name[TSF_MAX_NAME + 1];
    int dtype;
    int ndim;                     /* -1: any rank */
    int64_t dims[TSF_MAX_NDIM];   /* -1: any size */
    int optional;
} schema_field;

struct tsf_reader {
    int fd;
    int own_fd;
    char *name;
    tsf_limits lim;
    ss_error err;
    int failed;

    unsigned char ibuf[IBUF_SIZE];
    size_t ipos, ilen;
    int eof;
    uint64_t offset;              /* bytes consumed by the parser */

    int in_stream;
    int any_stream;
    int stream_events;
    uint64_t stream_index;
    char *meta_text;
    size_t meta_len;
    ss_json *meta;
    schema_field *schema;
    int n_schema;
    int extra_fields;
    int has_schema;

    /* Layout of the last fully validated record (names, dtypes, ranks), so
     * that records of the same layout skip the name and schema lookups. */
    int layout_n;                 /* fields in the cached layout; 0 when none */
    unsigned char layout_dtype[TSF_MAX_FIELDS], layout_ndim[TSF_MAX_FIELDS];
    char layout_name[TSF_MAX_FIELDS][TSF_MAX_NAME + 1];
    int schema_field[TSF_MAX_FIELDS]; /* record field of schema field s, -1 when absent */

    uint64_t next_seq;
    uint64_t stream_records;      /* records validated in this stream */
    uint64_t records_returned;    /* records handed out in this stream */
    uint64_t data_chunks;

    unsigned char *stored;
    size_t stored_cap;
    unsigned char *raw;
    size_t raw_cap;
    ZSTD_DCtx *zd;

    /* The current DATA chunk. */
    int have_chunk;
    tsf_chunk chunk;
    uint64_t chunk_offset;
    uint64_t chunk_first_record;
    uint32_t chunk_next;          /* next record to return */
    size_t chunk_pos;             /* its byte offset in the payload */
    tsf_record scratch;
};

/* ---- Diagnostics --------------------------------------------------------- */

/* Records an error prefixed by the input name and byte offset, plus the
 * chunk and record when they are known (pass UINT64_MAX otherwise). */
static int fail_at(tsf_reader *r, ss_status st, uint64_t off, uint64_t seq, uint64_t rec,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail_at(tsf_reader *r, ss_status st, uint64_t off, uint64_t seq, uint64_t rec,
                   const char *fmt, ...)
{
    char where[160];
    int n = snprintf(where, sizeof where, "%s: byte %" PRIu64, r->name, off);
    if (seq != UINT64_MAX && n > 0 && (size_t)n < sizeof where)
        n += snprintf(where + n, sizeof where - (size_t)n, ": chunk %" PRIu64, seq);
    if (rec != UINT64_MAX && n > 0 && (size_t)n < sizeof where)
        snprintf(where + n, sizeof where - (size_t)n, ": record %" PRIu64, rec);
    char msg[SS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ss_error_set(&r->err, st, "%s: %s", where, msg);
    r->failed = 1;
    return -1;
}

#define FAIL(r, off, ...) fail_at((r), SS_EDATA, (off), UINT64_MAX, UINT64_MAX, __VA_ARGS__)
#define FAIL_CHUNK(r, off, seq, ...) fail_at((r), SS_EDATA, (off), (seq), UINT64_MAX, __VA_ARGS__)

/* ---- Input --------------------------------------------------------------- */

/* Reads up to n bytes into dst, through the small buffer for short reads
 * and straight into dst for long ones. Returns the count read (less than n
 * only at end of input) or -1 on a read error. */
static int64_t in_read(tsf_reader *r, void *dst, size_t n)
{
    unsigned char *d = dst;
    size_t got = 0;
    while (got < n) {
        if (r->ipos < r->ilen) {
            size_t k = r->ilen - r->ipos;
            if (k > n - got)
                k = n - got;
            memcpy(d + got, r->ibuf + r->ipos, k);
            r->ipos += k;
            got += k;
            continue;
        }
        if (r->eof)
            break;
        int direct = n - got >= IBUF_SIZE;
        ssize_t k = direct ? read(r->fd, d + got, n - got) : read(r->fd, r->ibuf, IBUF_SIZE);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            fail_at(r, SS_EIO, r->offset + got, UINT64_MAX, UINT64_MAX,
                    "read failed: %s", strerror(errno));
            return -1;
        }
        if (k == 0) {
            r->eof = 1;
            break;
        }
        if (direct) {
            got += (size_t)k;
        } else {
            r->ipos = 0;
            r->ilen = (size_t)k;
        }
    }
    r->offset += got;
    return (int64_t)got;
}

/* Reads n bytes into a buffer that grows only as bytes arrive. Returns the
 * count read, or -1 on error. */
static int64_t in_read_grow(tsf_reader *r, unsigned char **buf, size_t *cap, uint64_t n)
{
    uint64_t have = 0;
    while (have < n) {
        uint64_t want = n;
        if (want > have + GROW_STEP && want > *cap)
            want = have + GROW_STEP;
        if (want > *cap) {
            unsigned char *nb = realloc(*buf, (size_t)want);
            if (!nb)
                return fail_at(r, SS_ENOMEM, r->offset, UINT64_MAX, UINT64_MAX,
                               "out of memory for a %" PRIu64 "-byte payload", n);
            *buf = nb;
            *cap = (size_t)want;
        }
        uint64_t step = (*cap < n ? *cap : n) - have;
        int64_t k = in_read(r, *buf + have, (size_t)step);
        if (k < 0)
            return -1;
        have += (uint64_t)k;
        if ((uint64_t)k < step)
            break;
    }
    return (int64_t)have;
}

/* ---- Opening ------------------------------------------------------------- */

tsf_reader *tsf_reader_open_fd(int fd, const char *name, const tsf_limits *lim, ss_error *err)
{
    tsf_reader *r = calloc(1, sizeof *r);
    if (!r) {
        ss_error_set(err, SS_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    r->fd = fd;
    r->name = strdup(strcmp(name, "-") == 0 ? "stdin" : name);
    if (!r->name) {
        free(r);
        ss_error_set(err, SS_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    if (lim)
        r->lim = *lim;
    else
        tsf_limits_default(&r->lim);
    tsf_pipe_grow(fd);
    return r;
}

tsf_reader *tsf_reader_open_path(const char *path, const tsf_limits *lim, ss_error *err)
{
    int fd = 0;
    if (strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ss_error_set(err, SS_EIO, "%s: cannot open: %s", path, strerror(errno));
            return NULL;
        }
    }
    tsf_reader *r = tsf_reader_open_fd(fd, path, lim, err);
    if (!r) {
        if (fd != 0)
            close(fd);
        return NULL;
    }
    r->own_fd = fd != 0;
    return r;
}

static void clear_stream(tsf_reader *r)
{
    free(r->meta_text);
    r->meta_text = NULL;
    r->meta_len = 0;
    ss_json_free(r->meta);
    r->meta = NULL;
    free(r->schema);
    r->schema = NULL;
    r->n_schema = 0;
    r->has_schema = 0;
}

void tsf_reader_close(tsf_reader *r)
{
    if (!r)
        return;
    clear_stream(r);
    if (r->own_fd)
        close(r->fd);
    free(r->stored);
    free(r->raw);
    ZSTD_freeDCtx(r->zd);
    free(r->name);
    free(r);
}

/* ---- Stream header ------------------------------------------------------- */

/* Names the format of foreign data by its first bytes, for messages. */
static const char *foreign_format(const unsigned char *p, size_t n)
{
    if (n >= 4 && memcmp(p, "\x28\xB5\x2F\xFD", 4) == 0)
        return " (looks like zstd data)";
    if (n >= 2 && p[0] == 0x1F && p[1] == 0x8B)
        return " (looks like gzip data)";
    if (n >= 6 && memcmp(p, "\x93NUMPY", 6) == 0)
        return " (looks like a .npy file)";
    if (n >= 4 && memcmp(p, "\x89PNG", 4) == 0)
        return " (looks like a PNG image)";
    if (n >= 4 && memcmp(p, "GGUF", 4) == 0)
        return " (looks like a GGUF file)";
    if (n >= 6 && memcmp(p, "ARROW1", 6) == 0)
        return " (looks like an Arrow file)";
    if (n >= 3 && memcmp(p, "P7\n", 3) == 0)
        return " (looks like a PAM image)";
    if (n >= 4 && p[0] == 0 && p[1] == 0 && p[2] >= 0x08 && p[2] <= 0x0E && p[3] >= 1 && p[3] <= 8)
        return " (looks like an IDX file); convert it with 'selfsup-tsf import idx'";
    size_t text = 0;
    for (size_t i = 0; i < n; i++)
        if ((p[i] >= 0x20 && p[i] < 0x7F) || p[i] == '\n' || p[i] == '\r' || p[i] == '\t')
            text++;
    if (n > 0 && text == n)
        return " (looks like text)";
    return "";
}

/* Recognises the signature after newline translation (CRLF to LF, or LF to
 * CRLF) or loss of the high bit, comparing the bytes that are present. */
static int signature_damaged(const unsigned char *p, size_t n)
{
    static const char crlf_to_lf[] = "\n\x1a\n";
    static const char lf_to_crlf[] = "\r\r\n\x1a\r\n";
    if (n < 5 || memcmp(p + 1, "TSF", 3) != 0)
        return 0;
    if (p[0] == 0x09)
        return 1;
    if (p[0] != 0x89)
        return 0;
    size_t k = n - 4;
    return memcmp(p + 4, crlf_to_lf, k < 3 ? k : 3) == 0 || memcmp(p + 4, lf_to_crlf, k < 6 ? k : 6) == 0;
}

static int parse_schema(tsf_reader *r, const ss_json *schema);

/* Reads the stream header at the current position. first is set when this
 * is the first stream of the input. Returns 1, 0 at clean end of input
 * (only when !first), or -1. */
static int read_stream_header(tsf_reader *r, int first)
{
    unsigned char h[TSF_STREAM_HEADER_SIZE];
    uint64_t start = r->offset;
    int64_t got = in_read(r, h, 8);
    if (got < 0)
        return -1;
    if (got == 0) {
        if (first)
            return FAIL(r, start, "empty input: no stream header (did the upstream stage fail?)");
        return 0;
    }
    int sig_ok = memcmp(h, tsf_signature, (size_t)got) == 0;
    if (!sig_ok || got < 8) {
        if (sig_ok)
            return FAIL(r, start, "truncated in stream header (%" PRId64 " of 24 bytes)", got);
        if (!first)
            return FAIL(r, start, "trailing bytes after ENDS (not the start of another stream)");
        if (signature_damaged(h, (size_t)got))
            return FAIL(r, start, "not a TSF stream: signature damaged by text-mode transfer "
                        "(copy the file in binary mode)");
        return FAIL(r, start, "not a TSF stream%s", foreign_format(h, (size_t)got));
    }
    got = in_read(r, h + 8, TSF_STREAM_HEADER_SIZE - 8);
    if (got < 0)
        return -1;
    if (got < TSF_STREAM_HEADER_SIZE - 8)
        return FAIL(r, start, "truncated in stream header (%" PRId64 " of 24 bytes)", got + 8);

    unsigned major = tsf_get16(h + 8), minor = tsf_get16(h + 10);
    uint32_t features = tsf_get32(h + 12);
    uint32_t meta_len = tsf_get32(h + 16);
    uint32_t crc = tsf_get32(h + 20);
    if (major != TSF_MAJOR)
        return FAIL(r, start, "stream version %u.%u not supported (this reader supports 1.x)",
                    major, minor);
    if (features != 0)
        return FAIL(r, start, "stream requires feature 0x%" PRIx32 " unknown to this reader",
                    features & (~features + 1));
    if (meta_len > r->lim.max_meta)
        return FAIL(r, start, "metadata length %" PRIu32 " exceeds limit %" PRIu64
                    " (raise it with --max-meta if the stream is trusted)",
                    meta_len, r->lim.max_meta);

    clear_stream(r);
    uint64_t padded = meta_len + tsf_pad8(TSF_STREAM_HEADER_SIZE + (uint64_t)meta_len);
    r->meta_text = malloc(padded + 1);
    if (!r->meta_text)
        return fail_at(r, SS_ENOMEM, start, UINT64_MAX, UINT64_MAX, "out of memory for metadata");
    got = in_read(r, r->meta_text, (size_t)padded);
    if (got < 0)
        return -1;
    if ((uint64_t)got < padded)
        return FAIL(r, start, "truncated in metadata (%" PRId64 " of %" PRIu64 " bytes)", got, padded);
    uint32_t c = tsf_crc32(0, h, 20);
    c = tsf_crc32(c, r->meta_text, meta_len);
    if (c != crc)
        return FAIL(r, start, "stream header CRC mismatch (stored 0x%08" PRIx32
                    ", computed 0x%08" PRIx32 ")", crc, c);
    for (uint64_t i = meta_len; i < padded; i++)
        if (r->meta_text[i] != 0)
            return FAIL(r, start + 24 + i, "nonzero padding after metadata");
    r->meta_text[meta_len] = '\0';
    r->meta_len = meta_len;

    size_t valid = ss_utf8_valid_prefix(r->meta_text, meta_len);
    if (valid != meta_len)
        return FAIL(r, start + 24 + valid, "metadata: invalid UTF-8 at byte %zu", valid);
    ss_error jerr;
    r->meta = ss_json_parse(r->meta_text, meta_len, r->lim.max_depth, &jerr);
    if (!r->meta)
        return fail_at(r, jerr.status, start + 24, UINT64_MAX, UINT64_MAX, "metadata: %s", jerr.msg);
    if (r->meta->type != SS_JSON_OBJECT)
        return FAIL(r, start + 24, "metadata: not a JSON object");
    const ss_json *schema = ss_json_get(r->meta, "schema");
    if (schema && parse_schema(r, schema) < 0)
        return -1;

    if (!first)
        r->stream_index++;
    r->in_stream = 1;
    r->any_stream = 1;
    r->layout_n = 0;
    r->next_seq = 0;
    r->stream_records = 0;
    r->records_returned = 0;
    r->data_chunks = 0;
    return 1;
}

static int parse_schema(tsf_reader *r, const ss_json *schema)
{
    uint64_t at = r->offset;
    if (schema->type != SS_JSON_OBJECT)
        return FAIL(r, at, "metadata: schema: not a JSON object");
    const ss_json *fields = ss_json_get(schema, "fields");
    if (!fields || fields->type != SS_JSON_ARRAY)
        return FAIL(r, at, "metadata: schema: 'fields' must be a list");
    const ss_json *extra = ss_json_get(schema, "extra_fields");
    if (extra && extra->type != SS_JSON_BOOL)
        return FAIL(r, at, "metadata: schema: 'extra_fields' must be true or false");
    r->extra_fields = extra ? extra->boolean : 0;
    if (fields->len > TSF_MAX_FIELDS)
        return FAIL(r, at, "metadata: schema: %zu fields, above the limit of %d",
                    fields->len, TSF_MAX_FIELDS);
    r->schema = calloc(fields->len ? fields->len : 1, sizeof *r->schema);
    if (!r->schema)
        return fail_at(r, SS_ENOMEM, at, UINT64_MAX, UINT64_MAX, "out of memory");
    for (size_t i = 0; i < fields->len; i++) {
        const ss_json *f = fields->items[i];
        schema_field *sf = &r->schema[i];
        if (f->type != SS_JSON_OBJECT)
            return FAIL(r, at, "metadata: schema: field %zu is not an object", i);
        const char *name = ss_json_get_string(f, "name");
        const char *dtype = ss_json_get_string(f, "dtype");
        if (!name || !tsf_name_valid((const unsigned char *)name, strlen(name)))
            return FAIL(r, at, "metadata: schema: field %zu has no valid 'name'", i);
        snprintf(sf->name, sizeof sf->name, "%s", name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->schema[j].name, name) == 0)
                return FAIL(r, at, "metadata: schema: duplicate field '%s'", name);
        if (!dtype)
            return FAIL(r, at, "metadata: schema: field '%s' has no 'dtype'", name);
        sf->dtype = tsf_dtype_from_name(dtype);
        if (!sf->dtype)
            return FAIL(r, at, "metadata: schema: unknown dtype '%.40s' for field '%s'", dtype, name);
        const ss_json *shape = ss_json_get(f, "shape");
        if (!shape || shape->type == SS_JSON_NULL) {
            sf->ndim = -1;
        } else if (shape->type != SS_JSON_ARRAY || shape->len > TSF_MAX_NDIM) {
            return FAIL(r, at, "metadata: schema: invalid shape for field '%s'", name);
        } else {
            sf->ndim = (int)shape->len;
            for (size_t d = 0; d < shape->len; d++) {
                const ss_json *v = shape->items[d];
                if (v->type == SS_JSON_NULL)
                    sf->dims[d] = -1;
                else if (v->type == SS_JSON_INT && v->i >= 0 && (uint64_t)v->i <= TSF_MAX_DIM)
                    sf->dims[d] = v->i;
                else
                    return FAIL(r, at, "metadata: schema: invalid shape for field '%s'", name);
            }
        }
        const ss_json *opt = ss_json_get(f, "optional");
        if (opt && opt->type != SS_JSON_BOOL)
            return FAIL(r, at, "metadata: schema: 'optional' of field '%s' must be true or false", name);
        sf->optional = opt ? opt->boolean : 0;
    }
    r->n_schema = (int)fields->len;
    r->has_schema = 1;
    return 0;
}

/* ---- Records ------------------------------------------------------------- */

int tsf_name_valid(const unsigned char *name, size_t len)
{
    if (len < 1 || len > TSF_MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < 0x20 || name[i] == 0x7F)
            return 0;
        /* U+0080..U+009F, the C1 controls, are C2 80..C2 9F in UTF-8. */
        if (name[i] == 0xC2 && i + 1 < len && name[i + 1] >= 0x80 && name[i + 1] <= 0x9F)
            return 0;
    }
    return ss_utf8_valid(name, len);
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Fails with the position of a record: the chunk's byte offset, the chunk
 * and the record index within the stream. */
#define FAIL_REC(r, ri, ...) \
    fail_at((r), SS_EDATA, (r)->chunk_offset, (r)->chunk.seq, (ri), __VA_ARGS__)

static int check_schema(tsf_reader *r, const tsf_record *rec, uint64_t ri)
{
    for (int s = 0; s < r->n_schema; s++) {
        const schema_field *sf = &r->schema[s];
        const tsf_field *f = tsf_record_find(rec, sf->name);
        if (!f) {
            if (sf->optional)
                continue;
            return FAIL_REC(r, ri, "missing required field '%s'", sf->name);
        }
        if (f->dtype != sf->dtype)
            return FAIL_REC(r, ri, "field '%s' is %s, schema says %s", f->name,
                            tsf_dtype_name(f->dtype), tsf_dtype_name(sf->dtype));
        if (sf->ndim < 0)
            continue;
        if (f->ndim != sf->ndim)
            return FAIL_REC(r, ri, "field '%s' has rank %d, schema says %d", f->name, f->ndim, sf->ndim);
        for (int d = 0; d < f->ndim; d++)
            if (sf->dims[d] >= 0 && f->dims[d] != (uint64_t)sf->dims[d])
                return FAIL_REC(r, ri, "field '%s' dim %d is %" PRIu64 ", schema says %" PRId64,
                                f->name, d, f->dims[d], sf->dims[d]);
    }
    if (!r->extra_fields) {
        for (int i = 0; i < rec->n_fields; i++) {
            int found = 0;
            for (int s = 0; s < r->n_schema && !found; s++)
                found = strcmp(r->schema[s].name, rec->fields[i].name) == 0;
            if (!found)
                return FAIL_REC(r, ri, "undeclared field '%s' (the schema does not allow extra fields)",
                                rec->fields[i].name);
        }
    }
    return 0;
}

/* Caches the layout of a fully validated record and where each schema
 * field sits in it. */
static void remember_layout(tsf_reader *r, const tsf_record *rec)
{
    r->layout_n = rec->n_fields;
    for (int i = 0; i < rec->n_fields; i++) {
        r->layout_dtype[i] = (unsigned char)rec->fields[i].dtype;
        r->layout_ndim[i] = (unsigned char)rec->fields[i].ndim;
        memcpy(r->layout_name[i], rec->fields[i].name, sizeof r->layout_name[i]);
    }
    for (int si = 0; si < r->n_schema; si++) {
        r->schema_field[si] = -1;
        for (int i = 0; i < rec->n_fields; i++)
            if (strcmp(r->schema[si].name, rec->fields[i].name) == 0)
                r->schema_field[si] = i;
    }
}

/* Parses the record at *pos of the current payload into rec and advances
 * *pos. With full set, it also checks names for duplicates, bool and utf8
 * contents and the schema. Returns 0 or -1. */
static int parse_record(tsf_reader *r, size_t *pos, uint64_t ri, tsf_record *rec, int full)
{
    const unsigned char *base = r->chunk.raw;
    size_t len = (size_t)r->chunk.raw_len;
    size_t start = *pos;
    if (len - start < TSF_RECORD_HEADER_SIZE)
        return FAIL_REC(r, ri, "records do not cover the payload (%zu bytes left, a record needs 16)",
                        len - start);
    const unsigned char *h = base + start;
    uint64_t rec_len = tsf_get64(h);
    uint32_t n_fields = tsf_get32(h + 8);
    if (rec_len < TSF_RECORD_HEADER_SIZE || rec_len % 8 != 0 || rec_len > len - start)
        return FAIL_REC(r, ri, "invalid record length %" PRIu64 " (%zu bytes left in the payload)",
                        rec_len, len - start);
    if (tsf_get32(h + 12) != 0)
        return FAIL_REC(r, ri, "reserved field not zero in the record header");
    if (n_fields < 1 || n_fields > TSF_MAX_FIELDS)
        return FAIL_REC(r, ri, "field count %" PRIu32 " out of range 1..%d", n_fields, TSF_MAX_FIELDS);

    size_t p = start + TSF_RECORD_HEADER_SIZE;
    size_t end = start + (size_t)rec_len;
    rec->n_fields = (int)n_fields;
    /* same stays 1 while every field so far matches the cached layout. */
    int same = full && r->layout_n == (int)n_fields;
    for (uint32_t fi = 0; fi < n_fields; fi++) {
        tsf_field *f = &rec->fields[fi];
        if (end - p < 8)
            return FAIL_REC(r, ri, "field data exceeds record (field %" PRIu32 " header)", fi);
        const unsigned char *fh = base + p;
        int dtype = fh[0], ndim = fh[1];
        unsigned name_len = tsf_get16(fh + 2);
        if (tsf_dtype_size(dtype) == 0)
            return FAIL_REC(r, ri, "field %" PRIu32 ": unknown dtype %d (written by a newer version?)",
                            fi, dtype);
        if (ndim > TSF_MAX_NDIM)
            return FAIL_REC(r, ri, "field %" PRIu32 ": rank %d exceeds %d", fi, ndim, TSF_MAX_NDIM);
        if (dtype == TSF_UTF8 && ndim != 1)
            return FAIL_REC(r, ri, "field %" PRIu32 ": utf8 field must have rank 1, not %d", fi, ndim);
        if (tsf_get32(fh + 4) != 0)
            return FAIL_REC(r, ri, "field %" PRIu32 ": reserved field not zero", fi);
        p += 8;
        if ((end - p) / 8 < (size_t)ndim)
            return FAIL_REC(r, ri, "field data exceeds record (field %" PRIu32 " dims)", fi);
        uint64_t count = 1;
        for (int d = 0; d < ndim; d++) {
            uint64_t v = tsf_get64(base + p + 8 * (size_t)d);
            if (v > TSF_MAX_DIM)
                return FAIL_REC(r, ri, "field %" PRIu32 ": dim %" PRIu64 " exceeds 2^31-1", fi, v);
            f->dims[d] = v;
            if (__builtin_mul_overflow(count, v, &count))
                return FAIL_REC(r, ri, "field %" PRIu32 ": size overflows", fi);
        }
        p += 8 * (size_t)ndim;
        uint64_t nbytes;
        if (__builtin_mul_overflow(count, (uint64_t)tsf_dtype_size(dtype), &nbytes))
            return FAIL_REC(r, ri, "field %" PRIu32 ": size overflows", fi);
        uint64_t name_pad = name_len + tsf_pad8(name_len);
        if (name_len < 1 || name_len > TSF_MAX_NAME)
            return FAIL_REC(r, ri, "field %" PRIu32 ": invalid field name (length %u)", fi, name_len);
        if (name_pad > end - p)
            return FAIL_REC(r, ri, "field %" PRIu32 ": field data exceeds record (name)", fi);
        same = same && dtype == r->layout_dtype[fi] && ndim == r->layout_ndim[fi] &&
               r->layout_name[fi][name_len] == '\0' && memcmp(base + p, r->layout_name[fi], name_len) == 0;
        if (full && !same && !tsf_name_valid(base + p, name_len))
            return FAIL_REC(r, ri, "field %" PRIu32 ": invalid field name (not UTF-8 or control characters)", fi);
        memcpy(f->name, base + p, name_len);
        f->name[name_len] = '\0';
        if (full && !all_zero(base + p + name_len, (size_t)(name_pad - name_len)))
            return FAIL_REC(r, ri, "field '%s': nonzero padding after the name", f->name);
        p += (size_t)name_pad;
        uint64_t data_pad = nbytes + tsf_pad8(nbytes);
        if (nbytes > end - p || data_pad > end - p)
            return FAIL_REC(r, ri, "field '%s': field data exceeds record (%" PRIu64 " bytes)", f->name, nbytes);
        f->dtype = dtype;
        f->ndim = ndim;
        f->count = count;
        f->data = base + p;
        f->nbytes = (size_t)nbytes;
        if (full) {
            if (!all_zero(base + p + nbytes, (size_t)(data_pad - nbytes)))
                return FAIL_REC(r, ri, "field '%s': nonzero padding after the data", f->name);
            for (uint32_t j = 0; !same && j < fi; j++)
                if (strcmp(rec->fields[j].name, f->name) == 0)
                    return FAIL_REC(r, ri, "duplicate field name '%s'", f->name);
            if (dtype == TSF_BOOL)
                for (uint64_t k = 0; k < nbytes; k++)
                    if (base[p + k] > 1)
                        return FAIL_REC(r, ri, "field '%s': bool value %d is not 0 or 1",
                                        f->name, base[p + k]);
            if (dtype == TSF_UTF8 && !ss_utf8_valid(base + p, (size_t)nbytes))
                return FAIL_REC(r, ri, "field '%s': utf8 field is not valid UTF-8", f->name);
        }
        p += (size_t)data_pad;
    }
    if (p - start != rec_len)
        return FAIL_REC(r, ri, "record length %" PRIu64 " does not match its fields (%zu)",
                        rec_len, p - start);
    rec->encoded = base + start;
    rec->encoded_len = (size_t)rec_len;
    rec->index = ri;
    *pos = p;
    if (!full)
        return 0;
    if (same) {
        /* Names, dtypes and ranks were checked on an earlier record; only
         * the schema's fixed dims remain. */
        for (int si = 0; si < r->n_schema; si++) {
            const schema_field *sf = &r->schema[si];
            int fi = r->schema_field[si];
            if (fi < 0 || sf->ndim < 0)
                continue;
            for (int d = 0; d < sf->ndim; d++)
                if (sf->dims[d] >= 0 && rec->fields[fi].dims[d] != (uint64_t)sf->dims[d])
                    return check_schema(r, rec, ri);
        }
        return 0;
    }
    if (r->has_schema && check_schema(r, rec, ri) < 0)
        return -1;
    remember_layout(r, rec);
    return 0;
}

/* Validates every record of the current DATA chunk. */
static int validate_records(tsf_reader *r)
{
    size_t pos = 0;
    for (uint32_t i = 0; i < r->chunk.n_records; i++)
        if (parse_record(r, &pos, r->chunk_first_record + i, &r->scratch, 1) < 0)
            return -1;
    if (pos != r->chunk.raw_len)
        return FAIL_CHUNK(r, r->chunk_offset, r->chunk.seq,
                          "records do not cover the payload (%zu of %" PRIu64 " bytes used by %" PRIu32
                          " records)", pos, r->chunk.raw_len, r->chunk.n_records);
    return 0;
}

/* ---- Chunks -------------------------------------------------------------- */

static int decode_zstd(tsf_reader *r, uint64_t seq, uint64_t stored_len, uint64_t raw_len)
{
    const char *what = NULL;
    if (stored_len < 4 || tsf_get32(r->stored) != ZSTD_MAGICNUMBER)
        what = "no zstd frame magic";
    else if (ZSTD_getFrameContentSize(r->stored, (size_t)stored_len) != raw_len)
        what = "frame content size missing or not raw_len";
    else if (ZSTD_findFrameCompressedSize(r->stored, (size_t)stored_len) != stored_len)
        what = "the frame does not fill the payload";
    else if (ZSTD_getDictID_fromFrame(r->stored, (size_t)stored_len) != 0)
        what = "the frame needs a dictionary";
    else {
        /* The decoder's window limit applies to streaming only, so check it here. */
        ZSTD_frameHeader fh;
        if (ZSTD_getFrameHeader(&fh, r->stored, (size_t)stored_len) != 0)
            what = "invalid frame header";
        else if (fh.windowSize > (1ULL << TSF_ZSTD_WINDOW_LOG_MAX))
            what = "window larger than 2^27";
    }
    if (what)
        return FAIL_CHUNK(r, r->chunk_offset, seq,
                          "zstd payload is not exactly one frame of raw_len bytes (%s)", what);
    if (!r->zd) {
        r->zd = ZSTD_createDCtx();
        if (!r->zd || ZSTD_isError(ZSTD_DCtx_setParameter(r->zd, ZSTD_d_windowLogMax,
                                                           TSF_ZSTD_WINDOW_LOG_MAX)))
            return fail_at(r, SS_ENOMEM, r->chunk_offset, seq, UINT64_MAX, "cannot create a zstd decoder");
    }
    if (raw_len > r->raw_cap) {
        unsigned char *nb = realloc(r->raw, (size_t)raw_len);
        if (!nb)
            return fail_at(r, SS_ENOMEM, r->chunk_offset, seq, UINT64_MAX,
                           "out of memory for a %" PRIu64 "-byte payload", raw_len);
        r->raw = nb;
        r->raw_cap = (size_t)raw_len;
    }
    size_t out = ZSTD_decompressDCtx(r->zd, r->raw, (size_t)raw_len, r->stored, (size_t)stored_len);
    if (ZSTD_isError(out))
        return FAIL_CHUNK(r, r->chunk_offset, seq,
                          "zstd payload is not exactly one frame of raw_len bytes (%s)",
                          ZSTD_getErrorName(out));
    if (out != raw_len)
        return FAIL_CHUNK(r, r->chunk_offset, seq,
                          "zstd payload is not exactly one frame of raw_len bytes (decoded %zu)", out);
    return 0;
}

static int is_known_tag(const unsigned char *t)
{
    return memcmp(t, "DATA", 4) == 0 || memcmp(t, "ENDS", 4) == 0 || memcmp(t, "ABRT", 4) == 0;
}

/* Formats a chunk tag for messages, escaping bytes that are not printable. */
static void tag_text(const unsigned char *t, char out[17])
{
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        if (t[i] >= 0x20 && t[i] < 0x7F && t[i] != '\'')
            out[n++] = (char)t[i];
        else
            n += (size_t)snprintf(out + n, 5, "\\x%02x", t[i]);
    }
    out[n] = '\0';
}

/* Reads one chunk header and payload into r->chunk. Returns 1 for a DATA
 * chunk, 2 for ENDS (stream finished), 3 for a skipped ancillary chunk,
 * or -1. */
static int read_chunk(tsf_reader *r)
{
    unsigned char h[TSF_CHUNK_HEADER_SIZE];
    uint64_t start = r->offset;
    uint64_t seq_expected = r->next_seq;
    int64_t got = in_read(r, h, sizeof h);
    if (got < 0)
        return -1;
    if (got == 0) {
        if (seq_expected == 0)
            return FAIL(r, start, "input ended after the stream header without an ENDS chunk "
                        "(did the upstream stage fail?)");
        return FAIL(r, start, "input ended after chunk %" PRIu64 " (%" PRIu64
                    " records) without an ENDS chunk (did the upstream stage fail?)",
                    seq_expected - 1, r->stream_records);
    }
    if (got < (int64_t)sizeof h)
        return FAIL(r, start, "truncated in chunk %" PRIu64 " header (%" PRId64 " of 48 bytes)",
                    seq_expected, got);
    uint32_t hcrc = tsf_crc32(0, h, 44);
    if (hcrc != tsf_get32(h + 44))
        return FAIL_CHUNK(r, start, seq_expected, "header CRC mismatch");

    const unsigned char *tag = h;
    int codec = h[4], flags = h[5];
    uint64_t seq = tsf_get64(h + 8);
    uint64_t stored_len = tsf_get64(h + 16), raw_len = tsf_get64(h + 24);
    uint32_t n_records = tsf_get32(h + 32), payload_crc = tsf_get32(h + 36);
    char tname[17];
    tag_text(tag, tname);
    if (tsf_get16(h + 6) != 0 || tsf_get32(h + 40) != 0)
        return FAIL_CHUNK(r, start, seq_expected, "reserved field not zero in the chunk header");
    if ((flags & ~1) != 0 || (flags != 0 && is_known_tag(tag)))
        return FAIL_CHUNK(r, start, seq_expected, "invalid chunk flags 0x%x for a '%s' chunk", flags, tname);
    if (seq != seq_expected)
        return FAIL_CHUNK(r, start, seq_expected, "sequence number %" PRIu64 ", expected %" PRIu64,
                          seq, seq_expected);
    if (codec > TSF_CODEC_ZSTD)
        return FAIL_CHUNK(r, start, seq, "unknown codec %d", codec);
    if (!is_known_tag(tag) && !(flags & 1))
        return FAIL_CHUNK(r, start, seq, "unknown critical chunk type '%s' (written by a newer version?)",
                          tname);
    int is_data = memcmp(tag, "DATA", 4) == 0;
    int is_ends = memcmp(tag, "ENDS", 4) == 0, is_abrt = memcmp(tag, "ABRT", 4) == 0;
    if (!is_data && n_records != 0)
        return FAIL_CHUNK(r, start, seq, "n_records must be 0 for a %s chunk", tname);
    if (is_data && n_records == 0)
        return FAIL_CHUNK(r, start, seq, "DATA chunk with 0 records");
    if ((is_ends || is_abrt) && codec != TSF_CODEC_NONE)
        return FAIL_CHUNK(r, start, seq, "%s chunk must be uncompressed", tname);
    if (stored_len > r->lim.max_chunk)
        return fail_at(r, SS_ELIMIT, start, seq, UINT64_MAX, "stored length %" PRIu64
                       " exceeds limit %" PRIu64, stored_len, r->lim.max_chunk);
    if (raw_len > r->lim.max_chunk)
        return fail_at(r, SS_ELIMIT, start, seq, UINT64_MAX, "raw length %" PRIu64
                       " exceeds limit %" PRIu64, raw_len, r->lim.max_chunk);
    if (codec == TSF_CODEC_NONE && stored_len != raw_len)
        return FAIL_CHUNK(r, start, seq, "codec 0 but stored length %" PRIu64
                          " differs from raw length %" PRIu64, stored_len, raw_len);
    if (codec == TSF_CODEC_ZSTD && stored_len > ZSTD_compressBound((size_t)raw_len))
        return FAIL_CHUNK(r, start, seq, "stored length %" PRIu64 " exceeds the zstd bound %zu",
                          stored_len, ZSTD_compressBound((size_t)raw_len));
    if (is_ends && stored_len != TSF_ENDS_PAYLOAD)
        return FAIL_CHUNK(r, start, seq, "ENDS payload is %" PRIu64 " bytes, expected 16", stored_len);
    if (is_abrt && stored_len > TSF_MAX_ABORT_MESSAGE)
        return FAIL_CHUNK(r, start, seq, "ABRT message exceeds %d bytes", TSF_MAX_ABORT_MESSAGE);

    /* Payload and padding. */
    uint64_t padded = stored_len + tsf_pad8(stored_len);
    got = in_read_grow(r, &r->stored, &r->stored_cap, padded);
    if (got < 0)
        return -1;
    if ((uint64_t)got < padded)
        return FAIL_CHUNK(r, start, seq, "truncated in chunk %" PRIu64 " payload: expected %" PRIu64
                          " bytes, got %" PRId64, seq, padded, got);
    /* r->stored stays NULL until a payload has bytes, and C leaves even
     * NULL + 0 undefined. */
    if (padded > stored_len && !all_zero(r->stored + stored_len, (size_t)(padded - stored_len)))
        return FAIL_CHUNK(r, start, seq, "nonzero padding after the chunk payload");
    r->chunk_offset = start;
    r->chunk.seq = seq;
    static const unsigned char empty[1];
    const unsigned char *raw = r->stored ? r->stored : empty;
    if (codec == TSF_CODEC_ZSTD) {
        if (decode_zstd(r, seq, stored_len, raw_len) < 0)
            return -1;
        raw = r->raw;
    }
    uint32_t pcrc = tsf_crc32(0, raw, (size_t)raw_len);
    if (pcrc != payload_crc)
        return FAIL_CHUNK(r, start, seq, "payload CRC mismatch (stored 0x%08" PRIx32 ", computed 0x%08"
                          PRIx32 ")", payload_crc, pcrc);
    r->next_seq = seq + 1;

    if (is_ends) {
        uint64_t total = tsf_get64(raw), chunks = tsf_get64(raw + 8);
        if (total != r->stream_records)
            return FAIL_CHUNK(r, start, seq, "ENDS says %" PRIu64 " records, read %" PRIu64,
                              total, r->stream_records);
        if (chunks != r->data_chunks)
            return FAIL_CHUNK(r, start, seq, "ENDS says %" PRIu64 " DATA chunks, read %" PRIu64,
                              chunks, r->data_chunks);
        r->in_stream = 0;
        return 2;
    }
    if (is_abrt) {
        if (!ss_utf8_valid(raw, (size_t)raw_len))
            return FAIL_CHUNK(r, start, seq, "upstream aborted: ABRT message is not valid UTF-8");
        /* Control characters are escaped so the diagnostic stays one line. */
        char msg[512];
        size_t n = 0;
        for (size_t i = 0; i < raw_len && n + 5 < sizeof msg; i++) {
            if (raw[i] < 0x20 || raw[i] == 0x7F)
                n += (size_t)snprintf(msg + n, 5, "\\x%02x", raw[i]);
            else
                msg[n++] = (char)raw[i];
        }
        msg[n] = '\0';
        if (n == 0)
            return fail_at(r, SS_EABORT, start, seq, UINT64_MAX, "upstream aborted without a message");
        return fail_at(r, SS_EABORT, start, seq, UINT64_MAX, "upstream aborted: %s", msg);
    }
    if (!is_data)
        return 3;

    r->chunk.codec = codec;
    r->chunk.n_records = n_records;
    r->chunk.payload_crc = payload_crc;
    r->chunk.stored = r->stored;
    r->chunk.stored_len = stored_len;
    r->chunk.raw = raw;
    r->chunk.raw_len = raw_len;
    r->chunk_first_record = r->stream_records;
    if (raw_len / TSF_RECORD_HEADER_SIZE < n_records)
        return FAIL_CHUNK(r, start, seq, "records do not cover the payload (%" PRIu32
                          " records cannot fit in %" PRIu64 " bytes)", n_records, raw_len);
    if (validate_records(r) < 0)
        return -1;
    r->stream_records += n_records;
    r->data_chunks++;
    r->have_chunk = 1;
    r->chunk_next = 0;
    r->chunk_pos = 0;
    return 1;
}

/* Moves to the next DATA chunk, crossing ENDS and stream headers. Returns 1,
 * 2 after a stream header when stream events are on, 0 at the clean end of
 * input, or -1. */
static int advance_chunk(tsf_reader *r)
{
    for (;;) {
        if (!r->in_stream) {
            int rc = read_stream_header(r, !r->any_stream);
            if (rc <= 0)
                return rc;
            if (r->stream_events)
                return 2;
        }
        int rc = read_chunk(r);
        if (rc < 0)
            return -1;
        if (rc == 1)
            return 1;
    }
}

/* ---- Public calls -------------------------------------------------------- */

int tsf_reader_start(tsf_reader *r)
{
    if (r->failed)
        return -1;
    if (r->in_stream)
        return 1;
    int rc = read_stream_header(r, !r->any_stream);
    return rc;
}

int tsf_reader_next(tsf_reader *r, tsf_record *rec)
{
    if (r->failed)
        return -1;
    while (!r->have_chunk || r->chunk_next >= r->chunk.n_records) {
        r->have_chunk = 0;
        int rc = advance_chunk(r);
        if (rc != 1)
            return rc;
    }
    uint64_t ri = r->chunk_first_record + r->chunk_next;
    if (parse_record(r, &r->chunk_pos, ri, rec, 0) < 0)
        return -1;
    r->chunk_next++;
    r->records_returned++;
    return 1;
}

int tsf_reader_next_chunk(tsf_reader *r, tsf_chunk *chunk)
{
    if (r->failed)
        return -1;
    if (r->have_chunk && r->chunk_next > 0 && r->chunk_next < r->chunk.n_records) {
        /* Hand out the rest of a partly read chunk: its remaining records only. */
        *chunk = r->chunk;
        chunk->n_records = r->chunk.n_records - r->chunk_next;
        chunk->raw = (const unsigned char *)r->chunk.raw + r->chunk_pos;
        chunk->raw_len = r->chunk.raw_len - r->chunk_pos;
        chunk->payload_crc = tsf_crc32(0, chunk->raw, (size_t)chunk->raw_len);
        chunk->codec = TSF_CODEC_NONE;
        chunk->stored = chunk->raw;
        chunk->stored_len = chunk->raw_len;
        r->records_returned += chunk->n_records;
        r->have_chunk = 0;
        return 1;
    }
    if (r->have_chunk && r->chunk_next == 0) {
        r->have_chunk = 0;
        r->records_returned += r->chunk.n_records;
        *chunk = r->chunk;
        return 1;
    }
    r->have_chunk = 0;
    int rc = advance_chunk(r);
    if (rc != 1)
        return rc;
    r->have_chunk = 0;
    r->records_returned += r->chunk.n_records;
    *chunk = r->chunk;
    return 1;
}

void tsf_reader_set_stream_events(tsf_reader *r, int on)
{
    r->stream_events = on;
}

const ss_json *tsf_reader_meta(const tsf_reader *r)
{
    return r->meta;
}

const char *tsf_reader_meta_text(const tsf_reader *r, size_t *len)
{
    if (len)
        *len = r->meta_len;
    return r->meta_text;
}

uint64_t tsf_reader_stream_index(const tsf_reader *r)
{
    return r->stream_index;
}

uint64_t tsf_reader_stream_records(const tsf_reader *r)
{
    return r->records_returned;
}

uint64_t tsf_reader_offset(const tsf_reader *r)
{
    return r->offset;
}

const ss_error *tsf_reader_error(const tsf_reader *r)
{
    return &r->err;
}

const char *tsf_reader_name(const tsf_reader *r)
{
    return r->name;
}
