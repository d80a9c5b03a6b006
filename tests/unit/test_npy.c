/* Tests of ss_npy: headers written and read back, hand-made headers of each
 * format version and spacing, rejected headers, and files exchanged with
 * NumPy when /usr/bin/python3 can import it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ss_npy.h"
#include "tsf.h"

#define PYTHON "/usr/bin/python3"

static char tmp_dir[64];

static const char *tmp_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

/* Returns a temporary file, positioned at its start, that contains the .npy
 * prefix for this version with header length declared_len, then body (the
 * header text and any data after it). */
static FILE *npy_bytes(int major, int minor, size_t declared_len, const char *body,
                       size_t body_len)
{
    FILE *fp = tmpfile();
    if (!fp)
        return NULL;
    unsigned char prefix[12] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    prefix[6] = (unsigned char)major;
    prefix[7] = (unsigned char)minor;
    size_t prefix_len = major == 1 ? 10 : 12;
    for (size_t i = 0; i < prefix_len - 8; i++)
        prefix[8 + i] = (unsigned char)(declared_len >> (8 * i));
    fwrite(prefix, 1, prefix_len, fp);
    fwrite(body, 1, body_len, fp);
    rewind(fp);
    return fp;
}

/* Parses a version 1.0 file with this header text; returns the status. */
static ss_status parse_text(const char *text, ss_npy_header *h, ss_error *err)
{
    ss_error_clear(err);
    FILE *fp = npy_bytes(1, 0, strlen(text), text, strlen(text));
    if (!fp)
        return ss_error_set(err, SS_EIO, "test could not create a temporary file");
    memset(h, 0, sizeof *h);
    ss_status st = ss_npy_read_header(fp, "x.npy", h, err);
    fclose(fp);
    return st;
}

static const int all_dtypes[] = {
    TSF_UINT8, TSF_INT8,  TSF_BOOL,  TSF_UINT16,  TSF_INT16,   TSF_UINT32,
    TSF_INT32, TSF_UINT64, TSF_INT64, TSF_FLOAT16, TSF_FLOAT32, TSF_FLOAT64,
};

static void test_npy_write_read_roundtrip(void)
{
    static const struct {
        int ndim;
        uint64_t dims[8];
    } shapes[] = {
        {0, {0}},
        {1, {5}},
        {1, {0}},
        {3, {60000, 28, 28}},
        {8, {2, 3, 1, 4, 1, 5, 1, 6}},
        {2, {UINT64_C(4294967296), 1000000}},
    };

    for (size_t t = 0; t < sizeof all_dtypes / sizeof all_dtypes[0]; t++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            FILE *fp = tmpfile();
            CHECK(fp != NULL);
            if (!fp)
                return;
            ss_error err;
            ss_error_clear(&err);
            ss_status st = ss_npy_write_header(fp, "w.npy", all_dtypes[t], shapes[s].ndim,
                                               shapes[s].dims, &err);
            CHECK_MSG(st == SS_OK, "%s", err.msg);
            long end = ftell(fp);
            CHECK(end > 0);
            CHECK_MSG(end % 64 == 0, "header ends at %ld", end);

            /* Version 1.0 and a header that ends with '\n'. */
            unsigned char *bytes = malloc(end > 0 ? (size_t)end : 1);
            rewind(fp);
            CHECK(bytes != NULL);
            if (bytes) {
                CHECK(fread(bytes, 1, (size_t)end, fp) == (size_t)end);
                CHECK(memcmp(bytes, "\x93NUMPY\x01\x00", 8) == 0);
                CHECK((size_t)bytes[8] + 256 * (size_t)bytes[9] + 10 == (size_t)end);
                CHECK(bytes[end - 1] == '\n');
            }
            free(bytes);

            rewind(fp);
            ss_npy_header h;
            memset(&h, 0xff, sizeof h);
            st = ss_npy_read_header(fp, "w.npy", &h, &err);
            CHECK_MSG(st == SS_OK, "%s", err.msg);
            CHECK(h.dtype == all_dtypes[t]);
            CHECK(h.ndim == shapes[s].ndim);
            for (int i = 0; i < 8; i++)
                CHECK(h.dims[i] == (i < h.ndim ? shapes[s].dims[i] : 0));
            CHECK(h.data_offset == (uint64_t)end);
            CHECK(ftell(fp) == end);
            fclose(fp);
        }
    }
}

