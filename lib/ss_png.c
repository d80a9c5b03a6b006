/* ss_png: PNG decoding and encoding with libpng, and image grids.
 *
 * libpng expands palettes, low bit depths and tRNS and sets the sample
 * depth. Channel conversion (luma, alpha compositing, replication) is done
 * here afterwards so that its integer rounding is exactly the rule that
 * ss_png.h documents. libpng reports errors through a longjmp. Every
 * resource of a decode or encode is kept in a state struct owned by the
 * caller of the function that calls setjmp, so nothing depends on local
 * variables after the jump.
 *
 * Deliberately left out: gamma and colour management, metadata chunks
 * (text, time, resolution), writing palette or sub-8-bit files, the
 * progressive (push) reader. */
#include "ss_png.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* A decode or encode in progress: where bytes come from or go to, and what
 * the libpng callbacks recorded before jumping back. */
typedef struct {
    const char *name;
    ss_error *err;
    FILE *fp;                  /* stream source or sink, or NULL */
    const unsigned char *buf;  /* memory source when fp is NULL */
    size_t len;
    size_t pos;
    int io_errno;              /* errno of a failed fread/fwrite/fflush */
    int io_failed;             /* the failure was I/O, not the data */
    int out_of_memory;         /* a libpng allocation failed */
    char png_msg[256];         /* libpng's last error message */
    char warning[256];         /* libpng's last warning */
} png_session;

typedef struct {
    png_session s;
    png_structp png;
    png_infop info;
    unsigned char *pixels;
    png_bytep *rows;
} read_state;

typedef struct {
    png_session s;
    png_structp png;
    png_infop info;
} write_state;

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static void session_error_fn(png_structp png, png_const_charp msg)
{
    png_session *s = png_get_error_ptr(png);
    snprintf(s->png_msg, sizeof s->png_msg, "%s", msg);
    png_longjmp(png, 1);
}

static void session_warning_fn(png_structp png, png_const_charp msg)
{
    png_session *s = png_get_error_ptr(png);
    snprintf(s->warning, sizeof s->warning, "%s", msg);
}

/* A libpng allocation hook, so that an allocation failure inside libpng is
 * reported as SS_ENOMEM rather than as invalid data. */
static png_voidp session_malloc_fn(png_structp png, png_alloc_size_t size)
{
    void *p = malloc(size);
    if (!p) {
        png_session *s = png_get_mem_ptr(png);
        s->out_of_memory = 1;
    }
    return p;
}

static void session_free_fn(png_structp png, png_voidp p)
{
    free(p);
}

static void session_read_fn(png_structp png, png_bytep out, size_t n)
{
    png_session *s = png_get_io_ptr(png);
    if (s->fp) {
        size_t got = fread(out, 1, n, s->fp);
        if (got == n)
            return;
        if (ferror(s->fp)) {
            s->io_failed = 1;
            s->io_errno = errno;
            png_error(png, "read failed");
        }
        png_error(png, "file truncated (unexpected end of file)");
    }
    if (s->len - s->pos < n)
        png_error(png, "file truncated (unexpected end of file)");
    memcpy(out, s->buf + s->pos, n);
    s->pos += n;
}

static void session_write_fn(png_structp png, png_bytep data, size_t n)
{
    png_session *s = png_get_io_ptr(png);
    if (fwrite(data, 1, n, s->fp) != n) {
        s->io_failed = 1;
        s->io_errno = errno;
        png_error(png, "write failed");
    }
}

static void session_flush_fn(png_structp png)
{
    png_session *s = png_get_io_ptr(png);
    if (fflush(s->fp) != 0) {
        s->io_failed = 1;
        s->io_errno = errno;
        png_error(png, "flush failed");
    }
}

/* Turns what the callbacks recorded before a longjmp into the final error:
 * an I/O failure, an allocation failure, or else libpng's message under
 * status and prefix. */
static ss_status session_fail(const png_session *s, const char *verb, ss_status status,
                              const char *prefix)
{
    if (s->io_failed)
        return ss_error_set(s->err, SS_EIO, "%s: %s failed: %s", s->name, verb,
                            s->io_errno ? strerror(s->io_errno) : "unknown I/O error");
    if (s->out_of_memory)
        return ss_error_set(s->err, SS_ENOMEM, "%s: out of memory in libpng (%s)", s->name,
                            s->png_msg);
    return ss_error_set(s->err, status, "%s: %s: %s", s->name, prefix, s->png_msg);
}

