/* ss_loss: NT-Xent, InfoNCE and softmax cross-entropy, each returning the
 * mean loss, its gradient, the top-1 accuracy and the chance-level loss.
 *
 * Score matrices and their gradient products go through cblas_sgemm in
 * float. Each row's log-sum-exp runs in double after subtracting the row
 * maximum, so temperatures down to 0.01 and below stay finite. Left out:
 * label smoothing, per-sample weights, learned temperatures, and any check
 * that the inputs are finite (a NaN input gives a NaN loss and SS_OK).
 *
 * Accuracy counts an anchor as correct only when its positive (or label)
 * scores strictly higher than every other candidate. Ties count as misses,
 * so constant scores give accuracy 0 whatever the row order.
 *
 * The gradient outputs (dz, dlogits) must not overlap the inputs or work,
 * except that ss_softmax_rows() may write probs over logits. */

#include "ss_loss.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>

/* Floor on the L2 norm in NT-Xent, the default eps of PyTorch's
 * torch.nn.functional.normalize, which divides by max(|z|, eps). A row
 * with |z| <= 1e-12 is divided by 1e-12, and its gradient is dzhat / 1e-12,
 * which is huge but finite in float. */
#define NORM_EPS 1e-12

/* Turns one row of scores [M] into its cross-entropy term: candidates are
 * every j except skip (pass -1 to keep all), the target is the correct one,
 * and the logits are scores[j] * inv_t. Writes (softmax - onehot) * scale
 * into grad [M], with grad[skip] = 0, unless grad is NULL. grad may be the
 * same array as scores. Sets *hit to 1 when the target strictly beats every
 * other candidate. Returns the row's loss. */
static double xent_row(float *grad, const float *scores, int m, int skip, int target, double inv_t,
                       double scale, int *hit)
{
    float top = -INFINITY;
    float top_other = -INFINITY;
    for (int j = 0; j < m; j++) {
        if (j == skip)
            continue;
        if (scores[j] > top)
            top = scores[j];
        if (j != target && scores[j] > top_other)
            top_other = scores[j];
    }
    float target_score = scores[target];
    *hit = target_score > top_other;

    /* The sum over the other candidates is kept apart so that the target's
     * gradient, p - 1 = -others / (target + others), loses no digits when
     * p is close to 1. */
    double others = 0.0;
    double target_exp = exp(((double)target_score - (double)top) * inv_t);
    for (int j = 0; j < m; j++) {
        if (j == skip || j == target)
            continue;
        double e = exp(((double)scores[j] - (double)top) * inv_t);
        others += e;
        if (grad)
            grad[j] = (float)e;
    }
    double sum = target_exp + others;

    if (grad) {
        double factor = scale / sum;
        for (int j = 0; j < m; j++) {
            if (j != skip && j != target)
                grad[j] = (float)((double)grad[j] * factor);
        }
        grad[target] = (float)(-others * factor);
        if (skip >= 0)
            grad[skip] = 0.0f;
    }
    return log(sum) - ((double)target_score - (double)top) * inv_t;
}

static ss_status check_contrastive_args(const char *loss, int n, int d, float temperature, ss_error *err)
{
    if (n < 2)
        return ss_error_set(err, SS_EINVAL,
                            "%s: batch size %d is too small: a contrastive batch needs at least 2 images",
                            loss, n);
    if (n > INT_MAX / 2)
        return ss_error_set(err, SS_EINVAL, "%s: batch size %d is too large: 2N must fit in an int",
                            loss, n);
    if (d < 1)
        return ss_error_set(err, SS_EINVAL, "%s: embedding width %d is invalid: it must be at least 1",
                            loss, d);
    if (!isfinite(temperature) || !(temperature > 0.0f))
        return ss_error_set(err, SS_EINVAL,
                            "%s: temperature %g is invalid: it must be a finite number greater than 0",
                            loss, (double)temperature);
    return SS_OK;
}

static double row_norm(const float *row, int d)
{
    double sq = 0.0;
    for (int c = 0; c < d; c++)
        sq += (double)row[c] * (double)row[c];
    return sqrt(sq);
}

/* Writes zhat [M, D] = z / max(|z|, NORM_EPS), row by row. */
static void normalize_rows(float *zhat, const float *z, int m, int d)
{
    for (int i = 0; i < m; i++) {
        const float *zi = z + (size_t)i * d;
        double r = fmax(row_norm(zi, d), NORM_EPS);
        for (int c = 0; c < d; c++)
            zhat[(size_t)i * d + c] = (float)((double)zi[c] / r);
    }
}

/* Turns dz [M, D], holding dL/dzhat on entry, into dL/dz through
 * zhat = z / max(|z|, eps): (dzhat - zhat (zhat . dzhat)) / |z| for a row
 * above the floor, dzhat / eps for a row at or below it (where the map is
 * linear), as autograd gives for F.normalize. */
static void backprop_normalize(float *dz, const float *zhat, const float *z, int m, int d)
{
    for (int i = 0; i < m; i++) {
        float *g = dz + (size_t)i * d;
        const float *u = zhat + (size_t)i * d;
        double r = row_norm(z + (size_t)i * d, d);
        if (r <= NORM_EPS) {
            for (int c = 0; c < d; c++)
                g[c] = (float)((double)g[c] / NORM_EPS);
            continue;
        }
        double radial = 0.0;
        for (int c = 0; c < d; c++)
            radial += (double)u[c] * (double)g[c];
        for (int c = 0; c < d; c++)
            g[c] = (float)(((double)g[c] - (double)u[c] * radial) / r);
    }
}

