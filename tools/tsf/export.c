/* export: selfsup-tsf export, which writes the records of a stream as PNG
 * files, one PNG contact sheet, .npy arrays or CSV.
 *
 * Each FORMAT has its own options and --help. The input is read to its end
 * and checked completely even when --count stops the export earlier, so a
 * damaged stream always fails the command. Every output file is written to
 * a temporary file first and renamed into place when complete; PNG files
 * written before a failure stay. Left out: JPEG, .npz archives and several
 * fields stacked into one .npy array. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd.h"
#include "imgio.h"
#include "ss_log.h"
#include "ss_npy.h"
#include "ss_out.h"
#include "ss_png.h"

/* ---- Reading the input ---------------------------------------------------- */

typedef struct {
    tsf_reader *r;
    tsf_record *rec;
    uint64_t index;   /* records read so far, over all streams of the input */
} export_input;

static ss_status input_open(export_input *in, const char *path, const cmd_limits *lim,
                            ss_error *err)
{
    memset(in, 0, sizeof *in);
    tsf_limits limits;
    cmd_limits_apply(lim, &limits);
    in->rec = malloc(sizeof *in->rec);
    if (!in->rec)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    in->r = tsf_reader_open_path(path, &limits, err);
    return in->r ? SS_OK : err->status;
}

/* Reads the next record into in->rec. Returns 1 for a record, 0 at the end
 * of the input and -1 with err set on an error. */
static int input_next(export_input *in, ss_error *err)
{
    int got = tsf_reader_next(in->r, in->rec);
    if (got < 0)
        *err = *tsf_reader_error(in->r);
    return got;
}

/* Reads and checks the rest of the input without decoding its records. */
static ss_status input_drain(export_input *in, ss_error *err)
{
    tsf_chunk chunk;
    int got;
    while ((got = tsf_reader_next_chunk(in->r, &chunk)) == 1)
        continue;
    if (got < 0) {
        *err = *tsf_reader_error(in->r);
        return err->status;
    }
    return SS_OK;
}

static void input_close(export_input *in)
{
    if (in->r)
        tsf_reader_close(in->r);
    free(in->rec);
    memset(in, 0, sizeof *in);
}

/* Finds field name in the current record; its absence is an error naming
 * the record. */
static ss_status input_field(const export_input *in, const char *name, const tsf_field **out,
                             ss_error *err)
{
    *out = tsf_record_find(in->rec, name);
    if (*out)
        return SS_OK;
    return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 " has no field '%s'",
                        tsf_reader_name(in->r), in->index, name);
}

/* Prefixes err with the input name when it names a record only. */
static ss_status input_fail(const export_input *in, ss_error *err)
{
    if (in->r && strncmp(err->msg, "record ", 7) == 0)
        ss_error_prefix(err, "%s", tsf_reader_name(in->r));
    return err->status;
}

/* ---- png -------------------------------------------------------------------- */

/* The file names written by --by-key, so that two records with keys that
 * map to one name fail the export instead of overwriting each other. */
typedef struct {
    char **slots;
    size_t cap;    /* a power of two, 0 before the first insert */
    size_t len;
} name_set;

static uint64_t name_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;   /* FNV-1a, 64-bit */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Adds name; returns 1 when added, 0 when already present, -1 when out of
 * memory. */
static int name_set_add(name_set *set, const char *name)
{
    if (2 * (set->len + 1) > set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 1024;
        char **slots = calloc(cap, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slots[i])
                continue;
            size_t j = (size_t)name_hash(set->slots[i]) & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = set->slots[i];
        }
        free(set->slots);
        set->slots = slots;
        set->cap = cap;
    }
    size_t j = (size_t)name_hash(name) & (set->cap - 1);
    for (; set->slots[j]; j = (j + 1) & (set->cap - 1))
        if (strcmp(set->slots[j], name) == 0)
            return 0;
    set->slots[j] = strdup(name);
    if (!set->slots[j])
        return -1;
    set->len++;
    return 1;
}

static void name_set_free(name_set *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slots[i]);
    free(set->slots);
}

/* Writes the PNG file name of the current record into name: the record
 * number, or with by_key the key with '/' replaced by '_' and ".png"
 * appended unless the key already ends in ".png" (any case). */
