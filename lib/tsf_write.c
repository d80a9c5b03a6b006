/* tsf_write: the TSF writer.
 *
 * Records are encoded into a chunk buffer; a chunk is written when it
 * reaches the size target, when one record alone exceeds the target, and
 * when its oldest record has waited flush_ms (checked as records arrive, so
 * a producer that stalls between records holds its last chunk until the
 * next record or an explicit flush). Header, payload and padding go out in
 * one writev() call.
 *
 * Left out: compression on a second thread. */
#include "tsf.h"
#include "tsf_internal.h"
#include "ss_utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

struct tsf_writer {
    int fd;
    char *name;
    tsf_writer_opts opts;
    ss_error err;
    int failed;
    int in_stream;

    unsigned char *raw;
    size_t raw_len, raw_cap;
    uint32_t chunk_records;
    double first_time;            /* when the oldest pending record arrived */

    unsigned char *zbuf;
    size_t zcap;
    ZSTD_CCtx *zc;

    uint64_t seq;
    uint64_t records;
    uint64_t data_chunks;
    uint64_t bytes;
};

static const unsigned char zeros[8];

void tsf_writer_opts_default(tsf_writer_opts *o)
{
    o->codec = TSF_CODEC_NONE;
    o->level = 1;
    o->chunk_target = 1u << 20;
    o->flush_ms = 100;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ss_status wfail(tsf_writer *w, ss_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ss_status wfail(tsf_writer *w, ss_status st, const char *fmt, ...)
{
    char msg[SS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ss_error_set(&w->err, st, "%s: %s", w->name, msg);
    w->failed = 1;
    return st;
}

tsf_writer *tsf_writer_open_fd(int fd, const char *name, const tsf_writer_opts *opts, ss_error *err)
{
    tsf_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->name = strdup(strcmp(name, "-") == 0 ? "stdout" : name))) {
        free(w);
        ss_error_set(err, SS_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    w->fd = fd;
    if (opts)
        w->opts = *opts;
    else
        tsf_writer_opts_default(&w->opts);
    if (w->opts.chunk_target < 64)
        w->opts.chunk_target = 64;
    tsf_pipe_grow(fd);
    return w;
}

void tsf_writer_close(tsf_writer *w)
{
    if (!w)
        return;
    free(w->raw);
    free(w->zbuf);
    ZSTD_freeCCtx(w->zc);
    free(w->name);
    free(w);
}

/* Writes all iov buffers, retrying on short writes and EINTR. */
static ss_status write_iov(tsf_writer *w, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t k = writev(w->fd, iov, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE)
                return wfail(w, SS_EPIPE, "write failed: the reader closed the pipe");
            return wfail(w, SS_EIO, "write failed: %s", strerror(errno));
        }
        w->bytes += (uint64_t)k;
        while (n > 0 && (size_t)k >= iov->iov_len) {
            k -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + k;
            iov->iov_len -= (size_t)k;
        }
    }
    return SS_OK;
}

/* Writes a chunk: 48-byte header, payload, zero padding. */
static ss_status emit_chunk(tsf_writer *w, const char tag[4], int codec, const void *stored,
                            uint64_t stored_len, uint64_t raw_len, uint32_t n_records, uint32_t crc)
{
    unsigned char h[TSF_CHUNK_HEADER_SIZE] = {0};
    memcpy(h, tag, 4);
    h[4] = (unsigned char)codec;
    tsf_put64(h + 8, w->seq);
    tsf_put64(h + 16, stored_len);
    tsf_put64(h + 24, raw_len);
    tsf_put32(h + 32, n_records);
    tsf_put32(h + 36, crc);
    tsf_put32(h + 44, tsf_crc32(0, h, 44));
    struct iovec iov[3] = {
        {h, sizeof h},
        {(void *)(uintptr_t)stored, (size_t)stored_len},
        {(void *)(uintptr_t)zeros, (size_t)tsf_pad8(stored_len)},
    };
    ss_status st = write_iov(w, iov, 3);
    if (st == SS_OK)
        w->seq++;
    return st;
}

/* Compresses raw into w->zbuf. Returns the compressed size, or 0 when
 * compression does not pay (the caller stores the chunk uncompressed). */
static size_t compress_payload(tsf_writer *w, const void *raw, size_t len)
{
    if (!w->zc) {
        w->zc = ZSTD_createCCtx();
        if (!w->zc)
            return 0;
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, w->opts.level);
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_windowLog, TSF_ZSTD_WINDOW_LOG_WRITE);
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 0);
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_contentSizeFlag, 1);
    }
    size_t bound = ZSTD_compressBound(len);
    if (bound > w->zcap) {
        unsigned char *nb = realloc(w->zbuf, bound);
        if (!nb)
            return 0;
        w->zbuf = nb;
        w->zcap = bound;
    }
    size_t n = ZSTD_compress2(w->zc, w->zbuf, w->zcap, raw, len);
    if (ZSTD_isError(n) || n >= len)
        return 0;
    return n;
}

