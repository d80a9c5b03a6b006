/* ss_net: architecture parsing, parameter layout, and the data-parallel
 * forward and backward passes. */
#include "ss_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_nn.h"
#include "ss_rng.h"

#define BN_EPS 1e-5
/* Floats of im2col scratch per convolution call: enough columns for an
 * efficient GEMM while the scratch stays near the L2 cache size. */
#define CONV_SCRATCH_FLOATS (1 << 19)

typedef struct ss_net_thread {
    int cap_rows;
    float *input;        /* [C, n, H, W] */
    float **act;         /* per layer: output */
    uint8_t **arg;       /* max pooling: winning positions */
    float **xhat;        /* batch normalisation: normalised input */
    double *bn_invstd;   /* [n_layers][max_channels] */
    float *g0, *g1;      /* gradient ping-pong buffers */
    float *col, *dcol;
    float *grads;        /* this thread's gradient sums; net->grads for thread 0 */
} ss_net_thread;

/* ---- Parsing ------------------------------------------------------------- */

static int parse_layer(const char *tok, ss_layer *l, ss_error *err)
{
    char *end;
    memset(l, 0, sizeof *l);
    l->param = -1;
    if (strncmp(tok, "conv", 4) == 0) {
        long k1 = strtol(tok + 4, &end, 10);
        if (*end != 'x')
            goto bad;
        long k2 = strtol(end + 1, &end, 10);
        if (*end != ':' || k1 != k2 || k1 < 1 || k1 > 15 || k1 % 2 == 0)
            goto bad;
        long c = strtol(end + 1, &end, 10);
        if (*end || c < 1 || c > 65536)
            goto bad;
        l->kind = SS_LAYER_CONV;
        l->k = (int)k1;
        l->out_c = (int)c;
        return 0;
    }
    if (strncmp(tok, "linear:", 7) == 0) {
        long d = strtol(tok + 7, &end, 10);
        if (*end || d < 1 || d > 1 << 20)
            goto bad;
        l->kind = SS_LAYER_LINEAR;
        l->out_c = (int)d;
        return 0;
    }
    static const struct {
        const char *name;
        ss_layer_kind kind;
    } simple[] = {{"bn", SS_LAYER_BN},           {"relu", SS_LAYER_RELU}, {"maxpool2", SS_LAYER_MAXPOOL},
                  {"avgpool2", SS_LAYER_AVGPOOL}, {"gap", SS_LAYER_GAP},   {"flatten", SS_LAYER_FLATTEN}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (strcmp(tok, simple[i].name) == 0) {
            l->kind = simple[i].kind;
            return 0;
        }
    }
bad:
    ss_error_set(err, SS_EINVAL, "invalid layer '%s' (expected convKxK:C with odd K, bn, relu, maxpool2, "
                 "avgpool2, gap, flatten or linear:D)", tok);
    return -1;
}

ss_status ss_net_check_spec(const char *spec, ss_error *err)
{
    char *copy = strdup(spec);
    if (!copy)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    char *save = NULL;
    ss_status st = SS_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok && st == SS_OK; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        ss_layer l;
        if (parse_layer(tok, &l, err) < 0)
            st = SS_EINVAL;
    }
    free(copy);
    return st;
}

static int layer_token(const ss_net *net, int i)
{
    int enc_tokens = net->n_encoder ? net->layers[net->n_encoder - 1].spec_index + 1 : 0;
    return (i < net->n_encoder ? net->layers[i].spec_index : enc_tokens + net->layers[i].spec_index) + 1;
}

int ss_net_tokens(const ss_net *net)
{
    return net->n_layers ? layer_token(net, net->n_layers - 1) : 0;
}

int ss_net_upto_token(const ss_net *net, int token)
{
    int upto = -1;
    for (int i = 0; i < net->n_layers; i++)
        if (layer_token(net, i) == token)
            upto = i + 1;
    return upto;
}

/* Appends the layers of spec to net->layers, inserting a flatten before a
 * linear layer that follows spatial layers, and propagates shapes. */
