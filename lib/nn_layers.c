/* nn_layers: pooling, layout changes, linear, ReLU and batch normalisation
 * kernels (convolution is in nn_conv.c). */
#include "ss_nn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---- Pooling ------------------------------------------------------------- */

void ss_nn_maxpool_forward(float *y, uint8_t *arg, const float *x, long planes, int h, int width)
{
    const int oh = h / 2, ow = width / 2;
    for (long p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * (size_t)h * (size_t)width;
        float *yp = y + (size_t)p * (size_t)oh * (size_t)ow;
        uint8_t *ap = arg + (size_t)p * (size_t)oh * (size_t)ow;
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = xp + (size_t)(2 * oy) * (size_t)width;
            const float *r1 = r0 + width;
            float *yr = yp + (size_t)oy * (size_t)ow;
            uint8_t *ar = ap + (size_t)oy * (size_t)ow;
            /* Branch-free, so the loop vectorises; ties keep the first position. */
            for (int ox = 0; ox < ow; ox++) {
                float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
                int kab = b > a;
                float mab = kab ? b : a;
                int kcd = d > c;
                float mcd = kcd ? d : c;
                int low = mcd > mab;
                yr[ox] = low ? mcd : mab;
                ar[ox] = (uint8_t)(low ? 2 + kcd : kab);
            }
        }
    }
}

void ss_nn_maxpool_backward(float *dx, const float *dy, const uint8_t *arg, const float *relu_y, long planes, int h,
                            int width)
{
    const int oh = h / 2, ow = width / 2;
    /* Every input position is written, the winner with dy and the others with 0. */
    for (long p = 0; p < planes; p++) {
        float *xp = dx + (size_t)p * (size_t)h * (size_t)width;
        const float *yp = dy + (size_t)p * (size_t)oh * (size_t)ow;
        const uint8_t *ap = arg + (size_t)p * (size_t)oh * (size_t)ow;
        const float *ry = relu_y ? relu_y + (size_t)p * (size_t)oh * (size_t)ow : NULL;
        for (int oy = 0; oy < oh; oy++) {
            float *r0 = xp + (size_t)(2 * oy) * (size_t)width, *r1 = r0 + width;
            for (int ox = 0; ox < ow; ox++) {
                int k = ap[oy * ow + ox];
                float g = yp[oy * ow + ox];
                if (ry && !(ry[oy * ow + ox] > 0.0f))
                    g = 0.0f;
                r0[2 * ox] = k == 0 ? g : 0.0f;
                r0[2 * ox + 1] = k == 1 ? g : 0.0f;
                r1[2 * ox] = k == 2 ? g : 0.0f;
                r1[2 * ox + 1] = k == 3 ? g : 0.0f;
            }
        }
    }
}

void ss_nn_avgpool_forward(float *y, const float *x, long planes, int h, int width)
{
    const int oh = h / 2, ow = width / 2;
    for (long p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * (size_t)h * (size_t)width;
        float *yp = y + (size_t)p * (size_t)oh * (size_t)ow;
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = xp + (size_t)(2 * oy) * (size_t)width;
            const float *r1 = r0 + width;
            for (int ox = 0; ox < ow; ox++)
                yp[oy * ow + ox] = 0.25f * (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]);
        }
    }
}

void ss_nn_avgpool_backward(float *dx, const float *dy, long planes, int h, int width)
{
    const int oh = h / 2, ow = width / 2;
    for (long p = 0; p < planes; p++) {
        float *xp = dx + (size_t)p * (size_t)h * (size_t)width;
        const float *yp = dy + (size_t)p * (size_t)oh * (size_t)ow;
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < width; ix++)
                xp[(size_t)iy * (size_t)width + (size_t)ix] =
                    iy / 2 < oh && ix / 2 < ow ? 0.25f * yp[(iy / 2) * ow + ix / 2] : 0.0f;
    }
}

void ss_nn_gap_forward(float *y, const float *x, int n, int c, int hw)
{
    const float scale = 1.0f / (float)hw;
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)ch * (size_t)n + (size_t)i) * (size_t)hw;
            float s = 0;
            for (int k = 0; k < hw; k++)
                s += p[k];
            y[(size_t)i * (size_t)c + (size_t)ch] = s * scale;
        }
}

void ss_nn_gap_backward(float *dx, const float *dy, int n, int c, int hw)
{
    const float scale = 1.0f / (float)hw;
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < n; i++) {
            float g = dy[(size_t)i * (size_t)c + (size_t)ch] * scale;
            float *p = dx + ((size_t)ch * (size_t)n + (size_t)i) * (size_t)hw;
            for (int k = 0; k < hw; k++)
                p[k] = g;
        }
}

/* ---- Layout -------------------------------------------------------------- */

void ss_nn_flatten_forward(float *y, const float *x, int n, int c, int hw)
{
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < n; i++)
            memcpy(y + (size_t)i * (size_t)c * (size_t)hw + (size_t)ch * (size_t)hw,
                   x + ((size_t)ch * (size_t)n + (size_t)i) * (size_t)hw, (size_t)hw * sizeof *y);
}

