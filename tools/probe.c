/* selfsup-probe: the linear probe. Trains an L2-penalised multinomial
 * logistic regression on a labelled embeddings stream and writes a linear
 * model checkpoint (ss_linmodel). `selfsup-probe predict` applies such a
 * model to an embeddings stream and writes a predictions stream.
 *
 * Training holds the whole input in memory (N x D floats plus a
 * standardised copy during cross-validation); prediction streams record by
 * record. The solver and the cross-validation live in lib/ss_logreg. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_linmodel.h"
#include "ss_log.h"
#include "ss_logreg.h"
#include "ss_meta.h"
#include "ss_par.h"
#include "tool.h"

#define MAX_DIM (1 << 24)       /* features per record, as ss_linmodel_load accepts */
#define MAX_CLASSES 100000      /* labels 0..MAX_CLASSES-1 */
#define MAX_GRID 64

/* ---- Reading the training set ---------------------------------------------- */

typedef struct {
    float *x;            /* [N, D] */
    int32_t *y;          /* [N] */
    int64_t n, cap;
    int d;
    int32_t max_label;
    ss_json *meta;       /* metadata of the first stream */
} dataset;

static void dataset_free(dataset *s)
{
    free(s->x);
    free(s->y);
    ss_json_free(s->meta);
}

/* Checks the feature field of a record and returns it, or NULL with err
 * set. d is the expected size, or 0 to accept any. */
static const tsf_field *feature_field(const tsf_record *rec, const char *name, const char *input, int d,
                                      ss_error *err)
{
    const tsf_field *f = tsf_record_find(rec, name);
    if (!f) {
        ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 " has no field '%s' (choose the feature field with "
                     "--field)", input, rec->index, name);
        return NULL;
    }
    if (f->dtype != TSF_FLOAT32 || f->count < 1 || f->count > MAX_DIM) {
        ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": field '%s' must be float32 with 1 to %d values, "
                     "got %s with %" PRIu64, input, rec->index, name, MAX_DIM,
                     tsf_dtype_name(f->dtype) ? tsf_dtype_name(f->dtype) : "an unknown dtype", f->count);
        return NULL;
    }
    if (d > 0 && f->count != (uint64_t)d) {
        ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": field '%s' has %" PRIu64 " values, expected %d",
                     input, rec->index, name, f->count, d);
        return NULL;
    }
    const float *v = f->data;
    for (uint64_t j = 0; j < f->count; j++)
        if (!isfinite(v[j])) {
            ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": %s[%" PRIu64 "] is %g; features must be finite",
                         input, rec->index, name, j, (double)v[j]);
            return NULL;
        }
    return f;
}

/* Reads the int64 scalar label of a record into *label. Returns 1 when
 * read, 0 when the record has no label field, -1 with err set when invalid. */
static int record_label(const tsf_record *rec, const char *input, int64_t *label, ss_error *err)
{
    const tsf_field *f = tsf_record_find(rec, "label");
    if (!f)
        return 0;
    if (f->dtype != TSF_INT64 || f->count != 1) {
        ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": field 'label' must be an int64 scalar", input,
                     rec->index);
        return -1;
    }
    memcpy(label, f->data, sizeof *label);
    return 1;
}

static ss_status dataset_append(dataset *s, const float *features, int32_t label, ss_error *err)
{
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 4096;
        if ((uint64_t)cap > SIZE_MAX / sizeof(float) / (size_t)s->d || cap > INT32_MAX)
            return ss_error_set(err, SS_ELIMIT, "too many records for one training set (the limit is %d)",
                                INT32_MAX);
        float *x = realloc(s->x, (size_t)cap * (size_t)s->d * sizeof *x);
        if (x)
            s->x = x;
        int32_t *y = realloc(s->y, (size_t)cap * sizeof *y);
        if (y)
            s->y = y;
        if (!x || !y)
            return ss_error_set(err, SS_ENOMEM, "out of memory after %" PRId64 " records of %d features", s->n,
                                s->d);
        s->cap = cap;
    }
    memcpy(s->x + (size_t)s->n * (size_t)s->d, features, (size_t)s->d * sizeof(float));
    s->y[s->n++] = label;
    if (label > s->max_label)
        s->max_label = label;
    return SS_OK;
}