static int add_layers(ss_net *net, const char *spec, int *cap, ss_error *err)
{
    char *copy = strdup(spec);
    if (!copy)
        return ss_error_set(err, SS_ENOMEM, "out of memory"), -1;
    char *save = NULL;
    int token = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), token++) {
        while (*tok == ' ')
            tok++;
        ss_layer l;
        if (parse_layer(tok, &l, err) < 0) {
            free(copy);
            return -1;
        }
        for (int pass = 0; pass < 2; pass++) {
            ss_layer *prev = net->n_layers ? &net->layers[net->n_layers - 1] : NULL;
            ss_layer cur = l;
            int spatial = prev ? prev->spatial_out : 1;
            if (pass == 0 && !(l.kind == SS_LAYER_LINEAR && spatial))
                continue;
            if (pass == 0) {
                memset(&cur, 0, sizeof cur);
                cur.kind = SS_LAYER_FLATTEN;
                cur.param = -1;
            }
            cur.spatial_in = spatial;
            cur.spec_index = token;
            cur.in_c = prev ? prev->out_c : net->in_c;
            cur.in_h = prev ? prev->out_h : net->in_h;
            cur.in_w = prev ? prev->out_w : net->in_w;
            cur.out_h = cur.in_h;
            cur.out_w = cur.in_w;
            cur.spatial_out = spatial;
            switch (cur.kind) {
            case SS_LAYER_CONV:
                if (!spatial)
                    goto not_spatial;
                break;
            case SS_LAYER_MAXPOOL:
            case SS_LAYER_AVGPOOL:
                if (!spatial)
                    goto not_spatial;
                if (cur.in_h % 2 || cur.in_w % 2) {
                    ss_error_set(err, SS_EINVAL, "layer '%s' needs an even height and width, got %dx%d", tok,
                                 cur.in_h, cur.in_w);
                    free(copy);
                    return -1;
                }
                cur.out_c = cur.in_c;
                cur.out_h = cur.in_h / 2;
                cur.out_w = cur.in_w / 2;
                break;
            case SS_LAYER_GAP:
            case SS_LAYER_FLATTEN:
                if (!spatial)
                    goto not_spatial;
                cur.out_c = cur.kind == SS_LAYER_GAP ? cur.in_c : cur.in_c * cur.in_h * cur.in_w;
                cur.out_h = cur.out_w = 1;
                cur.spatial_out = 0;
                break;
            case SS_LAYER_LINEAR:
                cur.out_h = cur.out_w = 1;
                break;
            default:
                cur.out_c = cur.in_c;
                break;
            }
            if (!cur.spatial_out)
                cur.out_h = cur.out_w = 1;
            cur.out_size = (long)cur.out_c * cur.out_h * cur.out_w;
            if (net->n_layers == *cap) {
                int nc = *cap ? 2 * *cap : 16;
                ss_layer *nl = realloc(net->layers, (size_t)nc * sizeof *nl);
                if (!nl) {
                    free(copy);
                    return ss_error_set(err, SS_ENOMEM, "out of memory"), -1;
                }
                net->layers = nl;
                *cap = nc;
            }
            net->layers[net->n_layers++] = cur;
        }
        continue;
    not_spatial:
        ss_error_set(err, SS_EINVAL, "layer '%s' needs image-shaped input, but it follows a flatten, gap or "
                     "linear layer", tok);
        free(copy);
        return -1;
    }
    free(copy);
    return 0;
}

/* ---- Parameters ---------------------------------------------------------- */

static int layer_param_count(const ss_layer *l)
{
    return l->kind == SS_LAYER_CONV || l->kind == SS_LAYER_LINEAR || l->kind == SS_LAYER_BN ? 2 : 0;
}

static size_t layer_param_size(const ss_layer *l, int which)
{
    switch (l->kind) {
    case SS_LAYER_CONV:
        return which == 0 ? (size_t)l->out_c * (size_t)l->in_c * (size_t)l->k * (size_t)l->k : (size_t)l->out_c;
    case SS_LAYER_LINEAR:
        return which == 0 ? (size_t)l->out_c * (size_t)l->in_c : (size_t)l->out_c;
    case SS_LAYER_BN:
        return (size_t)l->in_c;
    default:
        return 0;
    }
}

