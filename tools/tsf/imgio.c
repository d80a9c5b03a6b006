/* imgio: folder listings, PNG reading with one channel count, image fields
 * as ss_image, and atomic stdio output files for import and export.
 * Left out: image formats other than PNG, and recursive folder walks. */
#include "imgio.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void imgio_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

ss_status imgio_list_dir(const char *dir, char ***names, size_t *n, ss_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return ss_error_set(err, SS_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
    char **list = NULL;
    size_t len = 0, cap = 0;
    ss_status st = SS_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                st = ss_error_set(err, SS_EIO, "%s: cannot read folder: %s", dir, strerror(errno));
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (len == cap) {
            size_t new_cap = cap ? 2 * cap : 64;
            char **grown = realloc(list, new_cap * sizeof *grown);
            if (!grown) {
                st = ss_error_set(err, SS_ENOMEM, "out of memory listing %s", dir);
                break;
            }
            list = grown;
            cap = new_cap;
        }
        list[len] = strdup(e->d_name);
        if (!list[len]) {
            st = ss_error_set(err, SS_ENOMEM, "out of memory listing %s", dir);
            break;
        }
        len++;
    }
    closedir(d);
    if (st != SS_OK) {
        imgio_names_free(list, len);
        return st;
    }
    if (len > 1)
        qsort(list, len, sizeof *list, compare_names);
    *names = list;
    *n = len;
    return SS_OK;
}

ss_status imgio_make_dir(const char *dir, ss_error *err)
{
    char *path = strdup(dir);
    if (!path)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    /* Create each prefix that ends before a '/', then the whole path. */
    size_t len = strlen(path);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            ss_error_set(err, SS_EIO, "%s: cannot create folder: %s", path, strerror(errno));
            free(path);
            return SS_EIO;
        }
        path[i] = saved;
    }
    free(path);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ss_error_set(err, SS_EIO, "%s: exists and is not a folder", dir);
    return SS_OK;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Swaps the bytes of n 16-bit samples, converting between native and
 * little-endian order on a big-endian host. */
static void swap16(void *buf, size_t n)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) {
        unsigned char t = p[2 * i];
        p[2 * i] = p[2 * i + 1];
        p[2 * i + 1] = t;
    }
}

void imgio_png_reader_init(imgio_png_reader *r, const ss_png_read_opts *opts)
{
    memset(r, 0, sizeof *r);
    r->opts = *opts;
}

void imgio_png_reader_free(imgio_png_reader *r)
{
    free(r->first_path);
    r->first_path = NULL;
}

ss_status imgio_png_read(imgio_png_reader *r, const char *path, ss_image *img, ss_error *err)
{
    ss_status st = ss_png_read(path, &r->opts, img, err);
    if (st != SS_OK)
        return st;
    if (!r->channels) {
        r->channels = img->channels;
        r->first_path = strdup(path);
        if (!r->first_path) {
            ss_image_free(img);
            return ss_error_set(err, SS_ENOMEM, "out of memory");
        }
    } else if (img->channels != r->channels) {
        int channels = img->channels;
        ss_image_free(img);
        return ss_error_set(err, SS_EDATA,
                            "%s: has %d channel%s but %s has %d; use --channels N to convert "
                            "every image to N channels",
                            path, channels, channels == 1 ? "" : "s", r->first_path, r->channels);
    }
    if (img->depth == 16 && !host_is_little_endian())
        swap16(img->pixels, (size_t)img->height * img->width * (size_t)img->channels);
    return SS_OK;
}

void imgio_field_describe(const tsf_field *f, char *buf, size_t size)
{
    const char *dtype = tsf_dtype_name(f->dtype);
    int n = snprintf(buf, size, "%s [", dtype ? dtype : "unknown");
    for (int d = 0; d < f->ndim && n >= 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, "%s%" PRIu64, d ? "," : "", f->dims[d]);
    if (n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, "]");
}

ss_status imgio_field_image(const tsf_field *f, uint64_t index, ss_image *img, ss_error *err)
{
    memset(img, 0, sizeof *img);
    int channels = 1;
    if (f->ndim == 3)
        channels = f->dims[2] <= 4 ? (int)f->dims[2] : 0;
    int ok = (f->dtype == TSF_UINT8 || f->dtype == TSF_UINT16) && (f->ndim == 2 || f->ndim == 3)
             && channels >= 1 && f->dims[0] >= 1 && f->dims[1] >= 1;
    if (!ok) {
        char shape[160];
        imgio_field_describe(f, shape, sizeof shape);
        return ss_error_set(err, SS_EDATA,
                            "record %" PRIu64 ": field '%s' is %s, not an image (expected uint8 or "
                            "uint16 with shape [H,W,C], C from 1 to 4, or [H,W])",
                            index, f->name, shape);
    }
    img->height = (uint32_t)f->dims[0];
    img->width = (uint32_t)f->dims[1];
    img->channels = channels;
    img->depth = f->dtype == TSF_UINT8 ? 8 : 16;
    img->pixels = malloc(f->nbytes ? f->nbytes : 1);
    if (!img->pixels)
        return ss_error_set(err, SS_ENOMEM, "record %" PRIu64 ": out of memory for field '%s'",
                            index, f->name);
    memcpy(img->pixels, f->data, f->nbytes);
    if (img->depth == 16 && !host_is_little_endian())
        swap16(img->pixels, (size_t)f->count);
    return SS_OK;
}

ss_status imgio_file_open(imgio_file *f, const char *path, int binary, ss_error *err)
{
    memset(f, 0, sizeof *f);
    f->out.fd = -1;
    ss_status st = ss_out_open(&f->out, path, binary, err);
    if (st != SS_OK)
        return st;
    if (strcmp(path, "-") == 0) {
        f->fp = stdout;
        return SS_OK;
    }
    /* stdio gets its own descriptor so that fclose() leaves the one that
     * ss_out_commit() closes. */
    int fd = dup(f->out.fd);
    f->fp = fd >= 0 ? fdopen(fd, binary ? "wb" : "w") : NULL;
    if (!f->fp) {
        st = ss_error_set(err, SS_EIO, "%s: cannot open for writing: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        ss_out_discard(&f->out);
        return st;
    }
    return SS_OK;
}

ss_status imgio_file_commit(imgio_file *f, ss_error *err)
{
    const char *name = f->fp == stdout ? "standard output" : f->out.path;
    int failed;
    if (f->fp == stdout) {
        failed = fflush(stdout) != 0 || ferror(stdout);
    } else {
        int stream_error = ferror(f->fp);
        failed = fclose(f->fp) != 0 || stream_error;
    }
    f->fp = NULL;
    if (failed) {
        ss_error_set(err, SS_EIO, "%s: write failed: %s", name, strerror(errno));
        ss_out_discard(&f->out);
        return SS_EIO;
    }
    return ss_out_commit(&f->out, err);
}

void imgio_file_discard(imgio_file *f)
{
    if (f->fp && f->fp != stdout)
        fclose(f->fp);
    f->fp = NULL;
    if (f->out.path)
        ss_out_discard(&f->out);
}
