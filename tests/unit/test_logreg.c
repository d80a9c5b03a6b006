/* Tests of ss_logreg: the gradient against finite differences, the solution
 * against Newton's method in double, accuracy on separable data, the
 * stopping flags, feature statistics and cross-validation. Data come from
 * ss_rng with fixed seeds. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ss_logreg.h"
#include "ss_rng.h"

/* Gaussian blobs: class c has mean `sep` along feature c % D, plus unit
 * noise on every feature. x [N, D], y [N]. */
static void make_blobs(float *x, int32_t *y, int64_t n, int d, int k, double sep, uint64_t seed)
{
    ss_rng r;
    ss_rng_init(&r, seed, SS_RNG_SAMPLE, 0);
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % k);
        y[i] = c;
        for (int j = 0; j < d; j++)
            x[i * d + j] = (float)(ss_rng_normal(&r) + (j == c % d ? sep : 0.0));
    }
}

static void test_gradient_matches_finite_differences(void)
{
    enum { N = 60, D = 5, K = 4, P = K * D + K };
    float x[N * D];
    int32_t y[N];
    make_blobs(x, y, N, D, K, 1.0, 1);
    double theta[P], grad[P], g2[P], loss;
    ss_rng r;
    ss_rng_init(&r, 2, SS_RNG_INIT, 0);
    for (int j = 0; j < P; j++)
        theta[j] = 0.5 * ss_rng_normal(&r);
    ss_error err;
    CHECK(ss_logreg_objective(&loss, grad, theta, x, y, N, D, K, 0.3, &err) == SS_OK);
    const double h = 1e-3;
    double worst = 0;
    for (int j = 0; j < P; j++) {
        double fp, fm, saved = theta[j];
        theta[j] = saved + h;
        CHECK(ss_logreg_objective(&fp, g2, theta, x, y, N, D, K, 0.3, &err) == SS_OK);
        theta[j] = saved - h;
        CHECK(ss_logreg_objective(&fm, g2, theta, x, y, N, D, K, 0.3, &err) == SS_OK);
        theta[j] = saved;
        double numeric = (fp - fm) / (2 * h);
        double e = fabs(numeric - grad[j]) / (1e-4 + fabs(numeric));
        worst = e > worst ? e : worst;
    }
    CHECK_MSG(worst < 1e-3, "worst relative gradient error %g", worst);
}

static void test_objective_at_zero_is_log_k(void)
{
    enum { N = 20, D = 3, K = 5, P = K * D + K };
    float x[N * D];
    int32_t y[N];
    make_blobs(x, y, N, D, K, 2.0, 3);
    double theta[P] = {0}, grad[P], loss;
    ss_error err;
    CHECK(ss_logreg_objective(&loss, grad, theta, x, y, N, D, K, 1.0, &err) == SS_OK);
    CHECK_MSG(fabs(loss - log(5.0)) < 1e-6, "loss %.9f, expected ln 5", loss);
}

/* ---- Newton's method in double, the independent reference ---------------- */

/* f, gradient and Hessian in the solver's layout theta = [W (K*D), b (K)]. */
static double newton_terms(double *grad, double *hess, const double *theta, const float *x, const int32_t *y, int n,
                           int d, int k, double lambda)
{
    const int p = k * d + k;
    memset(grad, 0, (size_t)p * sizeof *grad);
    memset(hess, 0, (size_t)p * (size_t)p * sizeof *hess);
    double f = 0, prob[8], xt[8];
    for (int i = 0; i < n; i++) {
        double z[8], zmax = -HUGE_VAL, sum = 0;
        for (int c = 0; c < k; c++) {
            z[c] = theta[k * d + c];
            for (int j = 0; j < d; j++)
                z[c] += theta[c * d + j] * (double)x[i * d + j];
            zmax = fmax(zmax, z[c]);
        }
        for (int c = 0; c < k; c++)
            sum += exp(z[c] - zmax);
        f += log(sum) + zmax - z[y[i]];
        for (int c = 0; c < k; c++)
            prob[c] = exp(z[c] - zmax) / sum;
        /* Parameter index of (class c, input j), with input d the bias. */
        for (int j = 0; j < d; j++)
            xt[j] = (double)x[i * d + j];
        xt[d] = 1;
        for (int c = 0; c < k; c++)
            for (int j = 0; j <= d; j++) {
                int a = j < d ? c * d + j : k * d + c;
                grad[a] += (prob[c] - (c == y[i])) * xt[j] / n;
                for (int c2 = 0; c2 < k; c2++)
                    for (int j2 = 0; j2 <= d; j2++) {
                        int b = j2 < d ? c2 * d + j2 : k * d + c2;
                        hess[a * p + b] += prob[c] * ((c == c2) - prob[c2]) * xt[j] * xt[j2] / n;
                    }
            }
    }
    f /= n;
    for (int j = 0; j < k * d; j++) {
        f += 0.5 * lambda * theta[j] * theta[j];
        grad[j] += lambda * theta[j];
        hess[j * p + j] += lambda;
    }
    /* The biases are unpenalised, so H is singular along b + t (1, ..., 1).
     * A tiny ridge makes the solve well posed without moving the optimum. */
    for (int c = 0; c < k; c++)
        hess[(k * d + c) * p + k * d + c] += 1e-12;
    return f;
}

