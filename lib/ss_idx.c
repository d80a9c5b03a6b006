/* ss_idx: streaming reader of IDX files, plain or gzip-compressed.
 *
 * Everything goes through zlib's gzread, which passes plain files through
 * unchanged, so one code path serves both. Items are read straight into the
 * caller's buffer and byte-swapped in place. Left out: writing IDX, reading
 * from standard input, and seeking to an item. */
#include "ss_idx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define SS_IDX_MAX_NDIM 8

/* zlib's internal buffer; 1 MiB keeps the number of read system calls and
 * inflate restarts small for the tens of megabytes of an image file. */
#define SS_IDX_GZ_BUFFER (1u << 20)

/* gzread takes an unsigned length and returns an int, so large reads are
 * split into pieces of this size. */
#define SS_IDX_READ_PIECE ((size_t)1 << 30)

struct ss_idx {
    gzFile gz;
    char *path;
    int compressed;         /* 1 when the content is gzip */
    int type;
    int ndim;
    uint32_t dims[SS_IDX_MAX_NDIM];
    size_t elem_bytes;
    size_t item_bytes;
    uint64_t next_item;     /* index of the next item to read */
    int failed;             /* a read failed, so the position is unknown */
};

static size_t idx_elem_bytes(int type)
{
    switch (type) {
    case SS_IDX_UINT8:
    case SS_IDX_INT8: return 1;
    case SS_IDX_INT16: return 2;
    case SS_IDX_INT32:
    case SS_IDX_FLOAT32: return 4;
    case SS_IDX_FLOAT64: return 8;
    default: return 0;
    }
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads up to len bytes, looping over gzread's int-sized pieces. Returns
 * the number of bytes read; a short count means end of input or an error,
 * which the caller tells apart with gzerror. */
static size_t idx_gzread_full(gzFile gz, void *buf, size_t len)
{
    unsigned char *p = buf;
    size_t got = 0;

    while (got < len) {
        size_t want = len - got;
        if (want > SS_IDX_READ_PIECE)
            want = SS_IDX_READ_PIECE;
        int n = gzread(gz, p + got, (unsigned)want);
        if (n <= 0)
            break;
        got += (size_t)n;
        if ((size_t)n < want)
            break;
    }
    return got;
}

/* Turns a zlib error state after a short read into a message. Returns SS_OK
 * when there is no error (a clean end of input) or the error is a gzip
 * stream that simply ends early, which callers report as truncation. */
static ss_status idx_gz_error(const ss_idx *x, ss_error *err)
{
    int errnum = Z_OK;
    const char *msg = gzerror(x->gz, &errnum);

    if (errnum == Z_OK || errnum == Z_BUF_ERROR)
        return SS_OK;
    if (errnum == Z_ERRNO)
        return ss_error_set(err, SS_EIO, "%s: read failed: %s", x->path, strerror(errno));
    if (errnum == Z_MEM_ERROR)
        return ss_error_set(err, SS_ENOMEM, "%s: out of memory while decompressing", x->path);
    /* zlib prefixes the message with its name for the file, "<fd:3>". */
    if (msg && strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": "))
        msg = strstr(msg, ": ") + 2;
    return ss_error_set(err, SS_EDATA, "%s: corrupt gzip data (%s); download the file again",
                        x->path, msg ? msg : "unknown zlib error");
}

/* Checks that nothing follows the last item. The one-byte read also makes
 * zlib reach the gzip trailer, so a CRC or length mismatch shows up here. */
static ss_status idx_check_end(ss_idx *x, ss_error *err)
{
    unsigned char extra;
    int n = gzread(x->gz, &extra, 1);

    if (n > 0)
        return ss_error_set(err, SS_EDATA,
                            "%s: trailing bytes after item %llu (the header declares %lu items)",
                            x->path, (unsigned long long)x->next_item,
                            (unsigned long)x->dims[0]);
    return idx_gz_error(x, err);
}

static ss_status idx_read_header(ss_idx *x, ss_error *err)
{
    const char *what = x->compressed ? " after gzip decompression" : "";
    unsigned char magic[4];
    size_t got = idx_gzread_full(x->gz, magic, sizeof magic);

    if (got < sizeof magic) {
        ss_status st = idx_gz_error(x, err);
        if (st != SS_OK)
            return st;
        return ss_error_set(err, SS_EDATA, "%s: truncated IDX header (%zu of 4 magic bytes%s)",
                            x->path, got, what);
    }
    if (magic[0] != 0 || magic[1] != 0)
        return ss_error_set(err, SS_EDATA, "%s: not an IDX file (magic 0x%08lx%s)",
                            x->path, (unsigned long)be32(magic), what);

    x->type = magic[2];
    x->elem_bytes = idx_elem_bytes(x->type);
    if (x->elem_bytes == 0)
        return ss_error_set(err, SS_EDATA,
                            "%s: unknown element type 0x%02X (expected 0x08, 0x09, 0x0B, "
                            "0x0C, 0x0D or 0x0E)", x->path, (unsigned)x->type);

    x->ndim = magic[3];
    if (x->ndim == 0)
        return ss_error_set(err, SS_EDATA,
                            "%s: rank 0 in the IDX header; an IDX file needs at least one "
                            "dimension, the item count", x->path);
    if (x->ndim > SS_IDX_MAX_NDIM)
        return ss_error_set(err, SS_ELIMIT, "%s: rank %d exceeds the maximum of %d dimensions",
                            x->path, x->ndim, SS_IDX_MAX_NDIM);

    unsigned char dims[4 * SS_IDX_MAX_NDIM];
    size_t dims_len = 4 * (size_t)x->ndim;
    got = idx_gzread_full(x->gz, dims, dims_len);
    if (got < dims_len) {
        ss_status st = idx_gz_error(x, err);
        if (st != SS_OK)
            return st;
        return ss_error_set(err, SS_EDATA,
                            "%s: truncated IDX header (%zu of %zu dimension bytes)",
                            x->path, got, dims_len);
    }

    /* The item size is elem_bytes times dims[1..]; checked because the
     * dimensions come from the file. */
    size_t item = x->elem_bytes;
    for (int i = 0; i < x->ndim; i++) {
        x->dims[i] = be32(dims + 4 * i);
        if (i == 0)
            continue;
        if (x->dims[i] != 0 && item > SIZE_MAX / x->dims[i])
            return ss_error_set(err, SS_ELIMIT,
                                "%s: item size overflows (dimension %d is %lu)",
                                x->path, i, (unsigned long)x->dims[i]);
        item *= x->dims[i];
    }
    x->item_bytes = item;
    return SS_OK;
}

