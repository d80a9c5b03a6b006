/* test_aug: the augmentation library on small images built here: exact
 * identities, gray invariance of the colour steps, clamping, the direction
 * of flips, rotation and translation, and determinism per rng key. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ss_aug.h"
#include "ss_rng.h"

#define MAX_PIXELS 4096

/* Fills n bytes from a generator keyed by tag. */
static void random_bytes(uint8_t *out, size_t n, uint64_t tag)
{
    ss_rng rng;
    ss_rng_init(&rng, 99, SS_RNG_TRAIN, tag);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)ss_rng_below(&rng, 256);
}

/* A config that leaves every step off, with a full-image crop. */
static void config_off(ss_aug_config *cfg)
{
    ss_aug_config_default(cfg);
    cfg->crop_scale[0] = cfg->crop_scale[1] = 1;
    cfg->crop_ratio[0] = cfg->crop_ratio[1] = 1;
    cfg->hflip = 0;
    cfg->jitter_p = 0;
    cfg->grayscale_p = 0;
}

/* Renders view v of in (h, w, c) to uint8 out. */
static void render_bytes(uint8_t *out, const uint8_t *in, int h, int w, int c, const ss_aug_view *v,
                         ss_rng *rng)
{
    static float buf[MAX_PIXELS], scratch[MAX_PIXELS];
    size_t n = (size_t)v->out_h * (size_t)v->out_w * (size_t)c;
    ss_aug_render_u8(buf, scratch, in, h, w, c, v, rng);
    ss_aug_to_u8(out, buf, n);
}

static void test_no_augment_identity(void)
{
    const int h = 5, w = 7, c = 3;
    uint8_t in[5 * 7 * 3], out[5 * 7 * 3];
    random_bytes(in, sizeof in, 1);
    ss_aug_config cfg;
    ss_aug_config_default(&cfg);
    cfg.identity = 1;
    for (uint64_t key = 0; key < 8; key++) {
        ss_rng rng;
        ss_rng_init(&rng, 5, SS_RNG_AUGMENT, key);
        ss_aug_view v;
        ss_aug_view_sample(&v, &cfg, h, w, h, w, &rng);
        render_bytes(out, in, h, w, c, &v, &rng);
        CHECK(memcmp(in, out, sizeof in) == 0);
    }
}

static void test_no_augment_float_output(void)
{
    const int h = 4, w = 4, c = 1;
    uint8_t in[16];
    random_bytes(in, sizeof in, 2);
    float buf[16], scratch[16], out[16];
    ss_aug_view v;
    ss_aug_view_init(&v, h, w, h, w);
    ss_aug_render_u8(buf, scratch, in, h, w, c, &v, NULL);
    ss_aug_to_f32(out, buf, 16);
    for (int i = 0; i < 16; i++)
        CHECK_MSG(fabsf(out[i] - (float)in[i] / 255.0f) < 1e-7f, "value %d: %g", i, (double)out[i]);
}

