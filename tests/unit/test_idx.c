/* Tests of ss_idx on IDX files that the tests write themselves, plain and
 * gzip-compressed, plus the real Fashion-MNIST files when they are
 * installed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "ss_idx.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static char tmp_dir[64];

static const char *tmp_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

/* Writes bytes to path, through gzwrite when gz is set. Returns 0 on
 * success. */
static int write_file(const char *path, const void *bytes, size_t len, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f)
            return -1;
        int ok = len == 0 || gzwrite(f, bytes, (unsigned)len) == (int)len;
        return gzclose(f) == Z_OK && ok ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(bytes, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static unsigned char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = malloc(1 << 20);
    *len = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    return buf;
}

/* Builds an IDX file image: the header for type and dims, then payload
 * bytes as given (already big-endian). Returns its length in out. */
static size_t make_idx(unsigned char *out, int type, int ndim, const uint32_t *dims,
                       const void *payload, size_t payload_len)
{
    size_t n = 0;
    out[n++] = 0;
    out[n++] = 0;
    out[n++] = (unsigned char)type;
    out[n++] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) {
        out[n++] = (unsigned char)(dims[i] >> 24);
        out[n++] = (unsigned char)(dims[i] >> 16);
        out[n++] = (unsigned char)(dims[i] >> 8);
        out[n++] = (unsigned char)dims[i];
    }
    if (payload_len)
        memcpy(out + n, payload, payload_len);
    return n + payload_len;
}

/* Stores each size-byte element of host in big-endian order in be. */
static void to_big_endian(unsigned char *be, const void *host, size_t count, size_t size)
{
    const unsigned char *h = host;
    for (size_t i = 0; i < count; i++) {
        uint64_t v = 0;
        if (size == 1)
            v = h[i];
        else if (size == 2) {
            uint16_t x;
            memcpy(&x, h + 2 * i, 2);
            v = x;
        } else if (size == 4) {
            uint32_t x;
            memcpy(&x, h + 4 * i, 4);
            v = x;
        } else {
            memcpy(&v, h + 8 * i, 8);
        }
        for (size_t b = 0; b < size; b++)
            be[i * size + b] = (unsigned char)(v >> (8 * (size - 1 - b)));
    }
}

/* Writes name with this content and opens it; NULL with err set on error. */
static ss_idx *open_bytes(const char *name, const unsigned char *bytes, size_t len, int gz,
                          ss_error *err)
{
    const char *path = tmp_path(name);
    if (write_file(path, bytes, len, gz) != 0) {
        ss_error_set(err, SS_EIO, "test could not write %s", path);
        return NULL;
    }
    return ss_idx_open(path, err);
}

/* Opens a header-only file whose open is expected to fail, and returns the
 * status; the message is left in err. */
static ss_status open_fails(const char *name, const unsigned char *bytes, size_t len, int gz,
                            ss_error *err)
{
    ss_error_clear(err);
    ss_idx *x = open_bytes(name, bytes, len, gz, err);
    if (x) {
        ss_idx_close(x);
        return SS_OK;
    }
    return err->status;
}

static void test_idx_u8_plain_and_gzip(void)
{
    for (int gz = 0; gz <= 1; gz++) {
        unsigned char pixels[12];
        for (int i = 0; i < 12; i++)
            pixels[i] = (unsigned char)(i * 20);
        unsigned char file[128];
        uint32_t dims[3] = {3, 2, 2};
        size_t len = make_idx(file, SS_IDX_UINT8, 3, dims, pixels, sizeof pixels);

        ss_error err;
        ss_error_clear(&err);
        ss_idx *x = open_bytes(gz ? "u8.idx.gz" : "u8.idx", file, len, gz, &err);
        CHECK_MSG(x != NULL, "%s", err.msg);
        if (!x)
            continue;
        CHECK(ss_idx_type(x) == SS_IDX_UINT8);
        CHECK(ss_idx_ndim(x) == 3);
        CHECK(ss_idx_dim(x, 0) == 3);
        CHECK(ss_idx_dim(x, 1) == 2);
        CHECK(ss_idx_dim(x, 2) == 2);
        CHECK(ss_idx_dim(x, 3) == 0);
        CHECK(ss_idx_dim(x, -1) == 0);
        CHECK(ss_idx_count(x) == 3);
        CHECK(ss_idx_item_bytes(x) == 4);

        /* One item, then the remaining two in one call. */
        unsigned char got[12];
        CHECK(ss_idx_read(x, got, 1, &err) == SS_OK);
        CHECK(ss_idx_read(x, got + 4, 2, &err) == SS_OK);
        CHECK(memcmp(got, pixels, sizeof pixels) == 0);
        CHECK(ss_idx_read(x, got, 0, &err) == SS_OK);
        ss_idx_close(x);
    }
}

