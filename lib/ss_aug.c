/* ss_aug: drawing and rendering augmented views of HWC images.
 *
 * Left out on purpose: reading or writing images, allocation, threads. The
 * caller keys one ss_rng per view, so a view depends only on that key.
 *
 * Implementation note: the crop, the flips and the affine step compose into
 * one 2x3 inverse map, so each output pixel costs one bilinear read however
 * many geometric steps a view has. The colour formulas are written as
 * differences: G + a (R - G) + b (B - G) for luma, v + (1 - f) (Y - v) for a
 * blend. A gray pixel then stays exactly gray, and a factor of 1 or a hue
 * shift of 0 changes no value at all. */
#include "ss_aug.h"

#include <math.h>
#include <string.h>

/* Luma weights of ITU-R BT.601, and the I and Q rows of the YIQ transform
 * (FCC NTSC). Both chroma rows sum to zero, so they are written as weights
 * of colour differences. */
#define LUMA_R 0.299
#define LUMA_G 0.587
#define LUMA_B 0.114
#define I_R 0.5959
#define I_G (-0.2746)
#define I_B (-0.3213)
#define Q_R 0.2115
#define Q_G (-0.5227)
#define Q_B 0.3112

#define MAX_BLUR_RADIUS 60 /* ceil(3 SS_AUG_MAX_BLUR_SIGMA) */

void ss_aug_config_default(ss_aug_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->crop_scale[0] = 0.3;
    cfg->crop_scale[1] = 1.0;
    cfg->crop_ratio[0] = 3.0 / 4.0;
    cfg->crop_ratio[1] = 4.0 / 3.0;
    cfg->hflip = 0.5;
    cfg->scale_min = 1.0;
    cfg->scale_max = 1.0;
    cfg->jitter_p = 0.8;
    cfg->brightness = 0.4;
    cfg->contrast = 0.4;
    cfg->saturation = 0.4;
    cfg->hue = 0.1;
    cfg->grayscale_p = 0.2;
    cfg->blur_sigma[0] = 0.1;
    cfg->blur_sigma[1] = 2.0;
}

/* Returns 1 when lo <= v <= hi; NaN is never in range. */
static int in_range(double v, double lo, double hi)
{
    return v >= lo && v <= hi;
}

static ss_status check_pair(const double r[2], double lo, double hi, const char *what, ss_error *err)
{
    if (!in_range(r[0], lo, hi) || !in_range(r[1], lo, hi) || r[0] > r[1])
        return ss_error_set(err, SS_EINVAL, "invalid %s %g,%g: expected MIN <= MAX within [%g, %g]",
                            what, r[0], r[1], lo, hi);
    return SS_OK;
}

ss_status ss_aug_config_check(const ss_aug_config *cfg, ss_error *err)
{
    const struct {
        double value, lo, hi;
        const char *what;
    } single[] = {
        {cfg->hflip, 0, 1, "hflip probability"},
        {cfg->vflip, 0, 1, "vflip probability"},
        {cfg->rotate_p, 0, 1, "rotate probability"},
        {cfg->rotate_deg, 0, 180, "rotation angle"},
        {cfg->translate_p, 0, 1, "translate probability"},
        {cfg->translate_frac, 0, 1, "translation fraction"},
        {cfg->scale_p, 0, 1, "scale probability"},
        {cfg->jitter_p, 0, 1, "jitter probability"},
        {cfg->brightness, 0, 100, "brightness"},
        {cfg->contrast, 0, 100, "contrast"},
        {cfg->saturation, 0, 100, "saturation"},
        {cfg->hue, 0, 0.5, "hue"},
        {cfg->grayscale_p, 0, 1, "grayscale probability"},
        {cfg->blur_p, 0, 1, "blur probability"},
        {cfg->noise_p, 0, 1, "noise probability"},
        {cfg->noise_sigma, 0, 1, "noise sigma"},
    };
    for (size_t i = 0; i < sizeof single / sizeof single[0]; i++)
        if (!in_range(single[i].value, single[i].lo, single[i].hi))
            return ss_error_set(err, SS_EINVAL, "invalid %s %g: expected a value within [%g, %g]",
                                single[i].what, single[i].value, single[i].lo, single[i].hi);
    ss_status st = check_pair(cfg->crop_scale, 1e-6, 1, "crop scale", err);
    if (st == SS_OK)
        st = check_pair(cfg->crop_ratio, 1e-3, 1e3, "crop ratio", err);
    if (st == SS_OK)
        st = check_pair((const double[2]){cfg->scale_min, cfg->scale_max}, 1e-3, 1e3, "scale range", err);
    if (st == SS_OK)
        st = check_pair(cfg->blur_sigma, 1e-3, SS_AUG_MAX_BLUR_SIGMA, "blur sigma", err);
    return st;
}