size_t ss_ntxent_work_size(int n, int d)
{
    if (n < 0 || d < 0)
        return 0;
    size_t m = 2 * (size_t)n;
    return m * (size_t)d + m * m;
}

/* Work layout: zhat [M, D], then s [M, M], which each row in turn
 * overwrites with G = dL/ds. */
ss_status ss_ntxent(float *dz, ss_loss_result *out, const float *z, int n, int d, float temperature,
                    float *work, ss_error *err)
{
    ss_status st = check_contrastive_args("NT-Xent", n, d, temperature, err);
    if (st != SS_OK)
        return st;
    int m = 2 * n;
    float *zhat = work;
    float *s = work + (size_t)m * d;

    /* Cosine similarities s = zhat zhat^T. */
    normalize_rows(zhat, z, m, d);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0f, zhat, d, zhat, d, 0.0f, s, m);

    /* Per-anchor loss, and G_ij = dL/ds_ij with s_ij and s_ji taken as
     * separate variables. */
    double inv_t = 1.0 / (double)temperature;
    double scale = inv_t / m;
    double loss = 0.0;
    int hits = 0;
    for (int i = 0; i < m; i++) {
        int hit;
        float *row = s + (size_t)i * m;
        loss += xent_row(row, row, m, i, (i + n) % m, inv_t, scale, &hit);
        hits += hit;
    }

    /* s_ij and s_ji are one dot product, so dzhat_i gathers both G_ij and
     * G_ji: dzhat = G zhat + G^T zhat. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, m, 1.0f, s, m, zhat, d, 0.0f, dz, d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, d, m, 1.0f, s, m, zhat, d, 1.0f, dz, d);
    backprop_normalize(dz, zhat, z, m, d);

    out->loss = loss / m;
    out->accuracy = (double)hits / m;
    out->chance_loss = log((double)(m - 1));
    return SS_OK;
}

size_t ss_infonce_work_size(int n, int d)
{
    if (n < 0)
        return 0;
    return (size_t)n * (size_t)n;
}

/* Work layout: s [N, N] = u v^T, which each row in turn overwrites with
 * G = dL/d(u.v). */
ss_status ss_infonce(float *dz, ss_loss_result *out, const float *z, int n, int d, float temperature,
                     float *work, ss_error *err)
{
    ss_status st = check_contrastive_args("InfoNCE", n, d, temperature, err);
    if (st != SS_OK)
        return st;
    const float *u = z;
    const float *v = z + (size_t)n * d;
    float *s = work;

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, d, 1.0f, u, d, v, d, 0.0f, s, n);

    double inv_t = 1.0 / (double)temperature;
    double scale = inv_t / n;
    double loss = 0.0;
    int hits = 0;
    for (int i = 0; i < n; i++) {
        int hit;
        float *row = s + (size_t)i * n;
        loss += xent_row(row, row, n, -1, i, inv_t, scale, &hit);
        hits += hit;
    }

    /* du = G v and dv = G^T u. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, n, 1.0f, s, n, v, d, 0.0f, dz, d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, d, n, 1.0f, s, n, u, d, 0.0f,
                dz + (size_t)n * d, d);

    out->loss = loss / n;
    out->accuracy = (double)hits / n;
    out->chance_loss = log((double)n);
    return SS_OK;
}

ss_status ss_softmax_xent(float *dlogits, ss_loss_result *out, const float *logits, const int64_t *labels,
                          int n, int k, ss_error *err)
{
    if (n < 1 || k < 1)
        return ss_error_set(err, SS_EINVAL,
                            "softmax cross-entropy: shape [%d, %d] is invalid: it needs at least 1 row and 1 class",
                            n, k);
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k)
            return ss_error_set(err, SS_EDATA,
                                "softmax cross-entropy: row %d: label %lld is out of range: it must be in 0..%d",
                                i, (long long)labels[i], k - 1);
    }

    double loss = 0.0;
    int hits = 0;
    for (int i = 0; i < n; i++) {
        int hit;
        float *grad = dlogits ? dlogits + (size_t)i * k : NULL;
        loss += xent_row(grad, logits + (size_t)i * k, k, -1, (int)labels[i], 1.0, 1.0 / n, &hit);
        hits += hit;
    }

    out->loss = loss / n;
    out->accuracy = (double)hits / n;
    out->chance_loss = log((double)k);
    return SS_OK;
}

void ss_softmax_rows(float *probs, const float *logits, int n, int k)
{
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * k;
        float *p = probs + (size_t)i * k;
        float top = -INFINITY;
        for (int j = 0; j < k; j++) {
            if (x[j] > top)
                top = x[j];
        }
        double sum = 0.0;
        for (int j = 0; j < k; j++) {
            double e = exp((double)x[j] - (double)top);
            sum += e;
            p[j] = (float)e;
        }
        for (int j = 0; j < k; j++)
            p[j] = (float)((double)p[j] / sum);
    }
}
