/* Unit tests of ss_png: decoding every PNG colour type and bit depth to every
 * channel count and depth, rejection of truncated, corrupt and oversized
 * files, write/read round trips and image grids.
 *
 * The test files are written here with libpng from raw samples packed by
 * hand (no libpng transformations), so the expected decoded values follow
 * from the rules in ss_png.h alone. They live in a temporary directory under
 * /tmp that is removed at the end. */
#include "check.h"
#include "ss_png.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char tmp_dir[64];

static const char *tmp_path(const char *name)
{
    static char path[sizeof tmp_dir + 256 + 2];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

/* ---- Building test PNG files ---- */

/* A PNG described by its raw samples at the file's bit depth. */
typedef struct {
    uint32_t width;
    uint32_t height;
    int color_type;
    int bit_depth;
    int interlace;
    uint16_t *samples;        /* width * height * raw_channels values */
    png_color palette[256];
    int n_palette;
    png_byte trans_alpha[256];
    int n_trans;              /* palette entries with a tRNS alpha */
    png_color_16 trans_color; /* gray or RGB colour key */
    int has_trans_color;
    int add_text;             /* add a tEXt chunk before the image data */
} test_png;

static int raw_channels(int color_type)
{
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1;
    }
}

static uint32_t seed_state;

static uint32_t next_random(void)
{
    seed_state = seed_state * 1664525u + 1013904223u;
    return seed_state >> 8;
}

static void test_error_fn(png_structp png, png_const_charp msg)
{
    fprintf(stdout, "# test PNG writer: %s\n", msg);
    png_longjmp(png, 1);
}

static void test_warning_fn(png_structp png, png_const_charp msg)
{
    fprintf(stdout, "# test PNG writer warning: %s\n", msg);
}

/* Packs row y of t into PNG's raw row format: big-endian 16-bit samples,
 * sub-byte samples most significant bits first. */
static void pack_row(const test_png *t, uint32_t y, unsigned char *row)
{
    size_t n = (size_t)t->width * (size_t)raw_channels(t->color_type);
    const uint16_t *s = t->samples + (size_t)y * n;
    if (t->bit_depth == 16) {
        for (size_t i = 0; i < n; i++) {
            row[2 * i] = (unsigned char)(s[i] >> 8);
            row[2 * i + 1] = (unsigned char)(s[i] & 0xff);
        }
    } else if (t->bit_depth == 8) {
        for (size_t i = 0; i < n; i++)
            row[i] = (unsigned char)s[i];
    } else {
        int per_byte = 8 / t->bit_depth;
        memset(row, 0, (n + (size_t)per_byte - 1) / (size_t)per_byte);
        for (size_t i = 0; i < n; i++) {
            int shift = 8 - t->bit_depth * (int)(i % (size_t)per_byte + 1);
            row[i / (size_t)per_byte] |= (unsigned char)(s[i] << shift);
        }
    }
}

static int write_test_png_body(FILE *fp, const test_png *t, png_bytep *rows)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, test_error_fn,
                                              test_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return 0;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return 0;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, t->width, t->height, t->bit_depth, t->color_type,
                 t->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (t->color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_PLTE(png, info, t->palette, t->n_palette);
    if (t->n_trans > 0)
        png_set_tRNS(png, info, t->trans_alpha, t->n_trans, NULL);
    if (t->has_trans_color)
        png_set_tRNS(png, info, NULL, 0, &t->trans_color);
    if (t->add_text) {
        char key[] = "Comment";
        char text[] = "written by test_png";
        png_text chunk;
        memset(&chunk, 0, sizeof chunk);
        chunk.compression = PNG_TEXT_COMPRESSION_NONE;
        chunk.key = key;
        chunk.text = text;
        png_set_text(png, info, &chunk, 1);
    }
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 1;
}

/* Writes t to path. Returns 1 on success. */
static int write_test_png(const char *path, const test_png *t)
{
    size_t row_bytes =
        ((size_t)t->width * (size_t)raw_channels(t->color_type) * (size_t)t->bit_depth + 7) / 8;
    unsigned char *data = calloc(t->height, row_bytes);
    png_bytep *rows = calloc(t->height, sizeof *rows);
    FILE *fp = fopen(path, "wb");
    int ok = data && rows && fp;
    if (ok) {
        for (uint32_t y = 0; y < t->height; y++) {
            rows[y] = data + (size_t)y * row_bytes;
            pack_row(t, y, rows[y]);
        }
        ok = write_test_png_body(fp, t, rows);
    }
    if (fp && fclose(fp) != 0)
        ok = 0;
    free(rows);
    free(data);
    return ok;
}

/* Fills t with pseudo-random samples and the chunks its options call for.
 * The first pixels hold 0 and the maximum so that the extremes are always
 * covered. */
static void make_test_png(test_png *t, int color_type, int bit_depth, int interlace, int trns)
{
    memset(t, 0, sizeof *t);
    t->width = 9;
    t->height = 7;
    t->color_type = color_type;
    t->bit_depth = bit_depth;
    t->interlace = interlace;
    seed_state = (uint32_t)(color_type * 1000 + bit_depth * 10 + interlace + trns * 7);

    int channels = raw_channels(color_type);
    size_t n = (size_t)t->width * t->height * (size_t)channels;
    uint32_t max = (1u << bit_depth) - 1;
    t->samples = calloc(n, sizeof *t->samples);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        t->n_palette = bit_depth == 8 ? 200 : (int)max + 1;
        for (int i = 0; i < t->n_palette; i++) {
            t->palette[i].red = (png_byte)next_random();
            t->palette[i].green = (png_byte)next_random();
            t->palette[i].blue = (png_byte)next_random();
            t->trans_alpha[i] = (png_byte)next_random();
        }
        t->trans_alpha[0] = 0;
        t->trans_alpha[1] = 255;
        /* Entries past n_trans are opaque. */
        t->n_trans = trns ? (t->n_palette + 1) / 2 : 0;
        max = (uint32_t)t->n_palette - 1;
    }
    for (size_t i = 0; i < n && t->samples; i++) {
        if (i < (size_t)channels)
            t->samples[i] = 0;
        else if (i < 2 * (size_t)channels)
            t->samples[i] = (uint16_t)max;
        else
            t->samples[i] = (uint16_t)(next_random() % (max + 1));
    }

    if (trns && color_type == PNG_COLOR_TYPE_GRAY) {
        t->has_trans_color = 1;
        t->trans_color.gray = t->samples[3];
    }
    if (trns && color_type == PNG_COLOR_TYPE_RGB && t->samples) {
        /* Copy pixel 3 onto pixels 5 and 11 so that several pixels match the
         * key. */
        t->has_trans_color = 1;
        t->trans_color.red = t->samples[9];
        t->trans_color.green = t->samples[10];
        t->trans_color.blue = t->samples[11];
        memcpy(&t->samples[15], &t->samples[9], 3 * sizeof *t->samples);
        memcpy(&t->samples[33], &t->samples[9], 3 * sizeof *t->samples);
    }
}