/* Writes a header to a temporary file and returns its dict text, without
 * the padding and the final newline. */
static void written_dict(int dtype, int ndim, const uint64_t *dims, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *fp = tmpfile();
    if (!fp)
        return;
    ss_error err;
    if (ss_npy_write_header(fp, "w.npy", dtype, ndim, dims, &err) == SS_OK) {
        long end = ftell(fp);
        if (end > 10 && (size_t)end - 10 < cap) {
            fseek(fp, 10, SEEK_SET);
            size_t n = fread(out, 1, (size_t)end - 10, fp);
            out[n] = '\0';
            while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\n'))
                out[--n] = '\0';
        }
    }
    fclose(fp);
}

static void test_npy_written_text(void)
{
    char text[512];
    uint64_t dims[3] = {60000, 28, 28};

    written_dict(TSF_FLOAT32, 3, dims, text, sizeof text);
    CHECK_STR_CONTAINS(text, "{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }");
    written_dict(TSF_UINT8, 1, dims, text, sizeof text);
    CHECK_STR_CONTAINS(text, "{'descr': '|u1', 'fortran_order': False, 'shape': (60000,), }");
    written_dict(TSF_BOOL, 0, NULL, text, sizeof text);
    CHECK_STR_CONTAINS(text, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }");
    written_dict(TSF_FLOAT16, 2, dims, text, sizeof text);
    CHECK_STR_CONTAINS(text, "'descr': '<f2'");
    CHECK_STR_CONTAINS(text, "'shape': (60000, 28)");
}