/* Solves a [P, P] s = rhs [P] by Gaussian elimination with partial pivoting. */
static void solve_dense(double *a, double *rhs, int p)
{
    for (int col = 0; col < p; col++) {
        int piv = col;
        for (int r = col + 1; r < p; r++)
            if (fabs(a[r * p + col]) > fabs(a[piv * p + col]))
                piv = r;
        for (int j = 0; j < p; j++) {
            double t = a[col * p + j];
            a[col * p + j] = a[piv * p + j];
            a[piv * p + j] = t;
        }
        double t = rhs[col];
        rhs[col] = rhs[piv];
        rhs[piv] = t;
        for (int r = col + 1; r < p; r++) {
            double m = a[r * p + col] / a[col * p + col];
            for (int j = col; j < p; j++)
                a[r * p + j] -= m * a[col * p + j];
            rhs[r] -= m * rhs[col];
        }
    }
    for (int r = p - 1; r >= 0; r--) {
        for (int j = r + 1; j < p; j++)
            rhs[r] -= a[r * p + j] * rhs[j];
        rhs[r] /= a[r * p + r];
    }
}

static void test_solution_matches_newton(void)
{
    enum { N = 80, D = 3, K = 3, P = K * D + K };
    const double lambda = 0.02;
    float x[N * D];
    int32_t y[N];
    make_blobs(x, y, N, D, K, 1.0, 4);
    double theta[P] = {0}, grad[P], hess[P * P], f = 0;
    for (int it = 0; it < 40; it++) {
        f = newton_terms(grad, hess, theta, x, y, N, D, K, lambda);
        for (int j = 0; j < P; j++)
            grad[j] = -grad[j];
        solve_dense(hess, grad, P);
        for (int j = 0; j < P; j++)
            theta[j] += grad[j];
    }
    f = newton_terms(grad, hess, theta, x, y, N, D, K, lambda);
    double gmax = 0;
    for (int j = 0; j < P; j++)
        gmax = fmax(gmax, fabs(grad[j]));
    CHECK_MSG(gmax < 1e-12, "Newton did not converge: max |g| %g", gmax);

    float w[K * D] = {0}, b[K] = {0};
    ss_logreg_opts o;
    ss_logreg_opts_default(&o);
    o.lambda = lambda;
    o.tol = 1e-6;
    ss_logreg_result res;
    ss_error err;
    CHECK(ss_logreg_fit(w, b, x, y, N, D, K, &o, &res, &err) == SS_OK);
    CHECK(res.converged);
    CHECK_MSG(fabs(res.loss - f) < 1e-7, "loss %.10f, Newton %.10f", res.loss, f);
    for (int j = 0; j < K * D; j++)
        CHECK_MSG(fabs((double)w[j] - theta[j]) < 1e-4 * (1 + fabs(theta[j])), "w[%d] %g, Newton %g", j, (double)w[j],
                  theta[j]);
    /* Biases are defined up to a common shift, so compare them centred. */
    double bm = 0, tm = 0;
    for (int c = 0; c < K; c++) {
        bm += (double)b[c] / K;
        tm += theta[K * D + c] / K;
    }
    for (int c = 0; c < K; c++)
        CHECK_MSG(fabs(((double)b[c] - bm) - (theta[K * D + c] - tm)) < 1e-4, "b[%d] %g, Newton %g", c, (double)b[c],
                  theta[K * D + c]);
}

static void test_separable_two_class_accuracy(void)
{
    enum { N = 400, D = 6, K = 2 };
    float *x = malloc(sizeof(float) * N * D), w[K * D] = {0}, b[K] = {0}, logits[N * K];
    int32_t y[N], pred[N];
    make_blobs(x, y, N, D, K, 8.0, 5);
    ss_logreg_opts o;
    ss_logreg_opts_default(&o);
    ss_logreg_result res;
    ss_error err;
    CHECK(ss_logreg_fit(w, b, x, y, N, D, K, &o, &res, &err) == SS_OK);
    CHECK(res.converged);
    CHECK(res.grad_max <= o.tol);
    double acc = ss_logreg_predict(pred, logits, w, b, x, y, N, D, K);
    CHECK_MSG(acc >= 0.99, "accuracy %g", acc);
    free(x);
}