static ss_status read_records(dataset *s, tsf_reader *r, tsf_record *rec, const char *field, ss_error *err)
{
    const char *input = tsf_reader_name(r);
    int got;
    while ((got = tsf_reader_next(r, rec)) == 1) {
        const tsf_field *f = feature_field(rec, field, input, s->d, err);
        if (!f)
            return err->status;
        s->d = (int)f->count;
        int64_t label;
        int has = record_label(rec, input, &label, err);
        if (has < 0)
            return err->status;
        if (has == 0)
            return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 " has no 'label' field; training a probe "
                                "needs labelled embeddings (embed a labelled samples stream)", input, rec->index);
        if (label < 0 || label >= MAX_CLASSES)
            return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": label %" PRId64 " is not in 0..%d",
                                input, rec->index, label, MAX_CLASSES - 1);
        ss_status st = dataset_append(s, f->data, (int32_t)label, err);
        if (st != SS_OK)
            return st;
    }
    if (got < 0) {
        *err = *tsf_reader_error(r);
        return err->status;
    }
    if (s->n == 0)
        return ss_error_set(err, SS_EDATA, "%s: the input has no records to train on", input);
    return SS_OK;
}

static ss_status dataset_load(dataset *s, const char *path, const char *field, ss_error *err)
{
    memset(s, 0, sizeof *s);
    s->max_label = -1;
    tsf_reader *r = tsf_reader_open_path(path, NULL, err);
    if (!r)
        return err->status;
    tsf_record *rec = malloc(sizeof *rec);
    ss_status st;
    if (!rec)
        st = ss_error_set(err, SS_ENOMEM, "out of memory");
    else if (tsf_reader_start(r) <= 0)
        st = (*err = *tsf_reader_error(r), err->status);
    else if (!(s->meta = ss_json_clone(tsf_reader_meta(r))))
        st = ss_error_set(err, SS_ENOMEM, "out of memory");
    else
        st = read_records(s, r, rec, field, err);
    free(rec);
    tsf_reader_close(r);
    return st;
}

/* ---- Training --------------------------------------------------------------- */

typedef struct {
    const char *output, *grid, *field, *val;
    double lambda, c, tol;
    int lambda_set, c_set, no_standardize, folds, max_iter;
    int argc;
    char **argv;
} train_options;

/* Parses a comma-separated list of lambdas into grid [MAX_GRID]. */
static ss_status parse_grid(const char *text, double *grid, int *n_grid, ss_error *err)
{
    *n_grid = 0;
    char buf[64];
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len >= sizeof buf)
            return ss_error_set(err, SS_EINVAL, "--grid: '%s' is not a comma-separated list of numbers", text);
        if (*n_grid == MAX_GRID)
            return ss_error_set(err, SS_EINVAL, "--grid: at most %d values", MAX_GRID);
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (ss_parse_double(buf, 0, 1e6, "--grid value", &grid[*n_grid], err) != SS_OK)
            return err->status;
        (*n_grid)++;
        if (!end)
            return SS_OK;
        p = end + 1;
    }
}

/* Chooses lambda by cross-validation, prints the table, and leaves the
 * mean fold solution in weight/bias as the warm start. */
