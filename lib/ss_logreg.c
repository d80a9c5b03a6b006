/* ss_logreg: L-BFGS for L2-penalised multinomial logistic regression, and
 * stratified k-fold cross-validation over the penalty. The objective and
 * its scaling against scikit-learn are described in ss_logreg.h.
 *
 * Implementation note: the parameter vector theta = [W (K*D), b (K)] and
 * the L-BFGS history are double, because the solver compares objective
 * values that differ by 1e-8 near the optimum. The two matrix products per
 * evaluation (X W^T and G^T X) run in float through sgemm, which is where
 * the time goes. On standardised features their rounding error limits the
 * gradient to about 1e-6 in max-abs, far below the default tolerance. */
#include "ss_logreg.h"

#include <cblas.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ss_rng.h"

#define LS_C1 1e-4          /* sufficient decrease (Armijo) constant */
#define LS_C2 0.9           /* curvature constant; 0.9 is usual for quasi-Newton */
#define LS_MAX_EVALS 25     /* objective evaluations per line search */

void ss_logreg_opts_default(ss_logreg_opts *o)
{
    o->lambda = 1e-4;
    o->max_iter = 1000;
    o->tol = 1e-4;
    o->memory = 10;
    o->pool = NULL;
}

const char *ss_logreg_stop_name(ss_logreg_stop stop)
{
    switch (stop) {
    case SS_LOGREG_CONVERGED:
        return "converged";
    case SS_LOGREG_MAX_ITER:
        return "max-iter";
    case SS_LOGREG_LINE_SEARCH:
        return "line-search";
    }
    return "unknown";
}

/* ---- Features ----------------------------------------------------------- */

ss_status ss_logreg_feature_stats(float *mean, float *std, const float *x, int64_t n, int d, ss_error *err)
{
    double *sum = calloc((size_t)d, sizeof *sum), *sq = calloc((size_t)d, sizeof *sq);
    if (!sum || !sq) {
        free(sum);
        free(sq);
        return ss_error_set(err, SS_ENOMEM, "out of memory for the statistics of %d features", d);
    }
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + (size_t)i * (size_t)d;
        for (int j = 0; j < d; j++)
            sum[j] += (double)row[j];
    }
    for (int j = 0; j < d; j++)
        sum[j] = n > 0 ? sum[j] / (double)n : 0;
    /* Second pass around the mean, so large offsets cost no precision. */
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + (size_t)i * (size_t)d;
        for (int j = 0; j < d; j++) {
            double c = (double)row[j] - sum[j];
            sq[j] += c * c;
        }
    }
    for (int j = 0; j < d; j++) {
        double sd = n > 0 ? sqrt(sq[j] / (double)n) : 0;
        mean[j] = (float)sum[j];
        std[j] = sd < 1e-6 ? 1.0f : (float)sd;
    }
    free(sum);
    free(sq);
    return SS_OK;
}

void ss_logreg_standardize(float *out, const float *x, const float *mean, const float *std, int64_t n, int d)
{
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + (size_t)i * (size_t)d;
        float *dst = out + (size_t)i * (size_t)d;
        for (int j = 0; j < d; j++)
            dst[j] = (row[j] - mean[j]) / std[j];
    }
}

/* ---- Objective ---------------------------------------------------------- */

/* Rows per block of the objective: X [B, D] of a block stays in L1 cache
 * between the two products, so X is read from memory once per evaluation. */
#define EVAL_BLOCK 64

/* One thread's share of an evaluation. */
typedef struct {
    float *logits;       /* [EVAL_BLOCK, K], overwritten with (P - Y) / N */
    float *grad_w;       /* [K, D] data part of the W gradient over its blocks */
    double *grad_b;      /* [K] */
    double loss;         /* sum of CE over its rows */
} eval_part;

typedef struct {
    const float *x;      /* [N, D] */
    const int32_t *y;    /* [N] */
    int64_t n;
    int d, k;
    double lambda;
    float *wf;           /* [K, D] float copy of W for sgemm */
    float *bf;           /* [K] float copy of b */
    ss_par *pool;        /* NULL: the calling thread does everything */
    int n_parts;
    eval_part *parts;    /* [n_parts] */
    int evaluations;
} problem;

