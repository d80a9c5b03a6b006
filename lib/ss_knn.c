/* ss_knn: blocked cosine-similarity kNN with BLAS.
 *
 * Similarities are computed for blocks of queries against all reference
 * rows with one sgemm per block, so memory stays at block * Nr floats. */
#include "ss_knn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_BLOCK 256

static void normalise_rows(float *x, int64_t n, int d)
{
    for (int64_t i = 0; i < n; i++) {
        float *row = x + (size_t)i * (size_t)d;
        double s = 0;
        for (int j = 0; j < d; j++)
            s += (double)row[j] * (double)row[j];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int j = 0; j < d; j++)
            row[j] *= inv;
    }
}

ss_status ss_knn_classify(int64_t *pred, float *q, int64_t nq, float *ref, const int64_t *ref_labels, int64_t nr,
                          int d, int n_classes, int k, double temperature, ss_error *err)
{
    if (nr < 1 || d < 1 || n_classes < 1 || k < 1 || !(temperature > 0))
        return ss_error_set(err, SS_EINVAL, "kNN needs reference rows, d >= 1, classes >= 1, k >= 1, T > 0");
    if (k > nr)
        k = (int)nr;
    for (int64_t i = 0; i < nr; i++)
        if (ref_labels[i] < 0 || ref_labels[i] >= n_classes)
            return ss_error_set(err, SS_EDATA, "reference row %lld has label %lld outside 0..%d",
                                (long long)i, (long long)ref_labels[i], n_classes - 1);
    normalise_rows(q, nq, d);
    normalise_rows(ref, nr, d);
    float *sim = malloc((size_t)QUERY_BLOCK * (size_t)nr * sizeof *sim);
    float *best = malloc((size_t)k * sizeof *best);
    int64_t *best_i = malloc((size_t)k * sizeof *best_i);
    double *votes = malloc((size_t)n_classes * sizeof *votes);
    if (!sim || !best || !best_i || !votes) {
        free(sim);
        free(best);
        free(best_i);
        free(votes);
        return ss_error_set(err, SS_ENOMEM, "out of memory for kNN over %lld reference rows", (long long)nr);
    }
    for (int64_t q0 = 0; q0 < nq; q0 += QUERY_BLOCK) {
        int b = (int)(nq - q0 < QUERY_BLOCK ? nq - q0 : QUERY_BLOCK);
        /* sim [b, Nr] = q [b, D] . ref^T [D, Nr] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, (int)nr, d, 1.0f, q + (size_t)q0 * (size_t)d, d, ref,
                    d, 0.0f, sim, (int)nr);
        for (int i = 0; i < b; i++) {
            const float *row = sim + (size_t)i * (size_t)nr;
            /* Keep the k largest similarities, sorted in descending order. */
            int filled = 0;
            for (int64_t j = 0; j < nr; j++) {
                float s = row[j];
                if (filled == k && s <= best[k - 1])
                    continue;
                int pos = filled < k ? filled++ : k - 1;
                while (pos > 0 && best[pos - 1] < s) {
                    best[pos] = best[pos - 1];
                    best_i[pos] = best_i[pos - 1];
                    pos--;
                }
                best[pos] = s;
                best_i[pos] = j;
            }
            memset(votes, 0, (size_t)n_classes * sizeof *votes);
            for (int j = 0; j < filled; j++)
                votes[ref_labels[best_i[j]]] += exp((double)best[j] / temperature);
            int64_t arg = 0;
            for (int c = 1; c < n_classes; c++)
                if (votes[c] > votes[arg])
                    arg = c;
            pred[q0 + i] = arg;
        }
    }
    free(sim);
    free(best);
    free(best_i);
    free(votes);
    return SS_OK;
}