static int build_params(ss_net *net, uint64_t seed, ss_error *err)
{
    int n = 0;
    size_t total = 0, buffers = 0;
    for (int i = 0; i < net->n_layers; i++) {
        n += layer_param_count(&net->layers[i]);
        for (int j = 0; j < layer_param_count(&net->layers[i]); j++)
            total += layer_param_size(&net->layers[i], j);
        if (net->layers[i].kind == SS_LAYER_BN)
            buffers += 2 * (size_t)net->layers[i].in_c;
    }
    net->params = calloc((size_t)(n ? n : 1), sizeof *net->params);
    net->weights = calloc(total ? total : 1, sizeof *net->weights);
    net->grads = calloc(total ? total : 1, sizeof *net->grads);
    net->buffers = calloc(buffers ? buffers : 1, sizeof *net->buffers);
    if (!net->params || !net->weights || !net->grads || !net->buffers)
        return ss_error_set(err, SS_ENOMEM, "out of memory for %zu parameters", total), -1;
    net->n_params = n;
    net->n_weights = total;
    net->n_buffers = buffers;

    size_t off = 0, boff = 0;
    int p = 0;
    for (int i = 0; i < net->n_layers; i++) {
        ss_layer *l = &net->layers[i];
        int enc = i < net->n_encoder;
        int index = l->spec_index;
        if (l->kind == SS_LAYER_BN) {
            l->running_mean = net->buffers + boff;
            l->running_var = net->buffers + boff + l->in_c;
            for (int c = 0; c < l->in_c; c++)
                l->running_var[c] = 1.0f;
            boff += 2 * (size_t)l->in_c;
        }
        if (!layer_param_count(l))
            continue;
        l->param = p;
        for (int j = 0; j < 2; j++) {
            ss_param *q = &net->params[p];
            char name[64];
            const char *what = l->kind == SS_LAYER_BN ? (j ? "beta" : "gamma") : (j ? "bias" : "weight");
            snprintf(name, sizeof name, "%s.%d.%s", enc ? "encoder" : "head", index, what);
            q->name = strdup(name);
            if (!q->name)
                return ss_error_set(err, SS_ENOMEM, "out of memory"), -1;
            q->n = layer_param_size(l, j);
            q->w = net->weights + off;
            q->g = net->grads + off;
            q->no_decay = j == 1 || l->kind == SS_LAYER_BN;
            q->lr_scale = 1.0f;
            off += q->n;

            /* PyTorch's default: uniform in +-1/sqrt(fan_in) for weights and biases. */
            ss_rng rng;
            ss_rng_init(&rng, seed, SS_RNG_INIT, (uint64_t)p);
            size_t fan_in = l->kind == SS_LAYER_CONV ? (size_t)l->in_c * (size_t)l->k * (size_t)l->k
                                                      : (size_t)l->in_c;
            float bound = 1.0f / sqrtf((float)fan_in);
            for (size_t k = 0; k < q->n; k++) {
                if (l->kind == SS_LAYER_BN)
                    q->w[k] = j ? 0.0f : 1.0f;
                else
                    q->w[k] = bound * (2.0f * ss_rng_uniformf(&rng) - 1.0f);
            }
            p++;
        }
    }
    return 0;
}