static void test_hflip_twice_identity(void)
{
    const int h = 6, w = 9, c = 3;
    uint8_t in[6 * 9 * 3], once[6 * 9 * 3], twice[6 * 9 * 3];
    random_bytes(in, sizeof in, 3);
    ss_aug_view v;
    ss_aug_view_init(&v, h, w, h, w);
    ss_aug_geometry g = {0, 0, w, h, 1, 0, 0, 1, 0, 0};
    ss_aug_view_set_geometry(&v, &g);
    render_bytes(once, in, h, w, c, &v, NULL);
    render_bytes(twice, once, h, w, c, &v, NULL);
    CHECK(memcmp(in, twice, sizeof in) == 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                CHECK(once[(y * w + x) * c + k] == in[(y * w + (w - 1 - x)) * c + k]);
}

static void test_vflip_mirrors_rows(void)
{
    const int h = 5, w = 4, c = 1;
    uint8_t in[20], out[20];
    random_bytes(in, sizeof in, 4);
    ss_aug_view v;
    ss_aug_view_init(&v, h, w, h, w);
    ss_aug_geometry g = {0, 0, w, h, 0, 1, 0, 1, 0, 0};
    ss_aug_view_set_geometry(&v, &g);
    render_bytes(out, in, h, w, c, &v, NULL);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            CHECK(out[y * w + x] == in[(h - 1 - y) * w + x]);
}

static void test_full_crop_identity(void)
{
    const int h = 8, w = 8, c = 1;
    uint8_t in[64], out[64];
    random_bytes(in, sizeof in, 5);
    ss_aug_config cfg;
    config_off(&cfg);
    for (uint64_t key = 0; key < 16; key++) {
        ss_rng rng;
        ss_rng_init(&rng, 1, SS_RNG_AUGMENT, key);
        ss_aug_view v;
        ss_aug_view_sample(&v, &cfg, h, w, h, w, &rng);
        render_bytes(out, in, h, w, c, &v, &rng);
        CHECK(memcmp(in, out, sizeof in) == 0);
    }
}

static void test_rotate_quarter_turn(void)
{
    const int n = 6, c = 1;
    uint8_t in[36], out[36];
    random_bytes(in, sizeof in, 6);
    ss_aug_view v;
    ss_aug_view_init(&v, n, n, n, n);
    ss_aug_geometry g = {0, 0, n, n, 0, 0, 90, 1, 0, 0};
    ss_aug_view_set_geometry(&v, &g);
    render_bytes(out, in, n, n, c, &v, NULL);
    /* Counter-clockwise as displayed: the top-right corner moves to the
     * top-left. */
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            CHECK_MSG(out[y * n + x] == in[x * n + (n - 1 - y)], "pixel (%d,%d)", x, y);
}

static void test_translate_fills_zero(void)
{
    const int h = 3, w = 5, c = 1;
    uint8_t in[15], out[15];
    random_bytes(in, sizeof in, 7);
    for (int i = 0; i < 15; i++)
        in[i] |= 1; /* no zero pixels, so the fill is visible */
    ss_aug_view v;
    ss_aug_view_init(&v, h, w, h, w);
    ss_aug_geometry g = {0, 0, w, h, 0, 0, 0, 1, 2, 0};
    ss_aug_view_set_geometry(&v, &g);
    render_bytes(out, in, h, w, c, &v, NULL);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            CHECK(out[y * w + x] == (x < 2 ? 0 : in[y * w + x - 2]));
}

static void test_crop_resize_upsamples(void)
{
    /* The left half of a 1x4 ramp stretched to 1x4: bilinear at centres
     * 0.25 apart, edge pixel repeated left of the first centre. */
    const uint8_t in[4] = {0, 100, 200, 255};
    uint8_t out[4];
    ss_aug_view v;
    ss_aug_view_init(&v, 1, 4, 1, 4);
    ss_aug_geometry g = {0, 0, 2, 1, 0, 0, 0, 1, 0, 0};
    ss_aug_view_set_geometry(&v, &g);
    render_bytes(out, in, 1, 4, 1, &v, NULL);
    CHECK(out[0] == 0);
    CHECK(out[1] == 25);
    CHECK(out[2] == 75);
    CHECK(out[3] == 125);
}

static void test_aligned_matches_general(void)
{
    /* warp_u8 takes a table-driven path for axis-aligned views and
     * warp_f32 the per-pixel one; both must give the same bits. */
    const int h = 9, w = 11, c = 3;
    uint8_t in[9 * 11 * 3];
    float in_f[9 * 11 * 3], out_u[12 * 10 * 3], out_f[12 * 10 * 3];
    random_bytes(in, sizeof in, 8);
    for (size_t i = 0; i < sizeof in; i++)
        in_f[i] = in[i];
    ss_aug_view v;
    ss_aug_view_init(&v, h, w, 12, 10);
    ss_aug_geometry g = {1.3, 0.7, 6.1, 7.9, 1, 0, 0, 1.2, 0.4, -1.1};
    ss_aug_view_set_geometry(&v, &g);
    ss_aug_warp_u8(out_u, in, h, w, c, &v);
    ss_aug_warp_f32(out_f, in_f, h, w, c, &v);
    int same = 1;
    for (size_t i = 0; i < sizeof out_u / sizeof out_u[0]; i++)
        same &= out_u[i] == out_f[i] * (1.0f / 255.0f);
    CHECK(same);
}

/* Fills n RGB pixels with random gray levels (R = G = B). */
static void gray_pixels(float *img, size_t n, uint64_t tag)
{
    ss_rng rng;
    ss_rng_init(&rng, 3, SS_RNG_TRAIN, tag);
    for (size_t i = 0; i < n; i++)
        img[3 * i] = img[3 * i + 1] = img[3 * i + 2] = ss_rng_uniformf(&rng);
}

static int all_gray(const float *img, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (img[3 * i] != img[3 * i + 1] || img[3 * i] != img[3 * i + 2])
            return 0;
    return 1;
}

static void test_color_ops_keep_gray(void)
{
    enum { N = 50 };
    float img[3 * N], ref[3 * N];
    gray_pixels(ref, N, 1);
    const float factors[] = {0.0f, 0.6f, 1.4f, 3.0f};
    for (size_t f = 0; f < sizeof factors / sizeof factors[0]; f++) {
        memcpy(img, ref, sizeof img);
        ss_aug_brightness(img, N, 3, factors[f]);
        CHECK(all_gray(img, N));
        memcpy(img, ref, sizeof img);
        ss_aug_contrast(img, N, 3, factors[f]);
        CHECK(all_gray(img, N));
        memcpy(img, ref, sizeof img);
        ss_aug_saturation(img, N, 3, factors[f]);
        CHECK(memcmp(img, ref, sizeof img) == 0);
        memcpy(img, ref, sizeof img);
        ss_aug_grayscale(img, N, 3);
        CHECK(memcmp(img, ref, sizeof img) == 0);
    }
    const float shifts[] = {-0.5f, -0.1f, 0.03f, 0.25f, 0.5f};
    for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++) {
        memcpy(img, ref, sizeof img);
        ss_aug_hue(img, N, 3, shifts[s]);
        CHECK(memcmp(img, ref, sizeof img) == 0);
    }
}