/* Stores a * b in *out, or returns 0 when it does not fit in size_t. */
static int mul_size(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b)
        return 0;
    *out = a * b;
    return 1;
}

/* ---- Sample access and pixel conversion ---- */

static uint32_t sample_get(const void *buf, size_t i, int depth)
{
    if (depth == 8)
        return ((const uint8_t *)buf)[i];
    return ((const uint16_t *)buf)[i];
}

static void sample_put(void *buf, size_t i, int depth, uint32_t v)
{
    if (depth == 8)
        ((uint8_t *)buf)[i] = (uint8_t)v;
    else
        ((uint16_t *)buf)[i] = (uint16_t)v;
}

/* BT.601 luma, exact in 32 bits: 1000 * 65535 + 500 < 2^32. */
static uint32_t luma(uint32_t r, uint32_t g, uint32_t b)
{
    return (299u * r + 587u * g + 114u * b + 500u) / 1000u;
}

/* Composites v with alpha a over black, rounded to nearest. max is odd, so
 * v a / max never lies halfway between two integers. */
static uint32_t over_black(uint32_t v, uint32_t a, uint32_t max)
{
    return (uint32_t)(((uint64_t)v * a + max / 2) / max);
}

/* Converts one pixel of in_channels samples to out_channels samples by the
 * rules in ss_png.h: colour first, then alpha. */
static void pixel_convert(const uint32_t *in, int in_channels, uint32_t *out, int out_channels,
                          uint32_t max)
{
    int in_color = in_channels >= 3;
    int in_alpha = in_channels % 2 == 0;
    int out_color = out_channels >= 3;
    int out_alpha = out_channels % 2 == 0;
    uint32_t alpha = in_alpha ? in[in_channels - 1] : max;
    uint32_t c[3];

    if (in_color && !out_color) {
        c[0] = luma(in[0], in[1], in[2]);
    } else if (in_color) {
        c[0] = in[0];
        c[1] = in[1];
        c[2] = in[2];
    } else {
        c[0] = c[1] = c[2] = in[0];
    }

    int n_color = out_color ? 3 : 1;
    for (int k = 0; k < n_color; k++)
        out[k] = (in_alpha && !out_alpha) ? over_black(c[k], alpha, max) : c[k];
    if (out_alpha)
        out[n_color] = alpha;
}

/* Converts n_pixels pixels in place from in_channels to out_channels. buf
 * has room for n_pixels * max(in_channels, out_channels) samples. Shrinking walks
 * forward and growing walks backward, so that no pixel is overwritten before
 * it has been read. */
static void pixels_convert_in_place(void *buf, size_t n_pixels, int in_channels, int out_channels,
                                    int depth)
{
    uint32_t max = depth == 8 ? 255u : 65535u;
    uint32_t in[4];
    uint32_t out[4];

    for (size_t step = 0; step < n_pixels; step++) {
        size_t p = out_channels <= in_channels ? step : n_pixels - 1 - step;
        for (int k = 0; k < in_channels; k++)
            in[k] = sample_get(buf, p * (size_t)in_channels + (size_t)k, depth);
        pixel_convert(in, in_channels, out, out_channels, max);
        for (int k = 0; k < out_channels; k++)
            sample_put(buf, p * (size_t)out_channels + (size_t)k, depth, out[k]);
    }
}

/* ---- Decoding ---- */

void ss_png_read_opts_default(ss_png_read_opts *o)
{
    o->channels = 0;
    o->depth = 8;
    o->max_pixels = SS_PNG_DEFAULT_MAX_PIXELS;
}

/* Sets the libpng transformations that deliver samples at the requested
 * depth with the file's channels after palette and tRNS expansion. */
