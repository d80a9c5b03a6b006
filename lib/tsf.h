/* tsf: reader and writer for TSF, the tensor stream format of selfsup.
 *
 * formats/tensor-stream.md is the specification; this header is the C view of
 * it. A stream is a header with JSON metadata, then chunks; a DATA chunk contains
 * records, and a record contains named, typed, shaped fields. An input may hold
 * several streams back to back.
 *
 * Ownership: a tsf_record returned by tsf_reader_next() points into the
 * reader's chunk buffer and stays valid until the next call on that reader.
 * Fields passed to the writer are copied before the call returns. */
#ifndef TSF_H
#define TSF_H

#include <stddef.h>
#include <stdint.h>

#include "ss_error.h"
#include "ss_json.h"

#define TSF_MAX_NDIM 8
#define TSF_MAX_FIELDS 64
#define TSF_MAX_NAME 255
#define TSF_MAX_DIM 2147483647ULL     /* 2^31 - 1 */
#define TSF_MAX_ABORT_MESSAGE 65536
#define TSF_STREAM_HEADER_SIZE 24
#define TSF_CHUNK_HEADER_SIZE 48
#define TSF_RECORD_HEADER_SIZE 16

/* Dtype codes as stored in a field header. The list is append-only. */
typedef enum {
    TSF_UINT8 = 1,
    TSF_INT8 = 2,
    TSF_UINT16 = 3,
    TSF_INT16 = 4,
    TSF_UINT32 = 5,
    TSF_INT32 = 6,
    TSF_UINT64 = 7,
    TSF_INT64 = 8,
    TSF_FLOAT16 = 9,
    TSF_BFLOAT16 = 10,
    TSF_FLOAT32 = 11,
    TSF_FLOAT64 = 12,
    TSF_BOOL = 13,
    TSF_BYTES = 14,
    TSF_UTF8 = 15
} tsf_dtype;

#define TSF_DTYPE_MAX 15

enum { TSF_CODEC_NONE = 0, TSF_CODEC_ZSTD = 1 };

/* Returns the item size in bytes of a dtype, or 0 for an unknown code. */
size_t tsf_dtype_size(int dtype);
/* Returns the JSON name of a dtype ("float32"), or NULL for an unknown code. */
const char *tsf_dtype_name(int dtype);
/* Returns the dtype code for a JSON name, or 0 when the name is unknown. */
int tsf_dtype_from_name(const char *name);

/* One field of a record. For a field read from a stream, data points into
 * the reader's buffer and is 8-byte aligned. */
typedef struct {
    char name[TSF_MAX_NAME + 1];
    int dtype;
    int ndim;
    uint64_t dims[TSF_MAX_NDIM];
    uint64_t count;    /* product of dims; 1 for a scalar */
    const void *data;
    size_t nbytes;     /* count * item size */
} tsf_field;

typedef struct {
    int n_fields;
    tsf_field fields[TSF_MAX_FIELDS];
    uint64_t index;       /* 0-based record index within its stream */
    const void *encoded;  /* the record's bytes as stored, header included */
    size_t encoded_len;
} tsf_record;

/* Returns the field with this name, or NULL. */
const tsf_field *tsf_record_find(const tsf_record *rec, const char *name);

/* Sets a field descriptor for the writer: name, dtype, shape and data. */
void tsf_field_set(tsf_field *f, const char *name, int dtype, int ndim,
                   const uint64_t *dims, const void *data);

/* Limits a reader enforces against hostile input. */
typedef struct {
    uint64_t max_meta;   /* metadata bytes; default 1 MiB */
    uint64_t max_chunk;  /* stored and raw payload bytes per chunk; default 1 GiB */
    int max_depth;       /* metadata JSON nesting; default 32 */
} tsf_limits;

void tsf_limits_default(tsf_limits *lim);

/* ---- Reader ------------------------------------------------------------ */

typedef struct tsf_reader tsf_reader;

/* A DATA chunk as read, after every check the reader makes. */
typedef struct {
    uint64_t seq;
    int codec;
    uint32_t n_records;
    uint32_t payload_crc;     /* CRC-32 of the decoded payload */
    const void *stored;       /* payload as stored (compressed when codec 1) */
    uint64_t stored_len;
    const void *raw;          /* decoded payload */
    uint64_t raw_len;
} tsf_chunk;

/* Opens a reader on fd, which it does not close. name is used in messages
 * ("-" reads as "stdin"). lim may be NULL for the defaults. Reads nothing
 * yet. Returns NULL with err set when out of memory. */
tsf_reader *tsf_reader_open_fd(int fd, const char *name, const tsf_limits *lim, ss_error *err);

/* Opens path ("-" for standard input) and a reader on it; the file is
 * closed by tsf_reader_close(). */