static void problem_free(problem *p)
{
    for (int t = 0; p->parts && t < p->n_parts; t++) {
        free(p->parts[t].logits);
        free(p->parts[t].grad_w);
        free(p->parts[t].grad_b);
    }
    free(p->parts);
    free(p->wf);
    free(p->bf);
}

static ss_status problem_init(problem *p, const float *x, const int32_t *y, int64_t n, int d, int k,
                              double lambda, ss_par *pool, ss_error *err)
{
    memset(p, 0, sizeof *p);
    if (n < 1 || d < 1 || k < 1 || n > INT32_MAX || d > INT32_MAX / k || k > INT32_MAX / EVAL_BLOCK)
        return ss_error_set(err, SS_EINVAL, "logistic regression needs 1 <= N < 2^31 samples, D >= 1 and K >= 1 "
                            "with K*D < 2^31, got N %" PRId64 ", D %d, K %d", n, d, k);
    if (!(lambda >= 0) || !isfinite(lambda))
        return ss_error_set(err, SS_EINVAL, "the L2 strength lambda must be finite and >= 0, got %g", lambda);
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= k)
            return ss_error_set(err, SS_EDATA, "label %" PRId32 " of sample %" PRId64 " is not in 0..%d", y[i], i,
                                k - 1);
    p->x = x;
    p->y = y;
    p->n = n;
    p->d = d;
    p->k = k;
    p->lambda = lambda;
    p->pool = pool;
    p->n_parts = pool ? ss_par_threads(pool) : 1;
    const size_t kd = (size_t)k * (size_t)d;
    p->wf = malloc(kd * sizeof *p->wf);
    p->bf = malloc((size_t)k * sizeof *p->bf);
    p->parts = calloc((size_t)p->n_parts, sizeof *p->parts);
    int ok = p->wf && p->bf && p->parts;
    for (int t = 0; ok && t < p->n_parts; t++) {
        eval_part *e = &p->parts[t];
        e->logits = malloc((size_t)EVAL_BLOCK * (size_t)k * sizeof *e->logits);
        e->grad_w = malloc(kd * sizeof *e->grad_w);
        e->grad_b = malloc((size_t)k * sizeof *e->grad_b);
        ok = e->logits && e->grad_w && e->grad_b;
    }
    if (!ok) {
        problem_free(p);
        return ss_error_set(err, SS_ENOMEM, "out of memory for logistic regression with %d x %d weights", k, d);
    }
    return SS_OK;
}

/* Softmax cross-entropy of one block's logits z [B, K] for labels y [B]:
 * returns the CE sum, turns z into (P - Y) / N and adds its column sums to
 * grad_b [K]. The softmax subtracts each row's max before exp. */
static double softmax_block(float *z, double *grad_b, const int32_t *y, int64_t b, int k, float inv_n)
{
    const size_t kk = (size_t)k;
    double loss = 0;
    for (int64_t i = 0; i < b; i++) {
        float *row = z + (size_t)i * kk;
        const size_t label = (size_t)y[i];
        float zmax = row[0];
        for (size_t c = 1; c < kk; c++)
            zmax = row[c] > zmax ? row[c] : zmax;
        const float z_label = row[label];
        float sum = 0;
        for (size_t c = 0; c < kk; c++) {
            row[c] = expf(row[c] - zmax);
            sum += row[c];
        }
        loss += log((double)sum) + (double)zmax - (double)z_label;
        const float scale = inv_n / sum;
        for (size_t c = 0; c < kk; c++)
            row[c] *= scale;
        row[label] -= inv_n;
        for (size_t c = 0; c < kk; c++)
            grad_b[c] += (double)row[c];
    }
    return loss;
}