static ss_status choose_lambda(const dataset *s, int k, const train_options *o, const double *grid, int n_grid,
                               uint64_t seed, ss_par *pool, float *weight, float *bias, double *lambda, ss_json *config,
                               ss_error *err)
{
    if (s->n < o->folds)
        return ss_error_set(err, SS_EDATA, "%" PRId64 " records are too few for %d-fold cross-validation; lower "
                            "--folds or give --lambda", s->n, o->folds);
    ss_logreg_cv_row rows[MAX_GRID];
    ss_logreg_opts lo;
    ss_logreg_opts_default(&lo);
    lo.max_iter = o->max_iter;
    lo.tol = o->tol;
    lo.pool = pool;
    ss_logreg_cv_opts cv = {o->folds, seed, !o->no_standardize};
    int best;
    double start = ss_now();
    ss_status st = ss_logreg_cv(rows, &best, weight, bias, grid, n_grid, s->x, s->y, s->n, s->d, k, &lo, &cv, err);
    if (st != SS_OK)
        return st;
    const double n_train = (double)s->n * (o->folds - 1) / o->folds;
    ss_log_info("%d-fold cross-validation in %.1f s (C = 1 / (lambda N), N = %.0f training records per fold):",
                o->folds, ss_now() - start, n_train);
    ss_log_info("  %-10s %-10s %-17s %s", "lambda", "C", "accuracy", "iterations");
    ss_json *table = ss_json_new_array();
    for (int g = 0; g < n_grid; g++) {
        ss_log_info("  %-10.3g %-10.3g %.4f +- %.4f   %d%s%s", rows[g].lambda,
                    rows[g].lambda > 0 ? 1.0 / (rows[g].lambda * n_train) : HUGE_VAL, rows[g].accuracy,
                    rows[g].accuracy_std, rows[g].iterations, rows[g].not_converged ? " (not converged)" : "",
                    g == best ? "  <- chosen" : "");
        ss_json *row = ss_json_new_object();
        if (table && row) {
            ss_json_set(row, "lambda", ss_json_new_double(rows[g].lambda));
            ss_json_set(row, "accuracy", ss_json_new_double(rows[g].accuracy));
            ss_json_set(row, "accuracy_std", ss_json_new_double(rows[g].accuracy_std));
            ss_json_set(row, "iterations", ss_json_new_int(rows[g].iterations));
            ss_json_set(row, "not_converged", ss_json_new_int(rows[g].not_converged));
            ss_json_append(table, row);
        } else {
            ss_json_free(row);
        }
    }
    if (table)
        ss_json_set(config, "cross_validation", table);
    ss_json_set(config, "folds", ss_json_new_int(o->folds));
    if (best == 0 || best == n_grid - 1)
        ss_log_warn("the chosen lambda %g is at the edge of the grid; the best value may lie outside it "
                    "(widen --grid)", grid[best]);
    *lambda = grid[best];
    return SS_OK;
}

/* Chooses lambda by accuracy on a held-out validation set: fits on all
 * training records for each value of the grid, largest first, each fit
 * warm-started from the previous one, and leaves the best fit in
 * weight/bias as the warm start of the final fit. */
