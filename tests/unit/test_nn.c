/* Gradient checks of every layer kernel and of whole networks against
 * central finite differences, and the agreement of data-parallel training
 * across thread counts.
 *
 * Each check uses the scalar L = sum(r * y) for a fixed random r, so the
 * analytic input gradient is the backward pass of dy = r. Differences use
 * eps = 1e-2 on inputs of order 1 (1e-3 for whole networks, whose ReLU and
 * max-pooling kinks a larger step would cross), and the tolerance is 2e-3 absolute plus
 * 2e-2 relative to the largest gradient, which float32 forward passes meet
 * with a wide margin while any indexing error fails by orders of
 * magnitude. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ss_net.h"
#include "ss_nn.h"
#include "ss_rng.h"

static float eps = 1e-2f;

static void fill_random(float *x, size_t n, uint64_t key)
{
    ss_rng r;
    ss_rng_init(&r, 42, 99, key);
    for (size_t i = 0; i < n; i++)
        x[i] = 2.0f * ss_rng_uniformf(&r) - 1.0f;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* Compares analytic gradient g against numeric derivatives of f. */
typedef double (*scalar_fn)(void *ctx);

static int compare_grad(const char *what, float *x, const float *g, size_t n, scalar_fn f, void *ctx)
{
    double gmax = 0;
    for (size_t i = 0; i < n; i++)
        if ((double)fabsf(g[i]) > gmax)
            gmax = (double)fabsf(g[i]);
    int bad = 0;
    size_t step = n > 400 ? n / 400 : 1;
    for (size_t i = 0; i < n; i += step) {
        float keep = x[i];
        x[i] = keep + eps;
        double up = f(ctx);
        x[i] = keep - eps;
        double down = f(ctx);
        x[i] = keep;
        double num = (up - down) / (2.0 * (double)eps);
        if (fabs(num - (double)g[i]) > 2e-3 + 2e-2 * gmax) {
            if (bad++ < 3)
                printf("# %s: element %zu: analytic %.6g, numeric %.6g\n", what, i, (double)g[i], num);
        }
    }
    return bad == 0;
}

/* ---- Convolution ---------------------------------------------------------- */

typedef struct {
    int n, cin, h, w, cout, k, mb, relu;
    float *x, *wt, *b, *y, *r, *col;
} conv_case;

static double conv_loss(void *p)
{
    conv_case *c = p;
    ss_nn_conv_forward(c->y, c->x, c->wt, c->b, c->n, c->cin, c->h, c->w, c->cout, c->k, c->mb, c->relu, c->col);
    return dot(c->y, c->r, (size_t)c->cout * c->n * c->h * c->w);
}

static void check_conv(int n, int cin, int h, int w, int cout, int k, int mb, int relu)
{
    conv_case c = {n, cin, h, w, cout, k, mb, relu, 0, 0, 0, 0, 0, 0};
    size_t nx = (size_t)cin * n * h * w, ny = (size_t)cout * n * h * w, nw = (size_t)cout * cin * k * k;
    size_t scratch = ss_nn_conv_scratch(cin, h, w, k, mb);
    size_t dscratch = ss_nn_conv_dscratch(cin, cout, h, w, k, mb);
    c.x = malloc(nx * 4);
    c.wt = malloc(nw * 4);
    c.b = malloc((size_t)cout * 4);
    c.y = malloc(ny * 4);
    c.r = malloc(ny * 4);
    c.col = malloc(scratch * 4);
    float *dcol = malloc(dscratch * 4), *dx = malloc(nx * 4), *dw = calloc(nw, 4), *db = calloc((size_t)cout, 4);
    fill_random(c.x, nx, 1);
    fill_random(c.wt, nw, 2);
    fill_random(c.b, (size_t)cout, 3);
    fill_random(c.r, ny, 4);
    float *dy = malloc(ny * 4);
    memcpy(dy, c.r, ny * 4);
    if (relu)
        conv_loss(&c);
    ss_nn_conv_backward(dx, dw, db, dy, c.x, c.wt, n, cin, h, w, cout, k, mb, relu ? c.y : NULL, c.col, dcol);
    free(dy);
    CHECK(compare_grad("conv dx", c.x, dx, nx, conv_loss, &c));
    CHECK(compare_grad("conv dw", c.wt, dw, nw, conv_loss, &c));
    CHECK(compare_grad("conv db", c.b, db, (size_t)cout, conv_loss, &c));
    free(c.x); free(c.wt); free(c.b); free(c.y); free(c.r); free(c.col);
    free(dcol); free(dx); free(dw); free(db);
}