/* Computes one thread's share of the loss and data gradient (ss_par_fn). */
static void evaluate_part(void *arg, int tid, int n_threads)
{
    problem *p = arg;
    eval_part *e = &p->parts[tid];
    const size_t d = (size_t)p->d, k = (size_t)p->k;
    const float inv_n = (float)(1.0 / (double)p->n);
    long lo, hi;
    ss_par_range((long)((p->n + EVAL_BLOCK - 1) / EVAL_BLOCK), tid, n_threads, &lo, &hi);
    e->loss = 0;
    memset(e->grad_b, 0, k * sizeof *e->grad_b);
    memset(e->grad_w, 0, k * d * sizeof *e->grad_w);
    for (long blk = lo; blk < hi; blk++) {
        const int64_t i0 = (int64_t)blk * EVAL_BLOCK;
        const int b = (int)(p->n - i0 < EVAL_BLOCK ? p->n - i0 : EVAL_BLOCK);
        const float *xb = p->x + (size_t)i0 * d;
        /* logits [B, K] = b + X_blk [B, D] . W^T [D, K] */
        for (int i = 0; i < b; i++)
            memcpy(e->logits + (size_t)i * k, p->bf, k * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, p->k, p->d, 1.0f, xb, p->d, p->wf, p->d, 1.0f,
                    e->logits, p->k);
        e->loss += softmax_block(e->logits, e->grad_b, p->y + i0, b, p->k, inv_n);
        /* grad_w [K, D] += G_blk^T [K, B] . X_blk [B, D] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p->k, p->d, b, 1.0f, e->logits, p->k, xb, p->d, 1.0f,
                    e->grad_w, p->d);
    }
}

/* Returns f at theta [K*D + K] and writes its gradient grad [K*D + K];
 * returns NaN or infinity when f is not finite. The threads' shares are
 * added in thread order, so a result depends on the thread count only
 * through that order. */
static double evaluate(problem *p, const double *theta, double *grad)
{
    const size_t kd = (size_t)p->k * (size_t)p->d;
    p->evaluations++;
    for (size_t j = 0; j < kd; j++)
        p->wf[j] = (float)theta[j];
    for (int c = 0; c < p->k; c++)
        p->bf[c] = (float)theta[kd + (size_t)c];
    if (p->pool)
        ss_par_run(p->pool, evaluate_part, p);
    else
        evaluate_part(p, 0, 1);

    double data_loss = 0, penalty = 0;
    memset(grad + kd, 0, (size_t)p->k * sizeof *grad);
    for (size_t j = 0; j < kd; j++)
        grad[j] = p->lambda * theta[j];
    for (int t = 0; t < p->n_parts; t++) {
        const eval_part *e = &p->parts[t];
        data_loss += e->loss;
        for (size_t j = 0; j < kd; j++)
            grad[j] += (double)e->grad_w[j];
        for (int c = 0; c < p->k; c++)
            grad[kd + (size_t)c] += e->grad_b[c];
    }
    for (size_t j = 0; j < kd; j++)
        penalty += theta[j] * theta[j];
    return data_loss / (double)p->n + 0.5 * p->lambda * penalty;
}

ss_status ss_logreg_objective(double *loss, double *grad, const double *theta, const float *x, const int32_t *y,
                              int64_t n, int d, int k, double lambda, ss_error *err)
{
    problem p;
    ss_status st = problem_init(&p, x, y, n, d, k, lambda, NULL, err);
    if (st != SS_OK)
        return st;
    *loss = evaluate(&p, theta, grad);
    problem_free(&p);
    if (!isfinite(*loss))
        return ss_error_set(err, SS_ENONFINITE, "the logistic loss is not finite (%g)", *loss);
    return SS_OK;
}

/* ---- L-BFGS ------------------------------------------------------------- */

typedef struct {
    problem *prob;
    size_t n_params;
    int memory;
    double *theta, *grad;          /* current point */
    double *trial, *trial_grad;    /* point under evaluation by the line search */
    double *dir;
    double *s, *yv;                /* [memory, n_params] history, a ring */
    double *rho, *alpha;           /* [memory] */
    int n_hist, newest;
} lbfgs;

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* dir = -H g by the two-loop recursion (Nocedal and Wright, algorithm 7.4),
 * with H0 = (s'y / y'y) I from the newest pair. */
static void lbfgs_direction(lbfgs *L)
{
    const size_t np = L->n_params;
    for (size_t j = 0; j < np; j++)
        L->dir[j] = -L->grad[j];
    int idx = L->newest;
    for (int h = 0; h < L->n_hist; h++) {
        const double *s = L->s + (size_t)idx * np, *yv = L->yv + (size_t)idx * np;
        L->alpha[idx] = L->rho[idx] * dot(s, L->dir, np);
        for (size_t j = 0; j < np; j++)
            L->dir[j] -= L->alpha[idx] * yv[j];
        idx = (idx + L->memory - 1) % L->memory;
    }
    if (L->n_hist > 0) {
        const double *yv = L->yv + (size_t)L->newest * np;
        double gamma = 1.0 / (L->rho[L->newest] * dot(yv, yv, np));
        for (size_t j = 0; j < np; j++)
            L->dir[j] *= gamma;
    }
    idx = (L->newest + L->memory - L->n_hist + 1) % L->memory;
    for (int h = 0; h < L->n_hist; h++) {
        const double *s = L->s + (size_t)idx * np, *yv = L->yv + (size_t)idx * np;
        double beta = L->rho[idx] * dot(yv, L->dir, np);
        for (size_t j = 0; j < np; j++)
            L->dir[j] += (L->alpha[idx] - beta) * s[j];
        idx = (idx + 1) % L->memory;
    }
}

/* Stores s = trial - theta and y = trial_grad - grad unless s'y is not
 * safely positive, which would make H indefinite. */
static void lbfgs_push(lbfgs *L)
{
    const size_t np = L->n_params;
    int slot = (L->newest + 1) % L->memory;
    double *s = L->s + (size_t)slot * np, *yv = L->yv + (size_t)slot * np;
    for (size_t j = 0; j < np; j++) {
        s[j] = L->trial[j] - L->theta[j];
        yv[j] = L->trial_grad[j] - L->grad[j];
    }
    double sy = dot(s, yv, np), yy = dot(yv, yv, np);
    if (!(sy > 1e-10 * yy) || !(yy > 0))
        return;
    L->rho[slot] = 1.0 / sy;
    L->newest = slot;
    if (L->n_hist < L->memory)
        L->n_hist++;
}

typedef struct {
    double a, f, dg;   /* step, phi(a) = f(theta + a dir), phi'(a) */
} ls_point;

/* Evaluates phi at step a into trial and trial_grad. */
static ls_point ls_eval(lbfgs *L, double a)
{
    for (size_t j = 0; j < L->n_params; j++)
        L->trial[j] = L->theta[j] + a * L->dir[j];
    ls_point p = {a, evaluate(L->prob, L->trial, L->trial_grad), 0};
    p.dg = dot(L->trial_grad, L->dir, L->n_params);
    if (!isfinite(p.f))
        p.f = HUGE_VAL;
    return p;
}

/* Minimiser of the cubic through lo and hi (values and slopes), kept in
 * the middle 80% of the interval; bisection when the cubic is unusable. */
static double ls_interpolate(const ls_point *lo, const ls_point *hi)
{
    double left = fmin(lo->a, hi->a), width = fabs(hi->a - lo->a);
    double a = 0.5 * (lo->a + hi->a);
    if (isfinite(hi->f)) {
        double d1 = lo->dg + hi->dg - 3 * (lo->f - hi->f) / (lo->a - hi->a);
        double disc = d1 * d1 - lo->dg * hi->dg;
        if (disc >= 0) {
            double d2 = copysign(sqrt(disc), hi->a - lo->a);
            double den = hi->dg - lo->dg + 2 * d2;
            double c = hi->a - (hi->a - lo->a) * (hi->dg + d2 - d1) / den;
            if (isfinite(c))
                a = c;
        }
    }
    return fmin(fmax(a, left + 0.1 * width), left + 0.9 * width);
}

/* Finds a step satisfying the strong Wolfe conditions along dir from the
 * current point (f0, slope d0 < 0), starting from a_init (Nocedal and
 * Wright, algorithms 3.5 and 3.6). On success the step's point is in
 * trial/trial_grad and its value in *f_out; returns 1. When the budget runs
 * out, the lowest point that satisfied sufficient decrease is used; with
 * none, returns 0. */
static int line_search(lbfgs *L, double f0, double d0, double a_init, double *f_out)
{
    ls_point prev = {0, f0, d0}, lo, hi, cur;
    int evals = 0;
    double a = a_init;
    for (;;) {
        cur = ls_eval(L, a);
        evals++;
        if (cur.f > f0 + LS_C1 * a * d0 || (evals > 1 && cur.f >= prev.f)) {
            lo = prev;
            hi = cur;
            break;
        }
        if (fabs(cur.dg) <= -LS_C2 * d0 || evals >= LS_MAX_EVALS) {
            *f_out = cur.f;
            return 1;
        }
        if (cur.dg >= 0) {
            lo = cur;
            hi = prev;
            break;
        }
        prev = cur;
        a *= 4;
    }
    /* lo satisfies sufficient decrease and has the lowest value so far. */
    while (evals < LS_MAX_EVALS && fabs(hi.a - lo.a) > 1e-12 * fmax(lo.a, hi.a)) {
        cur = ls_eval(L, ls_interpolate(&lo, &hi));
        evals++;
        if (cur.f > f0 + LS_C1 * cur.a * d0 || cur.f >= lo.f) {
            hi = cur;
            continue;
        }
        if (fabs(cur.dg) <= -LS_C2 * d0) {
            *f_out = cur.f;
            return 1;
        }
        if (cur.dg * (hi.a - lo.a) >= 0)
            hi = lo;
        lo = cur;
    }
    if (lo.a <= 0)
        return 0;
    cur = ls_eval(L, lo.a);
    *f_out = cur.f;
    return 1;
}

static void lbfgs_free(lbfgs *L)
{
    free(L->theta);
    free(L->grad);
    free(L->trial);
    free(L->trial_grad);
    free(L->dir);
    free(L->s);
    free(L->yv);
    free(L->rho);
    free(L->alpha);
}

static ss_status lbfgs_init(lbfgs *L, problem *p, int memory, ss_error *err)
{
    memset(L, 0, sizeof *L);
    L->prob = p;
    L->n_params = (size_t)p->k * (size_t)p->d + (size_t)p->k;
    L->memory = memory;
    const size_t np = L->n_params;
    L->theta = malloc(np * sizeof(double));
    L->grad = malloc(np * sizeof(double));
    L->trial = malloc(np * sizeof(double));
    L->trial_grad = malloc(np * sizeof(double));
    L->dir = malloc(np * sizeof(double));
    L->s = malloc((size_t)memory * np * sizeof(double));
    L->yv = malloc((size_t)memory * np * sizeof(double));
    L->rho = malloc((size_t)memory * sizeof(double));
    L->alpha = malloc((size_t)memory * sizeof(double));
    if (!L->theta || !L->grad || !L->trial || !L->trial_grad || !L->dir || !L->s || !L->yv || !L->rho ||
        !L->alpha) {
        lbfgs_free(L);
        return ss_error_set(err, SS_ENOMEM, "out of memory for L-BFGS with %zu parameters", np);
    }
    L->newest = memory - 1;
    return SS_OK;
}

/* Runs L-BFGS from L->theta until a stopping rule holds. */
static ss_status lbfgs_run(lbfgs *L, const ss_logreg_opts *o, ss_logreg_result *res, ss_error *err)
{
    const size_t np = L->n_params;
    double f = evaluate(L->prob, L->theta, L->grad);
    int iter = 0, retried = 0;
    for (;;) {
        if (!isfinite(f))
            return ss_error_set(err, SS_ENONFINITE, "the logistic loss became %g after %d L-BFGS iterations "
                                "(are the features finite and of moderate size?)", f, iter);
        res->grad_max = max_abs(L->grad, np);
        if (res->grad_max <= o->tol) {
            res->stop = SS_LOGREG_CONVERGED;
            break;
        }
        if (iter >= o->max_iter) {
            res->stop = SS_LOGREG_MAX_ITER;
            break;
        }
        lbfgs_direction(L);
        double d0 = dot(L->grad, L->dir, np);
        if (!(d0 < 0)) {
            L->n_hist = 0;
            lbfgs_direction(L);
            d0 = dot(L->grad, L->dir, np);
        }
        /* Without history the direction is -g; a first step of length 1 in
         * parameter space keeps the first trial in a sensible range. */
        double a0 = L->n_hist > 0 ? 1.0 : fmin(1.0, 1.0 / sqrt(-d0));
        double f_new;
        if (!line_search(L, f, d0, a0, &f_new)) {
            if (L->n_hist > 0 && !retried) {
                L->n_hist = 0;
                retried = 1;
                continue;
            }
            res->stop = SS_LOGREG_LINE_SEARCH;
            break;
        }
        retried = 0;
        lbfgs_push(L);
        double *t = L->theta;
        L->theta = L->trial;
        L->trial = t;
        t = L->grad;
        L->grad = L->trial_grad;
        L->trial_grad = t;
        f = f_new;
        iter++;
    }
    res->iterations = iter;
    res->loss = f;
    res->converged = res->stop == SS_LOGREG_CONVERGED;
    return SS_OK;
}

ss_status ss_logreg_fit(float *weight, float *bias, const float *x, const int32_t *y, int64_t n, int d, int k,
                        const ss_logreg_opts *o, ss_logreg_result *res, ss_error *err)
{
    memset(res, 0, sizeof *res);
    if (o->memory < 1 || o->max_iter < 0 || !(o->tol >= 0))
        return ss_error_set(err, SS_EINVAL, "L-BFGS needs memory >= 1, max_iter >= 0 and tol >= 0, got %d, %d, %g",
                            o->memory, o->max_iter, o->tol);
    problem p;
    ss_status st = problem_init(&p, x, y, n, d, k, o->lambda, o->pool, err);
    if (st != SS_OK)
        return st;
    lbfgs L;
    if ((st = lbfgs_init(&L, &p, o->memory, err)) != SS_OK) {
        problem_free(&p);
        return st;
    }
    const size_t kd = (size_t)k * (size_t)d;
    for (size_t j = 0; j < kd; j++)
        L.theta[j] = (double)weight[j];
    for (int c = 0; c < k; c++)
        L.theta[kd + (size_t)c] = (double)bias[c];

    st = lbfgs_run(&L, o, res, err);
    res->evaluations = p.evaluations;
    if (st == SS_OK) {
        for (size_t j = 0; j < kd; j++)
            weight[j] = (float)L.theta[j];
        for (int c = 0; c < k; c++)
            bias[c] = (float)L.theta[kd + (size_t)c];
    }
    lbfgs_free(&L);
    problem_free(&p);
    return st;
}

double ss_logreg_predict(int32_t *pred, float *logits, const float *weight, const float *bias, const float *x,
                         const int32_t *y, int64_t n, int d, int k)
{
    const size_t kk = (size_t)k;
    for (int64_t i = 0; i < n; i++)
        memcpy(logits + (size_t)i * kk, bias, kk * sizeof *logits);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, k, d, 1.0f, x, d, weight, d, 1.0f, logits, k);
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * kk;
        int32_t best = 0;
        for (int c = 1; c < k; c++)
            if (z[c] > z[best])
                best = c;
        pred[i] = best;
        if (y)
            correct += best == y[i];
    }
    return y && n > 0 ? (double)correct / (double)n : 0;
}