static unsigned char *read_whole_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    unsigned char *buf = NULL;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long size = ftell(fp);
        if (size > 0 && fseek(fp, 0, SEEK_SET) == 0) {
            buf = malloc((size_t)size);
            if (buf && fread(buf, 1, (size_t)size, fp) != (size_t)size) {
                free(buf);
                buf = NULL;
            }
            *len = (size_t)size;
        }
    }
    fclose(fp);
    return buf;
}

static int write_whole_file(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    int ok = fwrite(buf, 1, len, fp) == len;
    return fclose(fp) == 0 && ok;
}

/* ---- Expected values from the rules in ss_png.h ---- */

static uint32_t expect_scale(uint32_t v, int bit_depth, int depth)
{
    if (bit_depth == 16)
        return depth == 16 ? v : (v * 255u + 32767u) / 65535u;
    uint32_t v8 = v * (255u / ((1u << bit_depth) - 1u));
    return depth == 8 ? v8 : v8 * 257u;
}

/* Rounds v * a / max to nearest, in floating point, as a check on the
 * library's integer formula. */
static uint32_t expect_over_black(uint32_t v, uint32_t a, uint32_t max)
{
    return (uint32_t)floor((double)v * (double)a / (double)max + 0.5);
}

/* The pixel i of t after palette, tRNS and depth expansion: returns its
 * channel count and fills v. */
static int expect_expanded(const test_png *t, size_t i, int depth, uint32_t *v)
{
    uint32_t max = depth == 8 ? 255u : 65535u;
    int bd = t->bit_depth;
    const uint16_t *s = t->samples + i * (size_t)raw_channels(t->color_type);

    switch (t->color_type) {
    case PNG_COLOR_TYPE_GRAY:
        v[0] = expect_scale(s[0], bd, depth);
        if (!t->has_trans_color)
            return 1;
        v[1] = s[0] == t->trans_color.gray ? 0 : max;
        return 2;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        v[0] = expect_scale(s[0], bd, depth);
        v[1] = expect_scale(s[1], bd, depth);
        return 2;
    case PNG_COLOR_TYPE_PALETTE: {
        const png_color *p = &t->palette[s[0]];
        v[0] = expect_scale(p->red, 8, depth);
        v[1] = expect_scale(p->green, 8, depth);
        v[2] = expect_scale(p->blue, 8, depth);
        if (t->n_trans == 0)
            return 3;
        v[3] = s[0] < t->n_trans ? expect_scale(t->trans_alpha[s[0]], 8, depth) : max;
        return 4;
    }
    case PNG_COLOR_TYPE_RGB:
        for (int k = 0; k < 3; k++)
            v[k] = expect_scale(s[k], bd, depth);
        if (!t->has_trans_color)
            return 3;
        v[3] = (s[0] == t->trans_color.red && s[1] == t->trans_color.green
                && s[2] == t->trans_color.blue) ? 0 : max;
        return 4;
    default:
        for (int k = 0; k < 4; k++)
            v[k] = expect_scale(s[k], bd, depth);
        return 4;
    }
}

/* The pixel i of t decoded to channels (0: the expanded count) and depth.
 * Returns the channel count. */
static int expect_pixel(const test_png *t, size_t i, int channels, int depth, uint32_t *out)
{
    uint32_t max = depth == 8 ? 255u : 65535u;
    uint32_t v[4];
    int have = expect_expanded(t, i, depth, v);
    int want = channels ? channels : have;
    int have_alpha = have == 2 || have == 4;
    uint32_t alpha = have_alpha ? v[have - 1] : max;
    uint32_t color[3];

    if (have >= 3) {
        memcpy(color, v, sizeof color);
    } else {
        color[0] = color[1] = color[2] = v[0];
    }
    uint32_t gray = have >= 3 ? (299u * v[0] + 587u * v[1] + 114u * v[2] + 500u) / 1000u : v[0];

    if (want <= 2) {
        out[0] = (want == 1 && have_alpha) ? expect_over_black(gray, alpha, max) : gray;
    } else {
        for (int k = 0; k < 3; k++)
            out[k] = (want == 3 && have_alpha) ? expect_over_black(color[k], alpha, max) : color[k];
    }
    if (want == 2 || want == 4)
        out[want - 1] = alpha;
    return want;
}

static uint32_t image_sample(const ss_image *img, size_t i)
{
    if (img->depth == 8)
        return ((const uint8_t *)img->pixels)[i];
    return ((const uint16_t *)img->pixels)[i];
}

/* Returns sample i of img, or UINT32_MAX when img has no pixels, so that a
 * check of a failed decode fails instead of crashing. */
static uint32_t sample_or_none(const ss_image *img, size_t i)
{
    return img->pixels ? image_sample(img, i) : UINT32_MAX;
}

/* Compares a decoded image with the expected values and reports the first
 * mismatch. Returns 1 when all samples match. */