/* ---- Views ----------------------------------------------------------------- */

void ss_aug_view_init(ss_aug_view *v, int h, int w, int out_h, int out_w)
{
    memset(v, 0, sizeof *v);
    v->out_h = out_h;
    v->out_w = out_w;
    ss_aug_geometry g = {0, 0, w, h, 0, 0, 0, 1, 0, 0};
    ss_aug_view_set_geometry(v, &g);
}

void ss_aug_view_set_geometry(ss_aug_view *v, const ss_aug_geometry *g)
{
    double ow = v->out_w, oh = v->out_h;
    double cx = ow / 2, cy = oh / 2;

    /* Affine step, forward p = c + t + s R (q - c); its inverse is
     * q = B p + d with B = R^T / s. */
    double theta = g->angle_deg * (M_PI / 180);
    double cs = cos(theta) / g->scale, sn = sin(theta) / g->scale;
    double b00 = cs, b01 = -sn, b10 = sn, b11 = cs;
    double px = cx + g->shift_x, py = cy + g->shift_y;
    double d0 = cx - (b00 * px + b01 * py);
    double d1 = cy - (b10 * px + b11 * py);

    /* Flips mirror within the output frame, then the crop box is scaled
     * onto it. */
    double f0 = g->hflip ? -1 : 1, f1 = g->vflip ? -1 : 1;
    double e0 = g->hflip ? ow : 0, e1 = g->vflip ? oh : 0;
    double s0 = g->crop_w / ow, s1 = g->crop_h / oh;
    double m00 = s0 * f0 * b00, m01 = s0 * f0 * b01, m02 = s0 * (f0 * d0 + e0) + g->crop_x;
    double m10 = s1 * f1 * b10, m11 = s1 * f1 * b11, m12 = s1 * (f1 * d1 + e1) + g->crop_y;

    /* Output pixel index o has its centre at o + 0.5; input index
     * coordinates are the continuous ones minus 0.5. */
    v->m[0] = (float)m00;
    v->m[1] = (float)m01;
    v->m[2] = (float)(0.5 * m00 + 0.5 * m01 + m02 - 0.5);
    v->m[3] = (float)m10;
    v->m[4] = (float)m11;
    v->m[5] = (float)(0.5 * m10 + 0.5 * m11 + m12 - 0.5);
    v->box[0] = (float)(g->crop_x - 0.5);
    v->box[1] = (float)(g->crop_y - 0.5);
    v->box[2] = (float)(g->crop_x + g->crop_w - 0.5);
    v->box[3] = (float)(g->crop_y + g->crop_h - 0.5);
}

static double uniform_in(ss_rng *rng, double lo, double hi)
{
    return lo + (hi - lo) * ss_rng_uniform(rng);
}

static int coin(ss_rng *rng, double p)
{
    return ss_rng_uniform(rng) < p;
}

/* Random resized crop as in torchvision's RandomResizedCrop, with a
 * continuous box: up to 10 draws of area and log-uniform aspect ratio, then
 * the largest centred box whose ratio is within range. */