ss_net *ss_net_create(const char *encoder, const char *head, int h, int w, int c, uint64_t seed,
                      ss_error *err)
{
    if (h < 1 || w < 1 || c < 1) {
        ss_error_set(err, SS_EINVAL, "invalid input shape %dx%dx%d", h, w, c);
        return NULL;
    }
    ss_net *net = calloc(1, sizeof *net);
    if (!net) {
        ss_error_set(err, SS_ENOMEM, "out of memory");
        return NULL;
    }
    net->in_h = h;
    net->in_w = w;
    net->in_c = c;
    net->input_mean = 0.0f;
    net->input_std = 1.0f;
    net->bn_momentum = 0.1f;
    net->encoder_spec = strdup(encoder);
    net->head_spec = strdup(head ? head : "");
    int cap = 0;
    if (!net->encoder_spec || !net->head_spec) {
        ss_error_set(err, SS_ENOMEM, "out of memory");
        goto fail;
    }
    if (add_layers(net, encoder, &cap, err) < 0) {
        ss_error_prefix(err, "encoder");
        goto fail;
    }
    if (net->n_layers == 0 || net->layers[net->n_layers - 1].spatial_out) {
        ss_error_set(err, SS_EINVAL, "encoder '%s' must end in features: add gap, flatten or linear:D", encoder);
        goto fail;
    }
    net->n_encoder = net->n_layers;
    if (head && *head && add_layers(net, head, &cap, err) < 0) {
        ss_error_prefix(err, "head");
        goto fail;
    }
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].in_c > net->max_channels)
            net->max_channels = net->layers[i].in_c;
    /* A ReLU right after a convolution, linear or batch-normalisation layer
     * runs inside that layer; the ReLU layer then shares its output. */
    for (int i = 1; i < net->n_layers; i++) {
        ss_layer *prev = &net->layers[i - 1];
        if (net->layers[i].kind == SS_LAYER_RELU && !prev->passthrough &&
            (prev->kind == SS_LAYER_CONV || prev->kind == SS_LAYER_LINEAR || prev->kind == SS_LAYER_BN)) {
            prev->fused_relu = 1;
            net->layers[i].passthrough = 1;
        }
    }
    if (build_params(net, seed, err) < 0)
        goto fail;
    return net;
fail:
    ss_net_free(net);
    return NULL;
}

static void free_threads(ss_net *net)
{
    for (int t = 0; net->threads && t < net->n_threads; t++) {
        ss_net_thread *th = &net->threads[t];
        for (int i = 0; th->act && i < net->n_layers; i++) {
            if (!net->layers[i].passthrough)
                free(th->act[i]);
            free(th->arg[i]);
            free(th->xhat[i]);
        }
        free(th->act);
        free(th->arg);
        free(th->xhat);
        free(th->input);
        free(th->bn_invstd);
        free(th->g0);
        free(th->g1);
        free(th->col);
        free(th->dcol);
        if (t > 0)
            free(th->grads);
    }
    free(net->threads);
    free(net->bn_sums);
    net->threads = NULL;
    net->bn_sums = NULL;
    net->n_threads = 0;
}

void ss_net_free(ss_net *net)
{
    if (!net)
        return;
    free_threads(net);
    for (int i = 0; i < net->n_params; i++)
        free((char *)(uintptr_t)net->params[i].name);
    ss_optim_free(net->params, net->n_params);
    free(net->params);
    free(net->weights);
    free(net->grads);
    free(net->buffers);
    free(net->out_buf);
    free(net->dz_buf);
    free(net->layers);
    free(net->encoder_spec);
    free(net->head_spec);
    free(net);
}

int ss_net_encoder_dim(const ss_net *net)
{
    return net->layers[net->n_encoder - 1].out_c;
}

int ss_net_output_dim(const ss_net *net)
{
    return net->layers[net->n_layers - 1].out_c;
}

long ss_net_width_at(const ss_net *net, int upto)
{
    if (upto <= 0)
        return (long)net->in_h * net->in_w * net->in_c;
    return net->layers[upto - 1].out_size;
}

double ss_net_forward_flops(const ss_net *net)
{
    double f = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const ss_layer *l = &net->layers[i];
        if (l->kind == SS_LAYER_CONV)
            f += 2.0 * l->out_c * l->in_c * l->k * l->k * l->out_h * l->out_w;
        else if (l->kind == SS_LAYER_LINEAR)
            f += 2.0 * l->out_c * l->in_c;
    }
    return f;
}

/* ---- Workspaces ---------------------------------------------------------- */

static int conv_mb(const ss_layer *l)
{
    long per_image = (long)l->in_c * l->k * l->k * l->in_h * l->in_w;
    long mb = CONV_SCRATCH_FLOATS / (per_image > 0 ? per_image : 1);
    return mb < 1 ? 1 : (int)mb;
}