static int image_matches(const ss_image *img, const test_png *t, int channels, int depth,
                         const char *what)
{
    uint32_t want[4];
    size_t n = (size_t)t->width * t->height;
    int want_channels = expect_pixel(t, 0, channels, depth, want);
    if (img->width != t->width || img->height != t->height || img->depth != depth
        || img->channels != want_channels) {
        CHECK_MSG(0, "%s: got %ux%u, %d channels, depth %d; expected %ux%u, %d channels", what,
                  (unsigned)img->width, (unsigned)img->height, img->channels, img->depth,
                  (unsigned)t->width, (unsigned)t->height, want_channels);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        expect_pixel(t, i, channels, depth, want);
        for (int k = 0; k < want_channels; k++) {
            uint32_t got = image_sample(img, i * (size_t)want_channels + (size_t)k);
            if (got != want[k]) {
                CHECK_MSG(0, "%s: pixel %zu channel %d is %u, expected %u", what, i, k,
                          (unsigned)got, (unsigned)want[k]);
                return 0;
            }
        }
    }
    return 1;
}

/* ---- Decoding ---- */

typedef struct {
    int color_type;
    int bit_depth;
    int trns;
} format_case;

static const format_case format_cases[] = {
    {PNG_COLOR_TYPE_GRAY, 1, 0},       {PNG_COLOR_TYPE_GRAY, 2, 0},
    {PNG_COLOR_TYPE_GRAY, 4, 0},       {PNG_COLOR_TYPE_GRAY, 8, 0},
    {PNG_COLOR_TYPE_GRAY, 16, 0},      {PNG_COLOR_TYPE_GRAY, 1, 1},
    {PNG_COLOR_TYPE_GRAY, 8, 1},       {PNG_COLOR_TYPE_GRAY, 16, 1},
    {PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0}, {PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0},
    {PNG_COLOR_TYPE_PALETTE, 1, 0},    {PNG_COLOR_TYPE_PALETTE, 2, 0},
    {PNG_COLOR_TYPE_PALETTE, 4, 0},    {PNG_COLOR_TYPE_PALETTE, 8, 0},
    {PNG_COLOR_TYPE_PALETTE, 1, 1},    {PNG_COLOR_TYPE_PALETTE, 2, 1},
    {PNG_COLOR_TYPE_PALETTE, 4, 1},    {PNG_COLOR_TYPE_PALETTE, 8, 1},
    {PNG_COLOR_TYPE_RGB, 8, 0},        {PNG_COLOR_TYPE_RGB, 16, 0},
    {PNG_COLOR_TYPE_RGB, 8, 1},        {PNG_COLOR_TYPE_RGB, 16, 1},
    {PNG_COLOR_TYPE_RGB_ALPHA, 8, 0},  {PNG_COLOR_TYPE_RGB_ALPHA, 16, 0},
};

static void check_format_case(const format_case *fc, int interlace)
{
    test_png t;
    char what[160];
    make_test_png(&t, fc->color_type, fc->bit_depth, interlace, fc->trns);
    snprintf(what, sizeof what, "color type %d, %d bits%s%s", fc->color_type, fc->bit_depth,
             fc->trns ? ", tRNS" : "", interlace ? ", Adam7" : "");
    const char *path = tmp_path("format.png");
    CHECK_MSG(t.samples && write_test_png(path, &t), "%s: cannot write test file", what);

    for (int depth = 8; depth <= 16; depth += 8) {
        for (int channels = 0; channels <= 4; channels++) {
            ss_png_read_opts opts;
            ss_png_read_opts_default(&opts);
            opts.channels = channels;
            opts.depth = depth;
            ss_image img;
            ss_error err;
            char label[sizeof what + 64];
            snprintf(label, sizeof label, "%s, read as %d channels at depth %d", what, channels,
                     depth);
            ss_status rc = ss_png_read(path, &opts, &img, &err);
            CHECK_MSG(rc == SS_OK, "%s: %s", label, err.msg);
            if (rc == SS_OK)
                image_matches(&img, &t, channels, depth, label);
            ss_image_free(&img);
        }
    }

    size_t len = 0;
    unsigned char *buf = read_whole_file(path, &len);
    CHECK(buf != NULL);
    if (buf) {
        ss_image img;
        ss_error err;
        ss_status rc = ss_png_read_mem(buf, len, "format.png", NULL, &img, &err);
        CHECK_MSG(rc == SS_OK, "%s, from memory: %s", what, err.msg);
        if (rc == SS_OK)
            image_matches(&img, &t, 0, 8, what);
        ss_image_free(&img);
    }
    free(buf);
    free(t.samples);
    unlink(path);
}

static void test_decode_every_format(void)
{
    size_t n = sizeof format_cases / sizeof format_cases[0];
    for (size_t i = 0; i < n; i++)
        check_format_case(&format_cases[i], 0);
}

static void test_decode_every_format_adam7(void)
{
    size_t n = sizeof format_cases / sizeof format_cases[0];
    for (size_t i = 0; i < n; i++)
        check_format_case(&format_cases[i], 1);
}

/* Writes a one-row image of the given raw samples and decodes it. */
static ss_status decode_row(int color_type, int bit_depth, const uint16_t *samples, uint32_t width,
                            int channels, int depth, ss_image *img)
{
    test_png t;
    memset(&t, 0, sizeof t);
    t.width = width;
    t.height = 1;
    t.color_type = color_type;
    t.bit_depth = bit_depth;
    size_t n = (size_t)width * (size_t)raw_channels(color_type);
    t.samples = malloc(n * sizeof *t.samples);
    memset(img, 0, sizeof *img);
    if (!t.samples)
        return SS_ENOMEM;
    memcpy(t.samples, samples, n * sizeof *t.samples);
    const char *path = tmp_path("row.png");
    int written = write_test_png(path, &t);
    free(t.samples);
    if (!written)
        return SS_EIO;
    ss_error err;
    ss_png_read_opts opts;
    ss_png_read_opts_default(&opts);
    opts.channels = channels;
    opts.depth = depth;
    ss_status rc = ss_png_read(path, &opts, img, &err);
    unlink(path);
    return rc;
}