static ss_status emit_data(tsf_writer *w, const void *raw, size_t len, uint32_t n_records, uint32_t crc)
{
    if (w->opts.codec == TSF_CODEC_ZSTD) {
        size_t n = compress_payload(w, raw, len);
        if (n > 0)
            return emit_chunk(w, "DATA", TSF_CODEC_ZSTD, w->zbuf, n, len, n_records, crc);
    }
    return emit_chunk(w, "DATA", TSF_CODEC_NONE, raw, len, len, n_records, crc);
}

ss_status tsf_writer_flush(tsf_writer *w)
{
    if (w->failed)
        return w->err.status;
    if (w->chunk_records == 0)
        return SS_OK;
    uint32_t crc = tsf_crc32(0, w->raw, w->raw_len);
    ss_status st = emit_data(w, w->raw, w->raw_len, w->chunk_records, crc);
    if (st != SS_OK)
        return st;
    w->data_chunks++;
    w->raw_len = 0;
    w->chunk_records = 0;
    return SS_OK;
}

ss_status tsf_writer_begin(tsf_writer *w, const char *meta, size_t len)
{
    if (w->failed)
        return w->err.status;
    if (w->in_stream)
        return wfail(w, SS_EINVAL, "a stream is already open; end it before starting another");
    if (len > UINT32_MAX)
        return wfail(w, SS_EINVAL, "metadata of %zu bytes is too long", len);
    ss_error jerr;
    ss_json *parsed = ss_json_parse(meta, len, 64, &jerr);
    int is_object = parsed && parsed->type == SS_JSON_OBJECT;
    ss_json_free(parsed);
    if (!is_object)
        return wfail(w, SS_EINVAL, "stream metadata is not a JSON object: %s",
                     parsed ? "another JSON value" : jerr.msg);
    unsigned char h[TSF_STREAM_HEADER_SIZE];
    memcpy(h, tsf_signature, 8);
    tsf_put16(h + 8, TSF_MAJOR);
    tsf_put16(h + 10, TSF_MINOR);
    tsf_put32(h + 12, 0);
    tsf_put32(h + 16, (uint32_t)len);
    uint32_t crc = tsf_crc32(0, h, 20);
    tsf_put32(h + 20, tsf_crc32(crc, meta, len));
    struct iovec iov[3] = {
        {h, sizeof h},
        {(void *)(uintptr_t)meta, len},
        {(void *)(uintptr_t)zeros, (size_t)tsf_pad8(TSF_STREAM_HEADER_SIZE + (uint64_t)len)},
    };
    ss_status st = write_iov(w, iov, 3);
    if (st != SS_OK)
        return st;
    w->in_stream = 1;
    w->seq = 0;
    w->records = 0;
    w->data_chunks = 0;
    w->raw_len = 0;
    w->chunk_records = 0;
    return SS_OK;
}

ss_status tsf_writer_begin_json(tsf_writer *w, const ss_json *meta)
{
    size_t len;
    char *text = ss_json_dump(meta, &len);
    if (!text)
        return wfail(w, SS_ENOMEM, "out of memory");
    ss_status st = tsf_writer_begin(w, text, len);
    free(text);
    return st;
}

