/* ss_aug: image augmentation for contrastive learning (SimCLR: Chen et al.,
 * "A simple framework for contrastive learning of visual representations",
 * ICML 2020).
 *
 * A view is made in two steps. ss_aug_view_sample() draws the parameters of
 * one view from a caller-owned ss_rng; ss_aug_render_u8() or
 * ss_aug_render_f32() then applies them in a fixed order:
 *
 *   random resized crop -> flips -> rotation, scale, translation
 *     (all three geometric steps as one inverse-mapped bilinear resample)
 *   -> colour jitter (brightness, contrast, saturation, hue, in a random
 *      order per view) -> grayscale -> Gaussian blur -> Gaussian noise
 *
 * Images are HWC arrays. Photometric steps work on float values in [0, 1]
 * and clamp to [0, 1] after each step. Saturation, hue and grayscale act only
 * on 3-channel RGB images and leave other channel counts unchanged. The
 * module does no I/O and allocates nothing: callers pass every buffer.
 *
 * Coordinates are continuous with pixel centres at half-integers, so pixel
 * (x, y) covers [x, x+1) x [y, y+1) and an image of width W spans [0, W].
 *
 * Dimension letters: H, W input height and width; OH, OW output height and
 * width; C channels. */
#ifndef SS_AUG_H
#define SS_AUG_H

#include <stddef.h>
#include <stdint.h>

#include "ss_error.h"
#include "ss_rng.h"

/* Largest input or output side and channel count the module accepts, so that
 * pixel coordinates stay exact in float and index products fit in size_t. */
#define SS_AUG_MAX_SIDE 32768
#define SS_AUG_MAX_CHANNELS 64
/* Largest blur sigma in output pixels; the kernel radius is ceil(3 sigma). */
#define SS_AUG_MAX_BLUR_SIGMA 20.0

/* How each view is drawn. Probabilities are in [0, 1]. */
typedef struct {
    int identity;                /* 1: every view is the whole image, resized */
    double crop_scale[2];        /* crop area as a fraction of the image area */
    double crop_ratio[2];        /* crop width / height, drawn log-uniformly */
    double hflip, vflip;         /* probabilities of a mirror image */
    double rotate_p, rotate_deg; /* angle uniform in [-deg, deg] */
    double translate_p, translate_frac; /* shift uniform in [-frac, frac] of the side */
    double scale_p, scale_min, scale_max; /* zoom factor about the centre */
    double jitter_p;             /* probability of the colour jitter step */
    double brightness, contrast, saturation; /* factor uniform in [max(0, 1-x), 1+x] */
    double hue;                  /* shift uniform in [-hue, hue] of a full turn, <= 0.5 */
    double grayscale_p;
    double blur_p, blur_sigma[2];/* sigma in output pixels, uniform in the range */
    double noise_p, noise_sigma; /* standard deviation in [0, 1] value units */
} ss_aug_config;

/* Sets the defaults for small gray images (28x28): crop scale 0.3..1, ratio
 * 3/4..4/3, hflip 0.5, jitter 0.8 with 0.4, 0.4, 0.4, 0.1, grayscale 0.2,
 * and no vflip, rotation, translation, scaling, blur or noise. */
void ss_aug_config_default(ss_aug_config *cfg);

/* Checks every range of cfg. Returns SS_OK, or SS_EINVAL with a message
 * naming the parameter. */
ss_status ss_aug_config_check(const ss_aug_config *cfg, ss_error *err);

/* Geometric part of a view, in the order it is applied. */
typedef struct {
    double crop_x, crop_y, crop_w, crop_h; /* crop box in input coordinates */
    int hflip, vflip;
    double angle_deg;    /* counter-clockwise as displayed (y pointing down) */
    double scale;        /* zoom about the output centre; 1 means no zoom */
    double shift_x, shift_y; /* translation in output pixels */
} ss_aug_geometry;

enum { SS_AUG_BRIGHTNESS, SS_AUG_CONTRAST, SS_AUG_SATURATION, SS_AUG_HUE };