static ss_status png_file_name(const export_input *in, int by_key, name_set *seen, char *name,
                               size_t size, ss_error *err)
{
    if (!by_key) {
        snprintf(name, size, "%06" PRIu64 ".png", in->index);
        return SS_OK;
    }
    const tsf_field *key;
    ss_status st = input_field(in, "key", &key, err);
    if (st != SS_OK)
        return st;
    const char *text = key->data;
    if (key->dtype != TSF_UTF8 || key->nbytes == 0 || key->nbytes + 5 > size
        || memchr(text, '\0', key->nbytes))
        return ss_error_set(err, SS_EDATA,
                            "record %" PRIu64 ": the key cannot be a file name (it must be "
                            "non-empty utf8 of at most %zu bytes without NUL characters)",
                            in->index, size - 5);
    memcpy(name, text, key->nbytes);
    for (size_t i = 0; i < key->nbytes; i++)
        if (name[i] == '/')
            name[i] = '_';
    name[key->nbytes] = '\0';
    if (key->nbytes < 4 || strcasecmp(name + key->nbytes - 4, ".png") != 0)
        memcpy(name + key->nbytes, ".png", 5);
    int added = name_set_add(seen, name);
    if (added < 0)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    if (added == 0)
        return ss_error_set(err, SS_EDATA,
                            "record %" PRIu64 ": file name '%s' was already written for an earlier "
                            "record; keys must stay distinct after '/' becomes '_'",
                            in->index, name);
    return SS_OK;
}

/* Writes one image as dir/name atomically. */
static ss_status png_write_file(const char *dir, const char *name, const ss_image *img,
                                ss_error *err)
{
    size_t len = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(len);
    if (!path)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    snprintf(path, len, "%s/%s", dir, name);
    imgio_file file;
    ss_status st = imgio_file_open(&file, path, 1, err);
    if (st == SS_OK) {
        st = ss_png_write(file.fp, path, img, err);
        if (st == SS_OK)
            st = imgio_file_commit(&file, err);
        else
            imgio_file_discard(&file);
    }
    free(path);
    return st;
}

static int export_png(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    const char *field = "image";
    int by_key = 0;
    int64_t count = INT64_MAX;
    const ss_option opts[] = {
        {"field", 'f', SS_ARG_STRING, &field, "NAME", "image field to write (default image)", 0, 0,
         NULL, NULL},
        {"by-key", 0, SS_ARG_FLAG, &by_key, NULL,
         "name files after the keys, '/' as '_'", 0,
         0, NULL, NULL},
        {"count", 'n', SS_ARG_INT64, &count, "N", "write at most N images (default all)", 0, 1e18,
         NULL, NULL},
        CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf export png", "[OPTION]... DIR [FILE]",
        "Write the image field of each record of FILE (standard input when absent or\n"
        "'-') as a PNG file in DIR, which is created when missing.",
        "Files are named by record number from 0, zero-padded to 6 digits\n"
        "(000000.png), or with --by-key after the record's key, '/' replaced by '_'\n"
        "and \".png\" added unless the key ends in it. The field must be uint8 or\n"
        "uint16 with shape [H,W,C], C from 1 to 4 (gray, gray+alpha, RGB, RGBA), or\n"
        "[H,W] for gray. Each file appears only when complete and replaces any file\n"
        "of that name; files written before an error stay.",
        opts, 0, 1, 2};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    const char *dir = argv[first];
    const char *path = argc - first > 1 ? argv[first + 1] : "-";

    ss_error err;
    export_input in;
    memset(&in, 0, sizeof in);
    name_set seen = {NULL, 0, 0};
    ss_status st = input_open(&in, path, &lim, &err);
    if (st == SS_OK)
        st = imgio_make_dir(dir, &err);
    int got = 0;
    uint64_t written = 0;
    while (st == SS_OK && written < (uint64_t)count && (got = input_next(&in, &err)) == 1) {
        const tsf_field *f;
        ss_image img;
        char name[256];
        st = input_field(&in, field, &f, &err);
        if (st == SS_OK)
            st = png_file_name(&in, by_key, &seen, name, sizeof name, &err);
        if (st == SS_OK)
            st = imgio_field_image(f, in.index, &img, &err);
        if (st == SS_OK) {
            st = png_write_file(dir, name, &img, &err);
            ss_image_free(&img);
        }
        if (st == SS_OK) {
            in.index++;
            written++;
        }
    }
    if (st == SS_OK && got < 0)
        st = err.status;
    if (st == SS_OK)
        st = input_drain(&in, &err);
    if (st == SS_OK)
        ss_log_detail("wrote %" PRIu64 " PNG files to %s", written, dir);
    else
        input_fail(&in, &err);
    name_set_free(&seen);
    input_close(&in);
    return tool_finish(st == SS_OK ? SS_EXIT_OK : tool_fail(&err));
}

/* ---- grid ------------------------------------------------------------------- */