static void test_max_iter_stops_unconverged(void)
{
    enum { N = 200, D = 8, K = 3 };
    float x[N * D], w[K * D] = {0}, b[K] = {0};
    int32_t y[N];
    make_blobs(x, y, N, D, K, 1.0, 6);
    ss_logreg_opts o;
    ss_logreg_opts_default(&o);
    o.max_iter = 2;
    o.tol = 1e-9;
    ss_logreg_result res;
    ss_error err;
    CHECK(ss_logreg_fit(w, b, x, y, N, D, K, &o, &res, &err) == SS_OK);
    CHECK(!res.converged);
    CHECK(res.stop == SS_LOGREG_MAX_ITER);
    CHECK(res.iterations == 2);
    CHECK(res.grad_max > o.tol);
    CHECK(strcmp(ss_logreg_stop_name(res.stop), "max-iter") == 0);
}

static void test_warm_start_at_optimum(void)
{
    enum { N = 150, D = 4, K = 3 };
    float x[N * D], w[K * D] = {0}, b[K] = {0};
    int32_t y[N];
    make_blobs(x, y, N, D, K, 1.5, 7);
    ss_logreg_opts o;
    ss_logreg_opts_default(&o);
    ss_logreg_result res;
    ss_error err;
    CHECK(ss_logreg_fit(w, b, x, y, N, D, K, &o, &res, &err) == SS_OK);
    CHECK(res.converged);
    CHECK(res.iterations > 0);
    CHECK(ss_logreg_fit(w, b, x, y, N, D, K, &o, &res, &err) == SS_OK);
    CHECK(res.converged);
    CHECK(res.iterations == 0);
}

/* More rows than one block per thread, so both threads do work. */
static void test_thread_pool_matches_single_thread(void)
{
    enum { N = 1000, D = 7, K = 4 };
    float *x = malloc(sizeof(float) * N * D), w1[K * D] = {0}, b1[K] = {0}, w2[K * D] = {0}, b2[K] = {0};
    int32_t *y = malloc(sizeof(int32_t) * N);
    make_blobs(x, y, N, D, K, 1.0, 9);
    ss_logreg_opts o;
    ss_logreg_opts_default(&o);
    o.tol = 1e-5;
    ss_logreg_result r1, r2;
    ss_error err;
    CHECK(ss_logreg_fit(w1, b1, x, y, N, D, K, &o, &r1, &err) == SS_OK);
    o.pool = ss_par_create(2, &err);
    CHECK(o.pool != NULL);
    CHECK(ss_logreg_fit(w2, b2, x, y, N, D, K, &o, &r2, &err) == SS_OK);
    ss_par_destroy(o.pool);
    CHECK_MSG(r1.converged && r2.converged, "stops %s and %s", ss_logreg_stop_name(r1.stop),
              ss_logreg_stop_name(r2.stop));
    CHECK_MSG(fabs(r1.loss - r2.loss) < 1e-8, "losses %.12f and %.12f", r1.loss, r2.loss);
    for (int j = 0; j < K * D; j++)
        CHECK_MSG(fabsf(w1[j] - w2[j]) < 1e-3f, "w[%d] %g and %g", j, (double)w1[j], (double)w2[j]);
    free(x);
    free(y);
}