static ss_status choose_lambda_holdout(const dataset *s, const dataset *val, int k, const train_options *o,
                                       const double *grid, int n_grid, ss_par *pool, float *weight, float *bias,
                                       double *lambda, ss_json *config, ss_error *err)
{
    size_t xs_n = (size_t)s->n * (size_t)s->d, xv_n = (size_t)val->n * (size_t)s->d, wk = (size_t)k * (size_t)s->d;
    float *xs = malloc(xs_n * sizeof *xs), *xv = malloc(xv_n * sizeof *xv);
    float *mean = malloc((size_t)s->d * sizeof *mean), *std = malloc((size_t)s->d * sizeof *std);
    float *w = calloc(wk, sizeof *w), *b = calloc((size_t)k, sizeof *b);
    float *logits = malloc((size_t)val->n * (size_t)k * sizeof *logits);
    int32_t *pred = malloc((size_t)val->n * sizeof *pred);
    int *order = malloc((size_t)n_grid * sizeof *order);
    ss_status st = SS_OK;
    if (!xs || !xv || !mean || !std || !w || !b || !logits || !pred || !order) {
        st = ss_error_set(err, SS_ENOMEM, "out of memory for hold-out selection");
        goto done;
    }
    memcpy(xs, s->x, xs_n * sizeof *xs);
    memcpy(xv, val->x, xv_n * sizeof *xv);
    if (!o->no_standardize) {
        if ((st = ss_logreg_feature_stats(mean, std, xs, s->n, s->d, err)) != SS_OK)
            goto done;
        ss_logreg_standardize(xs, xs, mean, std, s->n, s->d);
        ss_logreg_standardize(xv, xv, mean, std, val->n, s->d);
    }
    for (int g = 0; g < n_grid; g++)
        order[g] = g;
    for (int i = 1; i < n_grid; i++)
        for (int j = i; j > 0 && grid[order[j]] > grid[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    ss_logreg_opts lo;
    ss_logreg_opts_default(&lo);
    lo.max_iter = o->max_iter;
    lo.tol = o->tol;
    lo.pool = pool;
    double best_acc = -1;
    ss_json *table = ss_json_new_array();
    ss_log_info("lambda chosen on %s (%" PRId64 " records):", o->val, val->n);
    for (int i = 0; i < n_grid; i++) {
        double l = grid[order[i]];
        lo.lambda = l;
        ss_logreg_result res;
        if ((st = ss_logreg_fit(w, b, xs, s->y, s->n, s->d, k, &lo, &res, err)) != SS_OK)
            break;
        double acc = ss_logreg_predict(pred, logits, w, b, xv, val->y, val->n, s->d, k);
        ss_log_info("  lambda %-10.3g validation accuracy %.4f (%d iterations)%s", l, acc, res.iterations,
                    res.converged ? "" : " (not converged)");
        ss_json *row = ss_json_new_object();
        if (table && row) {
            ss_json_set(row, "lambda", ss_json_new_double(l));
            ss_json_set(row, "val_accuracy", ss_json_new_double(acc));
            ss_json_append(table, row);
        } else {
            ss_json_free(row);
        }
        /* Ties keep the larger lambda, seen first. */
        if (acc > best_acc) {
            best_acc = acc;
            *lambda = l;
            memcpy(weight, w, wk * sizeof *w);
            memcpy(bias, b, (size_t)k * sizeof *b);
        }
    }
    if (table)
        ss_json_set(config, "holdout", table);
    ss_json_set(config, "val_accuracy", ss_json_new_double(best_acc));
done:
    free(xs);
    free(xv);
    free(mean);
    free(std);
    free(w);
    free(b);
    free(logits);
    free(pred);
    free(order);
    return st;
}

/* Returns the class count: the longer of the metadata "classes" and the
 * labels seen, and sets *classes to a copy of the names (or NULL). */
static int class_count(const dataset *s, ss_json **classes)
{
    const ss_json *names = ss_json_get(s->meta, "classes");
    *classes = NULL;
    int k = s->max_label + 1;
    if (names && names->type == SS_JSON_ARRAY && names->len <= MAX_CLASSES) {
        *classes = ss_json_clone(names);
        if ((int)names->len > k)
            k = (int)names->len;
    }
    return k;
}

/* Fits the final model on all records, starting from m's weights, and
 * writes the checkpoint. m takes ownership of classes. */
static ss_status fit_and_save(dataset *s, int k, ss_json *classes, const train_options *o, double lambda,
                              ss_par *pool, ss_linmodel *m, ss_json *config, ss_error *err)
{
    ss_status st;
    m->classes = classes;
    m->standardize = !o->no_standardize;
    if (m->standardize) {
        if ((st = ss_logreg_feature_stats(m->mean, m->std, s->x, s->n, s->d, err)) != SS_OK)
            return st;
        ss_logreg_standardize(s->x, s->x, m->mean, m->std, s->n, s->d);
    }
    ss_logreg_opts lo;
    ss_logreg_opts_default(&lo);
    lo.lambda = lambda;
    lo.max_iter = o->max_iter;
    lo.tol = o->tol;
    lo.pool = pool;
    ss_logreg_result res;
    double start = ss_now();
    if ((st = ss_logreg_fit(m->weight, m->bias, s->x, s->y, s->n, s->d, k, &lo, &res, err)) != SS_OK)
        return st;
    double seconds = ss_now() - start;

    float *logits = malloc((size_t)s->n * (size_t)k * sizeof *logits);
    int32_t *pred = malloc((size_t)s->n * sizeof *pred);
    if (!logits || !pred) {
        free(logits);
        free(pred);
        return ss_error_set(err, SS_ENOMEM, "out of memory for the training accuracy");
    }
    double acc = ss_logreg_predict(pred, logits, m->weight, m->bias, s->x, s->y, s->n, s->d, k);
    free(logits);
    free(pred);

    const double c = lambda > 0 ? 1.0 / (lambda * (double)s->n) : HUGE_VAL;
    ss_log_info("trained on %" PRId64 " records, %d features, %d classes in %.2f s: lambda %.3g (C %.3g), "
                "%d iterations, max |gradient| %.2e, loss %.6f, train accuracy %.4f",
                s->n, s->d, k, seconds, lambda, c, res.iterations, res.grad_max, res.loss, acc);
    if (!res.converged)
        ss_log_warn("L-BFGS stopped before convergence (%s) after %d iterations: max |gradient| %.2e > --tol %g; %s",
                    ss_logreg_stop_name(res.stop), res.iterations, res.grad_max, o->tol,
                    res.stop == SS_LOGREG_MAX_ITER ? "raise --max-iter or loosen --tol"
                                                   : "no step lowers the loss at float32 precision, so loosen --tol");

    ss_json_set(config, "method", ss_json_new_string("logistic-regression"));
    ss_json_set(config, "lambda", ss_json_new_double(lambda));
    if (isfinite(c))
        ss_json_set(config, "C", ss_json_new_double(c));
    ss_json_set(config, "field", ss_json_new_string(o->field));
    ss_json_set(config, "n_train", ss_json_new_int(s->n));
    ss_json_set(config, "tol", ss_json_new_double(o->tol));
    ss_json_set(config, "max_iter", ss_json_new_int(o->max_iter));
    ss_json_set(config, "iterations", ss_json_new_int(res.iterations));
    ss_json_set(config, "converged", ss_json_new_bool(res.converged));
    ss_json_set(config, "stop", ss_json_new_string(ss_logreg_stop_name(res.stop)));
    ss_json_set(config, "gradient_max", ss_json_new_double(res.grad_max));
    ss_json_set(config, "loss", ss_json_new_double(res.loss));
    ss_json_set(config, "train_accuracy", ss_json_new_double(acc));

    ss_json *extra = ss_meta_derive(s->meta, ss_log_prog(), o->argc - 1, o->argv + 1);
    if (!extra)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    ss_json_set(extra, "config", ss_json_clone(config));
    st = ss_linmodel_save(m, o->output, extra, err);
    ss_json_free(extra);
    return st;
}

static int run_train(int argc, char **argv)
{
    train_options o = {.field = "embedding", .tol = 1e-4, .folds = 5, .max_iter = 1000};
    const ss_option opts[] = {
        {"output", 'o', SS_ARG_STRING, &o.output, "FILE", "model checkpoint to write (required), replaced atomically", 0, 0, NULL, NULL},
        {"lambda", 'l', SS_ARG_DOUBLE, &o.lambda, "L", "L2 strength in the mean-loss objective (default: chosen by cross-validation)", 0, 1e6, NULL, &o.lambda_set},
        {"C", 'C', SS_ARG_DOUBLE, &o.c, "C", "scikit-learn's inverse strength; sets lambda = 1 / (C N)", 1e-12, 1e12, NULL, &o.c_set},
        {"no-standardize", 0, SS_ARG_FLAG, &o.no_standardize, NULL, "use the features as they are (default: scale each to mean 0, std 1)", 0, 0, NULL, NULL},
        {"folds", 'k', SS_ARG_INT, &o.folds, "K", "cross-validation folds, 2 to 100 (default 5)", 2, 100, NULL, NULL},
        {"grid", 'g', SS_ARG_STRING, &o.grid, "LIST", "comma-separated lambdas to choose from (default 1e-6,1e-5,...,1)", 0, 0, NULL, NULL},
        {"max-iter", 0, SS_ARG_INT, &o.max_iter, "N", "L-BFGS iterations per fit (default 1000)", 0, 1000000, NULL, NULL},
        {"tol", 0, SS_ARG_DOUBLE, &o.tol, "T", "stop when every gradient component is within T of 0 (default 1e-4)", 0, 1, NULL, NULL},
        {"field", 'f', SS_ARG_STRING, &o.field, "NAME", "float32 feature field (default embedding)", 0, 0, NULL, NULL},
        {"val", 0, SS_ARG_STRING, &o.val, "FILE", "choose lambda from --grid by accuracy on these labelled embeddings instead of cross-validation", 0, 0, NULL, NULL},
        {0}};
    const ss_command cmd = {
        "selfsup-probe", "-o MODEL [OPTION]... [EMBEDDINGS]\n  or:  selfsup-probe predict -m MODEL [OPTION]... [EMBEDDINGS]",
        "Train a linear probe: multinomial logistic regression with an L2 penalty on the\n"
        "float32 features and int64 labels of an embeddings stream (standard input when\n"
        "EMBEDDINGS is absent or '-'), and write the model checkpoint to MODEL.",
        "The objective is (1/N) sum CE(W x + b, y) + (lambda/2) ||W||^2, minimised by\n"
        "L-BFGS on the whole training set. It equals scikit-learn's LogisticRegression\n"
        "objective divided by C N, so lambda = 1 / (C N). Without --lambda or --C, lambda\n"
        "is chosen by stratified k-fold cross-validation (seeded by --seed) as the value\n"
        "of --grid with the best mean validation accuracy. --threads threads share\n"
        "each evaluation of the objective. Run 'selfsup-probe predict --help' for prediction.",
        opts, SS_CLI_SEED | SS_CLI_THREADS_ALL | SS_CLI_TRAINS, 0, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if (!o.output)
        return tool_usage(cmd.name, "the model file -o FILE is required");
    if (o.lambda_set && o.c_set)
        return tool_usage(cmd.name, "--lambda and --C set the same strength; give one of them");
    if (o.grid && (o.lambda_set || o.c_set))
        return tool_usage(cmd.name, "--grid is for cross-validation and cannot be combined with --lambda or --C");
    if (o.val && (o.lambda_set || o.c_set))
        return tool_usage(cmd.name, "--val chooses lambda and cannot be combined with --lambda or --C");
    o.argc = argc;
    o.argv = argv;
    double grid[MAX_GRID] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1};
    int n_grid = 7;
    ss_error err;
    if (o.grid && parse_grid(o.grid, grid, &n_grid, &err) != SS_OK)
        return tool_usage(cmd.name, "%s", err.msg);

    const char *input = first < argc ? argv[first] : "-";
    dataset s = {0};
    ss_linmodel m = {0};
    ss_json *classes = NULL, *config = ss_json_new_object();
    /* The pool sets OpenBLAS to one thread; the threads split the rows. */
    ss_par *pool = ss_par_create(common.threads, &err);
    ss_status st = !pool ? err.status : config ? dataset_load(&s, input, o.field, &err)
                                               : ss_error_set(&err, SS_ENOMEM, "out of memory");
    int k = 0;
    if (st == SS_OK) {
        k = class_count(&s, &classes);
        st = ss_linmodel_init(&m, s.d, k, &err);
    }
    double lambda = o.lambda;
    if (st == SS_OK && o.c_set)
        lambda = 1.0 / (o.c * (double)s.n);
    dataset val = {0};
    if (st == SS_OK && o.val) {
        st = dataset_load(&val, o.val, o.field, &err);
        if (st == SS_OK && val.d != s.d)
            st = ss_error_set(&err, SS_EDATA, "%s: features have %d values, the training set %d", o.val, val.d, s.d);
        if (st == SS_OK && val.max_label >= k)
            st = ss_error_set(&err, SS_EDATA, "%s: label %d is outside the training classes 0..%d", o.val,
                              (int)val.max_label, k - 1);
        if (st == SS_OK)
            st = choose_lambda_holdout(&s, &val, k, &o, grid, n_grid, pool, m.weight, m.bias, &lambda, config, &err);
    } else if (st == SS_OK && !o.lambda_set && !o.c_set) {
        st = choose_lambda(&s, k, &o, grid, n_grid, common.seed, pool, m.weight, m.bias, &lambda, config, &err);
    }
    dataset_free(&val);
    if (st == SS_OK) {
        st = fit_and_save(&s, k, classes, &o, lambda, pool, &m, config, &err);
        classes = NULL;
    }
    ss_json_free(classes);
    ss_json_free(config);
    ss_linmodel_free(&m);
    dataset_free(&s);
    ss_par_destroy(pool);
    return tool_finish(st == SS_OK ? SS_EXIT_OK : tool_fail(&err));
}

/* ---- Prediction ------------------------------------------------------------- */

/* The output metadata: the input's, with kind, classes and schema of a
 * predictions stream. */
static ss_json *predictions_meta(const ss_json *in, const ss_linmodel *m, int has_key, int has_target, int argc,
                                 char **argv)
{
    ss_json *meta = ss_meta_derive(in, ss_log_prog(), argc - 1, argv + 1);
    ss_json *schema = ss_meta_schema_new();
    const long long any[1] = {-1}, kdim[1] = {m->k};
    if (!meta || !schema || (has_key && ss_meta_schema_add(schema, "key", "utf8", 1, any, 0) != SS_OK) ||
        ss_meta_schema_add(schema, "label", "int64", 0, NULL, 0) != SS_OK ||
        ss_meta_schema_add(schema, "logits", "float32", 1, kdim, 0) != SS_OK ||
        ss_meta_schema_add(schema, "probs", "float32", 1, kdim, 0) != SS_OK ||
        (has_target && ss_meta_schema_add(schema, "target", "int64", 0, NULL, 0) != SS_OK)) {
        ss_json_free(meta);
        ss_json_free(schema);
        return NULL;
    }
    ss_json_set(meta, "kind", ss_json_new_string("predictions"));
    ss_json_set(meta, "schema", schema);
    if (m->classes)
        ss_json_set(meta, "classes", ss_json_clone(m->classes));
    return meta;
}

typedef struct {
    const ss_linmodel *m;
    float *logits, *probs, *scratch;
    int has_key, has_target;
} predictor;

/* Writes the prediction for one input record. */
static ss_status predict_record(predictor *p, tsf_writer *w, const tsf_record *rec, const char *field,
                                const char *input, ss_error *err)
{
    const tsf_field *f = feature_field(rec, field, input, p->m->d, err);
    if (!f)
        return err->status;
    const tsf_field *key = tsf_record_find(rec, "key");
    if (p->has_key && (!key || key->dtype != TSF_UTF8))
        return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 " has no utf8 'key' field, unlike the first record",
                            input, rec->index);
    int64_t target;
    int has = record_label(rec, input, &target, err);
    if (has < 0)
        return err->status;
    if (has != p->has_target)
        return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 " %s a 'label' field, unlike the first record",
                            input, rec->index, has ? "has" : "lacks");

    /* Softmax in double so that the float probabilities sum to 1 within rounding. */
    const int k = p->m->k;
    ss_linmodel_logits(p->m, f->data, 1, p->logits, p->scratch);
    int best = 0;
    for (int c = 1; c < k; c++)
        if (p->logits[c] > p->logits[best])
            best = c;
    double sum = 0;
    for (int c = 0; c < k; c++)
        sum += exp((double)p->logits[c] - (double)p->logits[best]);
    for (int c = 0; c < k; c++)
        p->probs[c] = (float)(exp((double)p->logits[c] - (double)p->logits[best]) / sum);

    int64_t label = best;
    const uint64_t kdim[1] = {(uint64_t)k};
    tsf_field out[5];
    int n = 0;
    if (p->has_key)
        tsf_field_set(&out[n++], "key", key->dtype, key->ndim, key->dims, key->data);
    tsf_field_set(&out[n++], "label", TSF_INT64, 0, NULL, &label);
    tsf_field_set(&out[n++], "logits", TSF_FLOAT32, 1, kdim, p->logits);
    tsf_field_set(&out[n++], "probs", TSF_FLOAT32, 1, kdim, p->probs);
    if (p->has_target)
        tsf_field_set(&out[n++], "target", TSF_INT64, 0, NULL, &target);
    if (tsf_writer_write(w, out, n) != SS_OK) {
        *err = *tsf_writer_error(w);
        return err->status;
    }
    return SS_OK;
}