/* Enlarges img by an integer factor with nearest-neighbour sampling. */
static ss_status image_scale(const ss_image *img, int scale, ss_image *out, ss_error *err)
{
    memset(out, 0, sizeof *out);
    uint64_t w = (uint64_t)img->width * (uint64_t)scale;
    uint64_t h = (uint64_t)img->height * (uint64_t)scale;
    size_t pixel = (size_t)img->channels * (size_t)(img->depth / 8);
    if (w > TSF_MAX_DIM || h > TSF_MAX_DIM || w * h > SIZE_MAX / pixel)
        return ss_error_set(err, SS_ELIMIT, "grid of %" PRIu64 "x%" PRIu64 " pixels is too large; "
                            "use a smaller --scale or --count", w, h);
    out->pixels = malloc((size_t)(w * h) * pixel);
    if (!out->pixels)
        return ss_error_set(err, SS_ENOMEM, "out of memory for a grid of %" PRIu64 "x%" PRIu64
                            " pixels", w, h);
    out->width = (uint32_t)w;
    out->height = (uint32_t)h;
    out->channels = img->channels;
    out->depth = img->depth;
    const unsigned char *src = img->pixels;
    unsigned char *dst = out->pixels;
    for (uint64_t y = 0; y < h; y++) {
        const unsigned char *row = src + (size_t)(y / (uint64_t)scale) * img->width * pixel;
        for (uint64_t x = 0; x < w; x++, dst += pixel)
            memcpy(dst, row + (size_t)(x / (uint64_t)scale) * pixel, pixel);
    }
    return SS_OK;
}

/* Appends the image of the current record to images, checking that it
 * matches the first one in size and depth. */
static ss_status grid_add(const export_input *in, const char *field, ss_image *images, size_t n,
                          ss_error *err)
{
    const tsf_field *f;
    ss_status st = input_field(in, field, &f, err);
    if (st == SS_OK)
        st = imgio_field_image(f, in->index, &images[n], err);
    if (st != SS_OK || n == 0)
        return st;
    const ss_image *a = &images[0], *b = &images[n];
    if (a->width != b->width || a->height != b->height || a->depth != b->depth)
        return ss_error_set(err, SS_EDATA,
                            "record %" PRIu64 ": image is %ux%u at depth %d but the first is "
                            "%ux%u at depth %d; a grid needs images of one size and depth",
                            in->index, (unsigned)b->width, (unsigned)b->height, b->depth,
                            (unsigned)a->width, (unsigned)a->height, a->depth);
    return SS_OK;
}

/* Lays out the images, scales the sheet and writes it to path. */
static ss_status grid_write(const char *path, const ss_image *images, size_t n, int cols, int pad,
                            int fill, int scale, ss_error *err)
{
    int out_channels = 1;
    for (size_t i = 0; i < n; i++)
        if (images[i].channels >= 3)
            out_channels = 3;
    if (cols == 0)
        while ((size_t)cols * (size_t)cols < n)
            cols++;
    int max = images[0].depth == 8 ? 255 : 65535;
    if (fill < 0)
        fill = max;
    else if (fill > max)
        return ss_error_set(err, SS_EINVAL, "--fill %d is above %d, the largest sample at depth %d",
                            fill, max, images[0].depth);
    ss_image sheet, scaled;
    memset(&scaled, 0, sizeof scaled);
    ss_status st = ss_image_grid(images, n, cols, pad, fill, out_channels, &sheet, err);
    if (st == SS_OK && scale > 1)
        st = image_scale(&sheet, scale, &scaled, err);
    imgio_file file;
    if (st == SS_OK)
        st = imgio_file_open(&file, path, 1, err);
    if (st == SS_OK) {
        st = ss_png_write(file.fp, path, scale > 1 ? &scaled : &sheet, err);
        if (st == SS_OK)
            st = imgio_file_commit(&file, err);
        else
            imgio_file_discard(&file);
    }
    ss_image_free(&sheet);
    ss_image_free(&scaled);
    return st;
}

