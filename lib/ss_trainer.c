/* ss_trainer: the optimisation step shared by the training tools. */
#include "ss_trainer.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int ss_loss_kind_from_name(const char *name, ss_loss_kind *kind)
{
    if (strcmp(name, "ntxent") == 0)
        *kind = SS_LOSS_NTXENT;
    else if (strcmp(name, "infonce") == 0)
        *kind = SS_LOSS_INFONCE;
    else if (strcmp(name, "xent") == 0)
        *kind = SS_LOSS_XENT;
    else
        return -1;
    return 0;
}

ss_status ss_trainer_init(ss_trainer *t, ss_error *err)
{
    t->work = NULL;
    t->work_cap = 0;
    if (t->net->n_params > 0 && t->net->params[0].m)
        return SS_OK;
    return ss_optim_init(&t->optim, t->net->params, t->net->n_params, err);
}

void ss_trainer_free(ss_trainer *t)
{
    free(t->work);
    t->work = NULL;
}

/* The loss callback run on thread 0 between the forward and backward passes. */
static int trainer_loss(void *arg, float *dz, const float *z, int rows, int d)
{
    ss_trainer *t = arg;
    if (t->loss == SS_LOSS_XENT) {
        t->loss_status = ss_softmax_xent(dz, &t->result, z, t->labels, rows, d, &t->loss_err);
    } else {
        int n = rows / 2;
        size_t need = t->loss == SS_LOSS_NTXENT ? ss_ntxent_work_size(n, d) : ss_infonce_work_size(n, d);
        if (need > t->work_cap) {
            free(t->work);
            t->work = malloc(need * sizeof *t->work);
            t->work_cap = t->work ? need : 0;
            if (!t->work) {
                t->loss_status = ss_error_set(&t->loss_err, SS_ENOMEM, "out of memory for the loss");
                return -1;
            }
        }
        if (t->loss == SS_LOSS_NTXENT)
            t->loss_status = ss_ntxent(dz, &t->result, z, n, d, t->temperature, t->work, &t->loss_err);
        else
            t->loss_status = ss_infonce(dz, &t->result, z, n, d, t->temperature, t->work, &t->loss_err);
    }
    if (t->loss_status != SS_OK)
        return -1;
    if (!isfinite(t->result.loss)) {
        t->loss_status = ss_error_set(&t->loss_err, SS_ENONFINITE, "the loss is %g", t->result.loss);
        return -1;
    }
    return 0;
}

ss_status ss_trainer_step(ss_trainer *t, const uint8_t *const *images, int rows, const int64_t *labels,
                          ss_loss_result *res, double *lr, ss_error *err)
{
    if (t->loss != SS_LOSS_XENT && (rows < 4 || rows % 2 != 0))
        return ss_error_set(err, SS_EINVAL, "a contrastive batch needs two views of at least two images, got %d rows",
                            rows);
    t->labels = labels;
    t->loss_status = SS_OK;
    if (ss_net_train_step(t->net, images, rows, trainer_loss, t) != 0) {
        *err = t->loss_err;
        ss_error_prefix(err, "step %" PRIu64, t->step + 1);
        return t->loss_status != SS_OK ? t->loss_status : SS_ENOMEM;
    }
    if (!ss_net_grads_finite(t->net))
        return ss_error_set(err, SS_ENONFINITE, "step %" PRIu64 ": a gradient is not finite (loss %g); "
                            "lower the learning rate or raise the temperature", t->step + 1, t->result.loss);
    double rate = ss_lr_at(t->step, t->total ? t->total : UINT64_MAX, t->warmup, t->base_lr,
                           t->total ? t->final_lr : t->base_lr);
    ss_optim_step(&t->optim, t->net->params, t->net->n_params, rate);
    t->step++;
    if (res)
        *res = t->result;
    if (lr)
        *lr = rate;
    return SS_OK;
}