/* Makes room for n more bytes in the chunk buffer. */
static ss_status reserve(tsf_writer *w, size_t n)
{
    if (w->raw_cap - w->raw_len >= n)
        return SS_OK;
    size_t cap = w->raw_cap ? w->raw_cap : 4096;
    while (cap - w->raw_len < n) {
        if (cap > SIZE_MAX / 2)
            return wfail(w, SS_ENOMEM, "record too large");
        cap *= 2;
    }
    unsigned char *nb = realloc(w->raw, cap);
    if (!nb)
        return wfail(w, SS_ENOMEM, "out of memory for a %zu-byte chunk", cap);
    w->raw = nb;
    w->raw_cap = cap;
    return SS_OK;
}

/* Flushes before a record of n bytes when it would overflow the target,
 * and after it when the target or the latency bound is reached. */
static ss_status before_record(tsf_writer *w, size_t n)
{
    if (w->failed)
        return w->err.status;
    if (!w->in_stream)
        return wfail(w, SS_EINVAL, "record written outside a stream");
    if (w->chunk_records > 0 &&
        (w->raw_len + n > w->opts.chunk_target || w->chunk_records == UINT32_MAX)) {
        ss_status st = tsf_writer_flush(w);
        if (st != SS_OK)
            return st;
    }
    return reserve(w, n);
}

static ss_status after_record(tsf_writer *w)
{
    w->records++;
    if (w->chunk_records++ == 0 && w->opts.flush_ms > 0)
        w->first_time = now_seconds();
    if (w->raw_len >= w->opts.chunk_target)
        return tsf_writer_flush(w);
    if (w->opts.flush_ms > 0 && now_seconds() - w->first_time > 1e-3 * w->opts.flush_ms)
        return tsf_writer_flush(w);
    return SS_OK;
}

/* Checks one field descriptor and returns its encoded size in *size. */
static ss_status check_field(tsf_writer *w, const tsf_field *f, uint64_t *size)
{
    size_t name_len = strlen(f->name);
    if (!tsf_name_valid((const unsigned char *)f->name, name_len))
        return wfail(w, SS_EINVAL, "invalid field name '%s'", f->name);
    size_t item = tsf_dtype_size(f->dtype);
    if (!item)
        return wfail(w, SS_EINVAL, "field '%s': unknown dtype %d", f->name, f->dtype);
    if (f->ndim < 0 || f->ndim > TSF_MAX_NDIM || (f->dtype == TSF_UTF8 && f->ndim != 1))
        return wfail(w, SS_EINVAL, "field '%s': invalid rank %d", f->name, f->ndim);
    uint64_t count = 1;
    for (int d = 0; d < f->ndim; d++) {
        if (f->dims[d] > TSF_MAX_DIM || __builtin_mul_overflow(count, f->dims[d], &count))
            return wfail(w, SS_EINVAL, "field '%s': dim %d is too large", f->name, d);
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow(count, (uint64_t)item, &nbytes) || nbytes > SIZE_MAX / 2)
        return wfail(w, SS_EINVAL, "field '%s': size overflows", f->name);
    if (f->dtype == TSF_UTF8 && !ss_utf8_valid(f->data, (size_t)nbytes))
        return wfail(w, SS_EINVAL, "field '%s': text is not valid UTF-8", f->name);
    if (f->dtype == TSF_BOOL)
        for (uint64_t k = 0; k < nbytes; k++)
            if (((const unsigned char *)f->data)[k] > 1)
                return wfail(w, SS_EINVAL, "field '%s': bool value is not 0 or 1", f->name);
    *size = 8 + 8 * (uint64_t)f->ndim + name_len + tsf_pad8(name_len) + nbytes + tsf_pad8(nbytes);
    return SS_OK;
}

