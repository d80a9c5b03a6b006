/* ss_nn: the layer kernels of the neural-network core, as forward/backward
 * pairs on plain float arrays.
 *
 * Dimension letters: N images in the (per-thread) batch, C channels, H and W
 * height and width, D features, K kernel size. Convolution-stage activations
 * use the layout [C, N, H, W] ("CNHW"): one GEMM then covers many images,
 * since W [Cout, Cin*K*K] times the im2col matrix [Cin*K*K, N*H*W] lands
 * directly in [Cout, N*H*W]. Feature-stage activations are [N, D].
 *
 * Convolution, linear and batch-normalisation layers can apply a ReLU to
 * their output in the same pass ("fused"), which saves a full read and write
 * of the activation in each direction.
 *
 * Every backward pass adds its parameter gradients into dw and db (callers
 * zero them once per step) and writes (not adds) the input gradient dx, which
 * may be NULL when the input needs no gradient. No kernel allocates: scratch
 * buffers come from the caller, sized by the *_scratch functions. */
#ifndef SS_NN_H
#define SS_NN_H

#include <stddef.h>
#include <stdint.h>

/* Convolution, stride 1, zero padding K/2 on each side ("same" size), K odd.
 * x [Cin, N, H, W], w [Cout, Cin, K, K], b [Cout], y [Cout, N, H, W].
 * Images are processed mb at a time; col holds Cin*K*K*mb*H*W floats. */
void ss_nn_conv_forward(float *y, const float *x, const float *w, const float *b, int n, int cin, int h,
                        int width, int cout, int k, int mb, int relu, float *col);
/* dy [Cout, N, H, W]; dx [Cin, N, H, W] or NULL; dw, db accumulated.
 * col holds ss_nn_conv_scratch() floats and dcol ss_nn_conv_dscratch(). With relu_y (the forward
 * output of a convolution run with relu set), dy is first masked in place
 * where relu_y is 0, which is the backward pass of the fused ReLU. */
void ss_nn_conv_backward(float *dx, float *dw, float *db, float *dy, const float *x, const float *w,
                         int n, int cin, int h, int width, int cout, int k, int mb, const float *relu_y,
                         float *col, float *dcol);
size_t ss_nn_conv_scratch(int cin, int h, int width, int k, int mb);
size_t ss_nn_conv_dscratch(int cin, int cout, int h, int width, int k, int mb);

/* 2x2 max pooling with stride 2 over P = C*N planes of H x W (H, W even).
 * x [P, H, W], y [P, H/2, W/2], arg [P, H/2, W/2] the winning position 0..3. */
void ss_nn_maxpool_forward(float *y, uint8_t *arg, const float *x, long planes, int h, int width);
/* relu_y, when not NULL, is the pooled output y of a ReLU'd input: the
 * gradient then passes only where y > 0, which is the ReLU's backward pass
 * too (the other three positions of a window get 0 anyway). */
void ss_nn_maxpool_backward(float *dx, const float *dy, const uint8_t *arg, const float *relu_y, long planes, int h,
                            int width);

/* 2x2 average pooling with stride 2, same shapes as max pooling. */
void ss_nn_avgpool_forward(float *y, const float *x, long planes, int h, int width);
void ss_nn_avgpool_backward(float *dx, const float *dy, long planes, int h, int width);

/* Global average pooling: x [C, N, H, W] -> y [N, C]. */
void ss_nn_gap_forward(float *y, const float *x, int n, int c, int hw);
void ss_nn_gap_backward(float *dx, const float *dy, int n, int c, int hw);

/* Layout change at the end of the convolution stage:
 * x [C, N, H*W] -> y [N, C*H*W], and back for the gradient. */
void ss_nn_flatten_forward(float *y, const float *x, int n, int c, int hw);
void ss_nn_flatten_backward(float *dx, const float *dy, int n, int c, int hw);

/* Fully connected: x [N, Din], w [Dout, Din], b [Dout], y [N, Dout].
 * relu and relu_y as for convolution. */
void ss_nn_linear_forward(float *y, const float *x, const float *w, const float *b, int n, int din, int dout,
                          int relu);
void ss_nn_linear_backward(float *dx, float *dw, float *db, float *dy, const float *x, const float *w,
                           int n, int din, int dout, const float *relu_y);

/* ReLU on count elements; the backward pass reads the forward output y. */
void ss_nn_relu_forward(float *y, const float *x, size_t count);
void ss_nn_relu_backward(float *dx, const float *dy, const float *y, size_t count);
/* dy = 0 where y is 0: the in-place backward pass of a fused ReLU. */
void ss_nn_relu_mask(float *dy, const float *y, size_t count);

/* Batch normalisation over channel c of x viewed as [C, M] ("rows", the
 * CNHW case, M = N*H*W) or [M, C] ("columns", the [N, D] case). Training
 * mode normalises with the batch mean and biased variance of all M values
 * (which the caller may sum across threads: see ss_nn.h users), inference
 * mode with running statistics. xhat [same as x] is kept for backward. */
typedef struct {
    int channels;
    long m;          /* values per channel in this thread's part */
    int columns;     /* 0: x is [C, M]; 1: x is [M, C] */
} ss_nn_bn_shape;

/* Adds this thread's per-channel sum and sum of squares of x into sums
 * [2, C] (double). */
void ss_nn_bn_stats(double *sums, const float *x, const ss_nn_bn_shape *s);
/* Normalises with mean and inverse standard deviation per channel:
 * xhat = (x - mean) * invstd, y = gamma * xhat + beta. */
void ss_nn_bn_apply(float *y, float *xhat, const float *x, const double *mean, const double *invstd,
                    const float *gamma, const float *beta, int relu, const ss_nn_bn_shape *s);
/* Adds this thread's per-channel sum(dy) and sum(dy * xhat) into sums [2, C],
 * and the gamma and beta gradients into dgamma and dbeta. */
void ss_nn_bn_backward_stats(double *sums, float *dgamma, float *dbeta, const float *dy, const float *xhat,
                             const ss_nn_bn_shape *s);
/* dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), where the
 * means run over all M_total values of the batch: sums as from
 * ss_nn_bn_backward_stats summed over threads. */
void ss_nn_bn_backward_apply(float *dx, const float *dy, const float *xhat, const double *sums,
                             const double *invstd, const float *gamma, long m_total, const ss_nn_bn_shape *s);

#endif
