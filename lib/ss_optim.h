/* ss_optim: optimisers and the learning-rate schedule.
 *
 * Parameters are a list of tensors, each a weight array w and a gradient
 * array g of n floats. Tensors flagged no_decay (biases and normalisation
 * scales and shifts) get neither weight decay nor, under LARS, the trust
 * ratio, following the SimCLR recipe. Optimiser state (momentum, Adam
 * moments) is allocated by ss_optim_init() and lives in the ss_param so a
 * checkpoint can store it beside the weights.
 *
 * SGD:   v = momentum * v + (g + wd * w);            w -= lr * v
 * AdamW: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 *        w -= lr * (mhat / (sqrt(vhat) + eps) + wd * w)   (Loshchilov and Hutter 2019)
 * LARS:  u = g + wd * w; r = eta * |w| / |u| (1 when either norm is 0);
 *        v = momentum * v + r * u;  w -= lr * v
 * LARS (You et al. 2017) in the form SimCLR uses (Chen et al. 2020): the trust
 * ratio divides by |g + wd * w| rather than |g| + wd |w|, and lr is applied
 * outside the momentum as in PyTorch's SGD. */
#ifndef SS_OPTIM_H
#define SS_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "ss_error.h"

typedef enum { SS_OPTIM_SGD, SS_OPTIM_ADAMW, SS_OPTIM_LARS } ss_optim_kind;

typedef struct {
    const char *name;   /* parameter name, as stored in checkpoints */
    float *w;           /* [n] weights */
    float *g;           /* [n] gradient of the loss */
    size_t n;
    int no_decay;       /* 1 for biases and normalisation parameters */
    int frozen;         /* 1 to leave the tensor unchanged */
    float lr_scale;     /* multiplies the learning rate for this tensor; 1 by default */
    float *m;           /* [n] momentum or Adam first moment, owned by the optimiser */
    float *v;           /* [n] Adam second moment, NULL for SGD and LARS */
} ss_param;

typedef struct {
    ss_optim_kind kind;
    double momentum;        /* SGD, LARS; default 0.9 */
    double weight_decay;    /* default 0 */
    double beta1, beta2;    /* AdamW; default 0.9, 0.999 */
    double eps;             /* AdamW; default 1e-8 */
    double trust;           /* LARS eta; default 0.001 */
    uint64_t step;          /* optimiser steps taken, for Adam's bias correction */
} ss_optim;

/* Sets the defaults above for kind. */
void ss_optim_defaults(ss_optim *o, ss_optim_kind kind);

/* Parses "sgd", "adamw" or "lars". Returns 0 or -1. */
int ss_optim_kind_from_name(const char *name, ss_optim_kind *kind);
const char *ss_optim_kind_name(ss_optim_kind kind);

/* Allocates zeroed state (m, and v for AdamW) for every parameter. */
ss_status ss_optim_init(ss_optim *o, ss_param *params, int n_params, ss_error *err);

/* Applies one update with learning rate lr to every parameter that is not
 * frozen, and increments o->step. */
void ss_optim_step(ss_optim *o, ss_param *params, int n_params, double lr);

/* Frees the state allocated by ss_optim_init(). */
void ss_optim_free(ss_param *params, int n_params);

/* Learning rate at step (0-based) of a run of total steps:
 *   step < warmup:          base_lr * (step + 1) / warmup
 *   warmup <= step < total: final_lr + (base_lr - final_lr) / 2
 *                           * (1 + cos(pi * (step - warmup) / max(1, total - 1 - warmup)))
 *   step >= total:          final_lr
 * The warmup rises linearly to base_lr at step warmup - 1, and the cosine
 * falls from base_lr at step warmup to final_lr at step total - 1. When
 * warmup >= total the run ends inside the warmup, which keeps its slope and
 * never reaches base_lr. When warmup == total - 1 the last step uses base_lr. */
double ss_lr_at(uint64_t step, uint64_t total, uint64_t warmup, double base_lr, double final_lr);

#endif