static int export_grid(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    const char *field = "image";
    int count = 64, cols = 0, pad = 2, scale = 1, fill = -1;
    const ss_option opts[] = {
        {"field", 'f', SS_ARG_STRING, &field, "NAME", "image field to show (default image)", 0, 0,
         NULL, NULL},
        {"count", 'n', SS_ARG_INT, &count, "N", "show the first N images, 1 to 65536 (default 64)",
         1, 65536, NULL, NULL},
        {"cols", 0, SS_ARG_INT, &cols, "C",
         "images per row (default: smallest C with C*C >= N)", 1, 65536, NULL,
         NULL},
        {"pad", 0, SS_ARG_INT, &pad, "P", "pixels between and around the images (default 2)", 0,
         1024, NULL, NULL},
        {"scale", 0, SS_ARG_INT, &scale, "S",
         "enlarge S times, nearest neighbour (default 1)", 1, 64, NULL, NULL},
        {"fill", 0, SS_ARG_INT, &fill, "V",
         "padding sample value (default: the maximum, white)", 0, 65535,
         NULL, NULL},
        CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf export grid", "[OPTION]... OUT.png [FILE]",
        "Write the first N images of FILE (standard input when absent or '-') as one\n"
        "contact-sheet PNG, row by row.",
        "All images must have one size and one depth (uint8 or uint16). The sheet\n"
        "is gray when every image is gray (with or without alpha) and RGB otherwise;\n"
        "alpha is composited over black. OUT.png appears only when complete, and\n"
        "'-' writes the PNG to standard output.",
        opts, 0, 1, 2};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    const char *out_path = argv[first];
    const char *path = argc - first > 1 ? argv[first + 1] : "-";

    ss_error err;
    export_input in;
    memset(&in, 0, sizeof in);
    size_t n = 0;
    ss_image *images = calloc((size_t)count, sizeof *images);
    ss_status st = images ? input_open(&in, path, &lim, &err)
                          : ss_error_set(&err, SS_ENOMEM, "out of memory");
    int got = 0;
    while (st == SS_OK && n < (size_t)count && (got = input_next(&in, &err)) == 1) {
        st = grid_add(&in, field, images, n, &err);
        if (st == SS_OK) {
            n++;
            in.index++;
        }
    }
    if (st == SS_OK && got < 0)
        st = err.status;
    if (st == SS_OK)
        st = input_drain(&in, &err);
    if (st == SS_OK && n == 0)
        st = ss_error_set(&err, SS_EDATA, "%s: the input has no records to show",
                          tsf_reader_name(in.r));
    if (st == SS_OK)
        st = grid_write(out_path, images, n, cols, pad, fill, scale, &err);
    else
        input_fail(&in, &err);
    for (size_t i = 0; images && i <= n && i < (size_t)count; i++)
        ss_image_free(&images[i]);
    free(images);
    input_close(&in);
    return tool_finish(st == SS_OK ? SS_EXIT_OK : tool_fail(&err));
}

/* ---- npy -------------------------------------------------------------------- */

/* The values of one array, spooled to a temporary file until the record
 * count, and so the header, is known. */
typedef struct {
    const char *dest;   /* destination path, "-" for standard output */
    const char *subject;   /* "field 'image'", for messages */
    ss_out spool_out;   /* temporary file beside dest; unused for "-" */
    FILE *spool;
    tsf_field first;    /* dtype and shape of record 0; data unused */
    uint64_t n;
} npy_spool;

static ss_status spool_open(npy_spool *s, const char *dest, const char *subject, ss_error *err)
{
    memset(s, 0, sizeof *s);
    s->dest = dest;
    s->subject = subject;
    s->spool_out.fd = -1;
    if (strcmp(dest, "-") == 0) {
        s->spool = tmpfile();
        if (!s->spool)
            return ss_error_set(err, SS_EIO, "cannot create a temporary file: %s", strerror(errno));
        return SS_OK;
    }
    size_t len = strlen(dest) + 8;
    char *spool_path = malloc(len);
    if (!spool_path)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    snprintf(spool_path, len, "%s.spool", dest);
    ss_status st = ss_out_open(&s->spool_out, spool_path, 1, err);
    free(spool_path);
    if (st != SS_OK)
        return st;
    int fd = dup(s->spool_out.fd);
    s->spool = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (!s->spool) {
        if (fd >= 0)
            close(fd);
        return ss_error_set(err, SS_EIO, "%s: cannot open a temporary file: %s", dest,
                            strerror(errno));
    }
    return SS_OK;
}

static void spool_close(npy_spool *s)
{
    if (s->spool)
        fclose(s->spool);
    s->spool = NULL;
    if (s->spool_out.path)
        ss_out_discard(&s->spool_out);
}

static int same_shape(const tsf_field *a, const tsf_field *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d])
            return 0;
    return 1;
}

/* Checks that .npy can store fields of f's dtype and shape. */
static ss_status spool_check_dtype(const npy_spool *s, const tsf_field *f, ss_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    uint64_t dims[TSF_MAX_NDIM + 1] = {0};
    memcpy(dims + 1, f->dims, sizeof f->dims);
    ss_error problem;
    ss_status st = f->ndim + 1 > 8
                       ? ss_error_set(&problem, SS_EDATA, "too many dims")
                       : ss_npy_write_header(mem, s->dest, f->dtype, f->ndim + 1, dims, &problem);
    fclose(mem);
    free(buf);
    if (st != SS_OK) {
        char shape[160];
        imgio_field_describe(f, shape, sizeof shape);
        return ss_error_set(err, SS_EDATA, "%s: %s is %s, which a .npy array cannot hold with a "
                            "records axis (%s)", s->dest, s->subject, shape, problem.msg);
    }
    return SS_OK;
}