static void test_conv3x3_gradients(void)
{
    check_conv(3, 2, 5, 6, 4, 3, 2, 0);
}

static void test_conv_fused_relu_gradients(void)
{
    eps = 1e-3f; /* a larger step crosses ReLU kinks */
    check_conv(3, 2, 5, 6, 4, 3, 2, 1);
    eps = 1e-2f;
}

static void test_conv1x1_and_5x5_gradients(void)
{
    check_conv(2, 3, 4, 4, 2, 1, 1, 0);
    check_conv(2, 1, 6, 5, 3, 5, 4, 0);
}

/* A 3x3 convolution checked against the direct definition. */
static void test_conv_matches_direct_sum(void)
{
    int n = 2, cin = 2, h = 4, w = 5, cout = 3, k = 3;
    size_t nx = (size_t)cin * n * h * w, ny = (size_t)cout * n * h * w;
    float x[80], wt[54], b[3], y[120];
    float *col = malloc(ss_nn_conv_scratch(cin, h, w, k, 1) * 4);
    fill_random(x, nx, 5);
    fill_random(wt, 54, 6);
    fill_random(b, 3, 7);
    ss_nn_conv_forward(y, x, wt, b, n, cin, h, w, cout, k, 1, 0, col);
    double maxerr = 0;
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < n; i++)
            for (int oy = 0; oy < h; oy++)
                for (int ox = 0; ox < w; ox++) {
                    double s = (double)b[o];
                    for (int c = 0; c < cin; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = oy + ky - 1, ix = ox + kx - 1;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                    continue;
                                s += (double)wt[((o * cin + c) * 3 + ky) * 3 + kx] * (double)x[((c * n + i) * h + iy) * w + ix];
                            }
                    double e = fabs(s - (double)y[((o * n + i) * h + oy) * w + ox]);
                    if (e > maxerr)
                        maxerr = e;
                }
    CHECK_MSG(maxerr < 1e-5, "max error %g", maxerr);
    (void)ny;
    free(col);
}

/* ---- Other layers ---------------------------------------------------------- */

typedef struct {
    int kind;     /* 0 maxpool, 1 avgpool, 2 gap, 3 flatten, 4 relu, 5 linear, 6 bn rows, 7 bn cols */
    int n, c, h, w, dout;
    float *x, *y, *r, *wt, *b;
    uint8_t *arg;
    float *xhat;
} simple_case;

static size_t out_count(const simple_case *s)
{
    switch (s->kind) {
    case 0: case 1: return (size_t)s->c * s->n * (s->h / 2) * (s->w / 2);
    case 5: return (size_t)s->n * s->dout;
    default: return (size_t)s->c * s->n * s->h * s->w;
    }
}

static void bn_forward_full(simple_case *s, float *y)
{
    ss_nn_bn_shape sh = {s->c, s->kind == 6 ? (long)s->n * s->h * s->w : s->n, s->kind == 7};
    double sums[64] = {0}, mean[32], invstd[32];
    ss_nn_bn_stats(sums, s->x, &sh);
    for (int c = 0; c < s->c; c++) {
        mean[c] = sums[c] / (double)sh.m;
        invstd[c] = 1.0 / sqrt(sums[s->c + c] / (double)sh.m - mean[c] * mean[c] + 1e-5);
    }
    ss_nn_bn_apply(y, s->xhat, s->x, mean, invstd, s->wt, s->b, 0, &sh);
}

static double simple_loss(void *p)
{
    simple_case *s = p;
    long planes = (long)s->c * s->n;
    switch (s->kind) {
    case 0: ss_nn_maxpool_forward(s->y, s->arg, s->x, planes, s->h, s->w); break;
    case 1: ss_nn_avgpool_forward(s->y, s->x, planes, s->h, s->w); break;
    case 2: ss_nn_gap_forward(s->y, s->x, s->n, s->c, s->h * s->w); break;
    case 3: ss_nn_flatten_forward(s->y, s->x, s->n, s->c, s->h * s->w); break;
    case 4: ss_nn_relu_forward(s->y, s->x, out_count(s)); break;
    case 5: ss_nn_linear_forward(s->y, s->x, s->wt, s->b, s->n, s->c, s->dout, 0); break;
    default: bn_forward_full(s, s->y); break;
    }
    return dot(s->y, s->r, s->kind == 2 ? (size_t)s->n * s->c : out_count(s));
}

