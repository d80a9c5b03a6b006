/* ss_linmodel: a multinomial linear classifier on feature vectors (the
 * model that selfsup-probe trains) and its checkpoint format.
 *
 * logits = W ((x - mean) / std) + b for x [D], W [K, D], b [K]. With
 * standardisation off, mean is 0 and std is 1.
 *
 * Checkpoint: a TSF stream of kind "checkpoint" whose config.arch is
 * {"type": "linear", "input_dim": D, "classes": K, "standardize": bool};
 * metadata "classes" holds the class names when known. Records `name`/
 * `value` as in network checkpoints: "weight" [K, D], "bias" [K],
 * "mean" [D], "std" [D]. */
#ifndef SS_LINMODEL_H
#define SS_LINMODEL_H

#include <stdint.h>

#include "ss_error.h"
#include "ss_json.h"

typedef struct {
    int d, k;
    int standardize;
    float *weight;   /* [K, D] */
    float *bias;     /* [K] */
    float *mean;     /* [D] */
    float *std;      /* [D], all > 0 */
    ss_json *classes;/* array of names, or NULL */
} ss_linmodel;

/* Allocates a zeroed model with mean 0 and std 1. */
ss_status ss_linmodel_init(ss_linmodel *m, int d, int k, ss_error *err);
void ss_linmodel_free(ss_linmodel *m);

/* Computes logits [N, K] for features x [N, D]. scratch has room for
 * N * D floats. */
void ss_linmodel_logits(const ss_linmodel *m, const float *x, int64_t n, float *logits, float *scratch);

/* Writes the model to path atomically; extra is merged into the metadata. */
ss_status ss_linmodel_save(const ss_linmodel *m, const char *path, const ss_json *extra, ss_error *err);

/* Reads a linear checkpoint. *meta (if not NULL) receives the metadata. */
ss_status ss_linmodel_load(ss_linmodel *m, const char *path, ss_json **meta, ss_error *err);

/* Returns 1 when the metadata describes a linear model (config.arch.type
 * is "linear"). */
int ss_linmodel_is_linear(const ss_json *meta);

#endif