static void read_set_transforms(png_structp png, png_infop info, int depth)
{
    int file_depth = png_get_bit_depth(png, info);

    png_set_expand(png);
    if (file_depth == 16 && depth == 8)
        png_set_scale_16(png);
    if (file_depth < 16 && depth == 16)
        png_set_expand_16(png);
    if (depth == 16 && host_is_little_endian())
        png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

/* Checks the pixel count against the limit. This runs before libpng sizes
 * its row buffers, so an absurd width fails here and not as an allocation
 * failure. Width and height are below 2^31, so their product fits. */
static ss_status read_check_limit(const png_session *s, uint32_t width, uint32_t height,
                                  const ss_png_read_opts *opts)
{
    uint64_t n_pixels = (uint64_t)width * height;
    if (n_pixels > opts->max_pixels)
        return ss_error_set(s->err, SS_ELIMIT,
                            "%s: image %ux%u has %llu pixels, above the limit of %llu "
                            "(raise it with --max-pixels)",
                            s->name, (unsigned)width, (unsigned)height,
                            (unsigned long long)n_pixels, (unsigned long long)opts->max_pixels);
    return SS_OK;
}

/* Allocates the sample buffer (room for the larger of the decoded and
 * requested channel counts) and the row pointers. */
static ss_status read_alloc(read_state *st, uint32_t width, uint32_t height, int decoded_channels,
                            const ss_png_read_opts *opts)
{
    png_session *s = &st->s;
    uint64_t n_pixels = (uint64_t)width * height;
    int channels = opts->channels > decoded_channels ? opts->channels : decoded_channels;
    size_t sample_bytes = (size_t)opts->depth / 8;
    size_t row_bytes;
    size_t total;
    size_t rows_bytes;
    if (n_pixels > SIZE_MAX
        || !mul_size((size_t)width, (size_t)decoded_channels * sample_bytes, &row_bytes)
        || !mul_size((size_t)n_pixels, (size_t)channels * sample_bytes, &total)
        || !mul_size((size_t)height, sizeof(png_bytep), &rows_bytes))
        return ss_error_set(s->err, SS_ELIMIT, "%s: image %ux%u is too large for memory",
                            s->name, (unsigned)width, (unsigned)height);
    if (png_get_rowbytes(st->png, st->info) != row_bytes)
        return ss_error_set(s->err, SS_EDATA,
                            "%s: invalid PNG: libpng row size %zu differs from the expected %zu",
                            s->name, (size_t)png_get_rowbytes(st->png, st->info), row_bytes);

    st->pixels = malloc(total);
    st->rows = malloc(rows_bytes);
    if (!st->pixels || !st->rows)
        return ss_error_set(s->err, SS_ENOMEM, "%s: out of memory for a %ux%u image (%zu bytes)",
                            s->name, (unsigned)width, (unsigned)height, total);
    for (uint32_t y = 0; y < height; y++)
        st->rows[y] = st->pixels + (size_t)y * row_bytes;
    return SS_OK;
}

/* Runs libpng over the whole file: header, all rows, then every chunk up to
 * IEND, so that a file cut anywhere is an error. The caller owns st and
 * frees what it holds. */
static ss_status read_decode(read_state *st, const ss_png_read_opts *opts, ss_image *img)
{
    png_session *s = &st->s;
    if (setjmp(png_jmpbuf(st->png)))
        return session_fail(s, "read", SS_EDATA, "invalid PNG");

    png_set_read_fn(st->png, s, session_read_fn);
    png_set_sig_bytes(st->png, 8);
    /* The pixel limit is ours, so libpng's default 1000000 width and height
     * limits would only reject valid long strips. */
    png_set_user_limits(st->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_crc_action(st->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);

    png_read_info(st->png, st->info);
    uint32_t width = png_get_image_width(st->png, st->info);
    uint32_t height = png_get_image_height(st->png, st->info);
    ss_status rc = read_check_limit(s, width, height, opts);
    if (rc != SS_OK)
        return rc;
    read_set_transforms(st->png, st->info, opts->depth);
    int decoded_channels = png_get_channels(st->png, st->info);
    rc = read_alloc(st, width, height, decoded_channels, opts);
    if (rc != SS_OK)
        return rc;
    /* libpng treats damage in the compressed stream after the last row (a
     * bad Adler-32, an invalid back distance) as a benign error, which is
     * only a warning by default. From here on it must fail the decode. */
    png_set_benign_errors(st->png, 0);
    png_read_image(st->png, st->rows);
    png_read_end(st->png, NULL);

    int channels = opts->channels ? opts->channels : decoded_channels;
    if (channels != decoded_channels)
        pixels_convert_in_place(st->pixels, (size_t)width * height, decoded_channels, channels,
                                opts->depth);

    img->width = width;
    img->height = height;
    img->channels = channels;
    img->depth = opts->depth;
    img->pixels = st->pixels;
    st->pixels = NULL;
    return SS_OK;
}

/* Shrinks the sample buffer when conversion reduced the channel count. A
 * failed shrink keeps the larger buffer, which is still valid. */
static void image_trim(ss_image *img)
{
    size_t bytes = (size_t)img->width * img->height * (size_t)img->channels * (size_t)(img->depth / 8);
    void *p = realloc(img->pixels, bytes);
    if (p)
        img->pixels = p;
}

static ss_status read_session(png_session *s, const unsigned char *sig, size_t sig_len,
                              const ss_png_read_opts *opts, ss_image *img)
{
    ss_png_read_opts defaults;
    if (!opts) {
        ss_png_read_opts_default(&defaults);
        opts = &defaults;
    }
    memset(img, 0, sizeof *img);
    ss_error_clear(s->err);
    if (opts->channels < 0 || opts->channels > 4 || (opts->depth != 8 && opts->depth != 16))
        return ss_error_set(s->err, SS_EINVAL,
                            "%s: invalid PNG read options: channels %d (expected 0 to 4), "
                            "depth %d (expected 8 or 16)",
                            s->name, opts->channels, opts->depth);
    if (sig_len < 8 || png_sig_cmp(sig, 0, 8) != 0)
        return ss_error_set(s->err, SS_EDATA, "%s: not a PNG file (bad signature)", s->name);

    read_state st;
    memset(&st, 0, sizeof st);
    st.s = *s;
    st.png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &st.s, session_error_fn,
                                      session_warning_fn, &st.s, session_malloc_fn,
                                      session_free_fn);
    if (st.png)
        st.info = png_create_info_struct(st.png);
    ss_status rc;
    if (!st.png || !st.info)
        rc = ss_error_set(s->err, SS_ENOMEM, "%s: out of memory starting libpng", s->name);
    else
        rc = read_decode(&st, opts, img);

    png_destroy_read_struct(st.png ? &st.png : NULL, st.info ? &st.info : NULL, NULL);
    free(st.rows);
    free(st.pixels);
    if (rc != SS_OK) {
        free(img->pixels);
        memset(img, 0, sizeof *img);
        return rc;
    }
    image_trim(img);
    if (st.s.warning[0])
        ss_error_set(s->err, SS_OK, "%s: libpng warning: %s", s->name, st.s.warning);
    return SS_OK;
}

ss_status ss_png_read_mem(const void *buf, size_t len, const char *name,
                          const ss_png_read_opts *opts, ss_image *img, ss_error *err)
{
    png_session s;
    memset(&s, 0, sizeof s);
    s.name = name ? name : "(memory)";
    s.err = err;
    s.buf = buf;
    s.len = len;
    s.pos = len < 8 ? len : 8;
    return read_session(&s, buf, len, opts, img);
}

ss_status ss_png_read(const char *path, const ss_png_read_opts *opts, ss_image *img, ss_error *err)
{
    memset(img, 0, sizeof *img);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ss_error_set(err, SS_EIO, "%s: cannot open: %s", path, strerror(errno));

    png_session s;
    memset(&s, 0, sizeof s);
    s.name = path;
    s.err = err;
    s.fp = fp;
    unsigned char sig[8];
    size_t sig_len = fread(sig, 1, sizeof sig, fp);
    ss_status rc;
    if (ferror(fp))
        rc = ss_error_set(err, SS_EIO, "%s: read failed: %s", path, strerror(errno));
    else
        rc = read_session(&s, sig, sig_len, opts, img);
    fclose(fp);
    return rc;
}

/* ---- Encoding ---- */

static int png_color_type(int channels)
{
    switch (channels) {
    case 1: return PNG_COLOR_TYPE_GRAY;
    case 2: return PNG_COLOR_TYPE_GRAY_ALPHA;
    case 3: return PNG_COLOR_TYPE_RGB;
    default: return PNG_COLOR_TYPE_RGB_ALPHA;
    }
}

static ss_status write_encode(write_state *st, const ss_image *img)
{
    png_session *s = &st->s;
    if (setjmp(png_jmpbuf(st->png)))
        return session_fail(s, "write", SS_EINVAL, "cannot encode PNG");

    png_set_write_fn(st->png, s, session_write_fn, session_flush_fn);
    png_set_user_limits(st->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_IHDR(st->png, st->info, img->width, img->height, img->depth,
                 png_color_type(img->channels), PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(st->png, st->info);
    if (img->depth == 16 && host_is_little_endian())
        png_set_swap(st->png);

    size_t row_bytes = (size_t)img->width * (size_t)img->channels * (size_t)(img->depth / 8);
    const unsigned char *pixels = img->pixels;
    for (uint32_t y = 0; y < img->height; y++)
        png_write_row(st->png, pixels + (size_t)y * row_bytes);
    png_write_end(st->png, NULL);
    return SS_OK;
}

ss_status ss_png_write(FILE *fp, const char *name, const ss_image *img, ss_error *err)
{
    if (!name)
        name = "(stream)";
    if (!img || !img->pixels || (img->depth != 8 && img->depth != 16) || img->channels < 1
        || img->channels > 4 || img->width == 0 || img->height == 0
        || img->width > PNG_UINT_31_MAX || img->height > PNG_UINT_31_MAX)
        return ss_error_set(err, SS_EINVAL,
                            "%s: cannot write PNG: invalid image (expected 1 to 4 channels, depth "
                            "8 or 16, width and height 1 to %lu)",
                            name, (unsigned long)PNG_UINT_31_MAX);
    size_t row_bytes;
    if (!mul_size((size_t)img->width, (size_t)img->channels * (size_t)(img->depth / 8), &row_bytes))
        return ss_error_set(err, SS_EINVAL, "%s: cannot write PNG: row of %u pixels is too large",
                            name, (unsigned)img->width);

    write_state st;
    memset(&st, 0, sizeof st);
    st.s.name = name;
    st.s.err = err;
    st.s.fp = fp;
    st.png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, &st.s, session_error_fn,
                                       session_warning_fn, &st.s, session_malloc_fn,
                                       session_free_fn);
    if (st.png)
        st.info = png_create_info_struct(st.png);
    ss_status rc;
    if (!st.png || !st.info)
        rc = ss_error_set(err, SS_ENOMEM, "%s: out of memory starting libpng", name);
    else
        rc = write_encode(&st, img);
    png_destroy_write_struct(st.png ? &st.png : NULL, st.info ? &st.info : NULL);
    if (rc != SS_OK)
        return rc;

    errno = 0;
    if (fflush(fp) != 0 || ferror(fp))
        return ss_error_set(err, SS_EIO, "%s: write failed: %s", name,
                            errno ? strerror(errno) : "stream error");
    return SS_OK;
}

/* ---- Grid ---- */

static ss_status grid_check(const ss_image *images, size_t n, int cols, int pad, int fill,
                            int out_channels, ss_error *err)
{
    if (!images || n == 0)
        return ss_error_set(err, SS_EINVAL, "image grid: no images given");
    if (cols < 1)
        return ss_error_set(err, SS_EINVAL, "image grid: invalid column count %d (expected 1 or more)",
                            cols);
    if (pad < 0)
        return ss_error_set(err, SS_EINVAL, "image grid: invalid padding %d (expected 0 or more)",
                            pad);
    if (out_channels != 1 && out_channels != 3)
        return ss_error_set(err, SS_EINVAL,
                            "image grid: invalid output channel count %d (expected 1 or 3)",
                            out_channels);

    const ss_image *first = &images[0];
    if (first->depth != 8 && first->depth != 16)
        return ss_error_set(err, SS_EINVAL, "image grid: image 0 has depth %d (expected 8 or 16)",
                            first->depth);
    for (size_t i = 0; i < n; i++) {
        const ss_image *im = &images[i];
        if (!im->pixels || im->channels < 1 || im->channels > 4 || im->width == 0
            || im->height == 0)
            return ss_error_set(err, SS_EINVAL,
                                "image grid: image %zu is invalid (%ux%u, %d channels, %s pixels)",
                                i, (unsigned)im->width, (unsigned)im->height, im->channels,
                                im->pixels ? "with" : "no");
        if (im->width != first->width || im->height != first->height || im->depth != first->depth)
            return ss_error_set(err, SS_EINVAL,
                                "image grid: image %zu is %ux%u at depth %d but image 0 is %ux%u "
                                "at depth %d (all images must match)",
                                i, (unsigned)im->width, (unsigned)im->height, im->depth,
                                (unsigned)first->width, (unsigned)first->height, first->depth);
    }
    int max = first->depth == 8 ? 255 : 65535;
    if (fill < 0 || fill > max)
        return ss_error_set(err, SS_EINVAL,
                            "image grid: invalid fill value %d (expected 0 to %d at depth %d)",
                            fill, max, first->depth);
    return SS_OK;
}

/* Copies image im into the grid buffer out at pixel (x0, y0). */
static void grid_paste(ss_image *out, const ss_image *im, uint32_t x0, uint32_t y0)
{
    uint32_t max = im->depth == 8 ? 255u : 65535u;
    uint32_t in[4];
    uint32_t px[4];

    for (uint32_t y = 0; y < im->height; y++) {
        for (uint32_t x = 0; x < im->width; x++) {
            size_t src = ((size_t)y * im->width + x) * (size_t)im->channels;
            size_t dst = ((size_t)(y0 + y) * out->width + (x0 + x)) * (size_t)out->channels;
            for (int k = 0; k < im->channels; k++)
                in[k] = sample_get(im->pixels, src + (size_t)k, im->depth);
            pixel_convert(in, im->channels, px, out->channels, max);
            for (int k = 0; k < out->channels; k++)
                sample_put(out->pixels, dst + (size_t)k, out->depth, px[k]);
        }
    }
}

ss_status ss_image_grid(const ss_image *images, size_t n, int cols, int pad, int fill,
                        int out_channels, ss_image *out, ss_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!out)
        return ss_error_set(err, SS_EINVAL, "image grid: no output image given");
    ss_status rc = grid_check(images, n, cols, pad, fill, out_channels, err);
    if (rc != SS_OK)
        return rc;

    uint64_t w = images[0].width;
    uint64_t h = images[0].height;
    uint64_t n_cols = (uint64_t)cols;
    uint64_t n_rows = (n + n_cols - 1) / n_cols;
    uint64_t out_w = n_cols * w + (n_cols + 1) * (uint64_t)pad;
    uint64_t out_h = n_rows * h + (n_rows + 1) * (uint64_t)pad;
    int depth = images[0].depth;
    size_t bytes;
    if (n_rows > UINT32_MAX || out_w > UINT32_MAX || out_h > UINT32_MAX || out_w * out_h > SIZE_MAX
        || !mul_size((size_t)(out_w * out_h), (size_t)out_channels * (size_t)(depth / 8), &bytes))
        return ss_error_set(err, SS_EINVAL, "image grid: output of %llux%llu pixels is too large",
                            (unsigned long long)out_w, (unsigned long long)out_h);

    out->pixels = malloc(bytes);
    if (!out->pixels)
        return ss_error_set(err, SS_ENOMEM, "image grid: out of memory for %llux%llu pixels",
                            (unsigned long long)out_w, (unsigned long long)out_h);
    out->width = (uint32_t)out_w;
    out->height = (uint32_t)out_h;
    out->channels = out_channels;
    out->depth = depth;

    size_t n_samples = bytes / (size_t)(depth / 8);
    for (size_t i = 0; i < n_samples; i++)
        sample_put(out->pixels, i, depth, (uint32_t)fill);
    for (size_t i = 0; i < n; i++) {
        uint64_t col = i % n_cols;
        uint64_t row = i / n_cols;
        grid_paste(out, &images[i], (uint32_t)((uint64_t)pad + col * (w + (uint64_t)pad)),
                   (uint32_t)((uint64_t)pad + row * (h + (uint64_t)pad)));
    }
    return SS_OK;
}

void ss_image_free(ss_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}