ss_status tsf_writer_write(tsf_writer *w, const tsf_field *fields, int n)
{
    if (w->failed)
        return w->err.status;
    if (n < 1 || n > TSF_MAX_FIELDS)
        return wfail(w, SS_EINVAL, "a record needs 1 to %d fields, got %d", TSF_MAX_FIELDS, n);
    uint64_t total = TSF_RECORD_HEADER_SIZE;
    for (int i = 0; i < n; i++) {
        uint64_t size = 0;
        ss_status st = check_field(w, &fields[i], &size);
        if (st != SS_OK)
            return st;
        total += size;
        for (int j = 0; j < i; j++)
            if (strcmp(fields[j].name, fields[i].name) == 0)
                return wfail(w, SS_EINVAL, "duplicate field name '%s'", fields[i].name);
    }
    ss_status st = before_record(w, (size_t)total);
    if (st != SS_OK)
        return st;

    unsigned char *p = w->raw + w->raw_len;
    memset(p, 0, (size_t)total);
    tsf_put64(p, total);
    tsf_put32(p + 8, (uint32_t)n);
    p += TSF_RECORD_HEADER_SIZE;
    for (int i = 0; i < n; i++) {
        const tsf_field *f = &fields[i];
        size_t name_len = strlen(f->name);
        uint64_t nbytes = tsf_dtype_size(f->dtype);
        for (int d = 0; d < f->ndim; d++)
            nbytes *= f->dims[d];
        p[0] = (unsigned char)f->dtype;
        p[1] = (unsigned char)f->ndim;
        tsf_put16(p + 2, (uint16_t)name_len);
        p += 8;
        for (int d = 0; d < f->ndim; d++, p += 8)
            tsf_put64(p, f->dims[d]);
        memcpy(p, f->name, name_len);
        p += name_len + tsf_pad8(name_len);
        if (nbytes)
            memcpy(p, f->data, (size_t)nbytes);
        p += nbytes + tsf_pad8(nbytes);
    }
    w->raw_len += (size_t)total;
    return after_record(w);
}

ss_status tsf_writer_write_record(tsf_writer *w, const tsf_record *rec)
{
    ss_status st = before_record(w, rec->encoded_len);
    if (st != SS_OK)
        return st;
    memcpy(w->raw + w->raw_len, rec->encoded, rec->encoded_len);
    w->raw_len += rec->encoded_len;
    return after_record(w);
}

ss_status tsf_writer_write_chunk(tsf_writer *w, const tsf_chunk *c)
{
    ss_status st = tsf_writer_flush(w);
    if (st != SS_OK)
        return st;
    if (!w->in_stream)
        return wfail(w, SS_EINVAL, "chunk written outside a stream");
    if (c->codec == w->opts.codec || (c->codec == TSF_CODEC_ZSTD && w->opts.codec != TSF_CODEC_NONE))
        st = emit_chunk(w, "DATA", c->codec, c->stored, c->stored_len, c->raw_len, c->n_records,
                        c->payload_crc);
    else
        st = emit_data(w, c->raw, (size_t)c->raw_len, c->n_records, c->payload_crc);
    if (st != SS_OK)
        return st;
    w->records += c->n_records;
    w->data_chunks++;
    return SS_OK;
}

ss_status tsf_writer_end(tsf_writer *w)
{
    ss_status st = tsf_writer_flush(w);
    if (st != SS_OK)
        return st;
    if (!w->in_stream)
        return wfail(w, SS_EINVAL, "no stream to end");
    unsigned char p[TSF_ENDS_PAYLOAD];
    tsf_put64(p, w->records);
    tsf_put64(p + 8, w->data_chunks);
    st = emit_chunk(w, "ENDS", TSF_CODEC_NONE, p, sizeof p, sizeof p, 0, tsf_crc32(0, p, sizeof p));
    if (st != SS_OK)
        return st;
    w->in_stream = 0;
    return SS_OK;
}

ss_status tsf_writer_abort(tsf_writer *w, const char *msg)
{
    ss_status st = SS_OK;
    /* A failed write leaves the output mid-chunk, where an ABRT would not
     * parse; the reader then reports the truncation instead. */
    if (w->in_stream && !w->failed) {
        size_t len = strlen(msg);
        if (len > TSF_MAX_ABORT_MESSAGE)
            len = TSF_MAX_ABORT_MESSAGE;
        len = ss_utf8_valid_prefix(msg, len);
        st = emit_chunk(w, "ABRT", TSF_CODEC_NONE, msg, len, len, 0, tsf_crc32(0, msg, len));
    }
    w->in_stream = 0;
    if (!w->failed)
        wfail(w, SS_EABORT, "aborted: %s", msg);
    return st;
}

uint64_t tsf_writer_records(const tsf_writer *w)
{
    return w->records;
}

uint64_t tsf_writer_bytes(const tsf_writer *w)
{
    return w->bytes;
}

int tsf_writer_in_stream(const tsf_writer *w)
{
    return w->in_stream;
}

const ss_error *tsf_writer_error(const tsf_writer *w)
{
    return &w->err;
}