/* ---- Cross-validation --------------------------------------------------- */

void ss_logreg_cv_folds(int *fold, const int32_t *y, int64_t n, int k, int folds, uint64_t seed)
{
    int64_t *members = malloc((size_t)(n > 0 ? n : 1) * sizeof *members);
    ss_rng rng;
    ss_rng_init(&rng, seed, SS_RNG_SPLIT, 0);
    int64_t dealt = 0;
    for (int c = 0; c < k; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (y[i] == c) {
                if (members)
                    members[m] = i;
                m++;
            }
        if (!members) {
            /* Without scratch, deal in input order; still stratified. */
            for (int64_t i = 0; i < n; i++)
                if (y[i] == c)
                    fold[i] = (int)(dealt++ % folds);
            continue;
        }
        /* Fisher-Yates shuffle of this class, then a round-robin deal. */
        for (int64_t i = m - 1; i > 0; i--) {
            int64_t j = (int64_t)ss_rng_below(&rng, (uint64_t)i + 1);
            int64_t t = members[i];
            members[i] = members[j];
            members[j] = t;
        }
        for (int64_t i = 0; i < m; i++)
            fold[members[i]] = (int)(dealt++ % folds);
    }
    free(members);
}

typedef struct {
    float *x_train, *x_val, *logits, *weight, *bias, *mean, *std;
    int32_t *y_train, *y_val, *pred;
    int *fold;
    int *order;          /* grid indices by decreasing lambda */
    double *acc;         /* [n_grid, folds] */
    double *sum_params;  /* [n_grid, K*D + K] */
} cv_work;

