/* tsf_common: the dtype table, limits, CRC-32 and record helpers shared by
 * the TSF reader and writer. */
#include "tsf.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "tsf_internal.h"

static const struct {
    const char *name;
    size_t size;
} dtype_table[TSF_DTYPE_MAX + 1] = {
    [TSF_UINT8] = {"uint8", 1},       [TSF_INT8] = {"int8", 1},
    [TSF_UINT16] = {"uint16", 2},     [TSF_INT16] = {"int16", 2},
    [TSF_UINT32] = {"uint32", 4},     [TSF_INT32] = {"int32", 4},
    [TSF_UINT64] = {"uint64", 8},     [TSF_INT64] = {"int64", 8},
    [TSF_FLOAT16] = {"float16", 2},   [TSF_BFLOAT16] = {"bfloat16", 2},
    [TSF_FLOAT32] = {"float32", 4},   [TSF_FLOAT64] = {"float64", 8},
    [TSF_BOOL] = {"bool", 1},         [TSF_BYTES] = {"bytes", 1},
    [TSF_UTF8] = {"utf8", 1},
};

size_t tsf_dtype_size(int dtype)
{
    if (dtype < 1 || dtype > TSF_DTYPE_MAX)
        return 0;
    return dtype_table[dtype].size;
}

const char *tsf_dtype_name(int dtype)
{
    if (dtype < 1 || dtype > TSF_DTYPE_MAX)
        return NULL;
    return dtype_table[dtype].name;
}

int tsf_dtype_from_name(const char *name)
{
    for (int d = 1; d <= TSF_DTYPE_MAX; d++)
        if (strcmp(dtype_table[d].name, name) == 0)
            return d;
    return 0;
}

void tsf_limits_default(tsf_limits *lim)
{
    lim->max_meta = 1u << 20;
    lim->max_chunk = 1u << 30;
    lim->max_depth = 32;
}

uint32_t tsf_crc32(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    /* zlib takes a uInt length, so feed it in pieces below 4 GiB. */
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
}

const tsf_field *tsf_record_find(const tsf_record *rec, const char *name)
{
    for (int i = 0; i < rec->n_fields; i++)
        if (strcmp(rec->fields[i].name, name) == 0)
            return &rec->fields[i];
    return NULL;
}

void tsf_field_set(tsf_field *f, const char *name, int dtype, int ndim,
                   const uint64_t *dims, const void *data)
{
    size_t n = strlen(name);
    if (n > TSF_MAX_NAME)
        n = TSF_MAX_NAME;
    memcpy(f->name, name, n);
    f->name[n] = '\0';
    f->dtype = dtype;
    f->ndim = ndim;
    f->count = 1;
    for (int i = 0; i < ndim && i < TSF_MAX_NDIM; i++) {
        f->dims[i] = dims[i];
        f->count *= dims[i];
    }
    f->data = data;
    f->nbytes = (size_t)(f->count * tsf_dtype_size(dtype));
}

void tsf_pipe_grow(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
        fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}