/* Appends the value of field f of record `index`. */
static ss_status spool_add(npy_spool *s, const tsf_field *f, uint64_t index, ss_error *err)
{
    if (s->n == 0) {
        ss_status st = spool_check_dtype(s, f, err);
        if (st != SS_OK)
            return st;
        s->first = *f;
    } else if (!same_shape(&s->first, f)) {
        char now[160], then[160];
        imgio_field_describe(f, now, sizeof now);
        imgio_field_describe(&s->first, then, sizeof then);
        return ss_error_set(err, SS_EDATA,
                            "record %" PRIu64 ": %s is %s but in record 0 it is %s; a .npy array "
                            "needs one dtype and shape",
                            index, s->subject, now, then);
    }
    if (f->nbytes && fwrite(f->data, 1, f->nbytes, s->spool) != f->nbytes)
        return ss_error_set(err, SS_EIO, "%s: cannot write the temporary file: %s", s->dest,
                            strerror(errno));
    s->n++;
    return SS_OK;
}

/* Writes the header and the spooled data to the destination. */
static ss_status spool_finish(npy_spool *s, ss_error *err)
{
    uint64_t dims[TSF_MAX_NDIM + 1];
    dims[0] = s->n;
    memcpy(dims + 1, s->first.dims, (size_t)s->first.ndim * sizeof dims[0]);
    if (fflush(s->spool) != 0 || fseek(s->spool, 0, SEEK_SET) != 0)
        return ss_error_set(err, SS_EIO, "%s: cannot read back the temporary file: %s", s->dest,
                            strerror(errno));
    imgio_file file;
    ss_status st = imgio_file_open(&file, s->dest, 1, err);
    if (st != SS_OK)
        return st;
    st = ss_npy_write_header(file.fp, s->dest, s->first.dtype, s->first.ndim + 1, dims, err);
    static unsigned char block[1 << 16];
    size_t got;
    while (st == SS_OK && (got = fread(block, 1, sizeof block, s->spool)) > 0)
        if (fwrite(block, 1, got, file.fp) != got)
            st = ss_error_set(err, SS_EIO, "%s: write failed: %s", s->dest, strerror(errno));
    if (st == SS_OK && ferror(s->spool))
        st = ss_error_set(err, SS_EIO, "%s: cannot read back the temporary file: %s", s->dest,
                          strerror(errno));
    if (st == SS_OK)
        return imgio_file_commit(&file, err);
    imgio_file_discard(&file);
    return st;
}

/* Converts the label field of the current record to an int64 field. */
static ss_status label_int64(const export_input *in, const tsf_field *f, int64_t *value,
                             tsf_field *out, ss_error *err)
{
    const void *p = f->data;
    int ok = f->ndim == 0;
    switch (ok ? f->dtype : 0) {
    case TSF_UINT8: *value = *(const uint8_t *)p; break;
    case TSF_INT8: *value = *(const int8_t *)p; break;
    case TSF_UINT16: *value = *(const uint16_t *)p; break;
    case TSF_INT16: *value = *(const int16_t *)p; break;
    case TSF_UINT32: *value = *(const uint32_t *)p; break;
    case TSF_INT32: *value = *(const int32_t *)p; break;
    case TSF_INT64: *value = *(const int64_t *)p; break;
    case TSF_UINT64:
        ok = *(const uint64_t *)p <= INT64_MAX;
        *value = (int64_t)*(const uint64_t *)p;
        break;
    default: ok = 0;
    }
    if (!ok) {
        char shape[160];
        imgio_field_describe(f, shape, sizeof shape);
        return ss_error_set(err, SS_EDATA,
                            "record %" PRIu64 ": field '%s' is %s, not an integer scalar that "
                            "fits in int64",
                            in->index, f->name, shape);
    }
    tsf_field_set(out, f->name, TSF_INT64, 0, NULL, value);
    return SS_OK;
}

