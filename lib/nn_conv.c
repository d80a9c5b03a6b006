/* nn_conv: "same" convolution by im2col and OpenBLAS sgemm in the CNHW
 * layout.
 *
 * Images are lowered mb at a time into col [Cin*K*K, mb*H*W], so the scratch
 * stays cache-sized while each GEMM still has mb*H*W columns. The backward
 * pass lowers the input again instead of keeping col from the forward pass:
 * the copy costs far less than the GEMMs and saves one col per layer. The
 * input gradient is a second convolution (of dy with the flipped kernel),
 * which replaces the scatter-add of col2im by another lowering and a GEMM
 * with the longer inner dimension Cout*K*K.
 *
 * Left out: strides, dilation, Winograd and direct kernels. */
#include "ss_nn.h"

#include <cblas.h>
#include <string.h>

size_t ss_nn_conv_scratch(int cin, int h, int width, int k, int mb)
{
    return (size_t)cin * (size_t)k * (size_t)k * (size_t)mb * (size_t)h * (size_t)width;
}

size_t ss_nn_conv_dscratch(int cin, int cout, int h, int width, int k, int mb)
{
    return ss_nn_conv_scratch(cout, h, width, k, mb) + (size_t)cin * (size_t)cout * (size_t)k * (size_t)k;
}

/* Lowers images [i0, i0 + b) of x [Cin, N, H, W] into col [Cin*K*K, b*H*W]. */
static void im2col(float *col, const float *x, int n, int i0, int b, int cin, int h, int width, int k)
{
    const int p = k / 2;
    const size_t hw = (size_t)h * (size_t)width;
    const size_t cols = (size_t)b * hw;
    for (int c = 0; c < cin; c++) {
        const float *xc = x + ((size_t)c * (size_t)n + (size_t)i0) * hw;
        for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((size_t)(c * k + ky) * (size_t)k + (size_t)kx) * cols;
                int dx = kx - p;
                /* Output columns ox with 0 <= ox + dx < width read the input. */
                int lo = dx < 0 ? -dx : 0;
                int hi = dx > 0 ? width - dx : width;
                for (int j = 0; j < b; j++) {
                    const float *img = xc + (size_t)j * hw;
                    float *out = row + (size_t)j * hw;
                    for (int oy = 0; oy < h; oy++) {
                        int iy = oy + ky - p;
                        float *o = out + (size_t)oy * (size_t)width;
                        if (iy < 0 || iy >= h) {
                            memset(o, 0, (size_t)width * sizeof *o);
                            continue;
                        }
                        for (int ox = 0; ox < lo; ox++)
                            o[ox] = 0;
                        memcpy(o + lo, img + (size_t)iy * (size_t)width + lo + dx,
                               (size_t)(hi - lo) * sizeof *o);
                        for (int ox = hi; ox < width; ox++)
                            o[ox] = 0;
                    }
                }
            }
        }
    }
}

/* Sums n floats in eight interleaved partial sums, a fixed order that the
 * compiler can vectorise (a single running sum cannot be reordered). */
static float sum_floats(const float *x, size_t n)
{
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += x[i + (size_t)j];
    float s = 0;
    for (; i < n; i++)
        s += x[i];
    for (int j = 0; j < 8; j++)
        s += acc[j];
    return s;
}

void ss_nn_conv_forward(float *y, const float *x, const float *w, const float *b, int n, int cin, int h,
                        int width, int cout, int k, int mb, int relu, float *col)
{
    const size_t hw = (size_t)h * (size_t)width;
    const int kk = cin * k * k;
    const size_t ld_y = (size_t)n * hw;
    for (int i0 = 0; i0 < n; i0 += mb) {
        int bsz = n - i0 < mb ? n - i0 : mb;
        size_t cols = (size_t)bsz * hw;
        im2col(col, x, n, i0, bsz, cin, h, width, k);
        /* y[:, i0 block] = w [Cout, KK] . col [KK, cols] */
        float *yb = y + (size_t)i0 * hw;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, (int)cols, kk, 1.0f, w, kk, col,
                    (int)cols, 0.0f, yb, (int)ld_y);
        for (int o = 0; o < cout; o++) {
            float bias = b[o];
            float *row = yb + (size_t)o * ld_y;
            if (relu) {
                for (size_t i = 0; i < cols; i++) {
                    float v = row[i] + bias;
                    row[i] = v > 0.0f ? v : 0.0f;
                }
            } else {
                for (size_t i = 0; i < cols; i++)
                    row[i] += bias;
            }
        }
    }
}

void ss_nn_conv_backward(float *dx, float *dw, float *db, float *dy, const float *x, const float *w,
                         int n, int cin, int h, int width, int cout, int k, int mb, const float *relu_y,
                         float *col, float *dcol)
{
    const size_t hw = (size_t)h * (size_t)width;
    const int kk = cin * k * k;
    const size_t ld_y = (size_t)n * hw, ld_y_in = ld_y;
    /* wflip [Cin, Cout, K, K] = w [Cout, Cin, K-1-ky, K-1-kx], after the
     * lowered dy in the scratch. */
    float *wflip = dcol + ss_nn_conv_scratch(cout, h, width, k, mb);
    if (dx)
        for (int o = 0; o < cout; o++)
            for (int c = 0; c < cin; c++)
                for (int t = 0; t < k * k; t++)
                    wflip[((size_t)c * (size_t)cout + (size_t)o) * (size_t)(k * k) + (size_t)(k * k - 1 - t)] =
                        w[((size_t)o * (size_t)cin + (size_t)c) * (size_t)(k * k) + (size_t)t];
    for (int i0 = 0; i0 < n; i0 += mb) {
        int bsz = n - i0 < mb ? n - i0 : mb;
        size_t cols = (size_t)bsz * hw;
        float *dyb = dy + (size_t)i0 * hw;
        /* db += row sums of dy, masked first by the fused ReLU */
        for (int o = 0; o < cout; o++) {
            float *row = dyb + (size_t)o * ld_y;
            if (relu_y)
                ss_nn_relu_mask(row, relu_y + (size_t)i0 * hw + (size_t)o * ld_y, cols);
            db[o] += sum_floats(row, cols);
        }
        /* dw [Cout, KK] += dy [Cout, cols] . col^T [cols, KK] */
        im2col(col, x, n, i0, bsz, cin, h, width, k);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, kk, (int)cols, 1.0f, dyb, (int)ld_y, col,
                    (int)cols, 1.0f, dw, kk);
        if (!dx)
            continue;
        /* dx [Cin, cols] = wflip [Cin, Cout*K*K] . im2col(dy) [Cout*K*K, cols]: the
         * input gradient of a "same" convolution is the convolution of dy with
         * the kernel flipped in space and transposed in channels. */
        im2col(dcol, dy, n, i0, bsz, cout, h, width, k);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cin, (int)cols, cout * k * k, 1.0f, wflip,
                    cout * k * k, dcol, (int)cols, 0.0f, dx + (size_t)i0 * hw, (int)ld_y_in);
    }
}