static void test_decode_16_to_8_rounding(void)
{
    static const uint16_t in[] = {0, 128, 129, 257, 385, 386, 32767, 32768, 32896, 65406, 65407,
                                  65535};
    static const uint8_t want[] = {0, 0, 1, 1, 1, 2, 127, 128, 128, 254, 255, 255};
    ss_image img;
    uint32_t n = sizeof in / sizeof in[0];
    CHECK(decode_row(PNG_COLOR_TYPE_GRAY, 16, in, n, 1, 8, &img) == SS_OK);
    for (uint32_t i = 0; i < n && img.pixels; i++)
        CHECK_MSG(((uint8_t *)img.pixels)[i] == want[i], "16-bit %u decoded to %u, expected %u",
                  in[i], ((uint8_t *)img.pixels)[i], want[i]);
    ss_image_free(&img);

    CHECK(decode_row(PNG_COLOR_TYPE_GRAY, 16, in, n, 1, 16, &img) == SS_OK);
    for (uint32_t i = 0; i < n && img.pixels; i++)
        CHECK(((uint16_t *)img.pixels)[i] == in[i]);
    ss_image_free(&img);
}

static void test_decode_low_depth_full_range(void)
{
    static const uint16_t one_bit[] = {0, 1};
    static const uint16_t two_bit[] = {0, 1, 2, 3};
    static const uint16_t four_bit[] = {0, 1, 14, 15};
    static const uint16_t eight_bit[] = {0, 1, 128, 255};
    ss_image img;

    CHECK(decode_row(PNG_COLOR_TYPE_GRAY, 1, one_bit, 2, 1, 8, &img) == SS_OK);
    CHECK(sample_or_none(&img, 1) == 255);
    ss_image_free(&img);
    CHECK(decode_row(PNG_COLOR_TYPE_GRAY, 1, one_bit, 2, 1, 16, &img) == SS_OK);
    CHECK(sample_or_none(&img, 1) == 65535);
    ss_image_free(&img);

    CHECK(decode_row(PNG_COLOR_TYPE_GRAY, 2, two_bit, 4, 1, 8, &img) == SS_OK);
    CHECK(sample_or_none(&img, 1) == 85);
    CHECK(sample_or_none(&img, 2) == 170);
    CHECK(sample_or_none(&img, 3) == 255);
    ss_image_free(&img);

    CHECK(decode_row(PNG_COLOR_TYPE_GRAY, 4, four_bit, 4, 1, 8, &img) == SS_OK);
    CHECK(sample_or_none(&img, 1) == 17);
    CHECK(sample_or_none(&img, 2) == 238);
    CHECK(sample_or_none(&img, 3) == 255);
    ss_image_free(&img);

    CHECK(decode_row(PNG_COLOR_TYPE_GRAY, 8, eight_bit, 4, 1, 16, &img) == SS_OK);
    CHECK(sample_or_none(&img, 1) == 257);
    CHECK(sample_or_none(&img, 2) == 32896);
    CHECK(sample_or_none(&img, 3) == 65535);
    ss_image_free(&img);
}

