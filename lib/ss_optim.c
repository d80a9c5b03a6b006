/* ss_optim: SGD with momentum, AdamW and LARS updates, and the warmup plus
 * cosine learning-rate schedule.
 *
 * Updates follow the PyTorch conventions (torch.optim.SGD without dampening
 * or Nesterov, torch.optim.AdamW), so lr multiplies the momentum buffer
 * instead of being folded into it. Element arithmetic is in float like the
 * weights; per-tensor coefficients and the LARS norms are in double. The
 * kernels take restrict pointers and contain no calls or branches, so the
 * compiler may vectorise them.
 *
 * Left out: Nesterov momentum, dampening, AMSGrad, gradient clipping, and
 * any check for non-finite values, which belongs to the training loop. */
#include "ss_optim.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SS_PI 3.14159265358979323846

void ss_optim_defaults(ss_optim *o, ss_optim_kind kind)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->momentum = 0.9;
    o->weight_decay = 0.0;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->trust = 0.001;
    o->step = 0;
}

static const char *const kind_names[] = {
    [SS_OPTIM_SGD] = "sgd",
    [SS_OPTIM_ADAMW] = "adamw",
    [SS_OPTIM_LARS] = "lars",
};

#define N_KINDS (sizeof kind_names / sizeof kind_names[0])

int ss_optim_kind_from_name(const char *name, ss_optim_kind *kind)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < N_KINDS; i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (ss_optim_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *ss_optim_kind_name(ss_optim_kind kind)
{
    if ((unsigned)kind >= N_KINDS)
        return "unknown";
    return kind_names[kind];
}

/* Returns SS_OK when lo <= x < hi (or x <= hi when hi_inclusive), else
 * SS_EINVAL with a message naming the field. NaN fails every comparison. */
static ss_status check_range(const char *field, double x, double lo, double hi,
                             int hi_inclusive, ss_error *err)
{
    int ok = x >= lo && (hi_inclusive ? x <= hi : x < hi);
    if (ok)
        return SS_OK;
    return ss_error_set(err, SS_EINVAL, "invalid optimiser %s %g (expected %g <= %s %s %g)",
                        field, x, lo, field, hi_inclusive ? "<=" : "<", hi);
}

/* Checks the hyperparameters that o->kind uses. */
static ss_status check_hyperparameters(const ss_optim *o, ss_error *err)
{
    ss_status st = check_range("weight_decay", o->weight_decay, 0.0, HUGE_VAL, 0, err);
    if (st == SS_OK && o->kind != SS_OPTIM_ADAMW)
        st = check_range("momentum", o->momentum, 0.0, 1.0, 0, err);
    if (st == SS_OK && o->kind == SS_OPTIM_ADAMW)
        st = check_range("beta1", o->beta1, 0.0, 1.0, 0, err);
    if (st == SS_OK && o->kind == SS_OPTIM_ADAMW)
        st = check_range("beta2", o->beta2, 0.0, 1.0, 0, err);
    /* eps = 0 divides zero by zero on a parameter whose gradient stays 0. */
    if (st == SS_OK && o->kind == SS_OPTIM_ADAMW)
        st = check_range("eps", o->eps, DBL_MIN, 1.0, 1, err);
    /* eta = 0 would stop every tensor that takes the trust ratio. */
    if (st == SS_OK && o->kind == SS_OPTIM_LARS)
        st = check_range("trust", o->trust, DBL_MIN, HUGE_VAL, 0, err);
    return st;
}

/* Checks one parameter's arrays and lr_scale before state is allocated. */
static ss_status check_param(const ss_param *p, int i, ss_error *err)
{
    const char *name = p->name ? p->name : "(unnamed)";
    if (p->n > 0 && (!p->w || !p->g))
        return ss_error_set(err, SS_EINVAL,
                            "parameter %d (%s) has %zu elements but a NULL weight or gradient "
                            "array; set w and g before ss_optim_init",
                            i, name, p->n);
    if (!(isfinite(p->lr_scale) && p->lr_scale >= 0.0f))
        return ss_error_set(err, SS_EINVAL,
                            "parameter %d (%s) has lr_scale %g; expected a finite value >= 0 "
                            "(1 for the plain learning rate)",
                            i, name, (double)p->lr_scale);
    return SS_OK;
}

ss_status ss_optim_init(ss_optim *o, ss_param *params, int n_params, ss_error *err)
{
    if ((unsigned)o->kind >= N_KINDS)
        return ss_error_set(err, SS_EINVAL, "unknown optimiser kind %d (expected sgd, adamw or lars)",
                            (int)o->kind);
    if (n_params < 0 || (n_params > 0 && !params))
        return ss_error_set(err, SS_EINVAL, "invalid parameter list (%d parameters, array %s)",
                            n_params, params ? "set" : "NULL");
    ss_status st = check_hyperparameters(o, err);
    for (int i = 0; st == SS_OK && i < n_params; i++)
        st = check_param(&params[i], i, err);
    if (st != SS_OK)
        return st;

    for (int i = 0; i < n_params; i++) {
        ss_param *p = &params[i];
        /* calloc(0, ...) may return NULL, which must not read as a failure. */
        size_t n = p->n > 0 ? p->n : 1;
        p->m = calloc(n, sizeof *p->m);
        p->v = o->kind == SS_OPTIM_ADAMW ? calloc(n, sizeof *p->v) : NULL;
        if (!p->m || (o->kind == SS_OPTIM_ADAMW && !p->v)) {
            ss_optim_free(params, i + 1);
            return ss_error_set(err, SS_ENOMEM,
                                "out of memory allocating optimiser state for parameter %s "
                                "(%zu elements); use a smaller model",
                                p->name ? p->name : "(unnamed)", p->n);
        }
    }
    return SS_OK;
}

void ss_optim_free(ss_param *params, int n_params)
{
    if (!params)
        return;
    for (int i = 0; i < n_params; i++) {
        free(params[i].m);
        free(params[i].v);
        params[i].m = NULL;
        params[i].v = NULL;
    }
}

/* Momentum step shared by SGD (scale 1) and LARS (scale = trust ratio):
 *   v = momentum * v + scale * (g + wd * w);  w -= lr * v
 * w, g, m: [n]. */
static void momentum_update(float *restrict w, const float *restrict g, float *restrict m,
                            size_t n, float momentum, float scale, float wd, float lr)
{
    for (size_t i = 0; i < n; i++) {
        float u = g[i] + wd * w[i];
        m[i] = momentum * m[i] + scale * u;
        w[i] -= lr * m[i];
    }
}

/* AdamW step for one tensor with the bias corrections already folded in:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   w = decay * w - step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps)
 * where decay = 1 - lr wd, step_size = lr / (1 - b1^t) and
 * inv_sqrt_bc2 = 1 / sqrt(1 - b2^t). w, g, m, v: [n].
 * NOTE: GCC 12 vectorises this loop only under -fno-math-errno, because
 * sqrtf keeps a call that sets errno for negative input. */
static void adamw_update(float *restrict w, const float *restrict g, float *restrict m,
                         float *restrict v, size_t n, float b1, float b2, float eps,
                         float decay, float step_size, float inv_sqrt_bc2)
{
    float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + c1 * g[i];
        v[i] = b2 * v[i] + c2 * g[i] * g[i];
        float denom = sqrtf(v[i]) * inv_sqrt_bc2 + eps;
        w[i] = decay * w[i] - step_size * m[i] / denom;
    }
}