static void sample_crop(ss_aug_geometry *g, const ss_aug_config *cfg, int h, int w, ss_rng *rng)
{
    double area = (double)h * w;
    double log_lo = log(cfg->crop_ratio[0]), log_hi = log(cfg->crop_ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * uniform_in(rng, cfg->crop_scale[0], cfg->crop_scale[1]);
        double ratio = exp(uniform_in(rng, log_lo, log_hi));
        double cw = sqrt(target * ratio), ch = sqrt(target / ratio);
        if (cw <= w && ch <= h) {
            g->crop_w = cw;
            g->crop_h = ch;
            g->crop_x = uniform_in(rng, 0, w - cw);
            g->crop_y = uniform_in(rng, 0, h - ch);
            return;
        }
    }
    double ratio = (double)w / h;
    g->crop_w = w;
    g->crop_h = h;
    if (ratio < cfg->crop_ratio[0])
        g->crop_h = w / cfg->crop_ratio[0];
    else if (ratio > cfg->crop_ratio[1])
        g->crop_w = h * cfg->crop_ratio[1];
    g->crop_x = (w - g->crop_w) / 2;
    g->crop_y = (h - g->crop_h) / 2;
}

static void sample_color(ss_aug_view *v, const ss_aug_config *cfg, ss_rng *rng)
{
    if (!coin(rng, cfg->jitter_p))
        return;
    float arg[4];
    arg[SS_AUG_BRIGHTNESS] = (float)uniform_in(rng, fmax(0, 1 - cfg->brightness), 1 + cfg->brightness);
    arg[SS_AUG_CONTRAST] = (float)uniform_in(rng, fmax(0, 1 - cfg->contrast), 1 + cfg->contrast);
    arg[SS_AUG_SATURATION] = (float)uniform_in(rng, fmax(0, 1 - cfg->saturation), 1 + cfg->saturation);
    arg[SS_AUG_HUE] = (float)uniform_in(rng, -cfg->hue, cfg->hue);
    int order[4] = {SS_AUG_BRIGHTNESS, SS_AUG_CONTRAST, SS_AUG_SATURATION, SS_AUG_HUE};
    for (int i = 3; i > 0; i--) {
        int j = (int)ss_rng_below(rng, (uint64_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    v->n_color = 4;
    for (int i = 0; i < 4; i++) {
        v->color_op[i] = order[i];
        v->color_arg[i] = arg[order[i]];
    }
}

void ss_aug_view_sample(ss_aug_view *v, const ss_aug_config *cfg, int h, int w, int out_h,
                        int out_w, ss_rng *rng)
{
    ss_aug_view_init(v, h, w, out_h, out_w);
    if (cfg->identity)
        return;

    ss_aug_geometry g = {0, 0, w, h, 0, 0, 0, 1, 0, 0};
    sample_crop(&g, cfg, h, w, rng);
    g.hflip = coin(rng, cfg->hflip);
    g.vflip = coin(rng, cfg->vflip);
    if (coin(rng, cfg->rotate_p))
        g.angle_deg = uniform_in(rng, -cfg->rotate_deg, cfg->rotate_deg);
    if (coin(rng, cfg->translate_p)) {
        g.shift_x = uniform_in(rng, -cfg->translate_frac, cfg->translate_frac) * out_w;
        g.shift_y = uniform_in(rng, -cfg->translate_frac, cfg->translate_frac) * out_h;
    }
    if (coin(rng, cfg->scale_p))
        g.scale = uniform_in(rng, cfg->scale_min, cfg->scale_max);
    ss_aug_view_set_geometry(v, &g);

    sample_color(v, cfg, rng);
    v->grayscale = coin(rng, cfg->grayscale_p);
    if (coin(rng, cfg->blur_p))
        v->blur_sigma = (float)uniform_in(rng, cfg->blur_sigma[0], cfg->blur_sigma[1]);
    if (coin(rng, cfg->noise_p))
        v->noise_sigma = (float)cfg->noise_sigma;
}

/* ---- Geometric resampling ---------------------------------------------------- */

/* The four neighbours of a point and its fractional offsets. */
typedef struct {
    size_t p00, p01, p10, p11; /* element offsets of the first channel */
    float fx, fy;
} bilinear_taps;

/* Finds the taps for input index coordinates (x, y). Returns 0 when the
 * point lies outside the crop box. */
static inline int locate(bilinear_taps *t, float x, float y, const float box[4], int h, int w, int c)
{
    if (!(x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3]))
        return 0;
    x = x < 0 ? 0 : x > (float)(w - 1) ? (float)(w - 1) : x;
    y = y < 0 ? 0 : y > (float)(h - 1) ? (float)(h - 1) : y;
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + (x0 < w - 1), y1 = y0 + (y0 < h - 1);
    t->fx = x - (float)x0;
    t->fy = y - (float)y0;
    t->p00 = ((size_t)y0 * (size_t)w + (size_t)x0) * (size_t)c;
    t->p01 = ((size_t)y0 * (size_t)w + (size_t)x1) * (size_t)c;
    t->p10 = ((size_t)y1 * (size_t)w + (size_t)x0) * (size_t)c;
    t->p11 = ((size_t)y1 * (size_t)w + (size_t)x1) * (size_t)c;
    return 1;
}

/* a + f (b - a) returns a exactly when f is 0, so an unmoved pixel is copied
 * bit for bit. */
static inline float lerp(float a, float b, float f)
{
    return a + f * (b - a);
}

/* The body of ss_aug_warp_u8 for a fixed c, so that the compiler can unroll
 * the channel loop of the common 1- and 3-channel cases. */
static inline void warp_u8(float *out, const uint8_t *in, int h, int w, int c, const ss_aug_view *v)
{
    const float *m = v->m;
    const float to_unit = 1.0f / 255.0f;
    bilinear_taps t;
    for (int oy = 0; oy < v->out_h; oy++) {
        float row_x = m[1] * (float)oy + m[2], row_y = m[4] * (float)oy + m[5];
        float *o = out + (size_t)oy * (size_t)v->out_w * (size_t)c;
        for (int ox = 0; ox < v->out_w; ox++, o += c) {
            float x = row_x + m[0] * (float)ox, y = row_y + m[3] * (float)ox;
            if (!locate(&t, x, y, v->box, h, w, c)) {
                for (int k = 0; k < c; k++)
                    o[k] = 0;
                continue;
            }
            for (int k = 0; k < c; k++) {
                float top = lerp(in[t.p00 + k], in[t.p01 + k], t.fx);
                float bottom = lerp(in[t.p10 + k], in[t.p11 + k], t.fx);
                o[k] = lerp(top, bottom, t.fy) * to_unit;
            }
        }
    }
}

/* Taps along one axis for an axis-aligned view, whose coordinates along x
 * depend only on ox and along y only on oy. */
#define AXIS_TABLE_MAX 1024
typedef struct {
    size_t i0[AXIS_TABLE_MAX], i1[AXIS_TABLE_MAX]; /* pixel indices times stride */
    float f[AXIS_TABLE_MAX];
    unsigned char inside[AXIS_TABLE_MAX];
} axis_taps;

/* Fills the taps of coordinates start + step o for o < n, with the same
 * arithmetic and clamping as locate(), so both paths give equal bits. */
static void fill_axis_taps(axis_taps *t, int n, float start, float step, float lo, float hi, int len,
                           size_t stride)
{
    for (int o = 0; o < n; o++) {
        float x = start + step * (float)o;
        t->inside[o] = x >= lo && x <= hi;
        x = x < 0 ? 0 : x > (float)(len - 1) ? (float)(len - 1) : x;
        int x0 = (int)x;
        t->f[o] = x - (float)x0;
        t->i0[o] = (size_t)x0 * stride;
        t->i1[o] = (size_t)(x0 + (x0 < len - 1)) * stride;
    }
}

/* warp_u8 for a view without rotation (m[1] = m[3] = 0): the taps of each
 * column and row are computed once instead of once per pixel. */
static inline void warp_u8_axis_aligned(float *out, const uint8_t *in, int h, int w, int c,
                                        const ss_aug_view *v)
{
    const float *m = v->m;
    const float to_unit = 1.0f / 255.0f;
    axis_taps cols, rows;
    fill_axis_taps(&cols, v->out_w, m[2], m[0], v->box[0], v->box[2], w, (size_t)c);
    fill_axis_taps(&rows, v->out_h, m[5], m[4], v->box[1], v->box[3], h, (size_t)w * (size_t)c);
    float *o = out;
    for (int oy = 0; oy < v->out_h; oy++) {
        if (!rows.inside[oy]) {
            memset(o, 0, (size_t)v->out_w * (size_t)c * sizeof *o);
            o += (size_t)v->out_w * (size_t)c;
            continue;
        }
        const uint8_t *r0 = in + rows.i0[oy], *r1 = in + rows.i1[oy];
        float fy = rows.f[oy];
        for (int ox = 0; ox < v->out_w; ox++, o += c) {
            if (!cols.inside[ox]) {
                for (int k = 0; k < c; k++)
                    o[k] = 0;
                continue;
            }
            const uint8_t *a = r0 + cols.i0[ox], *b = r0 + cols.i1[ox];
            const uint8_t *p = r1 + cols.i0[ox], *q = r1 + cols.i1[ox];
            float fx = cols.f[ox];
            for (int k = 0; k < c; k++) {
                float top = lerp(a[k], b[k], fx);
                float bottom = lerp(p[k], q[k], fx);
                o[k] = lerp(top, bottom, fy) * to_unit;
            }
        }
    }
}

void ss_aug_warp_u8(float *out, const uint8_t *in, int h, int w, int c, const ss_aug_view *v)
{
    int aligned = v->m[1] == 0 && v->m[3] == 0 && v->out_w <= AXIS_TABLE_MAX && v->out_h <= AXIS_TABLE_MAX;
    if (aligned && c == 1)
        warp_u8_axis_aligned(out, in, h, w, 1, v);
    else if (aligned && c == 3)
        warp_u8_axis_aligned(out, in, h, w, 3, v);
    else if (aligned)
        warp_u8_axis_aligned(out, in, h, w, c, v);
    else if (c == 1)
        warp_u8(out, in, h, w, 1, v);
    else if (c == 3)
        warp_u8(out, in, h, w, 3, v);
    else
        warp_u8(out, in, h, w, c, v);
}

void ss_aug_warp_f32(float *out, const float *in, int h, int w, int c, const ss_aug_view *v)
{
    const float *m = v->m;
    bilinear_taps t;
    for (int oy = 0; oy < v->out_h; oy++) {
        float row_x = m[1] * (float)oy + m[2], row_y = m[4] * (float)oy + m[5];
        float *o = out + (size_t)oy * (size_t)v->out_w * (size_t)c;
        for (int ox = 0; ox < v->out_w; ox++, o += c) {
            float x = row_x + m[0] * (float)ox, y = row_y + m[3] * (float)ox;
            if (!locate(&t, x, y, v->box, h, w, c)) {
                for (int k = 0; k < c; k++)
                    o[k] = 0;
                continue;
            }
            for (int k = 0; k < c; k++) {
                float top = lerp(in[t.p00 + k], in[t.p01 + k], t.fx);
                float bottom = lerp(in[t.p10 + k], in[t.p11 + k], t.fx);
                o[k] = lerp(top, bottom, t.fy);
            }
        }
    }
}

/* ---- Photometric steps ---------------------------------------------------------- */

/* Clamps to [0, 1]; NaN becomes 0, so a conversion to uint8 stays defined. */
static inline float clamp_unit(float v)
{
    float t = v > 0.0f ? v : 0.0f;
    return t < 1.0f ? t : 1.0f;
}

/* Luma of one RGB pixel; exactly G when R = G = B. */
static inline float luma(const float *p)
{
    return p[1] + (float)LUMA_R * (p[0] - p[1]) + (float)LUMA_B * (p[2] - p[1]);
}

/* Element-wise loops run in blocks of BLOCK with a constant trip count,
 * which the compiler vectorises at -O2; the results are the same as one
 * element at a time because no sum is reordered. */
#define BLOCK 16

void ss_aug_brightness(float *img, size_t n, int c, float factor)
{
    size_t count = n * (size_t)c, i = 0;
    for (; i + BLOCK <= count; i += BLOCK)
        for (int k = 0; k < BLOCK; k++)
            img[i + k] = clamp_unit(img[i + k] * factor);
    for (; i < count; i++)
        img[i] = clamp_unit(img[i] * factor);
}

void ss_aug_contrast(float *img, size_t n, int c, float factor)
{
    size_t count = n * (size_t)c;
    if (count == 0)
        return;
    double sum = 0;
    if (c == 3) {
        for (size_t i = 0; i < n; i++)
            sum += (double)luma(img + 3 * i);
        sum /= (double)n;
    } else {
        for (size_t i = 0; i < count; i++)
            sum += (double)img[i];
        sum /= (double)count;
    }
    float mean = (float)sum, keep = 1.0f - factor;
    size_t i = 0;
    for (; i + BLOCK <= count; i += BLOCK)
        for (int k = 0; k < BLOCK; k++)
            img[i + k] = clamp_unit(img[i + k] + keep * (mean - img[i + k]));
    for (; i < count; i++)
        img[i] = clamp_unit(img[i] + keep * (mean - img[i]));
}

void ss_aug_saturation(float *img, size_t n, int c, float factor)
{
    if (c != 3)
        return;
    float keep = 1.0f - factor;
    for (size_t i = 0; i < n; i++) {
        float *p = img + 3 * i;
        float y = luma(p);
        for (int k = 0; k < 3; k++)
            p[k] = clamp_unit(p[k] + keep * (y - p[k]));
    }
}

/* Columns I and Q of the inverse of the YIQ matrix: the RGB change that a
 * unit change of I or of Q makes at constant Y. */
static void yiq_inverse_chroma(double di[3], double dq[3])
{
    const double t[3][3] = {{LUMA_R, LUMA_G, LUMA_B}, {I_R, I_G, I_B}, {Q_R, Q_G, Q_B}};
    double det = t[0][0] * (t[1][1] * t[2][2] - t[1][2] * t[2][1]) -
                 t[0][1] * (t[1][0] * t[2][2] - t[1][2] * t[2][0]) +
                 t[0][2] * (t[1][0] * t[2][1] - t[1][1] * t[2][0]);
    /* Column j of the inverse is the cofactor row j of t over det. */
    di[0] = (t[0][2] * t[2][1] - t[0][1] * t[2][2]) / det;
    di[1] = (t[0][0] * t[2][2] - t[0][2] * t[2][0]) / det;
    di[2] = (t[0][1] * t[2][0] - t[0][0] * t[2][1]) / det;
    dq[0] = (t[0][1] * t[1][2] - t[0][2] * t[1][1]) / det;
    dq[1] = (t[0][2] * t[1][0] - t[0][0] * t[1][2]) / det;
    dq[2] = (t[0][0] * t[1][1] - t[0][1] * t[1][0]) / det;
}

void ss_aug_hue(float *img, size_t n, int c, float shift)
{
    if (c != 3)
        return;
    double di[3], dq[3];
    yiq_inverse_chroma(di, dq);
    double theta = 2 * M_PI * (double)shift;
    /* The rotation minus the identity, so that the change is 0 for I = Q = 0. */
    float cos_m1 = (float)(cos(theta) - 1), sin_t = (float)sin(theta);
    for (size_t i = 0; i < n; i++) {
        float *p = img + 3 * i;
        float d_rg = p[0] - p[1], d_rb = p[0] - p[2], d_bg = p[2] - p[1];
        float ci = (float)-I_G * d_rg + (float)-I_B * d_rb;
        float cq = (float)Q_R * d_rg + (float)Q_B * d_bg;
        float delta_i = cos_m1 * ci - sin_t * cq;
        float delta_q = sin_t * ci + cos_m1 * cq;
        for (int k = 0; k < 3; k++)
            p[k] = clamp_unit(p[k] + ((float)di[k] * delta_i + (float)dq[k] * delta_q));
    }
}

void ss_aug_grayscale(float *img, size_t n, int c)
{
    if (c != 3)
        return;
    for (size_t i = 0; i < n; i++) {
        float *p = img + 3 * i;
        float y = luma(p);
        p[0] = p[1] = p[2] = y;
    }
}

/* Convolves src with a 1-D kernel along rows (step c) or columns (step w c)
 * into dst. Taps beyond the edge repeat the edge pixel. */
static void convolve(float *dst, const float *src, int h, int w, int c, const float *kernel,
                     int radius, int along_rows)
{
    int len = along_rows ? w : h;
    size_t step = along_rows ? (size_t)c : (size_t)w * (size_t)c;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int at = along_rows ? x : y;
            size_t base = ((size_t)y * (size_t)w + (size_t)x) * (size_t)c - (size_t)at * step;
            for (int k = 0; k < c; k++) {
                float acc = 0;
                for (int j = -radius; j <= radius; j++) {
                    int s = at + j;
                    if (s < 0)
                        s = 0;
                    else if (s >= len)
                        s = len - 1;
                    acc += kernel[j + radius] * src[base + (size_t)s * step + (size_t)k];
                }
                dst[((size_t)y * (size_t)w + (size_t)x) * (size_t)c + (size_t)k] = acc;
            }
        }
    }
}