static int export_npy(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    const char *field = "image", *labels_path = NULL, *label_field = "label";
    const ss_option opts[] = {
        {"field", 'f', SS_ARG_STRING, &field, "NAME", "field to stack (default image)", 0, 0,
         NULL, NULL},
        {"labels", 'l', SS_ARG_STRING, &labels_path, "FILE",
         "also write labels as int64 [N] to FILE", 0, 0, NULL, NULL},
        {"label-field", 0, SS_ARG_STRING, &label_field, "NAME",
         "field written by --labels (default label)", 0, 0, NULL, NULL},
        CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf export npy", "[OPTION]... OUT.npy [FILE]",
        "Stack one field of every record of FILE (standard input when absent or '-')\n"
        "into a .npy array of shape [N, ...].",
        "Every record must hold the field with one dtype and shape. The values are\n"
        "spooled to a temporary file beside OUT.npy (in $TMPDIR for '-', standard\n"
        "output), so memory stays small; OUT.npy and the --labels file appear only\n"
        "when complete. bytes, utf8 and bfloat16 fields cannot be exported.",
        opts, 0, 1, 2};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    const char *out_path = argv[first];
    const char *path = argc - first > 1 ? argv[first + 1] : "-";
    if (labels_path && strcmp(labels_path, out_path) == 0)
        return tool_usage(cmd.name, "--labels names the same file as OUT.npy");

    char subject[TSF_MAX_NAME + 16], label_subject[TSF_MAX_NAME + 16];
    snprintf(subject, sizeof subject, "field '%s'", field);
    snprintf(label_subject, sizeof label_subject, "field '%s'", label_field);
    ss_error err;
    export_input in;
    npy_spool values, labels;
    memset(&in, 0, sizeof in);
    memset(&values, 0, sizeof values);
    memset(&labels, 0, sizeof labels);
    ss_status st = input_open(&in, path, &lim, &err);
    if (st == SS_OK)
        st = spool_open(&values, out_path, subject, &err);
    if (st == SS_OK && labels_path)
        st = spool_open(&labels, labels_path, label_subject, &err);
    int got = 0;
    while (st == SS_OK && (got = input_next(&in, &err)) == 1) {
        const tsf_field *f, *lf;
        st = input_field(&in, field, &f, &err);
        if (st == SS_OK)
            st = spool_add(&values, f, in.index, &err);
        if (st == SS_OK && labels_path) {
            int64_t label;
            tsf_field converted;
            st = input_field(&in, label_field, &lf, &err);
            if (st == SS_OK)
                st = label_int64(&in, lf, &label, &converted, &err);
            if (st == SS_OK)
                st = spool_add(&labels, &converted, in.index, &err);
        }
        if (st == SS_OK)
            in.index++;
    }
    if (st == SS_OK && got < 0)
        st = err.status;
    if (st == SS_OK && values.n == 0)
        st = ss_error_set(&err, SS_EDATA, "%s: the input has no records; an empty array has no "
                          "known dtype or shape", tsf_reader_name(in.r));
    if (st == SS_OK)
        st = spool_finish(&values, &err);
    if (st == SS_OK && labels_path)
        st = spool_finish(&labels, &err);
    if (st != SS_OK)
        input_fail(&in, &err);
    spool_close(&values);
    spool_close(&labels);
    input_close(&in);
    return tool_finish(st == SS_OK ? SS_EXIT_OK : tool_fail(&err));
}

/* ---- csv -------------------------------------------------------------------- */

/* A field exported as CSV columns, with its dtype and shape from record 0. */
typedef struct {
    tsf_field shape;
} csv_field;

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {
        /* A subnormal half is mant * 2^-24, exact in float. */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Writes value i of field f. Integers are exact. Floats get 9 significant
 * digits up to float32 and 17 for float64, enough to read back the same
 * value. */
static void csv_value(FILE *fp, const tsf_field *f, size_t i)
{
    const unsigned char *p = f->data;
    switch (f->dtype) {
    case TSF_UINT8: case TSF_BOOL: fprintf(fp, "%u", (unsigned)p[i]); break;
    case TSF_INT8: fprintf(fp, "%d", (int)(int8_t)p[i]); break;
    case TSF_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); fprintf(fp, "%u", (unsigned)v); break; }
    case TSF_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); fprintf(fp, "%d", (int)v); break; }
    case TSF_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); fprintf(fp, "%" PRIu32, v); break; }
    case TSF_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); fprintf(fp, "%" PRId32, v); break; }
    case TSF_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); fprintf(fp, "%" PRIu64, v); break; }
    case TSF_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); fprintf(fp, "%" PRId64, v); break; }
    case TSF_FLOAT16: {
        uint16_t v;
        memcpy(&v, p + 2 * i, 2);
        fprintf(fp, "%.9g", (double)half_to_float(v));
        break;
    }
    case TSF_BFLOAT16: {
        uint16_t v;
        memcpy(&v, p + 2 * i, 2);
        uint32_t bits = (uint32_t)v << 16;
        float x;
        memcpy(&x, &bits, sizeof x);
        fprintf(fp, "%.9g", (double)x);
        break;
    }
    case TSF_FLOAT32: { float v; memcpy(&v, p + 4 * i, 4); fprintf(fp, "%.9g", (double)v); break; }
    case TSF_FLOAT64: { double v; memcpy(&v, p + 8 * i, 8); fprintf(fp, "%.17g", v); break; }
    default: break;
    }
}

