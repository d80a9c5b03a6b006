/* ss_net: networks built from an architecture string, trained data-parallel
 * on an ss_par pool.
 *
 * An architecture is two comma-separated layer lists, the encoder and the
 * projection head, for example
 *     encoder "conv3x3:32,relu,maxpool2,conv3x3:64,relu,maxpool2,linear:128"
 *     head    "linear:128,relu,linear:64"
 * Layers: convKxK:C (stride 1, zero padding K/2), bn, relu, maxpool2,
 * avgpool2, gap (global average pooling), flatten, linear:D. A linear layer
 * after spatial layers flattens implicitly. The strings and the input shape
 * are stored in checkpoints, so later tools rebuild the model from them.
 *
 * Training is data-parallel: each thread of the pool runs forward and
 * backward on its own rows of the batch with single-threaded BLAS, batch
 * normalisation sums its statistics over all threads, and the per-thread
 * parameter gradients are summed before the optimiser step. */
#ifndef SS_NET_H
#define SS_NET_H

#include <stdint.h>

#include "ss_error.h"
#include "ss_optim.h"
#include "ss_par.h"

typedef enum {
    SS_LAYER_CONV,
    SS_LAYER_BN,
    SS_LAYER_RELU,
    SS_LAYER_MAXPOOL,
    SS_LAYER_AVGPOOL,
    SS_LAYER_GAP,
    SS_LAYER_FLATTEN,
    SS_LAYER_LINEAR
} ss_layer_kind;

typedef struct {
    ss_layer_kind kind;
    int spatial_in, spatial_out;  /* 1: [C, N, H, W] activations; 0: [N, D] */
    int in_c, in_h, in_w;         /* input shape (in_c is D when not spatial) */
    int out_c, out_h, out_w;
    int k;                        /* convolution kernel size */
    int param;                    /* index of the first parameter, -1 when none */
    int spec_index;               /* position in its spec string, 0-based; names parameters */
    int fused_relu;               /* conv, linear or bn: applies the next layer's ReLU itself */
    int passthrough;              /* a ReLU done by the layer before it: shares its output */
    float *running_mean, *running_var;  /* batch normalisation, [C] */
    long out_size;                /* output floats per sample */
} ss_layer;

typedef struct ss_net ss_net;

struct ss_net {
    int in_h, in_w, in_c;
    char *encoder_spec, *head_spec;
    int n_layers, n_encoder;      /* layers [0, n_encoder) are the encoder */
    ss_layer *layers;
    ss_param *params;
    int n_params;
    float *weights, *grads;       /* one allocation each, carved into params */
    size_t n_weights;
    float *buffers;               /* batch normalisation running statistics */
    size_t n_buffers;
    float input_mean, input_std;  /* input pixels x in [0,1] enter as (x - mean) / std */
    float bn_momentum;            /* running = (1 - m) running + m batch; default 0.1 */

    /* Training state shared by the threads of one pool. */
    int n_threads;
    struct ss_net_thread *threads;
    double *bn_sums;              /* [threads][2 * max channels] partial sums */
    int max_channels;
    ss_par *pool;
    float *out_buf, *dz_buf;      /* [rows, D] outputs and loss gradient of a step */
    size_t out_cap;
};

/* Parses the specs and builds a network for inputs [H, W, C]. Parameters
 * are initialised as PyTorch does by default (uniform in +-1/sqrt(fan_in)
 * for weights and biases; gamma 1, beta 0) from seed. Returns NULL with a
 * message naming the offending layer on error. */
ss_net *ss_net_create(const char *encoder, const char *head, int h, int w, int c, uint64_t seed,
                      ss_error *err);
void ss_net_free(ss_net *net);

/* Checks the syntax of every layer of a spec without building anything, so
 * tools can reject a bad spec before reading input. */
ss_status ss_net_check_spec(const char *spec, ss_error *err);

/* Number of layers from the input through token `token` (1-based, counting
 * the encoder spec's layers then the head's), as ss_net_infer's `upto`;
 * -1 when there is no such token. */
int ss_net_upto_token(const ss_net *net, int token);
int ss_net_tokens(const ss_net *net);

/* Output width of the encoder and of the whole network (head included). */
int ss_net_encoder_dim(const ss_net *net);
int ss_net_output_dim(const ss_net *net);

/* Multiply-adds per sample of one forward pass, for GFLOP/s reports. */
double ss_net_forward_flops(const ss_net *net);

/* Prepares per-thread workspaces for batches of up to max_rows rows in
 * total, split over the pool's threads. */
ss_status ss_net_prepare(ss_net *net, ss_par *pool, int max_rows, ss_error *err);

/* The loss callback of a training step: receives the network outputs
 * z [rows, D] of the whole batch and writes dz [rows, D]; runs on thread 0
 * between two barriers. Returns 0, or -1 to stop the step. */
typedef int (*ss_net_loss_fn)(void *arg, float *dz, const float *z, int rows, int d);

/* One training step on rows images [rows, H, W, C] uint8, given as an
 * array of row pointers: forward through encoder and head, the loss, the
 * backward pass, and the summed gradients in net->grads. Returns 0, or -1
 * when the loss callback failed. */
int ss_net_train_step(ss_net *net, const uint8_t *const *images, int rows, ss_net_loss_fn loss, void *arg);

/* Inference: features of rows images at the output of layer `upto`
 * (exclusive index: n_encoder for the encoder output) into out [rows, D].
 * Batch normalisation uses running statistics. */
void ss_net_infer(ss_net *net, const uint8_t *const *images, int rows, int upto, float *out);

/* Width of the output of layers [0, upto): features per sample. */
long ss_net_width_at(const ss_net *net, int upto);

/* Returns 1 when every gradient is finite. */
int ss_net_grads_finite(const ss_net *net);

#endif