void ss_aug_blur(float *img, float *scratch, int h, int w, int c, float sigma)
{
    if (!(sigma > 0))
        return;
    if (sigma > (float)SS_AUG_MAX_BLUR_SIGMA)
        sigma = (float)SS_AUG_MAX_BLUR_SIGMA;
    float kernel[2 * MAX_BLUR_RADIUS + 1];
    int radius = (int)ceilf(3.0f * sigma);
    double two_var = 2.0 * (double)sigma * (double)sigma, sum = 0;
    for (int j = -radius; j <= radius; j++)
        sum += exp(-(double)(j * j) / two_var);
    for (int j = -radius; j <= radius; j++)
        kernel[j + radius] = (float)(exp(-(double)(j * j) / two_var) / sum);
    convolve(scratch, img, h, w, c, kernel, radius, 1);
    convolve(img, scratch, h, w, c, kernel, radius, 0);
    size_t count = (size_t)h * (size_t)w * (size_t)c;
    for (size_t i = 0; i < count; i++)
        img[i] = clamp_unit(img[i]);
}

void ss_aug_noise(float *img, size_t n, float sigma, ss_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        img[i] = clamp_unit(img[i] + sigma * (float)ss_rng_normal(rng));
}

/* ---- Rendering and output -------------------------------------------------------- */