/* Writes text as one CSV cell, quoted when always is set or when it contains
 * a comma, quote, CR or LF (RFC 4180), with quotes doubled. */
static void csv_text(FILE *fp, const char *text, size_t len, int always)
{
    int quote = always || memchr(text, ',', len) || memchr(text, '"', len)
                || memchr(text, '\n', len) || memchr(text, '\r', len);
    if (!quote) {
        fwrite(text, 1, len, fp);
        return;
    }
    fputc('"', fp);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"')
            fputc('"', fp);
        fputc(text[i], fp);
    }
    fputc('"', fp);
}

static int csv_one_column(const tsf_field *f)
{
    return f->dtype == TSF_UTF8 || f->ndim == 0;
}

static void csv_header(FILE *fp, const csv_field *fields, int n)
{
    int sep = 0;
    for (int k = 0; k < n; k++) {
        const tsf_field *f = &fields[k].shape;
        uint64_t cols = csv_one_column(f) ? 1 : f->count;
        for (uint64_t c = 0; c < cols; c++) {
            char name[TSF_MAX_NAME + 32];
            if (csv_one_column(f))
                snprintf(name, sizeof name, "%s", f->name);
            else
                snprintf(name, sizeof name, "%s_%" PRIu64, f->name, c);
            if (sep++)
                fputc(',', fp);
            csv_text(fp, name, strlen(name), 0);
        }
    }
    fputc('\n', fp);
}

/* Picks the fields of record 0: those named in spec (a comma-separated
 * list), or all but bytes fields when spec is NULL. */
static ss_status csv_pick(const export_input *in, const char *spec, csv_field *fields, int *n,
                          ss_error *err)
{
    const tsf_record *rec = in->rec;
    *n = 0;
    if (!spec) {
        for (int i = 0; i < rec->n_fields; i++)
            if (rec->fields[i].dtype != TSF_BYTES)
                fields[(*n)++].shape = rec->fields[i];
        if (*n == 0)
            return ss_error_set(err, SS_EDATA, "record 0 has no field that CSV can show (bytes "
                                "fields are left out)");
        return SS_OK;
    }
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[TSF_MAX_NAME + 1];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        const tsf_field *f = tsf_record_find(rec, name);
        if (!f)
            return ss_error_set(err, SS_EDATA, "record 0 has no field '%s' (given in --fields)",
                                name);
        if (f->dtype == TSF_BYTES)
            return ss_error_set(err, SS_EDATA, "field '%s' is bytes, which CSV cannot show", name);
        fields[(*n)++].shape = *f;
        if (!comma)
            return SS_OK;
        p = comma + 1;
    }
}

/* Checks a --fields list: names 1 to 255 bytes, none twice, at most 64. */
static int csv_spec_valid(const char *spec, char *problem, size_t size)
{
    int n = 0;
    for (const char *p = spec;; n++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len > TSF_MAX_NAME) {
            snprintf(problem, size, "field name %d is %s", n, len ? "too long" : "empty");
            return 0;
        }
        for (const char *q = spec; q < p;) {
            const char *qc = strchr(q, ',');
            if ((size_t)(qc - q) == len && memcmp(q, p, len) == 0) {
                snprintf(problem, size, "field '%.*s' appears twice", (int)len, p);
                return 0;
            }
            q = qc + 1;
        }
        if (n >= TSF_MAX_FIELDS) {
            snprintf(problem, size, "more than %d fields", TSF_MAX_FIELDS);
            return 0;
        }
        if (!comma)
            return 1;
        p = comma + 1;
    }
}

/* Writes the row of the current record. */
static ss_status csv_row(FILE *fp, const export_input *in, const csv_field *fields, int n,
                         ss_error *err)
{
    uint64_t columns = 0;
    for (int k = 0; k < n; k++) {
        const tsf_field *want = &fields[k].shape, *f;
        ss_status st = input_field(in, want->name, &f, err);
        if (st != SS_OK)
            return st;
        int same = f->dtype == TSF_UTF8 ? want->dtype == TSF_UTF8 : same_shape(f, want);
        if (!same) {
            char now[160], then[160];
            imgio_field_describe(f, now, sizeof now);
            imgio_field_describe(want, then, sizeof then);
            return ss_error_set(err, SS_EDATA,
                                "record %" PRIu64 ": field '%s' is %s but in record 0 it is %s; "
                                "CSV columns need one dtype and shape",
                                in->index, f->name, now, then);
        }
        if (f->dtype == TSF_UTF8) {
            if (columns++)
                fputc(',', fp);
            csv_text(fp, f->data, f->nbytes, 1);
            continue;
        }
        for (uint64_t i = 0; i < f->count; i++) {
            if (columns++)
                fputc(',', fp);
            csv_value(fp, f, (size_t)i);
        }
    }
    fputc('\n', fp);
    return SS_OK;
}