static void test_idx_every_type(void)
{
    static const uint8_t u8[6] = {0, 1, 127, 128, 200, 255};
    static const int8_t i8[6] = {-128, -1, 0, 1, 42, 127};
    static const int16_t i16[6] = {-32768, -300, -1, 0, 258, 32767};
    static const int32_t i32[6] = {INT32_MIN, -100000, -1, 0, 16909060, INT32_MAX};
    static const float f32[6] = {-1.5f, 0.0f, 1.0f / 3.0f, 3.4e38f, -1e-30f, 65504.0f};
    static const double f64[6] = {-2.5, 0.0, 1.0 / 3.0, 1e300, -4.9e-324, 123456789.125};
    static const struct {
        int type;
        size_t size;
        const void *values;
    } cases[] = {
        {SS_IDX_UINT8, 1, u8},   {SS_IDX_INT8, 1, i8},     {SS_IDX_INT16, 2, i16},
        {SS_IDX_INT32, 4, i32},  {SS_IDX_FLOAT32, 4, f32}, {SS_IDX_FLOAT64, 8, f64},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int gz = 0; gz <= 1; gz++) {
            unsigned char be[48];
            to_big_endian(be, cases[c].values, 6, cases[c].size);
            unsigned char file[128];
            uint32_t dims[2] = {3, 2};
            size_t len = make_idx(file, cases[c].type, 2, dims, be, 6 * cases[c].size);

            char name[32];
            snprintf(name, sizeof name, "type%02x%s", (unsigned)cases[c].type, gz ? ".gz" : "");
            ss_error err;
            ss_error_clear(&err);
            ss_idx *x = open_bytes(name, file, len, gz, &err);
            CHECK_MSG(x != NULL, "%s", err.msg);
            if (!x)
                continue;
            CHECK(ss_idx_type(x) == cases[c].type);
            CHECK(ss_idx_item_bytes(x) == 2 * cases[c].size);

            unsigned char got[48];
            ss_status st = ss_idx_read(x, got, 3, &err);
            CHECK_MSG(st == SS_OK, "%s", err.msg);
            CHECK_MSG(memcmp(got, cases[c].values, 6 * cases[c].size) == 0,
                      "type 0x%02x gz %d", (unsigned)cases[c].type, gz);
            ss_idx_close(x);
        }
    }
}