/* Reads every record after the first stream header and writes predictions. */
static ss_status predict_stream(const ss_linmodel *m, tsf_reader *r, tool_output *out,
                                const tool_output_opts *oo, const char *field, int argc, char **argv,
                                ss_error *err)
{
    predictor p = {m, NULL, NULL, NULL, 0, 0};
    tsf_record *rec = malloc(sizeof *rec);
    p.logits = malloc((size_t)m->k * sizeof(float));
    p.probs = malloc((size_t)m->k * sizeof(float));
    p.scratch = malloc((size_t)m->d * sizeof(float));
    ss_status st = SS_OK;
    ss_json *meta = NULL;
    if (!rec || !p.logits || !p.probs || !p.scratch) {
        st = ss_error_set(err, SS_ENOMEM, "out of memory");
        goto done;
    }
    /* The first record decides whether the output carries key and target. */
    int got = tsf_reader_next(r, rec);
    if (got < 0) {
        st = (*err = *tsf_reader_error(r), err->status);
        goto done;
    }
    if (got == 1) {
        const tsf_field *key = tsf_record_find(rec, "key");
        p.has_key = key && key->dtype == TSF_UTF8;
        p.has_target = tsf_record_find(rec, "label") != NULL;
    }
    if (!(meta = predictions_meta(tsf_reader_meta(r), m, p.has_key, p.has_target, argc, argv))) {
        st = ss_error_set(err, SS_ENOMEM, "out of memory");
        goto done;
    }
    if ((st = tool_output_open(out, oo, meta, err)) != SS_OK)
        goto done;
    while (got == 1) {
        if ((st = predict_record(&p, out->w, rec, field, tsf_reader_name(r), err)) != SS_OK)
            goto done;
        got = tsf_reader_next(r, rec);
    }
    if (got < 0)
        st = (*err = *tsf_reader_error(r), err->status);
done:
    ss_json_free(meta);
    free(rec);
    free(p.logits);
    free(p.probs);
    free(p.scratch);
    return st;
}

