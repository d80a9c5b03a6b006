/* ss_knn: k-nearest-neighbour classification of embeddings by cosine
 * similarity with temperature-weighted votes (Wu et al. 2018, the monitor
 * used in self-supervised learning papers): each of the k most similar
 * reference rows votes for its label with weight exp(s / T). */
#ifndef SS_KNN_H
#define SS_KNN_H

#include <stdint.h>

#include "ss_error.h"

/* Classifies query rows q [Nq, D] against reference rows ref [Nr, D] with
 * labels ref_labels [Nr] in 0..n_classes-1. pred [Nq] receives the
 * predicted labels. Rows are L2-normalised in place (both arrays). Returns
 * SS_OK, or SS_EINVAL/SS_ENOMEM with a message. */
ss_status ss_knn_classify(int64_t *pred, float *q, int64_t nq, float *ref, const int64_t *ref_labels, int64_t nr,
                          int d, int n_classes, int k, double temperature, ss_error *err);

#endif