/* Fills n RGB pixels with random colours in [lo, hi]. */
static void color_pixels(float *img, size_t n, float lo, float hi, uint64_t tag)
{
    ss_rng rng;
    ss_rng_init(&rng, 4, SS_RNG_TRAIN, tag);
    for (size_t i = 0; i < 3 * n; i++)
        img[i] = lo + (hi - lo) * ss_rng_uniformf(&rng);
}

static void test_neutral_factors_identity(void)
{
    enum { N = 64 };
    float img[3 * N], ref[3 * N];
    color_pixels(ref, N, 0, 1, 2);
    memcpy(img, ref, sizeof img);
    ss_aug_hue(img, N, 3, 0);
    CHECK(memcmp(img, ref, sizeof img) == 0);
    ss_aug_saturation(img, N, 3, 1);
    CHECK(memcmp(img, ref, sizeof img) == 0);
    ss_aug_brightness(img, N, 3, 1);
    CHECK(memcmp(img, ref, sizeof img) == 0);
    ss_aug_contrast(img, N, 3, 1);
    CHECK(memcmp(img, ref, sizeof img) == 0);
}

static double luma_of(const float *p)
{
    return 0.299 * (double)p[0] + 0.587 * (double)p[1] + 0.114 * (double)p[2];
}

static void test_hue_keeps_luma_and_inverts(void)
{
    enum { N = 64 };
    float img[3 * N], ref[3 * N];
    /* Mid-range colours, so that no value reaches the clamp. */
    color_pixels(ref, N, 0.4f, 0.6f, 3);
    memcpy(img, ref, sizeof img);
    ss_aug_hue(img, N, 3, 0.2f);
    double moved = 0;
    for (int i = 0; i < N; i++) {
        CHECK(fabs(luma_of(img + 3 * i) - luma_of(ref + 3 * i)) < 1e-5);
        moved += fabs((double)img[3 * i] - (double)ref[3 * i]);
    }
    CHECK(moved > 1e-3);
    ss_aug_hue(img, N, 3, -0.2f);
    for (int i = 0; i < 3 * N; i++)
        CHECK_MSG(fabsf(img[i] - ref[i]) < 1e-5f, "value %d: %g against %g", i, (double)img[i], (double)ref[i]);
}

static void test_saturation_zero_is_grayscale(void)
{
    enum { N = 16 };
    float a[3 * N], b[3 * N];
    color_pixels(a, N, 0, 1, 4);
    memcpy(b, a, sizeof a);
    ss_aug_saturation(a, N, 3, 0);
    ss_aug_grayscale(b, N, 3);
    for (int i = 0; i < 3 * N; i++)
        CHECK(fabsf(a[i] - b[i]) < 1e-6f);
}

