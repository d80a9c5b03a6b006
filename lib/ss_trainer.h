/* ss_trainer: one optimisation step of a network: forward, loss, backward,
 * a finiteness check, the learning-rate schedule and the optimiser update.
 * Shared by contrastive pretraining and supervised finetuning. */
#ifndef SS_TRAINER_H
#define SS_TRAINER_H

#include <stdint.h>

#include "ss_error.h"
#include "ss_loss.h"
#include "ss_net.h"
#include "ss_optim.h"

typedef enum { SS_LOSS_NTXENT, SS_LOSS_INFONCE, SS_LOSS_XENT } ss_loss_kind;

typedef struct {
    ss_net *net;
    ss_optim optim;
    ss_loss_kind loss;
    float temperature;       /* contrastive losses */
    double base_lr, final_lr;
    uint64_t warmup;         /* steps of linear warmup */
    uint64_t total;          /* schedule length in steps; 0 keeps base_lr after warmup */
    uint64_t step;           /* steps completed */

    /* Private. */
    float *work;
    size_t work_cap;
    const int64_t *labels;
    ss_loss_result result;
    ss_status loss_status;
    ss_error loss_err;
} ss_trainer;

/* Returns 0 and sets *kind for "ntxent", "infonce" or "xent"; -1 otherwise. */
int ss_loss_kind_from_name(const char *name, ss_loss_kind *kind);

/* Allocates the optimiser state unless the parameters already carry it
 * (a resumed run). */
ss_status ss_trainer_init(ss_trainer *t, ss_error *err);
void ss_trainer_free(ss_trainer *t);

/* One step on rows images. Contrastive losses take rows = 2N with the
 * first views in rows 0..N-1 and the second views in rows N..2N-1; xent
 * takes labels [rows]. On SS_ENONFINITE the weights are left unchanged
 * and the message names the step. *lr receives the learning rate used. */
ss_status ss_trainer_step(ss_trainer *t, const uint8_t *const *images, int rows, const int64_t *labels,
                          ss_loss_result *res, double *lr, ss_error *err);

#endif