static void test_decode_luma_and_alpha_values(void)
{
    static const uint16_t rgb[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    static const uint16_t rgba[] = {200, 100, 50, 128};
    static const uint16_t rgb16[] = {65535, 0, 0};
    static const uint16_t ga16[] = {65535, 32768, 1000, 65535};
    ss_image img;

    CHECK(decode_row(PNG_COLOR_TYPE_RGB, 8, rgb, 4, 1, 8, &img) == SS_OK);
    CHECK(sample_or_none(&img, 0) == 76);
    CHECK(sample_or_none(&img, 1) == 150);
    CHECK(sample_or_none(&img, 2) == 29);
    CHECK(sample_or_none(&img, 3) == 18);
    ss_image_free(&img);

    CHECK(decode_row(PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, 1, 3, 8, &img) == SS_OK);
    CHECK(sample_or_none(&img, 0) == 100);
    CHECK(sample_or_none(&img, 1) == 50);
    CHECK(sample_or_none(&img, 2) == 25);
    ss_image_free(&img);

    /* Luma 124 first, then composited with alpha 128. */
    CHECK(decode_row(PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, 1, 1, 8, &img) == SS_OK);
    CHECK(sample_or_none(&img, 0) == 62);
    ss_image_free(&img);
    CHECK(decode_row(PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, 1, 2, 8, &img) == SS_OK);
    CHECK(sample_or_none(&img, 0) == 124);
    CHECK(sample_or_none(&img, 1) == 128);
    ss_image_free(&img);

    CHECK(decode_row(PNG_COLOR_TYPE_RGB, 16, rgb16, 1, 1, 16, &img) == SS_OK);
    CHECK(sample_or_none(&img, 0) == 19595);
    ss_image_free(&img);

    CHECK(decode_row(PNG_COLOR_TYPE_GRAY_ALPHA, 16, ga16, 2, 1, 16, &img) == SS_OK);
    CHECK(sample_or_none(&img, 0) == 32768);
    CHECK(sample_or_none(&img, 1) == 1000);
    ss_image_free(&img);

    /* Gray to RGB replicates and adds an opaque alpha. */
    CHECK(decode_row(PNG_COLOR_TYPE_GRAY_ALPHA, 16, ga16, 2, 4, 16, &img) == SS_OK);
    CHECK(sample_or_none(&img, 0) == 65535);
    CHECK(sample_or_none(&img, 1) == 65535);
    CHECK(sample_or_none(&img, 2) == 65535);
    CHECK(sample_or_none(&img, 3) == 32768);
    ss_image_free(&img);
    CHECK(decode_row(PNG_COLOR_TYPE_RGB, 8, rgb, 4, 4, 8, &img) == SS_OK);
    CHECK(sample_or_none(&img, 3) == 255);
    CHECK(sample_or_none(&img, 15) == 255);
    ss_image_free(&img);
}

/* ---- Rejected input ---- */

/* Writes a small valid PNG and returns its bytes. */
static unsigned char *small_png(int color_type, int bit_depth, int interlace, int add_text,
                                size_t *len)
{
    test_png t;
    make_test_png(&t, color_type, bit_depth, interlace, 0);
    t.width = 5;
    t.height = 3;
    t.add_text = add_text;
    const char *path = tmp_path("small.png");
    unsigned char *buf = NULL;
    if (t.samples && write_test_png(path, &t))
        buf = read_whole_file(path, len);
    unlink(path);
    free(t.samples);
    return buf;
}

/* Returns the offset of the first chunk named type, or 0 when absent. */
static size_t find_chunk(const unsigned char *buf, size_t len, const char *type)
{
    size_t pos = 8;
    while (pos + 12 <= len) {
        size_t length = ((size_t)buf[pos] << 24) | ((size_t)buf[pos + 1] << 16)
                        | ((size_t)buf[pos + 2] << 8) | buf[pos + 3];
        if (memcmp(buf + pos + 4, type, 4) == 0)
            return pos;
        pos += 12 + length;
    }
    return 0;
}

static size_t chunk_length(const unsigned char *buf, size_t pos)
{
    return ((size_t)buf[pos] << 24) | ((size_t)buf[pos + 1] << 16) | ((size_t)buf[pos + 2] << 8)
           | buf[pos + 3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Recomputes the CRC of the chunk at pos after its data was changed. */
static void fix_crc(unsigned char *buf, size_t pos)
{
    size_t length = chunk_length(buf, pos);
    uLong crc = crc32(0L, buf + pos + 4, (uInt)(length + 4));
    put_be32(buf + pos + 8 + length, (uint32_t)crc);
}

static void check_every_cut_rejected(const unsigned char *buf, size_t len, const char *what)
{
    int accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        ss_image img;
        ss_error err;
        ss_status rc = ss_png_read_mem(buf, cut, "cut.png", NULL, &img, &err);
        if (rc == SS_OK || img.pixels != NULL || rc != SS_EDATA) {
            CHECK_MSG(0, "%s cut to %zu of %zu bytes: status %d, %s", what, cut, len, (int)rc,
                      err.msg);
            accepted++;
        }
        ss_image_free(&img);
    }
    CHECK(accepted == 0);

    ss_image img;
    ss_error err;
    CHECK_MSG(ss_png_read_mem(buf, len, "whole.png", NULL, &img, &err) == SS_OK, "%s: %s", what,
              err.msg);
    ss_image_free(&img);
}

static void test_truncated_at_every_offset(void)
{
    size_t len = 0;
    unsigned char *buf = small_png(PNG_COLOR_TYPE_RGB, 8, 0, 1, &len);
    CHECK(buf != NULL);
    if (buf)
        check_every_cut_rejected(buf, len, "RGB 8");
    free(buf);

    buf = small_png(PNG_COLOR_TYPE_GRAY_ALPHA, 16, 1, 0, &len);
    CHECK(buf != NULL);
    if (buf)
        check_every_cut_rejected(buf, len, "gray+alpha 16 Adam7");
    free(buf);
}

static void test_truncated_file_message(void)
{
    size_t len = 0;
    unsigned char *buf = small_png(PNG_COLOR_TYPE_RGB, 8, 0, 0, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    size_t idat = find_chunk(buf, len, "IDAT");
    CHECK(idat > 0);
    size_t cuts[] = {20, idat + 10, len - 12, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *path = tmp_path("x.png");
        CHECK(write_whole_file(path, buf, cuts[i]));
        ss_image img;
        ss_error err;
        CHECK(ss_png_read(path, NULL, &img, &err) == SS_EDATA);
        CHECK(img.pixels == NULL);
        CHECK_STR_CONTAINS(err.msg, "/x.png: invalid PNG: ");
        CHECK_STR_CONTAINS(err.msg, "truncated");
        unlink(path);
    }
    free(buf);
}

/* Flips every byte of the IDAT data in turn, with each mask, and counts the
 * damaged files that decode to other pixels than the intact file. fix
 * selects whether the chunk CRC is recomputed, so that zlib and the Adler-32
 * check have to catch the damage. A flip that decodes to the same pixels is
 * harmless: it hits padding bits that inflate ignores, such as the bits
 * after the header of a stored block. */
static int count_idat_flips_accepted(unsigned char *buf, size_t len, int fix, const char *what)
{
    static const unsigned char masks[] = {0x01, 0x5a, 0x80, 0xff};
    size_t idat = find_chunk(buf, len, "IDAT");
    size_t idat_len = idat ? chunk_length(buf, idat) : 0;
    int accepted = 0;
    ss_image good;
    ss_error err;
    CHECK(idat_len > 0);
    CHECK(ss_png_read_mem(buf, len, "x.png", NULL, &good, &err) == SS_OK);
    if (!good.pixels)
        return 1;
    size_t good_bytes = (size_t)good.width * good.height * (size_t)good.channels;

    for (size_t m = 0; m < sizeof masks; m++) {
        for (size_t i = 0; i < idat_len; i++) {
            buf[idat + 8 + i] ^= masks[m];
            if (fix)
                fix_crc(buf, idat);
            ss_image img;
            ss_status rc = ss_png_read_mem(buf, len, "x.png", NULL, &img, &err);
            int same = rc == SS_OK && img.channels == good.channels
                       && memcmp(img.pixels, good.pixels, good_bytes) == 0;
            if (rc == SS_OK ? !same || !fix : (rc != SS_EDATA || img.pixels != NULL)) {
                CHECK_MSG(0, "%s: IDAT byte %zu ^ 0x%02x%s: status %d, %s", what, i, masks[m],
                          fix ? " with CRC fixed" : "", (int)rc, err.msg);
                accepted++;
            } else if (rc != SS_OK && strncmp(err.msg, "x.png: invalid PNG: ", 20) != 0) {
                CHECK_MSG(0, "%s: message '%s'", what, err.msg);
            }
            ss_image_free(&img);
            buf[idat + 8 + i] ^= masks[m];
            if (fix)
                fix_crc(buf, idat);
        }
    }
    ss_image_free(&good);
    return accepted;
}

static void test_corrupt_idat_rejected(void)
{
    static const format_case cases[] = {
        {PNG_COLOR_TYPE_RGB_ALPHA, 8, 0}, {PNG_COLOR_TYPE_RGB, 8, 0},
        {PNG_COLOR_TYPE_GRAY, 16, 0},     {PNG_COLOR_TYPE_PALETTE, 4, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int interlace = 0; interlace <= 1; interlace++) {
            size_t len = 0;
            unsigned char *buf =
                small_png(cases[c].color_type, cases[c].bit_depth, interlace, 0, &len);
            CHECK(buf != NULL);
            if (!buf)
                continue;
            char what[64];
            snprintf(what, sizeof what, "color type %d, %d bits%s", cases[c].color_type,
                     cases[c].bit_depth, interlace ? ", Adam7" : "");
            CHECK(count_idat_flips_accepted(buf, len, 0, what) == 0);
            CHECK(count_idat_flips_accepted(buf, len, 1, what) == 0);
            free(buf);
        }
    }
}

static void test_idat_crc_error_message(void)
{
    size_t len = 0;
    unsigned char *buf = small_png(PNG_COLOR_TYPE_RGB, 8, 0, 0, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    size_t idat = find_chunk(buf, len, "IDAT");
    CHECK(idat > 0);
    buf[idat + 8 + chunk_length(buf, idat)] ^= 1;
    ss_image img;
    ss_error err;
    CHECK(ss_png_read_mem(buf, len, "x.png", NULL, &img, &err) == SS_EDATA);
    CHECK_MSG(strcmp(err.msg, "x.png: invalid PNG: IDAT: CRC error") == 0, "message '%s'",
              err.msg);
    CHECK(img.pixels == NULL);
    free(buf);
}

static void test_ancillary_crc_rejected(void)
{
    size_t len = 0;
    unsigned char *buf = small_png(PNG_COLOR_TYPE_GRAY, 8, 0, 1, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    size_t text = find_chunk(buf, len, "tEXt");
    CHECK(text > 0);
    buf[text + 9] ^= 1;
    ss_image img;
    ss_error err;
    CHECK(ss_png_read_mem(buf, len, "x.png", NULL, &img, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "CRC error");
    CHECK(img.pixels == NULL);
    free(buf);
}

static void test_not_png_rejected(void)
{
    static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1};
    ss_image img;
    ss_error err;

    CHECK(ss_png_read_mem(jpeg, sizeof jpeg, "x.png", NULL, &img, &err) == SS_EDATA);
    CHECK(strcmp(err.msg, "x.png: not a PNG file (bad signature)") == 0);
    CHECK(img.pixels == NULL);
    CHECK(ss_png_read_mem(jpeg, 0, "x.png", NULL, &img, &err) == SS_EDATA);
    CHECK(strcmp(err.msg, "x.png: not a PNG file (bad signature)") == 0);

    const char *path = tmp_path("text.png");
    CHECK(write_whole_file(path, "hello, world\n", 13));
    CHECK(ss_png_read(path, NULL, &img, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "text.png: not a PNG file (bad signature)");
    unlink(path);

    CHECK(ss_png_read(tmp_path("missing.png"), NULL, &img, &err) == SS_EIO);
    CHECK_STR_CONTAINS(err.msg, "missing.png: cannot open: ");
    CHECK(img.pixels == NULL);

    CHECK(ss_png_read(tmp_dir, NULL, &img, &err) == SS_EIO);
    CHECK_STR_CONTAINS(err.msg, strerror(EISDIR));
}

static void test_bad_options_rejected(void)
{
    size_t len = 0;
    unsigned char *buf = small_png(PNG_COLOR_TYPE_GRAY, 8, 0, 0, &len);
    CHECK(buf != NULL);
    ss_png_read_opts opts;
    ss_png_read_opts_default(&opts);
    opts.depth = 12;
    ss_image img;
    ss_error err;
    CHECK(ss_png_read_mem(buf, len, "x.png", &opts, &img, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "depth 12");
    opts.depth = 8;
    opts.channels = 5;
    CHECK(ss_png_read_mem(buf, len, "x.png", &opts, &img, &err) == SS_EINVAL);
    CHECK(img.pixels == NULL);
    free(buf);
}

static void test_max_pixels_rejected(void)
{
    size_t len = 0;
    unsigned char *buf = small_png(PNG_COLOR_TYPE_RGB, 8, 0, 0, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    ss_png_read_opts opts;
    ss_png_read_opts_default(&opts);
    ss_image img;
    ss_error err;
    opts.max_pixels = 14;
    CHECK(ss_png_read_mem(buf, len, "small.png", &opts, &img, &err) == SS_ELIMIT);
    CHECK_MSG(strcmp(err.msg, "small.png: image 5x3 has 15 pixels, above the limit of 14 (raise "
                              "it with --max-pixels)") == 0,
              "message '%s'", err.msg);
    CHECK(img.pixels == NULL);
    opts.max_pixels = 15;
    CHECK(ss_png_read_mem(buf, len, "small.png", &opts, &img, &err) == SS_OK);
    ss_image_free(&img);

    /* A header that claims 70000x70000 pixels is rejected before any pixel
     * memory is allocated, at the default limit. */
    size_t ihdr = find_chunk(buf, len, "IHDR");
    CHECK(ihdr == 8);
    put_be32(buf + ihdr + 8, 70000);
    put_be32(buf + ihdr + 12, 70000);
    fix_crc(buf, ihdr);
    CHECK(ss_png_read_mem(buf, len, "photo.png", NULL, &img, &err) == SS_ELIMIT);
    CHECK_MSG(strcmp(err.msg, "photo.png: image 70000x70000 has 4900000000 pixels, above the "
                              "limit of 67108864 (raise it with --max-pixels)") == 0,
              "message '%s'", err.msg);
    CHECK(img.pixels == NULL);

    /* The limit is checked before libpng sizes its row buffers for the
     * largest width PNG allows. */
    put_be32(buf + ihdr + 8, 0x7fffffff);
    put_be32(buf + ihdr + 12, 1);
    fix_crc(buf, ihdr);
    CHECK(ss_png_read_mem(buf, len, "wide.png", NULL, &img, &err) == SS_ELIMIT);
    CHECK_STR_CONTAINS(err.msg, "wide.png: image 2147483647x1 has 2147483647 pixels");
    free(buf);
}

/* Runs fn with stdout and stderr sent to a file, and returns how many bytes
 * were written to them. */
static long count_output(ss_status (*fn)(const unsigned char *, size_t, ss_error *),
                         const unsigned char *buf, size_t len, ss_error *err, ss_status *rc)
{
    const char *path = tmp_path("output.txt");
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1);
    int saved_err = dup(2);
    FILE *sink = fopen(path, "w+");
    if (saved_out < 0 || saved_err < 0 || !sink)
        return -1;
    dup2(fileno(sink), 1);
    dup2(fileno(sink), 2);
    *rc = fn(buf, len, err);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    fseek(sink, 0, SEEK_END);
    long size = ftell(sink);
    fclose(sink);
    unlink(path);
    return size;
}

static ss_status read_and_free(const unsigned char *buf, size_t len, ss_error *err)
{
    ss_image img;
    ss_status rc = ss_png_read_mem(buf, len, "x.png", NULL, &img, err);
    ss_image_free(&img);
    return rc;
}

static void test_warning_recorded_not_printed(void)
{
    size_t len = 0;
    unsigned char *buf = small_png(PNG_COLOR_TYPE_RGB, 8, 0, 0, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    /* Insert an sRGB chunk with rendering intent 9, which libpng reports as
     * a warning and ignores. */
    unsigned char *bad = malloc(len + 13);
    CHECK(bad != NULL);
    if (!bad) {
        free(buf);
        return;
    }
    size_t after_ihdr = 8 + 12 + 13;
    memcpy(bad, buf, after_ihdr);
    unsigned char *srgb = bad + after_ihdr;
    put_be32(srgb, 1);
    memcpy(srgb + 4, "sRGB", 4);
    srgb[8] = 9;
    fix_crc(bad, after_ihdr);
    memcpy(bad + after_ihdr + 13, buf + after_ihdr, len - after_ihdr);

    ss_error err;
    ss_status rc = SS_EIO;
    long printed = count_output(read_and_free, bad, len + 13, &err, &rc);
    CHECK_MSG(rc == SS_OK, "status %d: %s", (int)rc, err.msg);
    CHECK(err.status == SS_OK);
    CHECK_STR_CONTAINS(err.msg, "x.png: libpng warning: ");
    CHECK_MSG(printed == 0, "%ld bytes printed", printed);

    /* An error is not printed either. */
    bad[after_ihdr + 20] ^= 1;
    printed = count_output(read_and_free, bad, len + 13, &err, &rc);
    CHECK(rc == SS_EDATA);
    CHECK_MSG(printed == 0, "%ld bytes printed", printed);

    /* A clean file leaves the message empty. */
    CHECK(read_and_free(buf, len, &err) == SS_OK);
    CHECK(err.msg[0] == '\0');
    free(bad);
    free(buf);
}

/* ---- Writing ---- */

static void fill_random_image(ss_image *img, uint32_t width, uint32_t height, int channels,
                              int depth)
{
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->depth = depth;
    size_t n = (size_t)width * height * (size_t)channels;
    img->pixels = malloc(n * (size_t)(depth / 8));
    for (size_t i = 0; i < n && img->pixels; i++) {
        uint32_t v = next_random();
        if (depth == 8)
            ((uint8_t *)img->pixels)[i] = (uint8_t)v;
        else
            ((uint16_t *)img->pixels)[i] = (uint16_t)v;
    }
}

static void test_write_read_round_trip(void)
{
    seed_state = 42;
    for (int depth = 8; depth <= 16; depth += 8) {
        for (int channels = 1; channels <= 4; channels++) {
            ss_image src;
            fill_random_image(&src, 13, 6, channels, depth);
            CHECK(src.pixels != NULL);
            const char *path = tmp_path("round.png");
            FILE *fp = fopen(path, "wb");
            CHECK(fp != NULL);
            if (!fp || !src.pixels) {
                ss_image_free(&src);
                continue;
            }
            ss_error err;
            CHECK_MSG(ss_png_write(fp, "round.png", &src, &err) == SS_OK, "%s", err.msg);
            CHECK(fclose(fp) == 0);

            ss_png_read_opts opts;
            ss_png_read_opts_default(&opts);
            opts.depth = depth;
            ss_image back;
            CHECK_MSG(ss_png_read(path, &opts, &back, &err) == SS_OK, "%s", err.msg);
            CHECK(back.width == 13);
            CHECK(back.height == 6);
            CHECK(back.channels == channels);
            CHECK(back.depth == depth);
            size_t bytes = 13 * 6 * (size_t)channels * (size_t)(depth / 8);
            CHECK(back.pixels != NULL);
            if (back.pixels)
                CHECK_MSG(memcmp(back.pixels, src.pixels, bytes) == 0,
                          "round trip differs at %d channels, depth %d", channels, depth);
            ss_image_free(&back);
            ss_image_free(&src);
            unlink(path);
        }
    }
}

static void test_write_errors(void)
{
    ss_image img;
    seed_state = 7;
    fill_random_image(&img, 64, 64, 3, 8);
    CHECK(img.pixels != NULL);
    ss_error err;

    FILE *full = fopen("/dev/full", "wb");
    if (full) {
        CHECK(ss_png_write(full, "out.png", &img, &err) == SS_EIO);
        CHECK_STR_CONTAINS(err.msg, "out.png: ");
        CHECK_STR_CONTAINS(err.msg, strerror(ENOSPC));
        fclose(full);
    }

    FILE *fp = fopen(tmp_path("bad.png"), "wb");
    CHECK(fp != NULL);
    if (fp) {
        img.channels = 5;
        CHECK(ss_png_write(fp, "bad.png", &img, &err) == SS_EINVAL);
        img.channels = 3;
        img.depth = 4;
        CHECK(ss_png_write(fp, "bad.png", &img, &err) == SS_EINVAL);
        CHECK_STR_CONTAINS(err.msg, "bad.png: cannot write PNG");
        img.depth = 8;
        fclose(fp);
        unlink(tmp_path("bad.png"));
    }
    ss_image_free(&img);
}

/* ---- Grid ---- */

static uint32_t grid_sample(const ss_image *g, uint32_t x, uint32_t y, int k)
{
    return image_sample(g, ((size_t)y * g->width + x) * (size_t)g->channels + (size_t)k);
}

static void test_grid_layout(void)
{
    /* Three 2x2 gray images. Image i has the pixel values 10 i + 1 to
     * 10 i + 4. */
    uint8_t data[3][4];
    ss_image images[3];
    for (int i = 0; i < 3; i++) {
        for (int p = 0; p < 4; p++)
            data[i][p] = (uint8_t)(10 * i + p + 1);
        images[i] = (ss_image){.height = 2, .width = 2, .channels = 1, .depth = 8,
                               .pixels = data[i]};
    }
    ss_image g;
    ss_error err;
    CHECK_MSG(ss_image_grid(images, 3, 2, 1, 7, 3, &g, &err) == SS_OK, "%s", err.msg);
    CHECK(g.width == 7);
    CHECK(g.height == 7);
    CHECK(g.channels == 3);
    CHECK(g.depth == 8);
    if (!g.pixels || g.width != 7 || g.height != 7) {
        ss_image_free(&g);
        return;
    }
    int wrong = 0;
    for (uint32_t y = 0; y < 7; y++) {
        for (uint32_t x = 0; x < 7; x++) {
            uint32_t want = 7;
            int in_x = x % 3 != 0;
            int in_y = y % 3 != 0;
            int cell = (int)(y / 3) * 2 + (int)(x / 3);
            if (in_x && in_y && cell < 3)
                want = data[cell][(y % 3 - 1) * 2 + (x % 3 - 1)];
            for (int k = 0; k < 3; k++) {
                if (grid_sample(&g, x, y, k) != want) {
                    CHECK_MSG(0, "grid (%u, %u) channel %d is %u, expected %u", (unsigned)x,
                              (unsigned)y, k, (unsigned)grid_sample(&g, x, y, k), (unsigned)want);
                    wrong++;
                }
            }
        }
    }
    CHECK(wrong == 0);
    ss_image_free(&g);

    /* No padding, one column, gray output. */
    CHECK(ss_image_grid(images, 3, 1, 0, 0, 1, &g, &err) == SS_OK);
    CHECK(g.width == 2);
    CHECK(g.height == 6);
    CHECK(g.channels == 1);
    CHECK(g.pixels != NULL);
    if (g.pixels)
        CHECK(memcmp(g.pixels, data, sizeof data) == 0);
    ss_image_free(&g);
}

static void test_grid_converts_channels(void)
{
    uint16_t rgba[4] = {60000, 30000, 1000, 32768};
    uint16_t rgb[3] = {65535, 0, 0};
    ss_image images[2] = {
        {.height = 1, .width = 1, .channels = 4, .depth = 16, .pixels = rgba},
        {.height = 1, .width = 1, .channels = 3, .depth = 16, .pixels = rgb},
    };
    ss_image g;
    ss_error err;
    CHECK_MSG(ss_image_grid(images, 2, 2, 2, 65535, 3, &g, &err) == SS_OK, "%s", err.msg);
    CHECK(g.width == 8);
    CHECK(g.height == 5);
    CHECK(g.depth == 16);
    if (g.pixels && g.width == 8 && g.height == 5) {
        CHECK(grid_sample(&g, 0, 0, 0) == 65535);
        CHECK(grid_sample(&g, 2, 2, 0) == expect_over_black(60000, 32768, 65535));
        CHECK(grid_sample(&g, 2, 2, 1) == expect_over_black(30000, 32768, 65535));
        CHECK(grid_sample(&g, 2, 2, 2) == expect_over_black(1000, 32768, 65535));
        CHECK(grid_sample(&g, 5, 2, 0) == 65535);
        CHECK(grid_sample(&g, 5, 2, 1) == 0);
        CHECK(grid_sample(&g, 3, 2, 1) == 65535);
    }
    ss_image_free(&g);

    CHECK(ss_image_grid(images, 2, 2, 0, 0, 1, &g, &err) == SS_OK);
    if (g.pixels) {
        uint32_t y = (299u * 60000u + 587u * 30000u + 114u * 1000u + 500u) / 1000u;
        CHECK(grid_sample(&g, 0, 0, 0) == expect_over_black(y, 32768, 65535));
        CHECK(grid_sample(&g, 1, 0, 0) == 19595);
    }
    ss_image_free(&g);
}

static void test_grid_bad_arguments(void)
{
    uint8_t a[4] = {0};
    uint8_t b[6] = {0};
    ss_image images[2] = {
        {.height = 2, .width = 2, .channels = 1, .depth = 8, .pixels = a},
        {.height = 2, .width = 3, .channels = 1, .depth = 8, .pixels = b},
    };
    ss_image g;
    ss_error err;

    CHECK(ss_image_grid(images, 1, 0, 0, 0, 3, &g, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "column count 0");
    CHECK(ss_image_grid(images, 1, 1, -1, 0, 3, &g, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "padding -1");
    CHECK(ss_image_grid(images, 1, 1, 0, 256, 3, &g, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "fill value 256");
    CHECK(ss_image_grid(images, 1, 1, 0, 0, 2, &g, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "output channel count 2");
    CHECK(ss_image_grid(images, 0, 1, 0, 0, 3, &g, &err) == SS_EINVAL);
    CHECK(ss_image_grid(images, 2, 1, 0, 0, 3, &g, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "image 1 is 3x2");
    images[1].width = 2;
    images[1].depth = 16;
    CHECK(ss_image_grid(images, 2, 1, 0, 0, 3, &g, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "at depth 16");
    CHECK(g.pixels == NULL);
}

/* Removes every file left in the temporary directory, then the directory. */
static void remove_tmp_dir(void)
{
    DIR *dir = opendir(tmp_dir);
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlink(tmp_path(e->d_name));
        }
        closedir(dir);
    }
    rmdir(tmp_dir);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_png.XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        printf("not ok 1 - cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_decode_every_format);
    RUN(test_decode_every_format_adam7);
    RUN(test_decode_16_to_8_rounding);
    RUN(test_decode_low_depth_full_range);
    RUN(test_decode_luma_and_alpha_values);
    RUN(test_truncated_at_every_offset);
    RUN(test_truncated_file_message);
    RUN(test_corrupt_idat_rejected);
    RUN(test_idat_crc_error_message);
    RUN(test_ancillary_crc_rejected);
    RUN(test_not_png_rejected);
    RUN(test_bad_options_rejected);
    RUN(test_max_pixels_rejected);
    RUN(test_warning_recorded_not_printed);
    RUN(test_write_read_round_trip);
    RUN(test_write_errors);
    RUN(test_grid_layout);
    RUN(test_grid_converts_channels);
    RUN(test_grid_bad_arguments);
    remove_tmp_dir();
    return CHECK_DONE();
}