static void apply_photometric(float *img, float *scratch, int c, const ss_aug_view *v, ss_rng *rng)
{
    size_t n = (size_t)v->out_h * (size_t)v->out_w;
    for (int i = 0; i < v->n_color; i++) {
        float arg = v->color_arg[i];
        switch (v->color_op[i]) {
        case SS_AUG_BRIGHTNESS:
            ss_aug_brightness(img, n, c, arg);
            break;
        case SS_AUG_CONTRAST:
            ss_aug_contrast(img, n, c, arg);
            break;
        case SS_AUG_SATURATION:
            ss_aug_saturation(img, n, c, arg);
            break;
        case SS_AUG_HUE:
            ss_aug_hue(img, n, c, arg);
            break;
        }
    }
    if (v->grayscale)
        ss_aug_grayscale(img, n, c);
    if (v->blur_sigma > 0)
        ss_aug_blur(img, scratch, v->out_h, v->out_w, c, v->blur_sigma);
    if (v->noise_sigma > 0)
        ss_aug_noise(img, n * (size_t)c, v->noise_sigma, rng);
}

void ss_aug_render_u8(float *out, float *scratch, const uint8_t *in, int h, int w, int c,
                      const ss_aug_view *v, ss_rng *rng)
{
    ss_aug_warp_u8(out, in, h, w, c, v);
    apply_photometric(out, scratch, c, v, rng);
}

void ss_aug_render_f32(float *out, float *scratch, const float *in, int h, int w, int c,
                       const ss_aug_view *v, ss_rng *rng)
{
    ss_aug_warp_f32(out, in, h, w, c, v);
    apply_photometric(out, scratch, c, v, rng);
}

void ss_aug_to_u8(uint8_t *out, const float *in, size_t n)
{
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK) {
        /* Clamping into a temporary first lets the compiler vectorise both loops. */
        float t[BLOCK];
        for (int k = 0; k < BLOCK; k++)
            t[k] = clamp_unit(in[i + k]);
        for (int k = 0; k < BLOCK; k++)
            out[i + k] = (uint8_t)(int)(t[k] * 255.0f + 0.5f);
    }
    for (; i < n; i++)
        out[i] = (uint8_t)(int)(clamp_unit(in[i]) * 255.0f + 0.5f);
}

void ss_aug_to_f32(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = clamp_unit(in[i]);
}
