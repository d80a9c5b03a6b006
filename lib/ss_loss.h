/* ss_loss: the training losses, each computing its value and its gradient
 * in one call.
 *
 * Shapes use N for the number of images in a batch, D for the embedding
 * width and K for the number of classes. Contrastive losses take the 2N
 * embeddings of a batch as rows of z [2N, D]: rows 0..N-1 are the first
 * view of images 0..N-1 and rows N..2N-1 the second view, so rows i and
 * i + N form a positive pair. Every loss is the mean over its anchors, and
 * every gradient is that of the mean. Sums are carried in double precision
 * and exponentials through log-sum-exp, so small temperatures stay finite. */
#ifndef SS_LOSS_H
#define SS_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "ss_error.h"

typedef struct {
    double loss;        /* mean loss over the anchors */
    double accuracy;    /* fraction of anchors whose top-scoring candidate is the positive (or the label) */
    double chance_loss; /* the loss of uninformative scores: ln(candidates) */
} ss_loss_result;

/* NT-Xent (SimCLR, Chen et al. 2020): cosine similarities s_ij = z_i.z_j /
 * (|z_i| |z_j|), anchors all 2N rows, for anchor i the positive is its
 * pair and the other 2N - 2 rows are negatives, loss_i = -log(exp(s_ip / T)
 * / sum_{j != i} exp(s_ij / T)). dz [2N, D] receives d(mean loss)/dz.
 * Rejects n < 2 (a batch needs two images) and temperature <= 0 with
 * SS_EINVAL. work must hold ss_ntxent_work_size(n, d) floats. */
ss_status ss_ntxent(float *dz, ss_loss_result *out, const float *z, int n, int d, float temperature,
                    float *work, ss_error *err);
size_t ss_ntxent_work_size(int n, int d);

/* Plain InfoNCE between the two view sets: scores s_ij = u_i.v_j / T with
 * u = rows 0..N-1 and v = rows N..2N-1 of z, anchors u_i, positive v_i and
 * the other N - 1 rows of v as negatives, loss_i = -log softmax_j(s_i)[i].
 * No normalisation. Same arguments and rules as ss_ntxent(). */
ss_status ss_infonce(float *dz, ss_loss_result *out, const float *z, int n, int d, float temperature,
                     float *work, ss_error *err);
size_t ss_infonce_work_size(int n, int d);

/* Softmax cross-entropy: logits [N, K], labels [N] in 0..K-1, loss the mean
 * of -log softmax(logits_i)[label_i]; dlogits [N, K] receives its gradient
 * (may be NULL). A label outside 0..K-1 is SS_EDATA naming the row. */
ss_status ss_softmax_xent(float *dlogits, ss_loss_result *out, const float *logits, const int64_t *labels,
                          int n, int k, ss_error *err);

/* Softmax of each row of logits [N, K] into probs [N, K]; rows sum to 1. */
void ss_softmax_rows(float *probs, const float *logits, int n, int k);

#endif