static void test_idx_truncated_plain(void)
{
    unsigned char payload[30] = {0};
    unsigned char file[128];
    uint32_t dims[2] = {10, 2};
    size_t len = make_idx(file, SS_IDX_INT16, 2, dims, payload, sizeof payload);

    ss_error err;
    ss_error_clear(&err);
    ss_idx *x = open_bytes("short.idx", file, len, 0, &err);
    CHECK_MSG(x != NULL, "%s", err.msg);
    if (!x)
        return;
    unsigned char buf[40];
    CHECK(ss_idx_read(x, buf, 10, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "short.idx: truncated at item 7 of 10");
    /* The position is unknown after a failed read, so reads stay failed. */
    CHECK(ss_idx_read(x, buf, 1, &err) != SS_OK);
    ss_idx_close(x);
}

static void test_idx_truncated_gzip_content(void)
{
    /* A valid gzip stream whose content stops inside item 1234. */
    size_t payload_len = 1234 * 4 + 2;
    unsigned char *payload = calloc(1, payload_len);
    unsigned char *file = malloc(64 + payload_len);
    CHECK(payload);
    CHECK(file);
    if (!payload || !file) {
        free(payload);
        free(file);
        return;
    }
    uint32_t dims[3] = {10000, 2, 2};
    size_t len = make_idx(file, SS_IDX_UINT8, 3, dims, payload, payload_len);

    ss_error err;
    ss_error_clear(&err);
    ss_idx *x = open_bytes("t10k-images-idx3-ubyte.gz", file, len, 1, &err);
    CHECK_MSG(x != NULL, "%s", err.msg);
    if (x) {
        unsigned char item[4];
        for (int i = 0; i < 1234; i++)
            CHECK(ss_idx_read(x, item, 1, &err) == SS_OK);
        CHECK(ss_idx_read(x, item, 1, &err) == SS_EDATA);
        CHECK_STR_CONTAINS(err.msg, "t10k-images-idx3-ubyte.gz: truncated at item 1234 of 10000");
        ss_idx_close(x);
    }
    free(payload);
    free(file);
}

static void test_idx_truncated_gzip_stream(void)
{
    /* A gzip file cut in the middle of its compressed data. */
    unsigned char payload[4000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)(i * 7919 % 251);
    unsigned char file[4096];
    uint32_t dims[2] = {1000, 4};
    size_t len = make_idx(file, SS_IDX_UINT8, 2, dims, payload, sizeof payload);
    const char *path = tmp_path("cut.idx.gz");
    CHECK(write_file(path, file, len, 1) == 0);

    size_t gz_len = 0;
    unsigned char *gz = read_whole(path, &gz_len);
    CHECK(gz != NULL);
    CHECK(gz_len > 100);
    if (!gz)
        return;
    CHECK(write_file(path, gz, gz_len / 2, 0) == 0);
    free(gz);

    ss_error err;
    ss_error_clear(&err);
    ss_idx *x = ss_idx_open(path, &err);
    CHECK_MSG(x != NULL, "%s", err.msg);
    if (!x)
        return;
    unsigned char *buf = malloc(sizeof payload);
    CHECK(ss_idx_read(x, buf, 1000, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "cut.idx.gz: truncated at item ");
    CHECK_STR_CONTAINS(err.msg, " of 1000");
    free(buf);
    ss_idx_close(x);
}

/* Writes a gzip IDX file of n_items items of 1024 zero bytes with one bit of
 * the gzip CRC flipped. */
static const char *write_bad_crc(const char *name, uint32_t n_items)
{
    size_t payload_len = (size_t)n_items * 1024;
    unsigned char *file = calloc(1, 16 + payload_len);
    if (!file)
        return NULL;
    uint32_t dims[2] = {n_items, 1024};
    size_t len = make_idx(file, SS_IDX_UINT8, 2, dims, NULL, 0) + payload_len;
    const char *path = tmp_path(name);
    int ok = write_file(path, file, len, 1) == 0;
    free(file);

    /* The gzip trailer is the CRC-32, then the length. */
    size_t gz_len = 0;
    unsigned char *gz = ok ? read_whole(path, &gz_len) : NULL;
    if (!gz || gz_len < 8) {
        free(gz);
        return NULL;
    }
    gz[gz_len - 8] ^= 0x01;
    ok = write_file(path, gz, gz_len, 0) == 0;
    free(gz);
    return ok ? path : NULL;
}

static void test_idx_gzip_crc_error(void)
{
    /* zlib checks the CRC when it reaches the end of the stream: for a small
     * file that happens while the header is read, for one larger than its
     * buffers only when the last item is read. */
    static const struct {
        const char *name;
        uint32_t n_items;
    } cases[] = {{"crc-small.idx.gz", 4}, {"crc-large.idx.gz", 8192}};

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *path = write_bad_crc(cases[c].name, cases[c].n_items);
        CHECK(path != NULL);
        if (!path)
            continue;
        ss_error err;
        ss_error_clear(&err);
        ss_idx *x = ss_idx_open(path, &err);
        if (x) {
            unsigned char *buf = malloc((size_t)cases[c].n_items * 1024);
            CHECK(buf != NULL);
            if (buf)
                CHECK(ss_idx_read(x, buf, cases[c].n_items, &err) == SS_EDATA);
            free(buf);
            ss_idx_close(x);
        }
        CHECK(err.status == SS_EDATA);
        CHECK_STR_CONTAINS(err.msg, cases[c].name);
        CHECK_STR_CONTAINS(err.msg, ": corrupt gzip data (incorrect data check)");
        CHECK_MSG(strstr(err.msg, "<fd:") == NULL, "%s", err.msg);
    }
}

static void test_idx_bad_magic(void)
{
    unsigned char bytes[] = {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0};
    ss_error err;
    for (int gz = 0; gz <= 1; gz++) {
        CHECK(open_fails(gz ? "train.idx.gz" : "train.idx", bytes, sizeof bytes, gz, &err)
              == SS_EDATA);
        CHECK_STR_CONTAINS(err.msg, gz ? "train.idx.gz: not an IDX file (magic 0x12345678"
                                       : "train.idx: not an IDX file (magic 0x12345678)");
    }
}

static void test_idx_unknown_type(void)
{
    unsigned char bytes[] = {0, 0, 0x07, 1, 0, 0, 0, 1, 0};
    ss_error err;
    CHECK(open_fails("type07.idx", bytes, sizeof bytes, 0, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "type07.idx: unknown element type 0x07");
}

static void test_idx_rank_limits(void)
{
    unsigned char rank0[] = {0, 0, SS_IDX_UINT8, 0};
    ss_error err;
    CHECK(open_fails("rank0.idx", rank0, sizeof rank0, 0, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "rank0.idx: rank 0");

    unsigned char rank9[4 + 36];
    uint32_t dims[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    size_t len = make_idx(rank9, SS_IDX_UINT8, 9, dims, NULL, 0);
    CHECK(open_fails("rank9.idx", rank9, len, 0, &err) == SS_ELIMIT);
    CHECK_STR_CONTAINS(err.msg, "rank9.idx: rank 9");

    /* Rank 8 is the maximum and works. */
    unsigned char rank8[4 + 32 + 1];
    unsigned char one = 5;
    len = make_idx(rank8, SS_IDX_UINT8, 8, dims, &one, 1);
    ss_error_clear(&err);
    ss_idx *x = open_bytes("rank8.idx", rank8, len, 0, &err);
    CHECK_MSG(x != NULL, "%s", err.msg);
    if (x) {
        unsigned char got = 0;
        CHECK(ss_idx_read(x, &got, 1, &err) == SS_OK);
        CHECK(got == 5);
        ss_idx_close(x);
    }
}

static void test_idx_item_size_overflow(void)
{
    unsigned char bytes[64];
    uint32_t dims[5] = {1, 65536, 65536, 65536, 65536};
    size_t len = make_idx(bytes, SS_IDX_FLOAT64, 5, dims, NULL, 0);
    ss_error err;
    CHECK(open_fails("huge.idx", bytes, len, 0, &err) == SS_ELIMIT);
    CHECK_STR_CONTAINS(err.msg, "huge.idx: item size overflows");
}

static void test_idx_truncated_header(void)
{
    ss_error err;
    CHECK(open_fails("empty.idx", (const unsigned char *)"", 0, 0, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "empty.idx: truncated IDX header");
    CHECK(open_fails("empty.idx.gz", (const unsigned char *)"", 0, 1, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "empty.idx.gz: truncated IDX header");

    unsigned char dims_cut[] = {0, 0, SS_IDX_UINT8, 3, 0, 0, 0, 2, 0, 0};
    CHECK(open_fails("dims.idx", dims_cut, sizeof dims_cut, 0, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "dims.idx: truncated IDX header (6 of 12 dimension bytes)");
}

static void test_idx_trailing_bytes(void)
{
    for (int gz = 0; gz <= 1; gz++) {
        unsigned char payload[7] = {1, 2, 3, 4, 5, 6, 99};
        unsigned char file[64];
        uint32_t dims[2] = {3, 2};
        size_t len = make_idx(file, SS_IDX_UINT8, 2, dims, payload, sizeof payload);
        ss_error err;
        ss_error_clear(&err);
        ss_idx *x = open_bytes(gz ? "trail.idx.gz" : "trail.idx", file, len, gz, &err);
        CHECK_MSG(x != NULL, "%s", err.msg);
        if (!x)
            continue;
        unsigned char buf[6];
        CHECK(ss_idx_read(x, buf, 2, &err) == SS_OK);
        CHECK(ss_idx_read(x, buf, 1, &err) == SS_EDATA);
        CHECK_STR_CONTAINS(err.msg, gz ? "trail.idx.gz: trailing bytes after item 3"
                                       : "trail.idx: trailing bytes after item 3");
        ss_idx_close(x);
    }

    /* With zero items the check happens when the file is opened. */
    unsigned char file[16];
    uint32_t zero = 0;
    unsigned char extra = 1;
    size_t len = make_idx(file, SS_IDX_UINT8, 1, &zero, &extra, 1);
    ss_error err;
    CHECK(open_fails("zero.idx", file, len, 0, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "zero.idx: trailing bytes after item 0");
    CHECK(open_fails("zero-clean.idx", file, len - 1, 0, &err) == SS_OK);
}

static void test_idx_read_past_end(void)
{
    unsigned char payload[2] = {7, 8};
    unsigned char file[16];
    uint32_t dims[1] = {2};
    size_t len = make_idx(file, SS_IDX_UINT8, 1, dims, payload, sizeof payload);
    ss_error err;
    ss_error_clear(&err);
    ss_idx *x = open_bytes("labels.idx", file, len, 0, &err);
    CHECK_MSG(x != NULL, "%s", err.msg);
    if (!x)
        return;
    unsigned char buf[3];
    CHECK(ss_idx_read(x, buf, 3, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "labels.idx: cannot read 3 items at item 0; only 2 of 2 remain");
    CHECK(ss_idx_read(x, buf, 2, &err) == SS_OK);
    CHECK(buf[0] == 7);
    CHECK(buf[1] == 8);
    CHECK(ss_idx_read(x, buf, 1, &err) == SS_EINVAL);
    ss_idx_close(x);
}

static void test_idx_missing_file(void)
{
    ss_error err;
    ss_error_clear(&err);
    ss_idx *x = ss_idx_open(tmp_path("does-not-exist.idx"), &err);
    CHECK(x == NULL);
    CHECK(err.status == SS_EIO);
    CHECK_STR_CONTAINS(err.msg, "does-not-exist.idx: cannot open: ");
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

static void test_idx_fashion_mnist(void)
{
    const char *labels_path = FASHION_DIR "/t10k-labels-idx1-ubyte.gz";
    const char *images_path = FASHION_DIR "/train-images-idx3-ubyte.gz";
    if (access(labels_path, R_OK) != 0 || access(images_path, R_OK) != 0) {
        printf("# skipped: Fashion-MNIST is not installed in %s\n", FASHION_DIR);
        return;
    }

    ss_error err;
    ss_error_clear(&err);
    ss_idx *x = ss_idx_open(labels_path, &err);
    CHECK_MSG(x != NULL, "%s", err.msg);
    if (!x)
        return;
    CHECK(ss_idx_type(x) == SS_IDX_UINT8);
    CHECK(ss_idx_ndim(x) == 1);
    CHECK(ss_idx_count(x) == 10000);
    CHECK(ss_idx_item_bytes(x) == 1);
    unsigned char labels[10000];
    CHECK(ss_idx_read(x, labels, 10000, &err) == SS_OK);
    ss_idx_close(x);

    int in_range = 1;
    for (int i = 0; i < 10000; i++)
        in_range &= labels[i] <= 9;
    CHECK(in_range);
    /* The first test images are an ankle boot, a pullover and two trousers. */
    static const unsigned char first[8] = {9, 2, 1, 1, 6, 1, 4, 6};
    CHECK(memcmp(labels, first, sizeof first) == 0);

    /* The 60000 training images, 47 MB after decompression, in one read. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    x = ss_idx_open(images_path, &err);
    CHECK_MSG(x != NULL, "%s", err.msg);
    if (!x)
        return;
    CHECK(ss_idx_count(x) == 60000);
    CHECK(ss_idx_dim(x, 1) == 28);
    CHECK(ss_idx_dim(x, 2) == 28);
    CHECK(ss_idx_item_bytes(x) == 784);
    unsigned char *images = malloc((size_t)60000 * 784);
    CHECK(images != NULL);
    if (images) {
        ss_status st = ss_idx_read(x, images, 60000, &err);
        CHECK_MSG(st == SS_OK, "%s", err.msg);
        printf("# read %s in %.3f s\n", images_path, seconds_since(&t0));
        int any_bright = 0;
        for (size_t i = 0; i < 784; i++)
            any_bright |= images[i] > 128;
        CHECK(any_bright);
    }
    free(images);
    ss_idx_close(x);
}

static void remove_tmp_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp_dir);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_idx.XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        printf("Bail out! cannot create a temporary directory\n");
        return 1;
    }

    RUN(test_idx_u8_plain_and_gzip);
    RUN(test_idx_every_type);
    RUN(test_idx_truncated_plain);
    RUN(test_idx_truncated_gzip_content);
    RUN(test_idx_truncated_gzip_stream);
    RUN(test_idx_gzip_crc_error);
    RUN(test_idx_bad_magic);
    RUN(test_idx_unknown_type);
    RUN(test_idx_rank_limits);
    RUN(test_idx_item_size_overflow);
    RUN(test_idx_truncated_header);
    RUN(test_idx_trailing_bytes);
    RUN(test_idx_read_past_end);
    RUN(test_idx_missing_file);
    RUN(test_idx_fashion_mnist);

    remove_tmp_dir();
    return CHECK_DONE();
}