static void test_npy_write_rejects(void)
{
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp)
        return;
    uint64_t dims[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ss_error err;
    CHECK(ss_npy_write_header(fp, "w.npy", TSF_BYTES, 1, dims, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "w.npy: dtype code 14 has no .npy equivalent");
    CHECK(ss_npy_write_header(fp, "w.npy", TSF_BFLOAT16, 1, dims, &err) == SS_EINVAL);
    CHECK(ss_npy_write_header(fp, "w.npy", TSF_FLOAT32, 9, dims, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "w.npy: 9 dimensions");
    CHECK(ss_npy_write_header(fp, "w.npy", TSF_FLOAT32, -1, dims, &err) == SS_EINVAL);
    uint64_t huge[2] = {UINT64_C(1) << 32, UINT64_C(1) << 31};
    CHECK(ss_npy_write_header(fp, "w.npy", TSF_FLOAT32, 2, huge, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "more than 2^64-1 bytes");
    CHECK(ftell(fp) == 0);
    fclose(fp);

    /* /dev/full fails every write with ENOSPC. */
    FILE *full = fopen("/dev/full", "w");
    if (!full) {
        printf("# skipped the write error case: no /dev/full\n");
        return;
    }
    setvbuf(full, NULL, _IONBF, 0);
    CHECK(ss_npy_write_header(full, "full.npy", TSF_FLOAT32, 1, dims, &err) == SS_EIO);
    CHECK_STR_CONTAINS(err.msg, "full.npy: write failed: ");
    fclose(full);
}

static void test_npy_parse_versions(void)
{
    static const char text[] =
        "{'descr': '<i2', 'fortran_order': False, 'shape': (3, 4), }          \n";
    static const char body[] =
        "{'descr': '<i2', 'fortran_order': False, 'shape': (3, 4), }          \ndata";
    for (int major = 1; major <= 3; major++) {
        FILE *fp = npy_bytes(major, 0, strlen(text), body, strlen(body));
        CHECK(fp != NULL);
        if (!fp)
            return;
        ss_npy_header h;
        ss_error err;
        ss_error_clear(&err);
        ss_status st = ss_npy_read_header(fp, "v.npy", &h, &err);
        CHECK_MSG(st == SS_OK, "version %d: %s", major, err.msg);
        CHECK(h.dtype == TSF_INT16);
        CHECK(h.ndim == 2);
        CHECK(h.dims[0] == 3);
        CHECK(h.dims[1] == 4);
        uint64_t prefix_len = major == 1 ? 10 : 12;
        CHECK(h.data_offset == prefix_len + strlen(text));
        CHECK(ftell(fp) == (long)h.data_offset);
        char data[5] = {0};
        CHECK(fread(data, 1, 4, fp) == 4);
        CHECK(strcmp(data, "data") == 0);
        fclose(fp);
    }
}

static void test_npy_parse_spacing_variants(void)
{
    static const struct {
        const char *text;
        int dtype;
        int ndim;
        uint64_t dims[3];
    } cases[] = {
        {"{'descr':'<f8','fortran_order':False,'shape':(2,3)}", TSF_FLOAT64, 2, {2, 3}},
        {"  {  'shape' : ( 2 , 3 , ) ,\n 'descr' : '<f4' ,\t'fortran_order' : False }  \n",
         TSF_FLOAT32, 2, {2, 3}},
        {"{\"descr\": \"|u1\", \"fortran_order\": False, \"shape\": (7,)}", TSF_UINT8, 1, {7}},
        {"{'fortran_order': False, 'shape': (), 'descr': '|b1', }", TSF_BOOL, 0, {0}},
        {"{'descr': '<u1', 'fortran_order': False, 'shape': (1,), }", TSF_UINT8, 1, {1}},
        {"{'descr': '|i1', 'fortran_order': False, 'shape': (3L, 4L, 5L), }", TSF_INT8, 3,
         {3, 4, 5}},
        {"{'descr': '<u8', 'fortran_order': False, 'shape': (0, 18446744073709551615), }",
         TSF_UINT64, 2, {0, UINT64_MAX}},
        {"{'descr': '<u2', 'fortran_order': False, 'shape': ( ), }", TSF_UINT16, 0, {0}},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (1,),}\r\n", TSF_INT32, 1, {1}},
        {"{'descr': '<u4', 'fortran_order': False, 'shape': (9,), }", TSF_UINT32, 1, {9}},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (9,), }", TSF_INT64, 1, {9}},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (9,), }", TSF_FLOAT16, 1, {9}},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ss_npy_header h;
        ss_error err;
        ss_status st = parse_text(cases[c].text, &h, &err);
        CHECK_MSG(st == SS_OK, "case %zu: %s", c, err.msg);
        if (st != SS_OK)
            continue;
        CHECK_MSG(h.dtype == cases[c].dtype, "case %zu", c);
        CHECK_MSG(h.ndim == cases[c].ndim, "case %zu", c);
        for (int i = 0; i < h.ndim && i < 3; i++)
            CHECK_MSG(h.dims[i] == cases[c].dims[i], "case %zu dim %d", c, i);
        CHECK(h.data_offset == 10 + strlen(cases[c].text));
    }
}