static int run_predict(int argc, char **argv)
{
    const char *model_path = NULL, *field = "embedding";
    tool_output_opts oo;
    tool_output_opts_default(&oo);
    const ss_option opts[] = {
        {"model", 'm', SS_ARG_STRING, &model_path, "MODEL", "linear model checkpoint from selfsup-probe (required)", 0, 0, NULL, NULL},
        {"field", 'f', SS_ARG_STRING, &field, "NAME", "float32 feature field (default embedding)", 0, 0, NULL, NULL},
        TOOL_OUTPUT_OPTIONS(oo),
        {0}};
    const ss_command cmd = {
        "selfsup-probe predict", "-m MODEL [OPTION]... [EMBEDDINGS]",
        "Apply a linear probe to an embeddings stream (standard input when EMBEDDINGS is\n"
        "absent or '-') and write a predictions stream: per record `key` (when the input\n"
        "has one), the predicted `label`, `logits` and `probs` (softmax) of shape [K],\n"
        "and `target`, the input's label, when the input has labels.",
        NULL, opts, 0, 0, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if (!model_path)
        return tool_usage(cmd.name, "the model -m MODEL is required");
    ss_blas_set_threads(1);

    ss_error err;
    ss_linmodel m;
    if (ss_linmodel_load(&m, model_path, NULL, &err) != SS_OK)
        return tool_finish(tool_fail(&err));
    const char *input = first < argc ? argv[first] : "-";
    tsf_reader *r = tsf_reader_open_path(input, NULL, &err);
    tool_output out = {0};
    ss_status st = r ? SS_OK : err.status;
    if (st == SS_OK && tsf_reader_start(r) <= 0)
        st = (err = *tsf_reader_error(r), err.status);
    if (st == SS_OK)
        st = predict_stream(&m, r, &out, &oo, field, argc, argv, &err);
    if (st == SS_OK)
        st = tool_output_finish(&out, &err);
    else
        tool_output_abort(&out, &err);
    tsf_reader_close(r);
    ss_linmodel_free(&m);
    return tool_finish(st == SS_OK ? SS_EXIT_OK : tool_fail(&err));
}

int main(int argc, char **argv)
{
    tool_start("selfsup-probe");
    if (argc >= 2 && strcmp(argv[1], "predict") == 0) {
        ss_log_init("selfsup-probe predict", 1);
        return run_predict(argc - 1, argv + 1);
    }
    return run_train(argc, argv);
}