tsf_reader *tsf_reader_open_path(const char *path, const tsf_limits *lim, ss_error *err);

void tsf_reader_close(tsf_reader *r);

/* Reads the next stream header if none is current, so that its metadata is
 * available before the first record. Returns 1 when a stream is current,
 * 0 at the clean end of input (after at least one stream) and -1 on error. */
int tsf_reader_start(tsf_reader *r);

/* Reads the next record of the input, moving on to the next concatenated
 * stream as needed. Returns 1 for a record, 0 at the clean end of input and
 * -1 on error (see tsf_reader_error()). After an error every call returns -1. */
int tsf_reader_next(tsf_reader *r, tsf_record *rec);

/* Reads the next DATA chunk whole, with every record validated, and leaves
 * rec records unread. Only valid between chunks: a reader in the middle of a
 * chunk returns the rest of it as a chunk. Returns 1, 0 or -1 as
 * tsf_reader_next(). */
int tsf_reader_next_chunk(tsf_reader *r, tsf_chunk *chunk);

/* With on set, tsf_reader_next() and tsf_reader_next_chunk() return 2 each
 * time they have read the header of a further stream (not the one read by
 * tsf_reader_start()), so that callers see every stream, empty ones too. */
void tsf_reader_set_stream_events(tsf_reader *r, int on);

/* Parsed metadata of the current stream, or NULL before the first header. */
const ss_json *tsf_reader_meta(const tsf_reader *r);
/* Metadata bytes as stored. */
const char *tsf_reader_meta_text(const tsf_reader *r, size_t *len);
/* 0-based index of the current stream within the input. */
uint64_t tsf_reader_stream_index(const tsf_reader *r);
/* Records read so far in the current stream. */
uint64_t tsf_reader_stream_records(const tsf_reader *r);
/* Bytes consumed from the input so far. */
uint64_t tsf_reader_offset(const tsf_reader *r);
const ss_error *tsf_reader_error(const tsf_reader *r);
const char *tsf_reader_name(const tsf_reader *r);

/* ---- Writer ------------------------------------------------------------ */

typedef struct tsf_writer tsf_writer;

typedef struct {
    int codec;            /* TSF_CODEC_NONE or TSF_CODEC_ZSTD */
    int level;            /* zstd level; default 1 */
    size_t chunk_target;  /* raw payload bytes per chunk; default 1 MiB */
    int flush_ms;         /* flush a chunk whose oldest record is this old; default 100 */
} tsf_writer_opts;

void tsf_writer_opts_default(tsf_writer_opts *o);

/* Opens a writer on fd, which it does not close. opts may be NULL for the
 * defaults. Returns NULL with err set when out of memory. */
tsf_writer *tsf_writer_open_fd(int fd, const char *name, const tsf_writer_opts *opts, ss_error *err);

/* Writes a stream header with this metadata, which must be a JSON object.
 * The text is written as given; use ss_json_dump() for canonical bytes. */
ss_status tsf_writer_begin(tsf_writer *w, const char *meta, size_t len);

/* Same, serialising meta. */
ss_status tsf_writer_begin_json(tsf_writer *w, const ss_json *meta);

/* Appends one record made of n fields (name, dtype, ndim, dims, data). */
ss_status tsf_writer_write(tsf_writer *w, const tsf_field *fields, int n);

/* Appends a record read from another stream, copying its encoded bytes. */
ss_status tsf_writer_write_record(tsf_writer *w, const tsf_record *rec);

/* Appends a DATA chunk read from another stream. Pending records are
 * flushed first; the payload is written as it was stored when the codec
 * matches the writer's, and is recompressed or decoded otherwise. */
ss_status tsf_writer_write_chunk(tsf_writer *w, const tsf_chunk *chunk);

/* Writes out pending records as a chunk. */
ss_status tsf_writer_flush(tsf_writer *w);

/* Flushes and writes the ENDS chunk of the current stream. */
ss_status tsf_writer_end(tsf_writer *w);

/* Writes an ABRT chunk carrying msg (best effort, pending records are
 * dropped) and marks the writer failed. */
ss_status tsf_writer_abort(tsf_writer *w, const char *msg);

/* Frees the writer without writing anything more. */
void tsf_writer_close(tsf_writer *w);

/* Records and DATA chunks written in the current stream. */
uint64_t tsf_writer_records(const tsf_writer *w);
uint64_t tsf_writer_bytes(const tsf_writer *w);
int tsf_writer_in_stream(const tsf_writer *w);
const ss_error *tsf_writer_error(const tsf_writer *w);

/* CRC-32 as zlib computes it: crc32(crc, buf, len). */
uint32_t tsf_crc32(uint32_t crc, const void *buf, size_t len);

#endif