ss_idx *ss_idx_open(const char *path, ss_error *err)
{
    ss_idx *x = calloc(1, sizeof *x);
    if (!x) {
        ss_error_set(err, SS_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    x->path = strdup(path);
    if (!x->path) {
        free(x);
        ss_error_set(err, SS_ENOMEM, "%s: out of memory", path);
        return NULL;
    }

    /* open() first, so that errno names the reason the file is missing;
     * gzopen() leaves errno unreliable. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ss_error_set(err, SS_EIO, "%s: cannot open: %s", path, strerror(errno));
        ss_idx_close(x);
        return NULL;
    }
    x->gz = gzdopen(fd, "rb");
    if (!x->gz) {
        close(fd);
        ss_error_set(err, SS_ENOMEM, "%s: out of memory opening the gzip reader", path);
        ss_idx_close(x);
        return NULL;
    }
    if (gzbuffer(x->gz, SS_IDX_GZ_BUFFER) != 0) {
        ss_error_set(err, SS_ENOMEM, "%s: cannot set the gzip buffer size", path);
        ss_idx_close(x);
        return NULL;
    }

    /* gzdirect() peeks at the first bytes and reports whether they are
     * the gzip magic 1f 8b. The result only changes the messages. */
    x->compressed = !gzdirect(x->gz);

    if (idx_read_header(x, err) != SS_OK || (x->dims[0] == 0 && idx_check_end(x, err) != SS_OK)) {
        ss_idx_close(x);
        return NULL;
    }
    return x;
}

void ss_idx_close(ss_idx *x)
{
    if (!x)
        return;
    if (x->gz)
        gzclose_r(x->gz);
    free(x->path);
    free(x);
}

int ss_idx_type(const ss_idx *x)
{
    return x->type;
}

int ss_idx_ndim(const ss_idx *x)
{
    return x->ndim;
}

uint32_t ss_idx_dim(const ss_idx *x, int i)
{
    if (i < 0 || i >= x->ndim)
        return 0;
    return x->dims[i];
}

uint64_t ss_idx_count(const ss_idx *x)
{
    return x->dims[0];
}

size_t ss_idx_item_bytes(const ss_idx *x)
{
    return x->item_bytes;
}

/* Converts n big-endian elements of size elem_bytes to host order. */
static void idx_to_host(unsigned char *p, size_t n, size_t elem_bytes)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    (void)p;
    (void)n;
    (void)elem_bytes;
#else
    switch (elem_bytes) {
    case 2:
        for (size_t i = 0; i < n; i++, p += 2) {
            uint16_t v;
            memcpy(&v, p, 2);
            v = __builtin_bswap16(v);
            memcpy(p, &v, 2);
        }
        break;
    case 4:
        for (size_t i = 0; i < n; i++, p += 4) {
            uint32_t v;
            memcpy(&v, p, 4);
            v = __builtin_bswap32(v);
            memcpy(p, &v, 4);
        }
        break;
    case 8:
        for (size_t i = 0; i < n; i++, p += 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            v = __builtin_bswap64(v);
            memcpy(p, &v, 8);
        }
        break;
    default:
        break;
    }
#endif
}

ss_status ss_idx_read(ss_idx *x, void *buf, size_t n, ss_error *err)
{
    uint64_t count = x->dims[0];
    uint64_t remaining = count - x->next_item;

    if (x->failed)
        return ss_error_set(err, SS_EINVAL, "%s: cannot read after an earlier read failed",
                            x->path);
    if (n > remaining)
        return ss_error_set(err, SS_EINVAL,
                            "%s: cannot read %zu items at item %llu; only %llu of %llu remain",
                            x->path, n, (unsigned long long)x->next_item,
                            (unsigned long long)remaining, (unsigned long long)count);
    if (n == 0)
        return SS_OK;
    if (x->item_bytes != 0 && n > SIZE_MAX / x->item_bytes)
        return ss_error_set(err, SS_EINVAL, "%s: %zu items of %zu bytes overflow size_t",
                            x->path, n, x->item_bytes);

    size_t len = n * x->item_bytes;
    size_t got = idx_gzread_full(x->gz, buf, len);
    if (got < len) {
        x->failed = 1;
        ss_status st = idx_gz_error(x, err);
        if (st != SS_OK)
            return st;
        uint64_t at = x->next_item + got / x->item_bytes;
        return ss_error_set(err, SS_EDATA, "%s: truncated at item %llu of %llu", x->path,
                            (unsigned long long)at, (unsigned long long)count);
    }

    idx_to_host(buf, len / x->elem_bytes, x->elem_bytes);
    x->next_item += n;
    if (x->next_item == count) {
        ss_status st = idx_check_end(x, err);
        if (st != SS_OK)
            x->failed = 1;
        return st;
    }
    return SS_OK;
}