/* Returns the squared norms of w and of u = g + wd * w, summed in double.
 * Four partial sums keep the order fixed while letting the compiler pair
 * lanes. w, g: [n]. */
static void lars_norms(const float *restrict w, const float *restrict g, size_t n, float wd,
                       double *w_sq, double *u_sq)
{
    double ws[4] = {0.0, 0.0, 0.0, 0.0}, us[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (size_t k = 0; k < 4; k++) {
            double wk = (double)w[i + k];
            double uk = (double)(g[i + k] + wd * w[i + k]);
            ws[k] += wk * wk;
            us[k] += uk * uk;
        }
    }
    for (size_t k = 0; i < n; i++, k++) {
        double wk = (double)w[i];
        double uk = (double)(g[i] + wd * w[i]);
        ws[k] += wk * wk;
        us[k] += uk * uk;
    }
    *w_sq = (ws[0] + ws[1]) + (ws[2] + ws[3]);
    *u_sq = (us[0] + us[1]) + (us[2] + us[3]);
}

/* Returns the LARS trust ratio eta * |w| / |g + wd w| of one tensor, or 1
 * when either norm is 0 so that a zero-initialised tensor still moves. */
static double lars_trust_ratio(const ss_param *p, double eta, float wd)
{
    double w_sq, u_sq;
    lars_norms(p->w, p->g, p->n, wd, &w_sq, &u_sq);
    if (w_sq == 0.0 || u_sq == 0.0)
        return 1.0;
    return eta * sqrt(w_sq) / sqrt(u_sq);
}

void ss_optim_step(ss_optim *o, ss_param *params, int n_params, double lr)
{
    o->step++;
    /* Adam's bias corrections use the count including this step, so the
     * first update has t = 1 and mhat = g. */
    double t = (double)o->step;
    double bc1 = 1.0 - pow(o->beta1, t);
    double bc2 = 1.0 - pow(o->beta2, t);

    for (int i = 0; i < n_params; i++) {
        ss_param *p = &params[i];
        if (p->frozen || p->n == 0)
            continue;
        double plr = lr * (double)p->lr_scale;
        double wd = p->no_decay ? 0.0 : o->weight_decay;

        switch (o->kind) {
        case SS_OPTIM_SGD:
            momentum_update(p->w, p->g, p->m, p->n, (float)o->momentum, 1.0f, (float)wd,
                            (float)plr);
            break;
        case SS_OPTIM_ADAMW:
            adamw_update(p->w, p->g, p->m, p->v, p->n, (float)o->beta1, (float)o->beta2,
                         (float)o->eps, (float)(1.0 - plr * wd), (float)(plr / bc1),
                         (float)(1.0 / sqrt(bc2)));
            break;
        case SS_OPTIM_LARS: {
            /* No-decay tensors take plain momentum SGD without the trust ratio. */
            double ratio = p->no_decay ? 1.0 : lars_trust_ratio(p, o->trust, (float)wd);
            momentum_update(p->w, p->g, p->m, p->n, (float)o->momentum, (float)ratio,
                            (float)wd, (float)plr);
            break;
        }
        }
    }
}

/* Warmup: base_lr * (step + 1) / warmup, which depends on step and warmup
 * only, so a run shorter than its warmup (warmup >= total) repeats the first
 * steps of a longer run and ends below base_lr. Cosine: from base_lr at step
 * warmup to final_lr at step total - 1. When that phase is one step long
 * (warmup == total - 1) its step uses base_lr, so a one-step run trains. */
double ss_lr_at(uint64_t step, uint64_t total, uint64_t warmup, double base_lr, double final_lr)
{
    if (step >= total)
        return final_lr;
    if (step < warmup)
        return base_lr * ((double)(step + 1) / (double)warmup);
    uint64_t span = total - 1 - warmup;
    if (span == 0)
        return base_lr;
    double x = (double)(step - warmup) / (double)span;
    return final_lr + 0.5 * (base_lr - final_lr) * (1.0 + cos(SS_PI * x));
}
