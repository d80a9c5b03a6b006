/* ss_metrics: classification metrics from (true class, predicted class,
 * scores) rows: a confusion matrix, accuracy, top-k accuracy, per-class
 * precision, recall and F1, and macro-F1, with text and heat-map renderings
 * of the confusion matrix.
 *
 * Definitions, for K classes and the confusion matrix C [K, K] whose row is
 * the true class and whose column is the predicted class:
 *   support(c)   = sum_j C[c, j]          predicted(c) = sum_i C[i, c]
 *   precision(c) = C[c, c] / predicted(c) recall(c)    = C[c, c] / support(c)
 *   F1(c)        = 2 C[c, c] / (support(c) + predicted(c)), which equals
 *                  2 P R / (P + R) whenever that is defined, and is 0 when
 *                  C[c, c] = 0.
 * A ratio with a zero denominator is undefined; it is reported as 0 and
 * flagged. Macro-F1 is the mean F1 over the classes whose F1 is defined,
 * that is the classes that occur as a true or a predicted class (the
 * convention of scikit-learn's f1_score with average="macro").
 *
 * Top-k is conservative about ties: a row is a hit when fewer than k other
 * classes score at least as high as the true class, so a true class tied at
 * the k-th place does not count. Because of that, top-1 accuracy can be lower
 * than accuracy when the predicted label is one of several tied scores.
 *
 * Left out: averages weighted by support, micro averages (micro-F1 equals
 * accuracy for single-label data), calibration and ranking metrics.
 * Ownership: ss_metrics owns its confusion matrix; ss_metrics_free()
 * releases it. */
#ifndef SS_METRICS_H
#define SS_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "ss_error.h"
#include "ss_png.h"

/* The largest K accepted, so that the K x K int64 matrix stays at 2 GiB. */
#define SS_METRICS_MAX_CLASSES 16384

typedef struct {
    int n_classes;        /* K */
    int top_k;            /* k of the top-k count; 0 when not counted */
    int64_t *confusion;   /* [K, K]: row = true class, column = predicted class */
    int64_t total;        /* rows added */
    int64_t top_k_hits;   /* rows whose true class is within the top k scores */
} ss_metrics;

/* Per-class figures for one class c. */
typedef struct {
    int64_t support;          /* rows whose true class is c */
    int64_t predicted;        /* rows predicted as c */
    int64_t true_positives;   /* C[c, c] */
    double precision, recall, f1;
    int precision_undefined;  /* nothing was predicted as c */
    int recall_undefined;     /* c never occurs as the true class */
    int f1_undefined;         /* both of the above */
} ss_class_metrics;

/* Sets up an empty accumulator for n_classes classes (1 to
 * SS_METRICS_MAX_CLASSES) counting top-k hits for top_k in 1..n_classes, or
 * none for top_k 0. Returns SS_EINVAL for other values, SS_ENOMEM. */
ss_status ss_metrics_init(ss_metrics *m, int n_classes, int top_k, ss_error *err);

void ss_metrics_free(ss_metrics *m);

/* Adds one row. target and predicted must be in 0..K-1. scores [K] are
 * logits or probabilities (any order-preserving score) and are read only
 * when top_k > 0, where they must be finite. Returns SS_OK, or SS_EDATA
 * with a message and nothing added. */
ss_status ss_metrics_add(ss_metrics *m, int64_t target, int64_t predicted, const float *scores, ss_error *err);

/* Returns 1 when fewer than k classes other than target have scores [K] at
 * least as high as scores[target], and 0 otherwise. */
int ss_metrics_top_k_hit(const float *scores, int n_classes, int64_t target, int k);

/* Returns the rows whose predicted class equals the true class. */
int64_t ss_metrics_correct(const ss_metrics *m);

/* Returns correct / total, or 0 when no rows were added. */
double ss_metrics_accuracy(const ss_metrics *m);

/* Returns top_k_hits / total, or 0 when no rows were added or top_k is 0. */
double ss_metrics_top_k_accuracy(const ss_metrics *m);

/* Fills *out with the figures of class c in 0..K-1. */
void ss_metrics_class(const ss_metrics *m, int c, ss_class_metrics *out);

/* Returns the macro-F1 and sets *n_averaged (may be NULL) to the number of
 * classes in the mean; 0 when no class has a defined F1. */
double ss_metrics_macro_f1(const ss_metrics *m, int *n_averaged);

/* Writes the confusion matrix as an aligned text table to fp: a header line
 * of predicted class indices, then one line per true class starting with its
 * index. name (may be NULL) is used in messages. Returns SS_EIO when
 * writing fails. */
ss_status ss_metrics_write_confusion(FILE *fp, const char *name, const ss_metrics *m, ss_error *err);

/* Renders the confusion matrix as an RGB heat map into *img, which the
 * caller frees with ss_image_free. The image has K x K cells of cell x cell
 * pixels (cell 1 to 64), separated and framed by one-pixel grey grid lines,
 * so each side is K (cell + 1) + 1 pixels. Rows are true classes from top to bottom and columns predicted
 * classes from left to right, both in label order. A cell's colour goes from
 * white (0) to dark blue (1) with the count divided by its row's support;
 * a row with no support is light grey. Returns SS_EINVAL for a bad cell or
 * a side over 32768 pixels, SS_ENOMEM. */
ss_status ss_metrics_confusion_image(const ss_metrics *m, int cell, ss_image *img, ss_error *err);

#endif
