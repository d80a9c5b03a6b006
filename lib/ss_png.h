/* ss_png: PNG decoding to interleaved samples and PNG encoding, with libpng.
 *
 * Decoding accepts every PNG colour type and bit depth (1, 2, 4, 8 and 16
 * bits; gray, gray+alpha, palette, RGB, RGBA; tRNS transparency; Adam7
 * interlacing) and converts to the requested channel count and sample depth.
 * A corrupt or truncated file is an error, and a partial image is never
 * returned. CRC errors are errors in every chunk, ancillary ones included.
 * Problems that libpng calls benign are warnings in the chunks before the
 * image data and errors from the image data on. Gamma, colour profiles and
 * sBIT are ignored, so samples are returned as stored.
 *
 * Conversion rules, applied in this order (max is 255 at depth 8 and 65535
 * at depth 16):
 *   1. Palette images become RGB, or RGBA when they have a tRNS chunk. A
 *      tRNS colour key on gray or RGB images becomes an alpha channel that is
 *      0 on matching pixels and max elsewhere.
 *   2. Depth. Gray at 1, 2 and 4 bits scales to full 8-bit range (a 1-bit
 *      1 is 255, a 2-bit v is 85 v, a 4-bit v is 17 v). 8 to 16 bits
 *      replicates the byte, v16 = 257 v8, after that scaling for low depths.
 *      16 to 8 bits rounds to nearest: v8 = (255 v16 + 32767) / 65535.
 *   3. Colour, on samples at the final depth. RGB to gray is the ITU-R
 *      BT.601 luma in integer arithmetic, Y = (299 R + 587 G + 114 B + 500)
 *      / 1000, computed before any alpha is applied. Gray to RGB replicates
 *      Y into R, G and B.
 *   4. Alpha. Dropping alpha (1 or 3 channels requested from a file with
 *      alpha) composites over black: v' = (v a + max / 2) / max, which is
 *      round(v a / max) because max is odd and so no value falls halfway.
 *      Adding alpha (2 or 4 channels requested from a file without it) gives
 *      a = max, fully opaque.
 *
 * The same colour and alpha rules convert the images given to
 * ss_image_grid. */
#ifndef SS_PNG_H
#define SS_PNG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ss_error.h"

/* An image in HWC order: height rows of width pixels of channels samples,
 * each sample 1 byte (depth 8) or a native-endian uint16 (depth 16). */
typedef struct {
    uint32_t height;
    uint32_t width;
    int channels;   /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    int depth;      /* 8 or 16 */
    void *pixels;   /* malloc'd, height * width * channels * depth / 8 bytes */
} ss_image;

#define SS_PNG_DEFAULT_MAX_PIXELS (64u * 1024u * 1024u)

typedef struct {
    int channels;         /* 1, 2, 3 or 4; 0 keeps the file's own count */
    int depth;            /* 8 or 16 */
    uint64_t max_pixels;  /* width * height above this is an error */
} ss_png_read_opts;

void ss_png_read_opts_default(ss_png_read_opts *o);

/* Decodes the PNG file at path into *img, which the caller frees with
 * ss_image_free. opts may be NULL for the defaults. Returns SS_OK, SS_EIO
 * when the file cannot be read, SS_EDATA when it is not a valid PNG,
 * SS_ELIMIT when it has too many pixels (checked before the pixel memory is
 * allocated), SS_EINVAL for bad opts, SS_ENOMEM. The message names the file.
 * On failure *img is zeroed. On success err has status SS_OK and contains
 * libpng's last warning about the file, or an empty message. */
ss_status ss_png_read(const char *path, const ss_png_read_opts *opts, ss_image *img, ss_error *err);

/* Same, from a memory buffer; name is used in messages. */
ss_status ss_png_read_mem(const void *buf, size_t len, const char *name,
                          const ss_png_read_opts *opts, ss_image *img, ss_error *err);

/* Encodes img as PNG to an open stream (gray, gray+alpha, RGB or RGBA at its
 * depth) and flushes the stream. name is used in messages. Returns SS_EINVAL
 * for an image that PNG cannot store and SS_EIO when writing fails. */
ss_status ss_png_write(FILE *fp, const char *name, const ss_image *img, ss_error *err);

/* Lays out n images of equal size and depth in a grid of cols columns with
 * pad pixels of value fill between and around them, into *out, row by row.
 * Cells past the last image in the final row are filled too. Each image is
 * converted to out_channels (1 or 3) by the rules above: gray expands to
 * RGB, RGB becomes luma, alpha is composited over black. fill is one sample
 * value, 0 to 255 at depth 8 or 0 to 65535 at depth 16, used for every
 * channel. Returns SS_EINVAL with a message for bad arguments. */
ss_status ss_image_grid(const ss_image *images, size_t n, int cols, int pad, int fill,
                        int out_channels, ss_image *out, ss_error *err);

void ss_image_free(ss_image *img);

#endif