static int export_csv(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    const char *spec = NULL;
    const ss_option opts[] = {
        {"fields", 'F', SS_ARG_STRING, &spec, "A,B,...",
         "fields to write (default: all but bytes)", 0, 0,
         NULL, NULL},
        CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf export csv", "[OPTION]... OUT.csv [FILE]",
        "Write the records of FILE (standard input when absent or '-') as CSV to\n"
        "OUT.csv ('-' for standard output): a header row, then one row per record.",
        "A scalar or utf8 field gives one column named after it; any other field is\n"
        "flattened in C order into columns NAME_0, NAME_1, ... Every record must hold\n"
        "the chosen fields with the dtype and shape they have in record 0. utf8\n"
        "values are always quoted, with quotes doubled (RFC 4180); integers are\n"
        "exact, float16, bfloat16 and float32 use 9 significant digits and float64\n"
        "17, so values read back exactly. Rows end with LF. An input without records\n"
        "gives an empty file.",
        opts, 0, 1, 2};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    char problem[TSF_MAX_NAME + 64];
    if (spec && !csv_spec_valid(spec, problem, sizeof problem))
        return tool_usage(cmd.name, "invalid value for --fields: %s", problem);
    const char *out_path = argv[first];
    const char *path = argc - first > 1 ? argv[first + 1] : "-";

    ss_error err;
    export_input in;
    memset(&in, 0, sizeof in);
    imgio_file file;
    memset(&file, 0, sizeof file);
    csv_field *fields = malloc(TSF_MAX_FIELDS * sizeof *fields);
    int n = 0;
    ss_status st = fields ? input_open(&in, path, &lim, &err)
                          : ss_error_set(&err, SS_ENOMEM, "out of memory");
    if (st == SS_OK)
        st = imgio_file_open(&file, out_path, 0, &err);
    int got = 0;
    while (st == SS_OK && (got = input_next(&in, &err)) == 1) {
        if (in.index == 0) {
            st = csv_pick(&in, spec, fields, &n, &err);
            if (st == SS_OK)
                csv_header(file.fp, fields, n);
        }
        if (st == SS_OK)
            st = csv_row(file.fp, &in, fields, n, &err);
        if (st == SS_OK)
            in.index++;
    }
    if (st == SS_OK && got < 0)
        st = err.status;
    if (st == SS_OK)
        st = imgio_file_commit(&file, &err);
    if (st != SS_OK) {
        input_fail(&in, &err);
        imgio_file_discard(&file);
    }
    free(fields);
    input_close(&in);
    return tool_finish(st == SS_OK ? SS_EXIT_OK : tool_fail(&err));
}

/* ---- Dispatch ----------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} export_formats[] = {
    {"png", export_png, "one PNG file per record, in a folder"},
    {"grid", export_grid, "one contact-sheet PNG of the first images"},
    {"npy", export_npy, "one field of every record stacked into a .npy array"},
    {"csv", export_csv, "CSV with a header row and one row per record"},
};

#define N_EXPORT_FORMATS (sizeof export_formats / sizeof export_formats[0])

int cmd_export(int argc, char **argv)
{
    static const char name[] = "selfsup-tsf export";
    if (argc >= 2 && argv[1][0] != '-') {
        for (size_t i = 0; i < N_EXPORT_FORMATS; i++)
            if (strcmp(argv[1], export_formats[i].name) == 0)
                return export_formats[i].run(argc - 1, argv + 1);
        return tool_usage(name, "unknown format '%s' (expected png, grid, npy or csv)", argv[1]);
    }

    char details[1024];
    size_t len = (size_t)snprintf(details, sizeof details, "Formats:\n");
    for (size_t i = 0; i < N_EXPORT_FORMATS && len < sizeof details; i++)
        len += (size_t)snprintf(details + len, sizeof details - len, "  %-6s %s\n",
                                export_formats[i].name, export_formats[i].summary);
    if (len < sizeof details)
        snprintf(details + len, sizeof details - len,
                 "\nOptions go after FORMAT; run '%s FORMAT --help' for them.", name);
    const ss_option none[] = {{0}};
    const ss_command cmd = {name, "FORMAT [OPTION]... OUTPUT [FILE]",
                            "Convert a stream (FILE, or standard input) into files of another "
                            "format.",
                            details, none, 0, 1, -1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    return tool_usage(name, "FORMAT must come before the options (expected png, grid, npy or "
                      "csv)");
}
