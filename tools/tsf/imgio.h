/* imgio: helpers that selfsup-tsf import and export share: sorted folder
 * listings, PNG files read with one channel count, image fields viewed as
 * ss_image, and plain output files that appear atomically through ss_out.
 *
 * Samples of uint16 fields are little-endian in a stream and native-endian
 * in an ss_image; the helpers convert between the two. */
#ifndef TSF_IMGIO_H
#define TSF_IMGIO_H

#include <stdint.h>
#include <stdio.h>

#include "ss_error.h"
#include "ss_out.h"
#include "ss_png.h"
#include "tsf.h"

/* Lists the entries of dir other than "." and "..", sorted with strcmp.
 * On success *names is a malloc'd array of *n malloc'd strings that the
 * caller frees with imgio_names_free(). */
ss_status imgio_list_dir(const char *dir, char ***names, size_t *n, ss_error *err);
void imgio_names_free(char **names, size_t n);

/* Creates dir and its missing parents (like mkdir -p). */
ss_status imgio_make_dir(const char *dir, ss_error *err);

/* Reads PNG files for an import. With opts.channels 0 every file keeps its
 * own channel count, and a file whose count differs from the first file's
 * is an error naming both files. */
typedef struct {
    ss_png_read_opts opts;
    int channels;       /* channel count of the first file, 0 before it */
    char *first_path;   /* the first file read, for messages */
} imgio_png_reader;

void imgio_png_reader_init(imgio_png_reader *r, const ss_png_read_opts *opts);
void imgio_png_reader_free(imgio_png_reader *r);

/* Decodes path into *img with little-endian 16-bit samples, ready to be
 * written as a field. The caller frees img with ss_image_free(). */
ss_status imgio_png_read(imgio_png_reader *r, const char *path, ss_image *img, ss_error *err);

/* Copies the image field f of record `index` into *img: uint8 or uint16
 * with shape [H, W, C] (C from 1 to 4) or [H, W] (gray), H and W at least
 * 1. Any other dtype or shape is an SS_EDATA error naming the record, the
 * field and its shape. The caller frees img with ss_image_free(). */
ss_status imgio_field_image(const tsf_field *f, uint64_t index, ss_image *img, ss_error *err);

/* Formats the shape of f as "uint8 [28,28,1]" into buf. */
void imgio_field_describe(const tsf_field *f, char *buf, size_t size);

/* A file written through ss_out with stdio: the destination appears only
 * when imgio_file_commit() succeeds. The path "-" writes standard output. */
typedef struct {
    ss_out out;
    FILE *fp;
} imgio_file;

ss_status imgio_file_open(imgio_file *f, const char *path, int binary, ss_error *err);
/* Flushes and closes the stream and renames the file into place. */
ss_status imgio_file_commit(imgio_file *f, ss_error *err);
/* Closes the stream and removes the temporary file; safe to call twice. */
void imgio_file_discard(imgio_file *f);

#endif