ss_status ss_net_prepare(ss_net *net, ss_par *pool, int max_rows, ss_error *err)
{
    int T = ss_par_threads(pool);
    if (net->threads && net->n_threads == T && net->threads[0].cap_rows >= (max_rows + T - 1) / T) {
        net->pool = pool;
        return SS_OK;
    }
    free_threads(net);
    net->pool = pool;
    net->n_threads = T;
    net->threads = calloc((size_t)T, sizeof *net->threads);
    net->bn_sums = calloc((size_t)net->n_layers * 2 * (size_t)T * 2 * (size_t)(net->max_channels + 1),
                          sizeof *net->bn_sums);
    if (!net->threads || !net->bn_sums)
        goto oom;
    int rows = (max_rows + T - 1) / T;
    long max_act = ss_net_width_at(net, 0);
    size_t scratch = 0, dscratch = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const ss_layer *l = &net->layers[i];
        if (l->out_size > max_act)
            max_act = l->out_size;
        if (l->kind == SS_LAYER_CONV) {
            size_t s = ss_nn_conv_scratch(l->in_c, l->in_h, l->in_w, l->k, conv_mb(l));
            size_t ds = ss_nn_conv_dscratch(l->in_c, l->out_c, l->in_h, l->in_w, l->k, conv_mb(l));
            if (s > scratch)
                scratch = s;
            if (ds > dscratch)
                dscratch = ds;
        }
    }
    for (int t = 0; t < T; t++) {
        ss_net_thread *th = &net->threads[t];
        th->cap_rows = rows;
        th->act = calloc((size_t)net->n_layers, sizeof *th->act);
        th->arg = calloc((size_t)net->n_layers, sizeof *th->arg);
        th->xhat = calloc((size_t)net->n_layers, sizeof *th->xhat);
        th->input = malloc((size_t)ss_net_width_at(net, 0) * (size_t)rows * sizeof *th->input);
        th->bn_invstd = calloc((size_t)net->n_layers * (size_t)(net->max_channels + 1), sizeof *th->bn_invstd);
        th->g0 = malloc((size_t)max_act * (size_t)rows * sizeof *th->g0);
        th->g1 = malloc((size_t)max_act * (size_t)rows * sizeof *th->g1);
        th->col = malloc((scratch ? scratch : 1) * sizeof *th->col);
        th->dcol = malloc((dscratch ? dscratch : 1) * sizeof *th->dcol);
        th->grads = t == 0 ? net->grads : calloc(net->n_weights ? net->n_weights : 1, sizeof *th->grads);
        if (!th->act || !th->arg || !th->xhat || !th->input || !th->bn_invstd || !th->g0 || !th->g1 || !th->col ||
            !th->dcol || !th->grads)
            goto oom;
        for (int i = 0; i < net->n_layers; i++) {
            const ss_layer *l = &net->layers[i];
            size_t n = (size_t)l->out_size * (size_t)rows;
            if (l->passthrough) {
                th->act[i] = th->act[i - 1];
                continue;
            }
            th->act[i] = malloc(n * sizeof(float));
            if (!th->act[i])
                goto oom;
            if (l->kind == SS_LAYER_MAXPOOL && !(th->arg[i] = malloc(n)))
                goto oom;
            if (l->kind == SS_LAYER_BN && !(th->xhat[i] = malloc(n * sizeof(float))))
                goto oom;
        }
    }
    return SS_OK;
oom:
    free_threads(net);
    return ss_error_set(err, SS_ENOMEM, "out of memory for batches of %d rows", max_rows);
}

/* ---- Forward and backward ------------------------------------------------ */

typedef struct {
    ss_net *net;
    const uint8_t *const *images;
    int rows;
    int upto;
    int training;
    float *out;              /* [rows, width] outputs */
    float *dz;               /* [rows, width] loss gradient (training) */
    ss_net_loss_fn loss;
    void *loss_arg;
    int failed;
} step_args;

static double *bn_partial(ss_net *net, int layer, int phase, int tid)
{
    size_t stride = 2 * (size_t)(net->max_channels + 1);
    return net->bn_sums + (((size_t)layer * 2 + (size_t)phase) * (size_t)net->n_threads + (size_t)tid) * stride;
}