static void test_contrast_blends_to_mean(void)
{
    float img[4] = {0, 1, 0, 1};
    ss_aug_contrast(img, 4, 1, 0);
    for (int i = 0; i < 4; i++)
        CHECK(img[i] == 0.5f);
    float two[4] = {0.25f, 0.75f, 0.25f, 0.75f};
    ss_aug_contrast(two, 4, 1, 2);
    CHECK(two[0] == 0.0f);
    CHECK(two[1] == 1.0f);
}

static void test_clamping(void)
{
    float img[6] = {0.1f, 0.5f, 0.9f, 1.0f, 0.0f, 0.7f};
    ss_aug_brightness(img, 6, 1, 3.0f);
    for (int i = 0; i < 6; i++) {
        CHECK(img[i] >= 0.0f);
        CHECK(img[i] <= 1.0f);
    }
    CHECK(fabsf(img[0] - 0.3f) < 1e-6f);
    CHECK(img[2] == 1.0f);
    const float wild[5] = {-0.5f, 1.5f, NAN, 0.5f, 1.0f / 255.0f};
    uint8_t u8[5];
    float f32[5];
    ss_aug_to_u8(u8, wild, 5);
    ss_aug_to_f32(f32, wild, 5);
    CHECK(u8[0] == 0);
    CHECK(u8[1] == 255);
    CHECK(u8[2] == 0);
    CHECK(u8[3] == 128);
    CHECK(u8[4] == 1);
    CHECK(f32[0] == 0.0f);
    CHECK(f32[1] == 1.0f);
    CHECK(f32[2] == 0.0f);
    CHECK(f32[3] == 0.5f);
}

static void test_to_u8_blocks_match_tail(void)
{
    /* 37 values: two vectorised blocks of 16 and a scalar tail of 5, which
     * must round alike. */
    float in[37];
    uint8_t out[37];
    for (int i = 0; i < 37; i++)
        in[i] = (float)(i % 5) / 4.0f;
    ss_aug_to_u8(out, in, 37);
    for (int i = 0; i < 37; i++)
        CHECK(out[i] == out[i % 5]);
}

static void test_blur_constant_and_mass(void)
{
    enum { H = 9, W = 9 };
    float img[H * W], scratch[H * W];
    for (int i = 0; i < H * W; i++)
        img[i] = 0.25f;
    ss_aug_blur(img, scratch, H, W, 1, 1.5f);
    for (int i = 0; i < H * W; i++)
        CHECK(fabsf(img[i] - 0.25f) < 1e-6f);
    memset(img, 0, sizeof img);
    img[4 * W + 4] = 1;
    ss_aug_blur(img, scratch, H, W, 1, 0.8f);
    double sum = 0;
    for (int i = 0; i < H * W; i++)
        sum += (double)img[i];
    CHECK(fabs(sum - 1.0) < 1e-5);
    CHECK(img[4 * W + 4] < 1.0f);
    CHECK(img[4 * W + 4] > img[4 * W + 5]);
    CHECK(img[4 * W + 3] == img[4 * W + 5]);
    CHECK(img[3 * W + 4] == img[4 * W + 3]);
}

static void test_noise_changes_within_range(void)
{
    float img[100];
    for (int i = 0; i < 100; i++)
        img[i] = 0.5f;
    ss_rng rng;
    ss_rng_init(&rng, 1, SS_RNG_AUGMENT, 0);
    ss_aug_noise(img, 100, 0.1f, &rng);
    int changed = 0;
    for (int i = 0; i < 100; i++) {
        CHECK(img[i] >= 0.0f);
        CHECK(img[i] <= 1.0f);
        changed += img[i] != 0.5f;
    }
    CHECK(changed > 90);
}

/* Renders the view keyed by (seed, key) of a fixed 12x12x3 image, with the
 * default config plus rotation, blur and noise. */
static void default_view(uint8_t *out, uint64_t seed, uint64_t key, int out_size)
{
    uint8_t in[12 * 12 * 3];
    random_bytes(in, sizeof in, 9);
    ss_aug_config cfg;
    ss_aug_config_default(&cfg);
    cfg.blur_p = 0.5;
    cfg.noise_p = 0.5;
    cfg.noise_sigma = 0.05;
    cfg.rotate_p = 0.5;
    cfg.rotate_deg = 20;
    ss_rng rng;
    ss_rng_init(&rng, seed, SS_RNG_AUGMENT, key);
    ss_aug_view v;
    ss_aug_view_sample(&v, &cfg, 12, 12, out_size, out_size, &rng);
    render_bytes(out, in, 12, 12, 3, &v, &rng);
}