/* The drawn parameters of one view. */
typedef struct {
    int out_h, out_w;
    /* Inverse map from output pixel index (ox, oy) to input index
     * coordinates: x = m[0] ox + m[1] oy + m[2], y = m[3] ox + m[4] oy + m[5]. */
    float m[6];
    /* Crop box in input index coordinates; points outside it read as 0. */
    float box[4];        /* x_min, y_min, x_max, y_max */
    int n_color;         /* colour jitter steps, 0 or 4 */
    int color_op[4];     /* SS_AUG_BRIGHTNESS ... in the order applied */
    float color_arg[4];  /* factor, or hue shift in turns */
    int grayscale;
    float blur_sigma;    /* 0: no blur */
    float noise_sigma;   /* 0: no noise */
} ss_aug_view;

/* Makes v the identity view: the whole H x W image resized to OH x OW, with
 * no photometric step. */
void ss_aug_view_init(ss_aug_view *v, int h, int w, int out_h, int out_w);

/* Sets the inverse map and crop box of v from g, for v's output size. */
void ss_aug_view_set_geometry(ss_aug_view *v, const ss_aug_geometry *g);

/* Draws one view of an h x w image rendered at out_h x out_w. The values
 * drawn depend only on cfg, the sizes and the state of rng. */
void ss_aug_view_sample(ss_aug_view *v, const ss_aug_config *cfg, int h, int w, int out_h,
                        int out_w, ss_rng *rng);

/* Renders view v of image in (h, w, c) into out (OH, OW, C), float values
 * in [0, 1]; uint8 input is scaled by 1/255, float input is taken as it is.
 * scratch has room for OH*OW*C floats and is used by the blur. Noise values are
 * drawn from rng after everything ss_aug_view_sample() drew. */
void ss_aug_render_u8(float *out, float *scratch, const uint8_t *in, int h, int w, int c,
                      const ss_aug_view *v, ss_rng *rng);
void ss_aug_render_f32(float *out, float *scratch, const float *in, int h, int w, int c,
                       const ss_aug_view *v, ss_rng *rng);

/* The steps of a render, for callers that compose their own. Each works in
 * place on img (n pixels of c channels) unless stated otherwise. */

/* Resamples in (h, w, c) into out (OH, OW, C) with v's geometry: bilinear
 * inside the crop box, with edge pixels repeated up to the image border,
 * and 0 outside the box. */
void ss_aug_warp_u8(float *out, const uint8_t *in, int h, int w, int c, const ss_aug_view *v);
void ss_aug_warp_f32(float *out, const float *in, int h, int w, int c, const ss_aug_view *v);

/* v * factor. */
void ss_aug_brightness(float *img, size_t n, int c, float factor);
/* Blends each value with the mean gray level m of the image:
 * v + (1 - factor) (m - v). Gray is the luma of ss_aug_grayscale() for
 * c = 3 and the mean of all values otherwise. */
void ss_aug_contrast(float *img, size_t n, int c, float factor);
/* Blends each RGB pixel with its own luma: v + (1 - factor) (Y - v). */
void ss_aug_saturation(float *img, size_t n, int c, float factor);
/* Rotates the chroma plane (I, Q) of YIQ by shift turns, keeping luma Y. */
void ss_aug_hue(float *img, size_t n, int c, float shift);
/* Replaces R, G and B by the luma Y = 0.299 R + 0.587 G + 0.114 B. */
void ss_aug_grayscale(float *img, size_t n, int c);
/* Separable Gaussian blur of img (h, w, c), radius ceil(3 sigma), edge
 * pixels repeated; scratch has room for h*w*c floats. */
void ss_aug_blur(float *img, float *scratch, int h, int w, int c, float sigma);
/* Adds sigma * N(0, 1) to each of n values and clamps to [0, 1]. */
void ss_aug_noise(float *img, size_t n, float sigma, ss_rng *rng);

/* Converts n values to uint8: clamp to [0, 1], scale by 255, round half
 * up. */
void ss_aug_to_u8(uint8_t *out, const float *in, size_t n);
/* Copies n values clamped to [0, 1]. */
void ss_aug_to_f32(float *out, const float *in, size_t n);

#endif