void ss_nn_flatten_backward(float *dx, const float *dy, int n, int c, int hw)
{
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < n; i++)
            memcpy(dx + ((size_t)ch * (size_t)n + (size_t)i) * (size_t)hw,
                   dy + (size_t)i * (size_t)c * (size_t)hw + (size_t)ch * (size_t)hw, (size_t)hw * sizeof *dx);
}

/* ---- Linear -------------------------------------------------------------- */

void ss_nn_linear_forward(float *y, const float *x, const float *w, const float *b, int n, int din, int dout,
                          int relu)
{
    for (int i = 0; i < n; i++)
        memcpy(y + (size_t)i * (size_t)dout, b, (size_t)dout * sizeof *y);
    /* y [N, Dout] += x [N, Din] . w^T [Din, Dout] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, dout, din, 1.0f, x, din, w, din, 1.0f, y, dout);
    if (relu)
        ss_nn_relu_forward(y, y, (size_t)n * (size_t)dout);
}

void ss_nn_linear_backward(float *dx, float *dw, float *db, float *dy, const float *x, const float *w,
                           int n, int din, int dout, const float *relu_y)
{
    if (relu_y)
        ss_nn_relu_mask(dy, relu_y, (size_t)n * (size_t)dout);
    for (int i = 0; i < n; i++) {
        const float *row = dy + (size_t)i * (size_t)dout;
        for (int o = 0; o < dout; o++)
            db[o] += row[o];
    }
    /* dw [Dout, Din] += dy^T [Dout, N] . x [N, Din] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dout, din, n, 1.0f, dy, dout, x, din, 1.0f, dw, din);
    /* dx [N, Din] = dy [N, Dout] . w [Dout, Din] */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, din, dout, 1.0f, dy, dout, w, din, 0.0f, dx,
                    din);
}

/* ---- ReLU ---------------------------------------------------------------- */

void ss_nn_relu_forward(float *y, const float *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ss_nn_relu_backward(float *dx, const float *dy, const float *y, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void ss_nn_relu_mask(float *dy, const float *y, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* ---- Batch normalisation (Ioffe and Szegedy 2015) ------------------------ */

void ss_nn_bn_stats(double *sums, const float *x, const ss_nn_bn_shape *s)
{
    const int c = s->channels;
    if (!s->columns) {
        for (int ch = 0; ch < c; ch++) {
            const float *p = x + (size_t)ch * (size_t)s->m;
            double sum = 0, sq = 0;
            for (long i = 0; i < s->m; i++) {
                sum += (double)p[i];
                sq += (double)p[i] * (double)p[i];
            }
            sums[ch] += sum;
            sums[c + ch] += sq;
        }
        return;
    }
    for (long i = 0; i < s->m; i++) {
        const float *row = x + (size_t)i * (size_t)c;
        for (int ch = 0; ch < c; ch++) {
            sums[ch] += (double)row[ch];
            sums[c + ch] += (double)row[ch] * (double)row[ch];
        }
    }
}

void ss_nn_bn_apply(float *y, float *xhat, const float *x, const double *mean, const double *invstd,
                    const float *gamma, const float *beta, int relu, const ss_nn_bn_shape *s)
{
    const int c = s->channels;
    for (long i = 0; i < (long)c * s->m; i++) {
        int ch = s->columns ? (int)(i % c) : (int)(i / s->m);
        float xh = (float)(((double)x[i] - mean[ch]) * invstd[ch]);
        if (xhat)
            xhat[i] = xh;
        float v = gamma[ch] * xh + beta[ch];
        y[i] = relu && v < 0.0f ? 0.0f : v;
    }
}

void ss_nn_bn_backward_stats(double *sums, float *dgamma, float *dbeta, const float *dy, const float *xhat,
                             const ss_nn_bn_shape *s)
{
    const int c = s->channels;
    for (long i = 0; i < (long)c * s->m; i++) {
        int ch = s->columns ? (int)(i % c) : (int)(i / s->m);
        sums[ch] += (double)dy[i];
        sums[c + ch] += (double)dy[i] * (double)xhat[i];
    }
    for (int ch = 0; ch < c; ch++) {
        dgamma[ch] += (float)sums[c + ch];
        dbeta[ch] += (float)sums[ch];
    }
}

void ss_nn_bn_backward_apply(float *dx, const float *dy, const float *xhat, const double *sums,
                             const double *invstd, const float *gamma, long m_total, const ss_nn_bn_shape *s)
{
    const int c = s->channels;
    for (long i = 0; i < (long)c * s->m; i++) {
        int ch = s->columns ? (int)(i % c) : (int)(i / s->m);
        double mean_dy = sums[ch] / (double)m_total;
        double mean_dyx = sums[c + ch] / (double)m_total;
        dx[i] = (float)((double)gamma[ch] * invstd[ch] * ((double)dy[i] - mean_dy - (double)xhat[i] * mean_dyx));
    }
}