static void cv_work_free(cv_work *w)
{
    free(w->x_train);
    free(w->x_val);
    free(w->logits);
    free(w->weight);
    free(w->bias);
    free(w->mean);
    free(w->std);
    free(w->y_train);
    free(w->y_val);
    free(w->pred);
    free(w->fold);
    free(w->order);
    free(w->acc);
    free(w->sum_params);
}

static ss_status cv_work_init(cv_work *w, int64_t n, int d, int k, int n_grid, int folds, ss_error *err)
{
    memset(w, 0, sizeof *w);
    const size_t nd = (size_t)n * (size_t)d, np = (size_t)k * (size_t)d + (size_t)k;
    w->x_train = malloc(nd * sizeof(float));
    w->x_val = malloc(nd * sizeof(float));
    w->logits = malloc((size_t)n * (size_t)k * sizeof(float));
    w->weight = malloc((size_t)k * (size_t)d * sizeof(float));
    w->bias = malloc((size_t)k * sizeof(float));
    w->mean = malloc((size_t)d * sizeof(float));
    w->std = malloc((size_t)d * sizeof(float));
    w->y_train = malloc((size_t)n * sizeof(int32_t));
    w->y_val = malloc((size_t)n * sizeof(int32_t));
    w->pred = malloc((size_t)n * sizeof(int32_t));
    w->fold = malloc((size_t)n * sizeof(int));
    w->order = malloc((size_t)n_grid * sizeof(int));
    w->acc = calloc((size_t)n_grid * (size_t)folds, sizeof(double));
    w->sum_params = calloc((size_t)n_grid * np, sizeof(double));
    if (!w->x_train || !w->x_val || !w->logits || !w->weight || !w->bias || !w->mean || !w->std || !w->y_train ||
        !w->y_val || !w->pred || !w->fold || !w->order || !w->acc || !w->sum_params) {
        cv_work_free(w);
        return ss_error_set(err, SS_ENOMEM, "out of memory for cross-validation on %" PRId64 " x %d features", n,
                            d);
    }
    return SS_OK;
}