/* Converts images [n, H, W, C] uint8 to the input layout [C, n, H, W]. */
static void load_input(const ss_net *net, float *x, const uint8_t *const *images, int n)
{
    const int h = net->in_h, w = net->in_w, c = net->in_c;
    const size_t hw = (size_t)h * (size_t)w;
    const float scale = 1.0f / (255.0f * net->input_std), shift = net->input_mean / net->input_std;
    for (int i = 0; i < n; i++) {
        const uint8_t *img = images[i];
        for (int ch = 0; ch < c; ch++) {
            float *dst = x + ((size_t)ch * (size_t)n + (size_t)i) * hw;
            for (size_t p = 0; p < hw; p++)
                dst[p] = (float)img[p * (size_t)c + (size_t)ch] * scale - shift;
        }
    }
}

static void forward_layer(ss_net *net, ss_net_thread *th, int i, int n, int tid, int training, long m_total_rows,
                          int last)
{
    ss_layer layer = net->layers[i];
    /* The last layer of an inference stops before a ReLU that would
     * otherwise run inside it. */
    if (last)
        layer.fused_relu = 0;
    const ss_layer *l = &layer;
    const float *x = i == 0 ? th->input : th->act[i - 1];
    float *y = th->act[i];
    const ss_param *p = l->param >= 0 ? &net->params[l->param] : NULL;
    switch (l->kind) {
    case SS_LAYER_CONV: {
        ss_nn_conv_forward(y, x, p[0].w, p[1].w, n, l->in_c, l->in_h, l->in_w, l->out_c, l->k, conv_mb(l),
                           l->fused_relu, th->col);
        break;
    }
    case SS_LAYER_RELU:
        if (!l->passthrough)
            ss_nn_relu_forward(y, x, (size_t)l->out_size * (size_t)n);
        break;
    case SS_LAYER_MAXPOOL:
        ss_nn_maxpool_forward(y, th->arg[i], x, (long)l->in_c * n, l->in_h, l->in_w);
        break;
    case SS_LAYER_AVGPOOL:
        ss_nn_avgpool_forward(y, x, (long)l->in_c * n, l->in_h, l->in_w);
        break;
    case SS_LAYER_GAP:
        ss_nn_gap_forward(y, x, n, l->in_c, l->in_h * l->in_w);
        break;
    case SS_LAYER_FLATTEN:
        ss_nn_flatten_forward(y, x, n, l->in_c, l->in_h * l->in_w);
        break;
    case SS_LAYER_LINEAR:
        ss_nn_linear_forward(y, x, p[0].w, p[1].w, n, l->in_c, l->out_c, l->fused_relu);
        break;
    case SS_LAYER_BN: {
        const int C = l->in_c;
        long per_sample = l->spatial_in ? (long)l->in_h * l->in_w : 1;
        ss_nn_bn_shape s = {C, (long)n * per_sample, !l->spatial_in};
        double *invstd = th->bn_invstd + (size_t)i * (size_t)(net->max_channels + 1);
        double *mean = bn_partial(net, i, 1, tid);
        if (!training) {
            for (int c = 0; c < C; c++) {
                mean[c] = (double)l->running_mean[c];
                invstd[c] = 1.0 / sqrt((double)l->running_var[c] + BN_EPS);
            }
        } else {
            double *part = bn_partial(net, i, 0, tid);
            memset(part, 0, 2 * (size_t)C * sizeof *part);
            ss_nn_bn_stats(part, x, &s);
            ss_par_barrier(net->pool);
            double m = (double)m_total_rows * (double)per_sample;
            for (int c = 0; c < C; c++) {
                double sum = 0, sq = 0;
                for (int t = 0; t < net->n_threads; t++) {
                    const double *q = bn_partial(net, i, 0, t);
                    sum += q[c];
                    sq += q[C + c];
                }
                double mu = sum / m, var = sq / m - mu * mu;
                if (var < 0)
                    var = 0;
                mean[c] = mu;
                invstd[c] = 1.0 / sqrt(var + BN_EPS);
                if (tid == 0) {
                    double unbiased = m > 1 ? var * m / (m - 1) : var;
                    double mom = (double)net->bn_momentum;
                    l->running_mean[c] = (float)((1 - mom) * (double)l->running_mean[c] + mom * mu);
                    l->running_var[c] = (float)((1 - mom) * (double)l->running_var[c] + mom * unbiased);
                }
            }
        }
        ss_nn_bn_apply(y, training ? th->xhat[i] : NULL, x, mean, invstd, p[0].w, p[1].w, l->fused_relu, &s);
        break;
    }
    }
}