static void check_simple(int kind)
{
    simple_case s = {kind, 3, 4, 4, 6, 5, 0, 0, 0, 0, 0, 0, 0};
    if (kind == 5)
        s.h = s.w = 1;
    if (kind == 7)
        s.h = s.w = 1;
    size_t nx = (size_t)s.c * s.n * s.h * s.w, ny = out_count(&s) + 64;
    s.x = malloc(nx * 4);
    s.y = malloc(ny * 4);
    s.r = malloc(ny * 4);
    s.arg = malloc(ny);
    s.xhat = malloc(nx * 4);
    s.wt = malloc((size_t)(s.dout * s.c + s.c) * 4);
    s.b = malloc((size_t)(s.dout + s.c) * 4);
    float *dx = malloc(nx * 4), *dw = calloc((size_t)(s.dout * s.c + s.c), 4), *db = calloc((size_t)(s.dout + s.c), 4);
    fill_random(s.x, nx, 11);
    fill_random(s.r, ny, 12);
    fill_random(s.wt, (size_t)(s.dout * s.c + s.c), 13);
    fill_random(s.b, (size_t)(s.dout + s.c), 14);
    simple_loss(&s);
    long planes = (long)s.c * s.n;
    switch (kind) {
    case 0: ss_nn_maxpool_backward(dx, s.r, s.arg, NULL, planes, s.h, s.w); break;
    case 1: ss_nn_avgpool_backward(dx, s.r, planes, s.h, s.w); break;
    case 2: ss_nn_gap_backward(dx, s.r, s.n, s.c, s.h * s.w); break;
    case 3: ss_nn_flatten_backward(dx, s.r, s.n, s.c, s.h * s.w); break;
    case 4: ss_nn_relu_backward(dx, s.r, s.y, nx); break;
    case 5: ss_nn_linear_backward(dx, dw, db, s.r, s.x, s.wt, s.n, s.c, s.dout, NULL); break;
    default: {
        ss_nn_bn_shape sh = {s.c, kind == 6 ? (long)s.n * s.h * s.w : s.n, kind == 7};
        double sums[64] = {0}, st[64] = {0}, invstd[32];
        ss_nn_bn_stats(st, s.x, &sh);
        for (int c = 0; c < s.c; c++) {
            double mean = st[c] / (double)sh.m;
            invstd[c] = 1.0 / sqrt(st[s.c + c] / (double)sh.m - mean * mean + 1e-5);
        }
        ss_nn_bn_backward_stats(sums, dw, db, s.r, s.xhat, &sh);
        ss_nn_bn_backward_apply(dx, s.r, s.xhat, sums, invstd, s.wt, sh.m, &sh);
    }
    }
    static const char *names[] = {"maxpool", "avgpool", "gap", "flatten", "relu", "linear", "bn rows", "bn columns"};
    CHECK_MSG(compare_grad(names[kind], s.x, dx, nx, simple_loss, &s), "%s dx", names[kind]);
    if (kind == 5) {
        CHECK(compare_grad("linear dw", s.wt, dw, (size_t)s.dout * s.c, simple_loss, &s));
        CHECK(compare_grad("linear db", s.b, db, (size_t)s.dout, simple_loss, &s));
    }
    if (kind >= 6) {
        CHECK(compare_grad("bn gamma", s.wt, dw, (size_t)s.c, simple_loss, &s));
        CHECK(compare_grad("bn beta", s.b, db, (size_t)s.c, simple_loss, &s));
    }
    free(s.x); free(s.y); free(s.r); free(s.arg); free(s.xhat); free(s.wt); free(s.b);
    free(dx); free(dw); free(db);
}

static void test_maxpool_gradient(void) { check_simple(0); }
static void test_avgpool_gradient(void) { check_simple(1); }
static void test_gap_gradient(void) { check_simple(2); }
static void test_flatten_gradient(void) { check_simple(3); }
static void test_relu_gradient(void) { check_simple(4); }
static void test_linear_gradient(void) { check_simple(5); }
static void test_bn_spatial_gradient(void) { check_simple(6); }
static void test_bn_features_gradient(void) { check_simple(7); }

/* ---- Whole networks ---------------------------------------------------------- */

typedef struct {
    float *r;
    double loss;
} proj_loss;

static int projection_loss(void *arg, float *dz, const float *z, int rows, int d)
{
    proj_loss *p = arg;
    p->loss = dot(z, p->r, (size_t)rows * d);
    memcpy(dz, p->r, (size_t)rows * d * sizeof *dz);
    return 0;
}