static void test_npy_parse_rejects(void)
{
    static const struct {
        const char *text;
        ss_status status;
        const char *message;
    } cases[] = {
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "x.npy: dtype '>f4' is big-endian; convert with arr.astype('<f4')"},
        {"{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "dtype '>i8' is big-endian; convert with arr.astype('<i8')"},
        {"{'descr': '=f4', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "x.npy: dtype '=f4' has native byte order"},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "x.npy: dtype '|O' is an object array"},
        {"{'descr': [('a', '<f4'), ('b', '<i4', (2,))], 'fortran_order': False, "
         "'shape': (2,), }", SS_EDATA,
         "x.npy: dtype [('a', '<f4'), ('b', '<i4', (2,))] is a structured dtype"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "x.npy: dtype '<c8' is not supported; convert the array to one of |u1"},
        {"{'descr': '<U10', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "dtype '<U10' is not supported"},
        {"{'descr': 'f4', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "dtype 'f4' is not supported"},
        {"{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "dtype '|f4' is not supported"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", SS_EDATA,
         "x.npy: fortran_order is True"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8, 9), }",
         SS_ELIMIT,
         "x.npy: shape (1, 2, 3, 4, 5, 6, 7, 8, 9) has 9 dimensions, more than the maximum "
         "of 8"},
        {"{'descr': '<f4', 'fortran_order': False, }", SS_EDATA, "key 'shape' is missing"},
        {"{'shape': (1,), 'fortran_order': False, }", SS_EDATA, "key 'descr' is missing"},
        {"{'descr': '<f4', 'shape': (1,), }", SS_EDATA, "key 'fortran_order' is missing"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "key 'descr' appears twice"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", SS_EDATA,
         "unknown key 'extra'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5), }", SS_EDATA,
         "x.npy: invalid .npy header: shape (5) is an integer in Python, not a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': 5, }", SS_EDATA,
         "expected '(' to start the shape tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", SS_EDATA,
         "negative dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }", SS_EDATA,
         "expected ',' or ')' in the shape tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3 }", SS_EDATA,
         "expected ',' or ')' in the shape tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551616,), }",
         SS_ELIMIT, "exceeds 2^64-1"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
         SS_ELIMIT, "x.npy: shape (4294967296, 4294967296) holds more than 2^64-1 bytes"},
        {"{'descr': '<f4', 'fortran_order': Trueish, 'shape': (2,), }", SS_EDATA,
         "expected True or False"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", SS_EDATA,
         "expected True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", SS_EDATA,
         "expected only spaces after the header dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", SS_EDATA,
         "but the header ends"},
        {"{'descr': '<f4', 'fortran_order': False 'shape': (2,), }", SS_EDATA,
         "expected ',' or '}' after a value"},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "expected ':' after a key"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "expected ',' or '}' after a value"},
        {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "without escapes"},
        {"{descr: '<f4', 'fortran_order': False, 'shape': (2,), }", SS_EDATA,
         "expected a quoted string at byte 1, found 'd'"},
        {"", SS_EDATA, "expected '{' to start the header dict but the header ends"},
        {"[1, 2]", SS_EDATA, "expected '{' to start the header dict at byte 0, found '['"},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ss_npy_header h;
        ss_error err;
        ss_status st = parse_text(cases[c].text, &h, &err);
        CHECK_MSG(st == cases[c].status, "case %zu: status %d: %s", c, (int)st, err.msg);
        CHECK_MSG(strstr(err.msg, cases[c].message) != NULL, "case %zu: '%s' lacks '%s'", c,
                  err.msg, cases[c].message);
        CHECK_MSG(strncmp(err.msg, "x.npy: ", 7) == 0, "case %zu: %s", c, err.msg);
    }
}