/* Returns 1 when layer i's fused ReLU feeds a max pooling, whose backward
 * pass then applies the ReLU mask on the pooled output instead. */
static int relu_masked_by_pool(const ss_net *net, int i)
{
    return net->layers[i].fused_relu && i + 2 < net->n_layers && net->layers[i + 1].passthrough &&
           net->layers[i + 2].kind == SS_LAYER_MAXPOOL;
}

/* Backward through layer i: dy contains the gradient of its output, and dx
 * (NULL for layer 0) receives that of its input. */
static void backward_layer(ss_net *net, ss_net_thread *th, int i, int n, int tid, long m_total_rows,
                           float *dx, float *dy)
{
    const ss_layer *l = &net->layers[i];
    const float *x = i == 0 ? th->input : th->act[i - 1];
    const ss_param *p = l->param >= 0 ? &net->params[l->param] : NULL;
    size_t off_w = p ? (size_t)(p[0].w - net->weights) : 0;
    size_t off_b = p ? (size_t)(p[1].w - net->weights) : 0;
    switch (l->kind) {
    case SS_LAYER_CONV:
        ss_nn_conv_backward(dx, th->grads + off_w, th->grads + off_b, dy, x, p[0].w, n, l->in_c, l->in_h, l->in_w,
                            l->out_c, l->k, conv_mb(l),
                            l->fused_relu && !relu_masked_by_pool(net, i) ? th->act[i] : NULL, th->col, th->dcol);
        break;
    case SS_LAYER_RELU:
        if (dx)
            ss_nn_relu_backward(dx, dy, th->act[i], (size_t)l->out_size * (size_t)n);
        break;
    case SS_LAYER_MAXPOOL:
        if (dx)
            ss_nn_maxpool_backward(dx, dy, th->arg[i], i >= 2 && relu_masked_by_pool(net, i - 2) ? th->act[i] : NULL,
                                   (long)l->in_c * n, l->in_h, l->in_w);
        break;
    case SS_LAYER_AVGPOOL:
        if (dx)
            ss_nn_avgpool_backward(dx, dy, (long)l->in_c * n, l->in_h, l->in_w);
        break;
    case SS_LAYER_GAP:
        if (dx)
            ss_nn_gap_backward(dx, dy, n, l->in_c, l->in_h * l->in_w);
        break;
    case SS_LAYER_FLATTEN:
        if (dx)
            ss_nn_flatten_backward(dx, dy, n, l->in_c, l->in_h * l->in_w);
        break;
    case SS_LAYER_LINEAR:
        ss_nn_linear_backward(dx, th->grads + off_w, th->grads + off_b, dy, x, p[0].w, n, l->in_c, l->out_c,
                              l->fused_relu ? th->act[i] : NULL);
        break;
    case SS_LAYER_BN: {
        const int C = l->in_c;
        long per_sample = l->spatial_in ? (long)l->in_h * l->in_w : 1;
        ss_nn_bn_shape s = {C, (long)n * per_sample, !l->spatial_in};
        if (l->fused_relu && !relu_masked_by_pool(net, i))
            ss_nn_relu_mask(dy, th->act[i], (size_t)l->out_size * (size_t)n);
        double *part = bn_partial(net, i, 0, tid);
        memset(part, 0, 2 * (size_t)C * sizeof *part);
        ss_nn_bn_backward_stats(part, th->grads + off_w, th->grads + off_b, dy, th->xhat[i], &s);
        ss_par_barrier(net->pool);
        double *sums = bn_partial(net, i, 1, tid);
        for (int c = 0; c < 2 * C; c++) {
            double v = 0;
            for (int t = 0; t < net->n_threads; t++)
                v += bn_partial(net, i, 0, t)[c];
            sums[c] = v;
        }
        /* The partial sums are read by every thread before any reuses them. */
        ss_par_barrier(net->pool);
        if (dx)
            ss_nn_bn_backward_apply(dx, dy, th->xhat[i], sums,
                                    th->bn_invstd + (size_t)i * (size_t)(net->max_channels + 1), p[0].w,
                                    (long)m_total_rows * per_sample, &s);
        break;
    }
    }
}