/* Copies the samples of fold f into the validation arrays and the rest
 * into the training arrays; returns the training count in *n_train. */
static void cv_split(cv_work *w, const float *x, const int32_t *y, int64_t n, int d, int f, int64_t *n_train,
                     int64_t *n_val)
{
    int64_t nt = 0, nv = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + (size_t)i * (size_t)d;
        if (w->fold[i] == f) {
            memcpy(w->x_val + (size_t)nv * (size_t)d, row, (size_t)d * sizeof(float));
            w->y_val[nv++] = y[i];
        } else {
            memcpy(w->x_train + (size_t)nt * (size_t)d, row, (size_t)d * sizeof(float));
            w->y_train[nt++] = y[i];
        }
    }
    *n_train = nt;
    *n_val = nv;
}

/* Fits every lambda of the grid on one fold, largest first, warm-started. */
static ss_status cv_fold(cv_work *w, ss_logreg_cv_row *rows, const double *grid, int n_grid, int64_t n_train,
                         int64_t n_val, int d, int k, int f, int folds, const ss_logreg_opts *o, ss_error *err)
{
    const size_t kd = (size_t)k * (size_t)d, np = kd + (size_t)k;
    memset(w->weight, 0, kd * sizeof(float));
    memset(w->bias, 0, (size_t)k * sizeof(float));
    for (int r = 0; r < n_grid; r++) {
        int g = w->order[r];
        ss_logreg_opts fo = *o;
        fo.lambda = grid[g];
        ss_logreg_result res;
        ss_status st = ss_logreg_fit(w->weight, w->bias, w->x_train, w->y_train, n_train, d, k, &fo, &res, err);
        if (st != SS_OK) {
            ss_error_prefix(err, "fold %d of %d, lambda %g", f + 1, folds, grid[g]);
            return st;
        }
        rows[g].iterations += res.iterations;
        rows[g].not_converged += !res.converged;
        w->acc[(size_t)g * (size_t)folds + (size_t)f] =
            ss_logreg_predict(w->pred, w->logits, w->weight, w->bias, w->x_val, w->y_val, n_val, d, k);
        double *sum = w->sum_params + (size_t)g * np;
        for (size_t j = 0; j < kd; j++)
            sum[j] += (double)w->weight[j];
        for (int c = 0; c < k; c++)
            sum[kd + (size_t)c] += (double)w->bias[c];
    }
    return SS_OK;
}