static void test_npy_reject_prefix(void)
{
    static const char text[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
    ss_npy_header h;
    ss_error err;

    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp)
        return;
    fputs("PK\x03\x04 not an npy file", fp);
    rewind(fp);
    CHECK(ss_npy_read_header(fp, "a.npz", &h, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "a.npz: not a .npy file");
    fclose(fp);

    static const int bad_versions[][2] = {{4, 0}, {1, 1}, {0, 0}};
    for (size_t i = 0; i < 3; i++) {
        fp = npy_bytes(bad_versions[i][0], bad_versions[i][1], strlen(text), text, strlen(text));
        CHECK(fp != NULL);
        if (!fp)
            return;
        CHECK(ss_npy_read_header(fp, "v.npy", &h, &err) == SS_EDATA);
        CHECK_STR_CONTAINS(err.msg, "v.npy: unsupported .npy format version ");
        fclose(fp);
    }

    /* A version 2.0 length of 16 MiB is over the header limit. */
    fp = npy_bytes(2, 0, (size_t)16 << 20, text, strlen(text));
    CHECK(fp != NULL);
    if (!fp)
        return;
    CHECK(ss_npy_read_header(fp, "big.npy", &h, &err) == SS_ELIMIT);
    CHECK_STR_CONTAINS(err.msg, "big.npy: .npy header length 16777216 exceeds the limit");
    fclose(fp);

    /* A header length past the end of the file. */
    fp = npy_bytes(1, 0, strlen(text) + 40, text, strlen(text));
    CHECK(fp != NULL);
    if (!fp)
        return;
    CHECK(ss_npy_read_header(fp, "short.npy", &h, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "short.npy: truncated .npy file");
    fclose(fp);

    /* A file that ends inside the prefix. */
    fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp)
        return;
    fwrite("\x93NUMPY\x01\x00\x40", 1, 9, fp);
    rewind(fp);
    CHECK(ss_npy_read_header(fp, "tiny.npy", &h, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "tiny.npy: truncated .npy file (1 of 2 bytes of the header length)");
    fclose(fp);
}

/* Returns 1 when /usr/bin/python3 can import numpy. */
static int have_numpy(void)
{
    if (access(PYTHON, X_OK) != 0)
        return 0;
    return system(PYTHON " -c 'import numpy' >/dev/null 2>&1") == 0;
}

/* Runs a Python snippet and stores its first output line, without the
 * newline, in out. Returns the exit status of the snippet. */
static int run_python(const char *code, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, PYTHON " -c \"%s\" 2>&1", code);
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    if (fgets(out, (int)cap, p))
        out[strcspn(out, "\n")] = '\0';
    char rest[256];
    while (fgets(rest, sizeof rest, p))
        ;
    return pclose(p);
}

static void test_npy_numpy_loads_ours(void)
{
    if (!have_numpy()) {
        printf("# skipped: %s with numpy is not available\n", PYTHON);
        return;
    }

    /* 3x4x5 float32 with values 0, 0.5, 1, ...; the sum is 0.5 * 59 * 60 / 2. */
    const char *path = tmp_path("ours.npy");
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp)
        return;
    uint64_t dims[3] = {3, 4, 5};
    ss_error err;
    ss_error_clear(&err);
    CHECK_MSG(ss_npy_write_header(fp, path, TSF_FLOAT32, 3, dims, &err) == SS_OK, "%s", err.msg);
    float data[60];
    for (int i = 0; i < 60; i++)
        data[i] = 0.5f * (float)i;
    CHECK(fwrite(data, sizeof data[0], 60, fp) == 60);
    CHECK(fclose(fp) == 0);

    char code[1024], out[256];
    snprintf(code, sizeof code,
             "import numpy as np; a = np.load('%s'); print(a.dtype, a.shape, a.sum(), "
             "a[2, 3, 4])", path);
    CHECK(run_python(code, out, sizeof out) == 0);
    CHECK_MSG(strcmp(out, "float32 (3, 4, 5) 885.0 29.5") == 0, "numpy printed '%s'", out);

    /* A 0-d uint16 and a 1-d bool array. */
    path = tmp_path("scalar.npy");
    fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp)
        return;
    CHECK(ss_npy_write_header(fp, path, TSF_UINT16, 0, NULL, &err) == SS_OK);
    uint16_t scalar = 40000;
    CHECK(fwrite(&scalar, 2, 1, fp) == 1);
    CHECK(fclose(fp) == 0);
    snprintf(code, sizeof code,
             "import numpy as np; a = np.load('%s'); print(a.dtype, a.shape, int(a))", path);
    CHECK(run_python(code, out, sizeof out) == 0);
    CHECK_MSG(strcmp(out, "uint16 () 40000") == 0, "numpy printed '%s'", out);

    path = tmp_path("flags.npy");
    fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp)
        return;
    uint64_t n = 5;
    CHECK(ss_npy_write_header(fp, path, TSF_BOOL, 1, &n, &err) == SS_OK);
    unsigned char flags[5] = {1, 0, 1, 1, 0};
    CHECK(fwrite(flags, 1, 5, fp) == 5);
    CHECK(fclose(fp) == 0);
    snprintf(code, sizeof code,
             "import numpy as np; a = np.load('%s'); print(a.dtype, a.shape, a.sum())", path);
    CHECK(run_python(code, out, sizeof out) == 0);
    CHECK_MSG(strcmp(out, "bool (5,) 3") == 0, "numpy printed '%s'", out);
}

/* Reads a file that NumPy wrote: checks the header and returns the data in
 * a malloc'd buffer of nbytes bytes. */
static void *read_numpy_file(const char *path, ss_npy_header *h, size_t nbytes)
{
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL);
    if (!fp)
        return NULL;
    ss_error err;
    ss_error_clear(&err);
    ss_status st = ss_npy_read_header(fp, path, h, &err);
    CHECK_MSG(st == SS_OK, "%s", err.msg);
    void *data = malloc(nbytes + 1);
    /* Exactly nbytes follow the header. */
    if (st != SS_OK || !data || fread(data, 1, nbytes + 1, fp) != nbytes) {
        CHECK(!"data after the header has the expected size");
        free(data);
        data = NULL;
    }
    CHECK(h->data_offset % 64 == 0);
    fclose(fp);
    return data;
}