static void step_thread(void *arg, int tid, int n_threads)
{
    step_args *a = arg;
    ss_net *net = a->net;
    ss_net_thread *th = &net->threads[tid];
    long lo, hi;
    ss_par_range(a->rows, tid, n_threads, &lo, &hi);
    int n = (int)(hi - lo);
    long width = ss_net_width_at(net, a->upto);

    load_input(net, th->input, a->images + lo, n);
    for (int i = 0; i < a->upto; i++)
        forward_layer(net, th, i, n, tid, a->training, a->rows, !a->training && i == a->upto - 1);
    /* Outputs are [rows, width]; image-shaped activations are [C, n, H*W]. */
    const ss_layer *last = a->upto > 0 ? &net->layers[a->upto - 1] : NULL;
    const float *src = last ? th->act[a->upto - 1] : th->input;
    if (last ? last->spatial_out : 1)
        ss_nn_flatten_forward(a->out + (size_t)lo * (size_t)width, src, n, last ? last->out_c : net->in_c,
                              last ? last->out_h * last->out_w : net->in_h * net->in_w);
    else
        memcpy(a->out + (size_t)lo * (size_t)width, src, (size_t)n * (size_t)width * sizeof(float));
    if (!a->training)
        return;

    ss_par_barrier(net->pool);
    if (tid == 0)
        a->failed = a->loss(a->loss_arg, a->dz, a->out, a->rows, (int)width) != 0;
    ss_par_barrier(net->pool);
    if (a->failed)
        return;

    if (tid > 0)
        memset(th->grads, 0, net->n_weights * sizeof *th->grads);
    float *dy = th->g0, *dx = th->g1;
    memcpy(dy, a->dz + (size_t)lo * (size_t)width, (size_t)n * (size_t)width * sizeof(float));
    for (int i = a->upto - 1; i >= 0; i--) {
        /* A fused ReLU's gradient is taken by the layer before it. */
        if (net->layers[i].passthrough)
            continue;
        backward_layer(net, th, i, n, tid, a->rows, i > 0 ? dx : NULL, dy);
        float *t = dy;
        dy = dx;
        dx = t;
    }

    /* Sum the per-thread gradients, each thread taking a slice. */
    ss_par_barrier(net->pool);
    ss_par_range((long)net->n_weights, tid, n_threads, &lo, &hi);
    for (int t = 1; t < n_threads; t++) {
        const float *g = net->threads[t].grads;
        for (long j = lo; j < hi; j++)
            net->grads[j] += g[j];
    }
}

int ss_net_train_step(ss_net *net, const uint8_t *const *images, int rows, ss_net_loss_fn loss, void *arg)
{
    memset(net->grads, 0, net->n_weights * sizeof *net->grads);
    long width = ss_net_width_at(net, net->n_layers);
    size_t need = (size_t)rows * (size_t)width;
    if (need > net->out_cap) {
        free(net->out_buf);
        free(net->dz_buf);
        net->out_buf = malloc(need * sizeof(float));
        net->dz_buf = malloc(need * sizeof(float));
        net->out_cap = net->out_buf && net->dz_buf ? need : 0;
        if (!net->out_cap)
            return -1;
    }
    step_args a = {net, images, rows, net->n_layers, 1, net->out_buf, net->dz_buf, loss, arg, 0};
    ss_par_run(net->pool, step_thread, &a);
    return a.failed ? -1 : 0;
}

void ss_net_infer(ss_net *net, const uint8_t *const *images, int rows, int upto, float *out)
{
    step_args a = {net, images, rows, upto, 0, out, NULL, NULL, NULL, 0};
    ss_par_run(net->pool, step_thread, &a);
}

int ss_net_grads_finite(const ss_net *net)
{
    for (size_t i = 0; i < net->n_weights; i++)
        if (!isfinite(net->grads[i]))
            return 0;
    return 1;
}
