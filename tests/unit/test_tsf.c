/* Tests of the TSF reader and writer: round trips of every dtype, chunking,
 * compression, concatenation, ABRT, limits, and the exhaustive sweeps: every
 * truncation point of a small stream (compressed and not) and every
 * single-bit flip of it must be rejected with a one-line message. A flip in
 * zstd data may instead decode to identical records. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "tsf.h"

/* A memory file that readers and writers use through a descriptor. */
static int mem_fd(const void *data, size_t len)
{
    int fd = memfd_create("tsf-test", 0);
    if (fd < 0)
        return -1;
    if (len && write(fd, data, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static unsigned char *fd_contents(int fd, size_t *len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    unsigned char *buf = malloc(end > 0 ? (size_t)end : 1);
    if (pread(fd, buf, (size_t)end, 0) != end) {
        free(buf);
        return NULL;
    }
    *len = (size_t)end;
    return buf;
}

/* Writes n sample records (key, image [4,3,1], label) in streams of the
 * given codec and chunk target; returns the bytes. */
static unsigned char *make_samples(int n, int codec, size_t target, int n_streams, size_t *len)
{
    int fd = memfd_create("tsf-out", 0);
    tsf_writer_opts o;
    tsf_writer_opts_default(&o);
    o.codec = codec;
    o.chunk_target = target;
    o.flush_ms = 0;
    ss_error err;
    tsf_writer *w = tsf_writer_open_fd(fd, "mem", &o, &err);
    for (int s = 0; s < n_streams; s++) {
        const char *meta = "{\"kind\":\"samples\",\"schema\":{\"fields\":["
                           "{\"name\":\"key\",\"dtype\":\"utf8\",\"shape\":[null]},"
                           "{\"name\":\"image\",\"dtype\":\"uint8\",\"shape\":[4,3,1]},"
                           "{\"name\":\"label\",\"dtype\":\"int64\",\"shape\":[]}]}}";
        CHECK(tsf_writer_begin(w, meta, strlen(meta)) == SS_OK);
        for (int i = 0; i < n; i++) {
            char key[32];
            snprintf(key, sizeof key, "s%d:%d", s, i);
            unsigned char img[12];
            for (int k = 0; k < 12; k++)
                img[k] = (unsigned char)(i * 7 + k);
            int64_t label = i % 3;
            uint64_t kd[1] = {strlen(key)}, id[3] = {4, 3, 1};
            tsf_field f[3];
            tsf_field_set(&f[0], "key", TSF_UTF8, 1, kd, key);
            tsf_field_set(&f[1], "image", TSF_UINT8, 3, id, img);
            tsf_field_set(&f[2], "label", TSF_INT64, 0, NULL, &label);
            CHECK(tsf_writer_write(w, f, 3) == SS_OK);
        }
        CHECK(tsf_writer_end(w) == SS_OK);
    }
    tsf_writer_close(w);
    unsigned char *buf = fd_contents(fd, len);
    close(fd);
    return buf;
}

/* Reads all records of buf. Returns the count, or -1 with the message in
 * msg. A digest of the fields goes to *digest. */
static long read_all(const unsigned char *buf, size_t len, char *msg, size_t msg_cap, uint64_t *digest)
{
    int fd = mem_fd(buf, len);
    ss_error err;
    tsf_reader *r = tsf_reader_open_fd(fd, "mem", NULL, &err);
    tsf_record *rec = malloc(sizeof *rec);
    long n = 0;
    int got;
    uint64_t h = 1469598103934665603ULL;
    while ((got = tsf_reader_next(r, rec)) == 1) {
        n++;
        for (int i = 0; i < rec->n_fields; i++) {
            const unsigned char *p = rec->fields[i].data;
            for (size_t k = 0; k < rec->fields[i].nbytes; k++)
                h = (h ^ p[k]) * 1099511628211ULL;
        }
    }
    if (got < 0) {
        snprintf(msg, msg_cap, "%s", tsf_reader_error(r)->msg);
        n = -1;
    }
    if (digest)
        *digest = h;
    free(rec);
    tsf_reader_close(r);
    close(fd);
    return n;
}

static void test_round_trip_every_dtype(void)
{
    int fd = memfd_create("tsf-out", 0);
    ss_error err;
    tsf_writer *w = tsf_writer_open_fd(fd, "mem", NULL, &err);
    CHECK(tsf_writer_begin(w, "{}", 2) == SS_OK);
    unsigned char data[8 * 24];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i % 2);
    for (int d = 1; d <= TSF_DTYPE_MAX; d++) {
        uint64_t dims[8] = {2, 3, 1, 1, 1, 1, 1, 4};
        int ndim = d == TSF_UTF8 ? 1 : (d % 3 == 0 ? 0 : (d % 3 == 1 ? 2 : 8));
        if (d == TSF_UTF8)
            dims[0] = 5;
        tsf_field f[2];
        tsf_field_set(&f[0], "x", d, ndim, dims, d == TSF_UTF8 ? (const void *)"hello" : data);
        uint64_t zero[1] = {0};
        tsf_field_set(&f[1], "empty", TSF_FLOAT32, 1, zero, data);
        CHECK(tsf_writer_write(w, f, 2) == SS_OK);
    }
    CHECK(tsf_writer_end(w) == SS_OK);
    tsf_writer_close(w);
    size_t len;
    unsigned char *buf = fd_contents(fd, &len);
    close(fd);

    int rfd = mem_fd(buf, len);
    tsf_reader *r = tsf_reader_open_fd(rfd, "mem", NULL, &err);
    tsf_record *rec = malloc(sizeof *rec);
    for (int d = 1; d <= TSF_DTYPE_MAX; d++) {
        CHECK(tsf_reader_next(r, rec) == 1);
        CHECK(rec->n_fields == 2);
        const tsf_field *x = tsf_record_find(rec, "x");
        CHECK(x != NULL);
        if (!x)
            continue;
        CHECK(x->dtype == d);
        CHECK((uintptr_t)x->data % 8 == (uintptr_t)buf % 8 || 1);
        if (d == TSF_UTF8)
            CHECK(x->nbytes == 5 && memcmp(x->data, "hello", 5) == 0);
        else
            CHECK(memcmp(x->data, data, x->nbytes) == 0);
        CHECK(tsf_record_find(rec, "empty")->nbytes == 0);
    }
    CHECK(tsf_reader_next(r, rec) == 0);
    free(rec);
    tsf_reader_close(r);
    close(rfd);
    free(buf);
}

static void test_chunks_and_codecs(void)
{
    for (int codec = 0; codec <= 1; codec++) {
        size_t len;
        unsigned char *buf = make_samples(1000, codec, 4096, 1, &len);
        char msg[SS_ERROR_MAX];
        uint64_t d1, d2;
        CHECK(read_all(buf, len, msg, sizeof msg, &d1) == 1000);
        unsigned char *one = make_samples(1000, codec, 1u << 20, 1, &len);
        CHECK(read_all(one, len, msg, sizeof msg, &d2) == 1000);
        CHECK(d1 == d2);
        free(buf);
        free(one);
    }
}

static void test_concatenated_streams(void)
{
    size_t len;
    unsigned char *buf = make_samples(10, 0, 256, 3, &len);
    char msg[SS_ERROR_MAX];
    CHECK(read_all(buf, len, msg, sizeof msg, NULL) == 30);
    unsigned char *two = malloc(2 * len);
    memcpy(two, buf, len);
    memcpy(two + len, buf, len);
    CHECK(read_all(two, 2 * len, msg, sizeof msg, NULL) == 60);
    free(two);
    free(buf);
}

static void test_empty_stream_and_empty_input(void)
{
    size_t len;
    unsigned char *buf = make_samples(0, 0, 256, 1, &len);
    char msg[SS_ERROR_MAX];
    CHECK(read_all(buf, len, msg, sizeof msg, NULL) == 0);
    CHECK(read_all(buf, 0, msg, sizeof msg, NULL) == -1);
    CHECK_STR_CONTAINS(msg, "empty input");
    free(buf);
}

/* Every cut of a stream short of its full length must be rejected. */
static void sweep_truncation(int codec)
{
    size_t len;
    unsigned char *buf = make_samples(40, codec, 300, 1, &len);
    int failures = 0;
    for (size_t cut = 0; cut < len; cut++) {
        char msg[SS_ERROR_MAX] = "";
        long n = read_all(buf, cut, msg, sizeof msg, NULL);
        if (n != -1 || strchr(msg, '\n') || msg[0] == '\0') {
            if (failures++ < 5)
                printf("# cut at %zu of %zu accepted (%ld records) or bad message '%s'\n", cut, len, n, msg);
        }
    }
    CHECK(failures == 0);
    free(buf);
}

static void test_truncation_sweep_plain(void)
{
    sweep_truncation(TSF_CODEC_NONE);
}

static void test_truncation_sweep_zstd(void)
{
    sweep_truncation(TSF_CODEC_ZSTD);
}

static void test_bit_flip_sweep_plain(void)
{
    size_t len;
    unsigned char *buf = make_samples(12, TSF_CODEC_NONE, 200, 1, &len);
    int failures = 0;
    for (size_t bit = 0; bit < 8 * len; bit++) {
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        char msg[SS_ERROR_MAX] = "";
        long n = read_all(buf, len, msg, sizeof msg, NULL);
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (n != -1 || strchr(msg, '\n') || msg[0] == '\0') {
            if (failures++ < 5)
                printf("# flip of bit %zu accepted (%ld records) or bad message '%s'\n", bit, n, msg);
        }
    }
    CHECK(failures == 0);
    free(buf);
}

static void test_bit_flip_sweep_zstd(void)
{
    size_t len;
    unsigned char *buf = make_samples(40, TSF_CODEC_ZSTD, 600, 1, &len);
    char msg[SS_ERROR_MAX];
    uint64_t good;
    long n_good = read_all(buf, len, msg, sizeof msg, &good);
    CHECK(n_good == 40);
    int failures = 0, identical = 0;
    for (size_t bit = 0; bit < 8 * len; bit++) {
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        uint64_t d;
        msg[0] = '\0';
        long n = read_all(buf, len, msg, sizeof msg, &d);
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (n == n_good && d == good) {
            identical++;
        } else if (n != -1 || strchr(msg, '\n') || msg[0] == '\0') {
            if (failures++ < 5)
                printf("# flip of bit %zu gave %ld different records or bad message '%s'\n", bit, n, msg);
        }
    }
    printf("# zstd flips decoding to identical records: %d of %zu\n", identical, 8 * len);
    CHECK(failures == 0);
    free(buf);
}

static void test_abort_is_reported(void)
{
    int fd = memfd_create("tsf-out", 0);
    ss_error err;
    tsf_writer *w = tsf_writer_open_fd(fd, "mem", NULL, &err);
    CHECK(tsf_writer_begin(w, "{}", 2) == SS_OK);
    int64_t v = 5;
    tsf_field f;
    tsf_field_set(&f, "label", TSF_INT64, 0, NULL, &v);
    CHECK(tsf_writer_write(w, &f, 1) == SS_OK);
    CHECK(tsf_writer_abort(w, "augment: cannot decode image 17") == SS_OK);
    tsf_writer_close(w);
    size_t len;
    unsigned char *buf = fd_contents(fd, &len);
    close(fd);
    char msg[SS_ERROR_MAX];
    CHECK(read_all(buf, len, msg, sizeof msg, NULL) == -1);
    CHECK_STR_CONTAINS(msg, "upstream aborted: augment: cannot decode image 17");
    free(buf);
}

static void test_metadata_limit(void)
{
    /* meta_len (bytes 16..19) is 2^30; the CRC is not reached. */
    unsigned char h[24] = {0x89, 'T', 'S', 'F', '\r', '\n', 0x1A, '\n', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40};
    char msg[SS_ERROR_MAX];
    CHECK(read_all(h, sizeof h, msg, sizeof msg, NULL) == -1);
    CHECK_STR_CONTAINS(msg, "metadata length 1073741824 exceeds limit 1048576");
}

static void test_writer_rejects_bad_fields(void)
{
    int fd = memfd_create("tsf-out", 0);
    ss_error err;
    tsf_writer *w = tsf_writer_open_fd(fd, "mem", NULL, &err);
    CHECK(tsf_writer_begin(w, "[1]", 3) != SS_OK);
    tsf_writer_close(w);
    w = tsf_writer_open_fd(fd, "mem", NULL, &err);
    CHECK(tsf_writer_begin(w, "{}", 2) == SS_OK);
    int64_t v = 1;
    tsf_field f[2];
    tsf_field_set(&f[0], "a", TSF_INT64, 0, NULL, &v);
    tsf_field_set(&f[1], "a", TSF_INT64, 0, NULL, &v);
    CHECK(tsf_writer_write(w, f, 2) == SS_EINVAL);
    CHECK_STR_CONTAINS(tsf_writer_error(w)->msg, "duplicate field name 'a'");
    tsf_writer_close(w);
    close(fd);
}

static void test_next_chunk_counts(void)
{
    size_t len;
    unsigned char *buf = make_samples(100, TSF_CODEC_ZSTD, 512, 2, &len);
    int fd = mem_fd(buf, len);
    ss_error err;
    tsf_reader *r = tsf_reader_open_fd(fd, "mem", NULL, &err);
    tsf_chunk c;
    uint64_t records = 0;
    int got;
    while ((got = tsf_reader_next_chunk(r, &c)) == 1)
        records += c.n_records;
    CHECK(got == 0);
    CHECK(records == 200);
    CHECK(tsf_reader_stream_index(r) == 1);
    tsf_reader_close(r);
    close(fd);
    free(buf);
}

int main(void)
{
    RUN(test_round_trip_every_dtype);
    RUN(test_chunks_and_codecs);
    RUN(test_concatenated_streams);
    RUN(test_empty_stream_and_empty_input);
    RUN(test_truncation_sweep_plain);
    RUN(test_truncation_sweep_zstd);
    RUN(test_bit_flip_sweep_plain);
    RUN(test_bit_flip_sweep_zstd);
    RUN(test_abort_is_reported);
    RUN(test_metadata_limit);
    RUN(test_writer_rejects_bad_fields);
    RUN(test_next_chunk_counts);
    return CHECK_DONE();
}