typedef struct {
    ss_net *net;
    const uint8_t **images;
    int rows;
    proj_loss *pl;
} net_case;

static double net_loss(void *p)
{
    net_case *c = p;
    ss_net_train_step(c->net, c->images, c->rows, projection_loss, c->pl);
    return c->pl->loss;
}

static ss_net *make_net(int threads, ss_par **pool)
{
    ss_error err;
    ss_net *net = ss_net_create("conv3x3:4,bn,relu,maxpool2,conv3x3:6,relu,avgpool2,linear:5",
                                "linear:4,bn,relu,linear:3", 8, 8, 1, 7, &err);
    CHECK_MSG(net != NULL, "%s", err.msg);
    *pool = ss_par_create(threads, &err);
    CHECK(ss_net_prepare(net, *pool, 6, &err) == SS_OK);
    return net;
}

static void test_network_gradients(void)
{
    ss_par *pool;
    ss_net *net = make_net(1, &pool);
    uint8_t data[6][64];
    const uint8_t *images[6];
    ss_rng r;
    ss_rng_init(&r, 1, 2, 3);
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < 64; k++)
            data[i][k] = (uint8_t)ss_rng_below(&r, 256);
        images[i] = data[i];
    }
    float rr[18];
    fill_random(rr, 18, 21);
    proj_loss pl = {rr, 0};
    net_case c = {net, images, 6, &pl};
    eps = 1e-3f;
    CHECK(ss_net_train_step(net, images, 6, projection_loss, &pl) == 0);
    float *g = malloc(net->n_weights * 4);
    memcpy(g, net->grads, net->n_weights * 4);
    for (int p = 0; p < net->n_params; p++) {
        size_t off = (size_t)(net->params[p].w - net->weights);
        CHECK_MSG(compare_grad(net->params[p].name, net->params[p].w, g + off, net->params[p].n, net_loss, &c),
                  "%s", net->params[p].name);
    }
    eps = 1e-2f;
    free(g);
    ss_net_free(net);
    ss_par_destroy(pool);
}

static void test_threads_agree(void)
{
    uint8_t data[6][64];
    const uint8_t *images[6];
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < 64; k++)
            data[i][k] = (uint8_t)(i * 31 + k * 7);
        images[i] = data[i];
    }
    float rr[18];
    fill_random(rr, 18, 22);
    float *g[2];
    for (int t = 0; t < 2; t++) {
        ss_par *pool;
        ss_net *net = make_net(t + 1, &pool);
        proj_loss pl = {rr, 0};
        CHECK(ss_net_train_step(net, images, 6, projection_loss, &pl) == 0);
        g[t] = malloc(net->n_weights * 4);
        memcpy(g[t], net->grads, net->n_weights * 4);
        size_t n = net->n_weights;
        ss_net_free(net);
        ss_par_destroy(pool);
        if (t == 1) {
            double maxerr = 0;
            for (size_t i = 0; i < n; i++)
                if ((double)fabsf(g[0][i] - g[1][i]) > maxerr)
                    maxerr = (double)fabsf(g[0][i] - g[1][i]);
            CHECK_MSG(maxerr < 1e-4, "1 and 2 threads differ by %g", maxerr);
        }
    }
    free(g[0]);
    free(g[1]);
}

static void test_bad_specs_rejected(void)
{
    ss_error err;
    CHECK(ss_net_create("conv3x3:4,relu", "", 8, 8, 1, 1, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "must end in features");
    CHECK(ss_net_create("conv4x4:4,gap", "", 8, 8, 1, 1, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "invalid layer 'conv4x4:4'");
    CHECK(ss_net_create("linear:4,conv3x3:2", "", 8, 8, 1, 1, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "needs image-shaped input");
    CHECK(ss_net_create("maxpool2,gap", "", 7, 8, 1, 1, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "even height and width");
}

int main(void)
{
    RUN(test_conv3x3_gradients);
    RUN(test_conv_fused_relu_gradients);
    RUN(test_conv1x1_and_5x5_gradients);
    RUN(test_conv_matches_direct_sum);
    RUN(test_maxpool_gradient);
    RUN(test_avgpool_gradient);
    RUN(test_gap_gradient);
    RUN(test_flatten_gradient);
    RUN(test_relu_gradient);
    RUN(test_linear_gradient);
    RUN(test_bn_spatial_gradient);
    RUN(test_bn_features_gradient);
    RUN(test_network_gradients);
    RUN(test_threads_agree);
    RUN(test_bad_specs_rejected);
    return CHECK_DONE();
}