/* Orders the grid indices by decreasing lambda (insertion sort: the grid
 * is short, and C11 qsort takes no context for the comparison). */
static void sort_grid(int *order, const double *grid, int n_grid)
{
    for (int i = 0; i < n_grid; i++) {
        int j = i;
        while (j > 0 && grid[order[j - 1]] < grid[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

/* Fills the accuracy columns of rows and returns the best index. */
static int cv_summarise(ss_logreg_cv_row *rows, const cv_work *w, const double *grid, int n_grid, int folds)
{
    int best = -1;
    for (int g = 0; g < n_grid; g++) {
        const double *acc = w->acc + (size_t)g * (size_t)folds;
        double mean = 0, var = 0;
        for (int f = 0; f < folds; f++)
            mean += acc[f];
        mean /= folds;
        for (int f = 0; f < folds; f++)
            var += (acc[f] - mean) * (acc[f] - mean);
        rows[g].lambda = grid[g];
        rows[g].accuracy = mean;
        rows[g].accuracy_std = sqrt(var / folds);
        if (best < 0 || mean > rows[best].accuracy + 1e-12 ||
            (fabs(mean - rows[best].accuracy) <= 1e-12 && grid[g] > grid[best]))
            best = g;
    }
    return best;
}

ss_status ss_logreg_cv(ss_logreg_cv_row *rows, int *best, float *mean_weight, float *mean_bias, const double *grid,
                       int n_grid, const float *x, const int32_t *y, int64_t n, int d, int k,
                       const ss_logreg_opts *o, const ss_logreg_cv_opts *cv, ss_error *err)
{
    if (cv->folds < 2 || n_grid < 1)
        return ss_error_set(err, SS_EINVAL, "cross-validation needs at least 2 folds and 1 lambda, got %d and %d",
                            cv->folds, n_grid);
    if (n < cv->folds)
        return ss_error_set(err, SS_EINVAL, "%d-fold cross-validation needs at least %d samples, got %" PRId64,
                            cv->folds, cv->folds, n);
    if (d < 1 || k < 1 || (uint64_t)n > SIZE_MAX / sizeof(float) / (size_t)d)
        return ss_error_set(err, SS_EINVAL, "invalid sizes N %" PRId64 ", D %d, K %d", n, d, k);
    for (int g = 0; g < n_grid; g++)
        if (!(grid[g] >= 0) || !isfinite(grid[g]))
            return ss_error_set(err, SS_EINVAL, "lambda %g of the grid is not finite and >= 0", grid[g]);
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= k)
            return ss_error_set(err, SS_EDATA, "label %" PRId32 " of sample %" PRId64 " is not in 0..%d", y[i], i,
                                k - 1);
    cv_work w;
    ss_status st = cv_work_init(&w, n, d, k, n_grid, cv->folds, err);
    if (st != SS_OK)
        return st;
    memset(rows, 0, (size_t)n_grid * sizeof *rows);
    ss_logreg_cv_folds(w.fold, y, n, k, cv->folds, cv->seed);
    sort_grid(w.order, grid, n_grid);

    for (int f = 0; f < cv->folds && st == SS_OK; f++) {
        int64_t n_train, n_val;
        cv_split(&w, x, y, n, d, f, &n_train, &n_val);
        if (cv->standardize) {
            if ((st = ss_logreg_feature_stats(w.mean, w.std, w.x_train, n_train, d, err)) != SS_OK)
                break;
            ss_logreg_standardize(w.x_train, w.x_train, w.mean, w.std, n_train, d);
            ss_logreg_standardize(w.x_val, w.x_val, w.mean, w.std, n_val, d);
        }
        st = cv_fold(&w, rows, grid, n_grid, n_train, n_val, d, k, f, cv->folds, o, err);
    }
    if (st == SS_OK) {
        *best = cv_summarise(rows, &w, grid, n_grid, cv->folds);
        const size_t kd = (size_t)k * (size_t)d;
        const double *sum = w.sum_params + (size_t)*best * (kd + (size_t)k);
        for (size_t j = 0; mean_weight && j < kd; j++)
            mean_weight[j] = (float)(sum[j] / cv->folds);
        for (int c = 0; mean_bias && c < k; c++)
            mean_bias[c] = (float)(sum[kd + (size_t)c] / cv->folds);
    }
    cv_work_free(&w);
    return st;
}