static void test_same_key_same_view(void)
{
    uint8_t a[10 * 10 * 3], b[10 * 10 * 3];
    for (uint64_t key = 0; key < 20; key++) {
        default_view(a, 7, key, 10);
        default_view(b, 7, key, 10);
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
}

static void test_different_keys_differ(void)
{
    uint8_t a[10 * 10 * 3], b[10 * 10 * 3];
    int differ = 0;
    for (uint64_t key = 0; key < 20; key++) {
        default_view(a, 7, 2 * key, 10);
        default_view(b, 7, 2 * key + 1, 10);
        differ += memcmp(a, b, sizeof a) != 0;
    }
    CHECK(differ == 20);
    default_view(a, 7, 0, 10);
    default_view(b, 8, 0, 10);
    CHECK(memcmp(a, b, sizeof a) != 0);
}

static void test_sampled_crop_within_ranges(void)
{
    ss_aug_config cfg;
    ss_aug_config_default(&cfg);
    for (uint64_t key = 0; key < 200; key++) {
        ss_rng rng;
        ss_rng_init(&rng, 2, SS_RNG_AUGMENT, key);
        ss_aug_view v;
        ss_aug_view_sample(&v, &cfg, 28, 28, 28, 28, &rng);
        float x0 = v.box[0] + 0.5f, y0 = v.box[1] + 0.5f;
        float cw = v.box[2] - v.box[0], ch = v.box[3] - v.box[1];
        CHECK(x0 >= 0);
        CHECK(y0 >= 0);
        CHECK(x0 + cw <= 28.0001f);
        CHECK(y0 + ch <= 28.0001f);
        double area = (double)cw * (double)ch / (28.0 * 28.0);
        CHECK_MSG(area >= 0.3 - 1e-5 && area <= 1 + 1e-5, "area %g", area);
        double ratio = (double)cw / (double)ch;
        CHECK_MSG(ratio >= 0.75 - 1e-5 && ratio <= 4.0 / 3.0 + 1e-5, "ratio %g", ratio);
        CHECK(v.n_color == 0 || v.n_color == 4);
    }
}

static void test_config_check(void)
{
    ss_aug_config cfg;
    ss_error err;
    ss_aug_config_default(&cfg);
    CHECK(ss_aug_config_check(&cfg, &err) == SS_OK);
    cfg.crop_scale[0] = 0.9;
    cfg.crop_scale[1] = 0.5;
    CHECK(ss_aug_config_check(&cfg, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "crop scale");
    ss_aug_config_default(&cfg);
    cfg.hue = 0.7;
    CHECK(ss_aug_config_check(&cfg, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "hue");
    ss_aug_config_default(&cfg);
    cfg.hflip = nan("");
    CHECK(ss_aug_config_check(&cfg, &err) == SS_EINVAL);
    ss_aug_config_default(&cfg);
    cfg.blur_sigma[1] = 50;
    CHECK(ss_aug_config_check(&cfg, &err) == SS_EINVAL);
}

int main(void)
{
    RUN(test_no_augment_identity);
    RUN(test_no_augment_float_output);
    RUN(test_hflip_twice_identity);
    RUN(test_vflip_mirrors_rows);
    RUN(test_full_crop_identity);
    RUN(test_rotate_quarter_turn);
    RUN(test_translate_fills_zero);
    RUN(test_crop_resize_upsamples);
    RUN(test_aligned_matches_general);
    RUN(test_color_ops_keep_gray);
    RUN(test_neutral_factors_identity);
    RUN(test_hue_keeps_luma_and_inverts);
    RUN(test_saturation_zero_is_grayscale);
    RUN(test_contrast_blends_to_mean);
    RUN(test_clamping);
    RUN(test_to_u8_blocks_match_tail);
    RUN(test_blur_constant_and_mass);
    RUN(test_noise_changes_within_range);
    RUN(test_same_key_same_view);
    RUN(test_different_keys_differ);
    RUN(test_sampled_crop_within_ranges);
    RUN(test_config_check);
    return CHECK_DONE();
}