static void test_npy_read_numpy_files(void)
{
    if (!have_numpy()) {
        printf("# skipped: %s with numpy is not available\n", PYTHON);
        return;
    }

    char code[1024], out[256];
    snprintf(code, sizeof code,
             "import numpy as np; "
             "np.save('%s/i4.npy', np.arange(24, dtype='<i4').reshape(2, 3, 4) - 5); "
             "np.save('%s/f8.npy', np.float64(2.5)); "
             "np.save('%s/u1.npy', np.arange(256, dtype=np.uint8)); "
             "np.save('%s/f2.npy', np.array([1.0, -2.0], dtype='<f2')); "
             "np.save('%s/big.npy', np.zeros(3, dtype='>f4')); "
             "np.save('%s/fortran.npy', np.asfortranarray(np.zeros((2, 3), dtype='<f4'))); "
             "print('ok')",
             tmp_dir, tmp_dir, tmp_dir, tmp_dir, tmp_dir, tmp_dir);
    CHECK(run_python(code, out, sizeof out) == 0);
    CHECK_MSG(strcmp(out, "ok") == 0, "python printed '%s'", out);

    ss_npy_header h;
    int32_t *i4 = read_numpy_file(tmp_path("i4.npy"), &h, 24 * 4);
    CHECK(h.dtype == TSF_INT32);
    CHECK(h.ndim == 3);
    CHECK(h.dims[0] == 2);
    CHECK(h.dims[1] == 3);
    CHECK(h.dims[2] == 4);
    if (i4) {
        long sum = 0;
        for (int i = 0; i < 24; i++)
            sum += i4[i];
        CHECK(sum == 276 - 120);
        CHECK(i4[0] == -5);
        CHECK(i4[23] == 18);
    }
    free(i4);

    double *f8 = read_numpy_file(tmp_path("f8.npy"), &h, 8);
    CHECK(h.dtype == TSF_FLOAT64);
    CHECK(h.ndim == 0);
    if (f8)
        CHECK(f8[0] == 2.5);
    free(f8);

    unsigned char *u1 = read_numpy_file(tmp_path("u1.npy"), &h, 256);
    CHECK(h.dtype == TSF_UINT8);
    CHECK(h.ndim == 1);
    CHECK(h.dims[0] == 256);
    if (u1) {
        CHECK(u1[0] == 0);
        CHECK(u1[200] == 200);
        CHECK(u1[255] == 255);
    }
    free(u1);

    /* float16 1.0 is 0x3c00 and -2.0 is 0xc000. */
    uint16_t *f2 = read_numpy_file(tmp_path("f2.npy"), &h, 4);
    CHECK(h.dtype == TSF_FLOAT16);
    CHECK(h.ndim == 1);
    CHECK(h.dims[0] == 2);
    if (f2) {
        CHECK(f2[0] == 0x3c00);
        CHECK(f2[1] == 0xc000);
    }
    free(f2);

    static const struct {
        const char *name;
        const char *message;
    } rejected[] = {
        {"big.npy", "dtype '>f4' is big-endian; convert with arr.astype('<f4')"},
        {"fortran.npy", "fortran_order is True"},
    };
    for (size_t i = 0; i < 2; i++) {
        FILE *fp = fopen(tmp_path(rejected[i].name), "rb");
        CHECK(fp != NULL);
        if (!fp)
            continue;
        ss_error err;
        CHECK(ss_npy_read_header(fp, rejected[i].name, &h, &err) == SS_EDATA);
        CHECK_STR_CONTAINS(err.msg, rejected[i].message);
        fclose(fp);
    }
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
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_npy.XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        printf("Bail out! cannot create a temporary directory\n");
        return 1;
    }

    RUN(test_npy_write_read_roundtrip);
    RUN(test_npy_written_text);
    RUN(test_npy_write_rejects);
    RUN(test_npy_parse_versions);
    RUN(test_npy_parse_spacing_variants);
    RUN(test_npy_parse_rejects);
    RUN(test_npy_reject_prefix);
    RUN(test_npy_numpy_loads_ours);
    RUN(test_npy_read_numpy_files);

    remove_tmp_dir();
    return CHECK_DONE();
}