static void test_invalid_input_rejected(void)
{
    float x[4] = {0, 1, 2, 3}, w[2] = {0}, b[2] = {0};
    int32_t y[4] = {0, 1, 2, 1};
    ss_logreg_opts o;
    ss_logreg_opts_default(&o);
    ss_logreg_result res;
    ss_error err;
    CHECK(ss_logreg_fit(w, b, x, y, 4, 1, 2, &o, &res, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "label 2 of sample 2");
    CHECK(ss_logreg_fit(w, b, x, y, 0, 1, 2, &o, &res, &err) == SS_EINVAL);
    o.lambda = -1;
    y[2] = 0;
    CHECK(ss_logreg_fit(w, b, x, y, 4, 1, 2, &o, &res, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "lambda");
}

static void test_feature_stats_and_constant_feature(void)
{
    float x[6] = {1, 5, 3, 5, 5, 5}, mean[2], std[2];
    ss_error err;
    CHECK(ss_logreg_feature_stats(mean, std, x, 3, 2, &err) == SS_OK);
    CHECK(fabsf(mean[0] - 3.0f) < 1e-6f);
    CHECK(fabsf(std[0] - sqrtf(8.0f / 3.0f)) < 1e-5f);
    CHECK(mean[1] == 5.0f);
    CHECK(std[1] == 1.0f);
    ss_logreg_standardize(x, x, mean, std, 3, 2);
    CHECK(x[1] == 0.0f);
    CHECK(x[3] == 0.0f);
    CHECK(fabsf(x[0] + x[2] + x[4]) < 1e-6f);
}

static void test_folds_are_stratified(void)
{
    enum { N = 103, K = 3, F = 5 };
    int32_t y[N];
    int fold[N], again[N];
    for (int i = 0; i < N; i++) {
        if (i < 60)
            y[i] = 0;
        else if (i < 90)
            y[i] = 1;
        else
            y[i] = 2;
    }
    ss_logreg_cv_folds(fold, y, N, K, F, 11);
    ss_logreg_cv_folds(again, y, N, K, F, 11);
    CHECK(memcmp(fold, again, sizeof fold) == 0);
    int count[F][K] = {{0}}, size[F] = {0};
    for (int i = 0; i < N; i++) {
        CHECK(fold[i] >= 0);
        CHECK(fold[i] < F);
        count[fold[i]][y[i]]++;
        size[fold[i]]++;
    }
    for (int f = 0; f < F; f++) {
        CHECK(count[f][0] == 12);
        CHECK(count[f][1] == 6);
        CHECK(count[f][2] >= 2);
        CHECK(count[f][2] <= 3);
        CHECK(size[f] >= 20);
        CHECK(size[f] <= 21);
    }
    ss_logreg_cv_folds(again, y, N, K, F, 12);
    CHECK(memcmp(fold, again, sizeof fold) != 0);
}

/* Few samples and many noise features: a tiny lambda overfits, a huge one
 * leaves W near 0 and predicts the majority class (60%). */
static void test_cv_picks_middle_lambda(void)
{
    enum { N = 250, D = 60, K = 2 };
    float *x = malloc(sizeof(float) * N * D), w[K * D], b[K];
    int32_t y[N];
    ss_rng r;
    ss_rng_init(&r, 8, SS_RNG_SAMPLE, 0);
    for (int i = 0; i < N; i++) {
        y[i] = i % 5 < 3 ? 0 : 1;
        /* Only the first 3 features carry the class, as a shift of +-0.6. */
        double shift = y[i] ? 0.6 : -0.6;
        for (int j = 0; j < D; j++)
            x[i * D + j] = (float)(ss_rng_normal(&r) + (j < 3 ? shift : 0.0));
    }
    const double grid[] = {1e-6, 1e-1, 1e3};
    ss_logreg_cv_row rows[3];
    ss_logreg_opts o;
    ss_logreg_opts_default(&o);
    ss_logreg_cv_opts cv = {5, 3, 1};
    int best = -1;
    ss_error err;
    CHECK(ss_logreg_cv(rows, &best, w, b, grid, 3, x, y, N, D, K, &o, &cv, &err) == SS_OK);
    CHECK_MSG(best == 1, "best lambda index %d; accuracies %.3f %.3f %.3f", best, rows[0].accuracy,
              rows[1].accuracy, rows[2].accuracy);
    CHECK(rows[0].lambda == 1e-6);
    CHECK(rows[2].lambda == 1e3);
    CHECK(fabs(rows[2].accuracy - 0.6) < 0.02);
    CHECK(rows[1].accuracy > rows[0].accuracy + 0.02);
    for (int g = 0; g < 3; g++) {
        CHECK(rows[g].iterations > 0);
        CHECK(rows[g].not_converged == 0);
    }
    free(x);
}

static void test_cv_rejects_too_few_samples(void)
{
    float x[3] = {0, 1, 2}, w[2], b[2];
    int32_t y[3] = {0, 1, 0};
    const double grid[] = {1e-2};
    ss_logreg_cv_row rows[1];
    ss_logreg_opts o;
    ss_logreg_opts_default(&o);
    ss_logreg_cv_opts cv = {5, 0, 1};
    int best;
    ss_error err;
    CHECK(ss_logreg_cv(rows, &best, w, b, grid, 1, x, y, 3, 1, 2, &o, &cv, &err) == SS_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "at least 5 samples");
}

int main(void)
{
    RUN(test_gradient_matches_finite_differences);
    RUN(test_objective_at_zero_is_log_k);
    RUN(test_solution_matches_newton);
    RUN(test_separable_two_class_accuracy);
    RUN(test_max_iter_stops_unconverged);
    RUN(test_warm_start_at_optimum);
    RUN(test_thread_pool_matches_single_thread);
    RUN(test_invalid_input_rejected);
    RUN(test_feature_stats_and_constant_feature);
    RUN(test_folds_are_stratified);
    RUN(test_cv_picks_middle_lambda);
    RUN(test_cv_rejects_too_few_samples);
    return CHECK_DONE();
}
