/* fuzz_tsf_read: libFuzzer target for the TSF stream reader.
 *
 * The input bytes are placed in a memory-backed file (memfd_create), since
 * tsf_reader_open_fd() reads a file descriptor and fmemopen() provides none.
 * The input is read twice with the default limits: once record by record
 * with stream events on, and once mixing tsf_reader_next() with
 * tsf_reader_next_chunk() so that the rest of a partly read chunk is
 * handed out too. Every byte the reader hands out is read, so that
 * AddressSanitizer detects any pointer past the chunk buffer.
 *
 * Almost every mutation breaks a CRC, and the reader stops there. So a copy
 * of the input with its CRCs recomputed is read as well, which lets
 * mutations reach the record, schema and metadata checks behind the CRCs.
 *
 * Left out: the writer, and limits other than the defaults. Rejected input
 * is the normal outcome and is not reported. A failure shows up only as a
 * crash, a leak, a sanitizer report or a timeout. */
#include "tsf.h"
#include "tsf_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps the reads of handed-out bytes from being optimised away. */
static volatile uint8_t sink;

static void touch_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc ^= b[i];
    sink ^= acc;
}

static void touch_record(const tsf_record *rec)
{
    for (int i = 0; i < rec->n_fields; i++) {
        const tsf_field *f = &rec->fields[i];
        touch_bytes(f->name, strlen(f->name));
        touch_bytes(f->data, f->nbytes);
        /* tsf_record_find() must find every field under its own name. */
        if (tsf_record_find(rec, f->name) == NULL)
            abort();
    }
    touch_bytes(rec->encoded, rec->encoded_len);
}

static void touch_stream(const tsf_reader *r)
{
    size_t len = 0;
    const char *text = tsf_reader_meta_text(r, &len);
    if (text)
        touch_bytes(text, len);
    const ss_json *meta = tsf_reader_meta(r);
    if (meta)
        sink ^= (uint8_t)meta->type;
    sink ^= (uint8_t)tsf_reader_stream_index(r);
}

static void touch_error(const tsf_reader *r)
{
    const ss_error *err = tsf_reader_error(r);
    touch_bytes(err->msg, strlen(err->msg));
    sink ^= (uint8_t)tsf_reader_offset(r);
}

/* Returns a file descriptor positioned at the start of a memory file that
 * contains the input, or -1 when the file cannot be made. */
static int open_memory_file(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_tsf_read", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, data + done, size - done);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)k;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads every stream and record with tsf_reader_next(). */
static void read_by_record(int fd)
{
    ss_error err;
    tsf_reader *r = tsf_reader_open_fd(fd, "fuzz", NULL, &err);
    if (!r)
        return;
    tsf_reader_set_stream_events(r, 1);
    int rc = tsf_reader_start(r);
    if (rc == 1)
        touch_stream(r);
    tsf_record rec;
    while (rc > 0) {
        rc = tsf_reader_next(r, &rec);
        if (rc == 1)
            touch_record(&rec);
        else if (rc == 2)
            touch_stream(r);
    }
    if (rc < 0)
        touch_error(r);
    tsf_reader_close(r);
}

/* Reads the first record of each chunk with tsf_reader_next() and the rest
 * of that chunk with tsf_reader_next_chunk(), whose CRC must then match
 * the bytes it hands out. */
static void read_by_chunk(int fd)
{
    ss_error err;
    tsf_reader *r = tsf_reader_open_fd(fd, "fuzz", NULL, &err);
    if (!r)
        return;
    tsf_record rec;
    tsf_chunk chunk;
    int rc = 1;
    while (rc > 0) {
        rc = tsf_reader_next(r, &rec);
        if (rc != 1)
            break;
        touch_record(&rec);
        rc = tsf_reader_next_chunk(r, &chunk);
        if (rc == 1) {
            touch_bytes(chunk.stored, (size_t)chunk.stored_len);
            touch_bytes(chunk.raw, (size_t)chunk.raw_len);
            if (tsf_crc32(0, chunk.raw, (size_t)chunk.raw_len) != chunk.payload_crc)
                abort();
        }
    }
    if (rc < 0)
        touch_error(r);
    tsf_reader_close(r);
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes, in place, the stream header CRCs, chunk header CRCs and the
 * payload CRCs of uncompressed chunks, following the lengths stored in the
 * input as far as they stay inside it. The layout is that of
 * formats/tensor-stream.md. A stream header is 24 bytes, with the metadata
 * length at byte 16 and, at byte 20, the CRC of bytes 0..19 and the
 * metadata. The metadata is padded so that it ends on a multiple of 8. A
 * chunk header is 48 bytes: codec at byte 4, stored length at byte 16,
 * payload CRC at byte 36, and at byte 44 the CRC of bytes 0..43. The
 * payload follows, padded to a multiple of 8.
 * NOTE: the payload CRC of a zstd chunk covers the decoded bytes, so it is
 * left as it is. */
static void repair_crcs(uint8_t *p, size_t size)
{
    uint64_t pos = 0;
    while (size - pos >= TSF_STREAM_HEADER_SIZE) {
        uint8_t *h = p + pos;
        uint64_t meta_len = get_le(h + 16, 4);
        if (meta_len > size - pos - TSF_STREAM_HEADER_SIZE)
            return;
        uint32_t crc = tsf_crc32(0, h, 20);
        put_le32(h + 20, tsf_crc32(crc, h + TSF_STREAM_HEADER_SIZE, (size_t)meta_len));
        uint64_t header_end = TSF_STREAM_HEADER_SIZE + meta_len;
        pos += header_end + tsf_pad8(header_end);

        int stream_ended = 0;
        while (!stream_ended && pos <= size && size - pos >= TSF_CHUNK_HEADER_SIZE) {
            uint8_t *c = p + pos;
            uint64_t stored_len = get_le(c + 16, 8);
            uint64_t left = size - pos - TSF_CHUNK_HEADER_SIZE;
            uint64_t covered = stored_len < left ? stored_len : left;
            if (c[4] == TSF_CODEC_NONE)
                put_le32(c + 36, tsf_crc32(0, c + TSF_CHUNK_HEADER_SIZE, (size_t)covered));
            put_le32(c + 44, tsf_crc32(0, c, 44));
            if (stored_len > left)
                return;
            stream_ended = memcmp(c, "ENDS", 4) == 0;
            pos += TSF_CHUNK_HEADER_SIZE + stored_len + tsf_pad8(stored_len);
        }
        if (pos > size)
            return;
    }
}

static void read_input(const uint8_t *data, size_t size)
{
    int fd = open_memory_file(data, size);
    if (fd < 0)
        abort();
    read_by_record(fd);
    if (lseek(fd, 0, SEEK_SET) != 0)
        abort();
    read_by_chunk(fd);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_input(data, size);

    uint8_t *repaired = malloc(size ? size : 1);
    if (!repaired)
        abort();
    memcpy(repaired, data, size);
    repair_crcs(repaired, size);
    if (memcmp(repaired, data, size) != 0)
        read_input(repaired, size);
    free(repaired);
    return 0;
}
