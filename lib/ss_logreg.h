/* ss_logreg: multinomial logistic regression with an L2 penalty, fitted by
 * full-batch L-BFGS, and the cross-validation that chooses the penalty.
 *
 * Objective, for features x_i [D] (already standardised when the caller
 * wants that), labels y_i in 0..K-1, W [K, D] and b [K]:
 *
 *     f(W, b) = (1/N) sum_i CE(W x_i + b, y_i) + (lambda/2) ||W||^2
 *
 * where CE(z, y) = log(sum_k exp z_k) - z_y. The bias is not penalised.
 * scikit-learn documents LogisticRegression as minimising
 * C sum_i CE + (1/2)||W||^2, which is N C times f when lambda = 1 / (C N),
 * so the two have the same minimiser. (Its lbfgs path, in version 1.2,
 * minimises that divided by C, which is N times f.) The gradients differ
 * by the same factor, so a gradient tolerance means less there than here.
 *
 * Solver: L-BFGS (Nocedal and Wright, "Numerical Optimization", 2nd ed.,
 * algorithm 7.4) with a line search for the strong Wolfe conditions
 * (algorithms 3.5 and 3.6, cubic interpolation). The parameters and the
 * L-BFGS history are double; logits and gradients come from BLAS sgemm in
 * float, and the loss is summed in double. It stops when the largest
 * gradient component |df/dtheta_j| is at most tol.
 *
 * Threads: each evaluation splits the rows into blocks of 64 and the
 * blocks among the threads of opts.pool, each calling sgemm, so OpenBLAS
 * must run single-threaded (ss_par_create sets that). Without a pool the
 * calling thread does all blocks and BLAS keeps its own thread count.
 * Results change slightly with the thread count, which changes the order
 * in which the partial sums are added.
 * Left out: sample weights, class weights, L1 and elastic-net penalties,
 * and mini-batch solvers for data that does not fit in memory. */
#ifndef SS_LOGREG_H
#define SS_LOGREG_H

#include <stdint.h>

#include "ss_error.h"
#include "ss_par.h"

typedef struct {
    double lambda;   /* L2 strength, >= 0 (default 1e-4) */
    int max_iter;    /* L-BFGS iterations, >= 0 (default 1000) */
    double tol;      /* stop when max |gradient| <= tol (default 1e-4) */
    int memory;      /* L-BFGS history pairs, >= 1 (default 10) */
    ss_par *pool;    /* threads that share the objective, or NULL (default) for the caller alone */
} ss_logreg_opts;

typedef enum {
    SS_LOGREG_CONVERGED = 0,  /* max |gradient| <= tol */
    SS_LOGREG_MAX_ITER,       /* max_iter iterations done first */
    SS_LOGREG_LINE_SEARCH     /* no step lowered f, typically float rounding near the optimum */
} ss_logreg_stop;

typedef struct {
    int iterations;       /* L-BFGS iterations (accepted steps) */
    int evaluations;      /* objective and gradient evaluations */
    double loss;          /* f at the returned parameters */
    double grad_max;      /* max |gradient| there */
    ss_logreg_stop stop;
    int converged;        /* stop == SS_LOGREG_CONVERGED */
} ss_logreg_result;

/* Sets the defaults given in ss_logreg_opts. */
void ss_logreg_opts_default(ss_logreg_opts *o);

/* Returns "converged", "max-iter" or "line-search". */
const char *ss_logreg_stop_name(ss_logreg_stop stop);

/* Computes the per-feature mean [D] and standard deviation [D] of x [N, D]
 * (population std, summed in double). A std below 1e-6 (a constant
 * feature) is stored as 1 so that standardising never divides by ~0.
 * Fails only with SS_ENOMEM. */
ss_status ss_logreg_feature_stats(float *mean, float *std, const float *x, int64_t n, int d, ss_error *err);

/* out [N, D] = (x [N, D] - mean [D]) / std [D]; out may equal x. */
void ss_logreg_standardize(float *out, const float *x, const float *mean, const float *std, int64_t n, int d);

/* Computes f and its gradient at theta = [W (K*D, row-major), b (K)].
 * grad has K*D + K values. For tests and checks; the solver uses an
 * allocation-free version. Fails with SS_ENOMEM, or SS_ENONFINITE when f
 * is not finite. */
ss_status ss_logreg_objective(double *loss, double *grad, const double *theta, const float *x, const int32_t *y,
                              int64_t n, int d, int k, double lambda, ss_error *err);

/* Fits weight [K, D] and bias [K] in place, starting from their values
 * (zeros for a cold start, a previous solution for a warm start).
 * x [N, D] float, y [N] in 0..K-1. A run that stops before convergence
 * returns SS_OK with res->converged 0. Fails with SS_EINVAL for bad sizes
 * or options, SS_ENOMEM, or SS_ENONFINITE. */
ss_status ss_logreg_fit(float *weight, float *bias, const float *x, const int32_t *y, int64_t n, int d, int k,
                        const ss_logreg_opts *o, ss_logreg_result *res, ss_error *err);

/* Writes argmax predictions pred [N] (ties to the lower class) and returns
 * the share of them equal to y [N] (y may be NULL, then 0 is returned).
 * logits [N, K] is caller scratch. */
double ss_logreg_predict(int32_t *pred, float *logits, const float *weight, const float *bias, const float *x,
                         const int32_t *y, int64_t n, int d, int k);

/* One row of the cross-validation table. */
typedef struct {
    double lambda;
    double accuracy;      /* mean validation accuracy over the folds */
    double accuracy_std;  /* standard deviation over the folds */
    int iterations;       /* L-BFGS iterations summed over the folds */
    int not_converged;    /* folds that stopped before convergence */
} ss_logreg_cv_row;

typedef struct {
    int folds;            /* k of k-fold, 2 or more (default 5) */
    uint64_t seed;        /* fold assignment (ss_rng stream SS_RNG_SPLIT) */
    int standardize;      /* standardise with each fold's training statistics */
} ss_logreg_cv_opts;

/* Assigns fold [N] in 0..folds-1, stratified by class: each class is
 * shuffled and dealt round robin, continuing the deal across classes so
 * fold sizes differ by at most one. */
void ss_logreg_cv_folds(int *fold, const int32_t *y, int64_t n, int k, int folds, uint64_t seed);

/* Runs stratified k-fold cross-validation over grid [n_grid] of lambdas,
 * taken from the largest to the smallest with each fold's solution warm-
 * starting the next lambda. Fills rows [n_grid] (in grid order) and *best
 * with the index of the highest mean accuracy (the larger lambda on a tie).
 * o gives max_iter, tol and memory; its lambda is ignored. When mean_weight
 * [K, D] and mean_bias [K] are not NULL they receive the mean over folds of
 * the solution at the best lambda, a warm start for the final fit.
 * Fails with SS_EINVAL when a fold would be empty, as fit fails. */
ss_status ss_logreg_cv(ss_logreg_cv_row *rows, int *best, float *mean_weight, float *mean_bias, const double *grid,
                       int n_grid, const float *x, const int32_t *y, int64_t n, int d, int k,
                       const ss_logreg_opts *o, const ss_logreg_cv_opts *cv, ss_error *err);

#endif
