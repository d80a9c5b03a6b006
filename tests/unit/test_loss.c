/* Tests of ss_loss: NT-Xent, InfoNCE and softmax cross-entropy against the
 * float64 NumPy references in tests/fixtures/loss_fixtures.txt (written by
 * tests/fixtures/make_loss_fixtures.py), then invariants that need no
 * reference: equal embeddings give the chance loss, gradients agree with
 * central differences, small temperatures stay finite, bad arguments are
 * rejected. Ends with a timing comment that is not checked. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "ss_loss.h"

#define FIXTURES "tests/fixtures/loss_fixtures.txt"

/* Tolerances against the float64 references.
 *
 * Loss: |loss - ref| <= LOSS_RTOL |ref| + LOSS_ATOL_T / T. The kernels
 * compute cosine similarities and scores in float32, which carry errors of
 * about 1e-7 that the division by T magnifies, hence the 1/T term.
 *
 * Gradient, element by element: |g - ref| <= GRAD_ATOL max|ref| +
 * GRAD_RTOL |ref|, where max|ref| is the largest reference element of the
 * same row, because small elements are differences of larger float32
 * products. Per row rather than per case because a row below the norm
 * floor has a gradient about 1e12 times larger than the others. */
#define LOSS_RTOL 1e-5
#define LOSS_ATOL_T 1e-7
#define GRAD_ATOL 3e-5
#define GRAD_RTOL 1e-4

/* A small xorshift generator, so the test data depend on nothing else. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static double uniform01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static float gaussian(void)
{
    double u = uniform01();
    double v = uniform01();
    return (float)(sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v));
}

static void fill_gaussian(float *x, size_t count, float scale)
{
    for (size_t i = 0; i < count; i++)
        x[i] = scale * gaussian();
}

static float *alloc_floats(size_t count)
{
    float *p = calloc(count ? count : 1, sizeof *p);
    if (!p) {
        fprintf(stderr, "test_loss: out of memory\n");
        exit(1);
    }
    return p;
}

static double max_abs(const float *x, size_t count)
{
    double m = 0.0;
    for (size_t i = 0; i < count; i++)
        m = fmax(m, fabs((double)x[i]));
    return m;
}

static int all_finite(const float *x, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(x[i]))
            return 0;
    }
    return 1;
}

typedef enum { LOSS_NTXENT, LOSS_INFONCE } contrastive_kind;

/* Runs one contrastive loss with a work array of exactly the advertised
 * size. */
static ss_status run_contrastive(contrastive_kind kind, float *dz, ss_loss_result *out, const float *z,
                                 int n, int d, float t, ss_error *err)
{
    size_t size = kind == LOSS_NTXENT ? ss_ntxent_work_size(n, d) : ss_infonce_work_size(n, d);
    float *work = alloc_floats(size);
    ss_status st = kind == LOSS_NTXENT ? ss_ntxent(dz, out, z, n, d, t, work, err)
                                       : ss_infonce(dz, out, z, n, d, t, work, err);
    free(work);
    return st;
}

/* ---- fixtures ---- */

static int read_key(FILE *fp, const char *key)
{
    char word[64];
    if (fscanf(fp, "%63s", word) != 1 || strcmp(word, key) != 0) {
        printf("# %s: expected '%s'\n", FIXTURES, key);
        return 0;
    }
    return 1;
}

static int read_floats(FILE *fp, const char *key, float *x, size_t count)
{
    if (!read_key(fp, key))
        return 0;
    for (size_t i = 0; i < count; i++) {
        if (fscanf(fp, "%f", &x[i]) != 1) {
            printf("# %s: '%s' has fewer than %zu values\n", FIXTURES, key, count);
            return 0;
        }
    }
    return 1;
}

static int read_doubles(FILE *fp, const char *key, double *x, size_t count)
{
    if (!read_key(fp, key))
        return 0;
    for (size_t i = 0; i < count; i++) {
        if (fscanf(fp, "%lf", &x[i]) != 1) {
            printf("# %s: '%s' has fewer than %zu values\n", FIXTURES, key, count);
            return 0;
        }
    }
    return 1;
}

/* Checks one result against its reference; grad and ref_grad are [rows,
 * width] and label names the case. */
static void compare_result(const char *label, const ss_loss_result *r, const float *grad, double ref_loss,
                           double ref_accuracy, const double *ref_grad, size_t rows, size_t width,
                           double loss_atol)
{
    CHECK_MSG(fabs(r->loss - ref_loss) <= LOSS_RTOL * fabs(ref_loss) + loss_atol,
              "%s: loss %.10g, reference %.10g", label, r->loss, ref_loss);
    CHECK_MSG(r->accuracy == ref_accuracy, "%s: accuracy %g, reference %g", label, r->accuracy,
              ref_accuracy);

    size_t bad = 0;
    double worst = 0.0;
    for (size_t row = 0; row < rows; row++) {
        const double *ref = ref_grad + row * width;
        const float *got = grad + row * width;
        double scale = 0.0;
        for (size_t c = 0; c < width; c++)
            scale = fmax(scale, fabs(ref[c]));
        for (size_t c = 0; c < width; c++) {
            double diff = fabs((double)got[c] - ref[c]);
            if (!(diff <= GRAD_ATOL * scale + GRAD_RTOL * fabs(ref[c])))
                bad++;
            worst = fmax(worst, diff / (scale > 0.0 ? scale : 1.0));
        }
    }
    CHECK_MSG(bad == 0, "%s: %zu of %zu gradient elements out of tolerance, worst |diff|/max|ref| %.3g",
              label, bad, rows * width, worst);
}

static void check_contrastive_case(FILE *fp, contrastive_kind kind, int *cases)
{
    int n, d;
    float t;
    if (fscanf(fp, " n %d d %d t %f", &n, &d, &t) != 3 || n < 2 || n > 64 || d < 1 || d > 64) {
        CHECK_MSG(0, "%s: bad contrastive case header", FIXTURES);
        return;
    }
    size_t count = (size_t)2 * n * d;
    float *z = alloc_floats(count);
    float *dz = alloc_floats(count);
    double *ref_grad = calloc(count, sizeof *ref_grad);
    double ref_loss, ref_accuracy;
    int ok = ref_grad && read_floats(fp, "z", z, count) && read_doubles(fp, "loss", &ref_loss, 1) &&
             read_doubles(fp, "accuracy", &ref_accuracy, 1) && read_doubles(fp, "grad", ref_grad, count) &&
             read_key(fp, "end");
    CHECK_MSG(ok, "%s: case %d is truncated", FIXTURES, *cases + 1);
    if (ok) {
        char label[96];
        snprintf(label, sizeof label, "%s n=%d d=%d T=%g", kind == LOSS_NTXENT ? "NT-Xent" : "InfoNCE", n,
                 d, (double)t);
        ss_loss_result r;
        ss_error err;
        ss_status st = run_contrastive(kind, dz, &r, z, n, d, t, &err);
        CHECK_MSG(st == SS_OK, "%s: %s", label, err.msg);
        if (st == SS_OK)
            compare_result(label, &r, dz, ref_loss, ref_accuracy, ref_grad, (size_t)2 * n, (size_t)d,
                           LOSS_ATOL_T / (double)t);
        (*cases)++;
    }
    free(z);
    free(dz);
    free(ref_grad);
}

static void check_xent_case(FILE *fp, int *cases)
{
    int n, k;
    if (fscanf(fp, " n %d k %d", &n, &k) != 2 || n < 1 || n > 64 || k < 1 || k > 64) {
        CHECK_MSG(0, "%s: bad xent case header", FIXTURES);
        return;
    }
    size_t count = (size_t)n * k;
    float *logits = alloc_floats(count);
    float *grad = alloc_floats(count);
    double *ref_grad = calloc(count, sizeof *ref_grad);
    int64_t labels[64];
    double ref_loss, ref_accuracy;
    int ok = ref_grad && read_floats(fp, "logits", logits, count) && read_key(fp, "labels");
    for (int i = 0; ok && i < n; i++) {
        long long label;
        ok = fscanf(fp, "%lld", &label) == 1;
        labels[i] = label;
    }
    ok = ok && read_doubles(fp, "loss", &ref_loss, 1) && read_doubles(fp, "accuracy", &ref_accuracy, 1) &&
         read_doubles(fp, "grad", ref_grad, count) && read_key(fp, "end");
    CHECK_MSG(ok, "%s: case %d is truncated", FIXTURES, *cases + 1);
    if (ok) {
        char label[64];
        snprintf(label, sizeof label, "softmax xent n=%d k=%d", n, k);
        ss_loss_result r;
        ss_error err;
        ss_status st = ss_softmax_xent(grad, &r, logits, labels, n, k, &err);
        CHECK_MSG(st == SS_OK, "%s: %s", label, err.msg);
        if (st == SS_OK)
            compare_result(label, &r, grad, ref_loss, ref_accuracy, ref_grad, (size_t)n, (size_t)k, 0.0);
        (*cases)++;
    }
    free(logits);
    free(grad);
    free(ref_grad);
}

static void test_loss_fixtures(void)
{
    FILE *fp = fopen(FIXTURES, "r");
    CHECK_MSG(fp != NULL, "cannot open %s: run the test from the repository root", FIXTURES);
    if (!fp)
        return;

    int cases[3] = {0, 0, 0};
    char word[64];
    while (fscanf(fp, "%63s", word) == 1) {
        if (word[0] == '#') {
            int c;
            while ((c = fgetc(fp)) != EOF && c != '\n')
                ;
            continue;
        }
        if (strcmp(word, "case") != 0 || fscanf(fp, "%63s", word) != 1) {
            CHECK_MSG(0, "%s: expected 'case KIND', got '%s'", FIXTURES, word);
            break;
        }
        if (strcmp(word, "ntxent") == 0) {
            check_contrastive_case(fp, LOSS_NTXENT, &cases[0]);
        } else if (strcmp(word, "infonce") == 0) {
            check_contrastive_case(fp, LOSS_INFONCE, &cases[1]);
        } else if (strcmp(word, "xent") == 0) {
            check_xent_case(fp, &cases[2]);
        } else {
            CHECK_MSG(0, "%s: unknown case kind '%s'", FIXTURES, word);
            break;
        }
    }
    fclose(fp);

    /* 5 temperatures x 3 batch sizes x 2 widths plus one with rows below
     * the norm floor, 4 InfoNCE and 3 xent. */
    CHECK_MSG(cases[0] == 31, "read %d NT-Xent cases, expected 31", cases[0]);
    CHECK_MSG(cases[1] == 4, "read %d InfoNCE cases, expected 4", cases[1]);
    CHECK_MSG(cases[2] == 3, "read %d xent cases, expected 3", cases[2]);
}

/* ---- invariants ---- */

static void test_ntxent_equal_rows_chance(void)
{
    static const int batch[] = {2, 3, 8, 33};
    static const float temps[] = {0.01f, 0.1f, 1.0f};
    const int d = 16;
    float v[16];
    fill_gaussian(v, 16, 1.0f);

    for (size_t b = 0; b < sizeof batch / sizeof batch[0]; b++) {
        for (size_t ti = 0; ti < sizeof temps / sizeof temps[0]; ti++) {
            int n = batch[b];
            float t = temps[ti];
            size_t count = (size_t)2 * n * d;
            float *z = alloc_floats(count);
            float *dz = alloc_floats(count);
            for (int i = 0; i < 2 * n; i++)
                memcpy(z + (size_t)i * d, v, sizeof v);

            ss_loss_result r;
            ss_error err;
            CHECK(run_contrastive(LOSS_NTXENT, dz, &r, z, n, d, t, &err) == SS_OK);
            /* Similarities equal 1 up to a few float32 ulps, which 1/T
             * magnifies into the logits. */
            double chance = log(2.0 * n - 1.0);
            CHECK_MSG(fabs(r.loss - chance) <= 1e-6 + 5e-7 / (double)t, "n=%d T=%g: loss %.9g, ln(2N-1) %.9g",
                      n, (double)t, r.loss, chance);
            CHECK(r.chance_loss == chance);
            CHECK_MSG(r.accuracy == 0.0, "n=%d T=%g: accuracy %g with all scores tied", n, (double)t,
                      r.accuracy);
            CHECK_MSG(max_abs(dz, count) <= 1e-6 / (double)t, "n=%d T=%g: max |dz| %g", n, (double)t,
                      max_abs(dz, count));
            free(z);
            free(dz);
        }
    }
}

/* The loss depends on each row only through its direction, so every row of
 * the gradient is orthogonal to its row of z. */
static void test_ntxent_grad_orthogonal(void)
{
    const int n = 8, d = 16;
    size_t count = (size_t)2 * n * d;
    float *z = alloc_floats(count);
    float *dz = alloc_floats(count);
    fill_gaussian(z, count, 3.0f);

    ss_loss_result r;
    ss_error err;
    CHECK(run_contrastive(LOSS_NTXENT, dz, &r, z, n, d, 0.2f, &err) == SS_OK);
    for (int i = 0; i < 2 * n; i++) {
        double dot = 0.0, zz = 0.0, gg = 0.0;
        for (int c = 0; c < d; c++) {
            double zc = (double)z[(size_t)i * d + c], gc = (double)dz[(size_t)i * d + c];
            dot += zc * gc;
            zz += zc * zc;
            gg += gc * gc;
        }
        CHECK_MSG(fabs(dot) <= 1e-5 * sqrt(zz * gg), "row %d: z.dz = %g, |z||dz| = %g", i, dot, sqrt(zz * gg));
    }
    free(z);
    free(dz);
}

/* Checks grad against central differences of f, perturbing one float of x
 * at a time by about eps. The step is measured after rounding to float. */
typedef double (*loss_fn)(const float *x, const void *ctx);

static void check_finite_differences(const char *label, loss_fn f, const void *ctx, float *x,
                                     const float *grad, size_t count, float eps)
{
    double scale = max_abs(grad, count);
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        float saved = x[i];
        x[i] = saved + eps;
        double hi_x = (double)x[i];
        double hi = f(x, ctx);
        x[i] = saved - eps;
        double lo_x = (double)x[i];
        double lo = f(x, ctx);
        x[i] = saved;
        double fd = (hi - lo) / (hi_x - lo_x);
        double diff = fabs(fd - (double)grad[i]);
        /* Truncation error O(eps^2) plus float32 noise in the loss divided
         * by 2 eps. */
        if (!(diff <= 2e-3 * scale + 1e-2 * fabs((double)grad[i]))) {
            if (bad < 5)
                printf("# %s: element %zu: analytic %.6g, central difference %.6g\n", label, i,
                       (double)grad[i], fd);
            bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s: %zu of %zu gradient elements disagree", label, bad, count);
}

typedef struct {
    contrastive_kind kind;
    int n, d;
    float t;
} contrastive_ctx;

static double contrastive_loss(const float *z, const void *ctx)
{
    const contrastive_ctx *c = ctx;
    float *dz = alloc_floats((size_t)2 * c->n * c->d);
    ss_loss_result r;
    ss_error err;
    ss_status st = run_contrastive(c->kind, dz, &r, z, c->n, c->d, c->t, &err);
    free(dz);
    return st == SS_OK ? r.loss : (double)NAN;
}

static void test_contrastive_finite_differences(void)
{
    static const contrastive_ctx cases[] = {
        {LOSS_NTXENT, 3, 5, 0.5f},
        {LOSS_NTXENT, 4, 6, 0.2f},
        {LOSS_NTXENT, 2, 3, 1.0f},
        {LOSS_INFONCE, 3, 5, 1.0f},
        {LOSS_INFONCE, 4, 6, 0.3f},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const contrastive_ctx *c = &cases[k];
        size_t count = (size_t)2 * c->n * c->d;
        float *z = alloc_floats(count);
        float *dz = alloc_floats(count);
        fill_gaussian(z, count, c->kind == LOSS_NTXENT ? 1.0f : 0.5f);

        ss_loss_result r;
        ss_error err;
        CHECK(run_contrastive(c->kind, dz, &r, z, c->n, c->d, c->t, &err) == SS_OK);
        char label[64];
        snprintf(label, sizeof label, "%s n=%d d=%d T=%g", c->kind == LOSS_NTXENT ? "NT-Xent" : "InfoNCE",
                 c->n, c->d, (double)c->t);
        check_finite_differences(label, contrastive_loss, c, z, dz, count, 1e-3f);
        free(z);
        free(dz);
    }
}

typedef struct {
    const int64_t *labels;
    int n, k;
} xent_ctx;

static double xent_loss(const float *logits, const void *ctx)
{
    const xent_ctx *c = ctx;
    ss_loss_result r;
    ss_error err;
    ss_status st = ss_softmax_xent(NULL, &r, logits, c->labels, c->n, c->k, &err);
    return st == SS_OK ? r.loss : (double)NAN;
}

static void test_xent_finite_differences(void)
{
    enum { N = 6, K = 7 };
    float logits[N * K], grad[N * K];
    int64_t labels[N] = {0, 6, 3, 3, 1, 5};
    fill_gaussian(logits, N * K, 2.0f);

    ss_loss_result r;
    ss_error err;
    CHECK(ss_softmax_xent(grad, &r, logits, labels, N, K, &err) == SS_OK);
    xent_ctx c = {labels, N, K};
    check_finite_differences("softmax xent", xent_loss, &c, logits, grad, N * K, 1e-3f);
    CHECK(fabs(r.loss - xent_loss(logits, &c)) == 0.0);
    CHECK(r.chance_loss == log((double)K));
}

static void test_ntxent_small_temperature_finite(void)
{
    const int n = 8, d = 16;
    size_t count = (size_t)2 * n * d;
    float *z = alloc_floats(count);
    float *dz = alloc_floats(count);
    float base[16];
    fill_gaussian(base, 16, 1.0f);

    /* Nearly aligned rows: similarities within about 1e-6 of 1. */
    for (size_t i = 0; i < count; i++)
        z[i] = base[i % d] + 1e-3f * gaussian();
    static const float temps[] = {0.01f, 1e-4f};
    for (size_t k = 0; k < 2; k++) {
        ss_loss_result r;
        ss_error err;
        CHECK(run_contrastive(LOSS_NTXENT, dz, &r, z, n, d, temps[k], &err) == SS_OK);
        CHECK_MSG(isfinite(r.loss), "nearly aligned, T=%g: loss %g", (double)temps[k], r.loss);
        CHECK(all_finite(dz, count));
    }

    /* Unrelated rows at T = 0.01: logits spread over up to 200 units. */
    fill_gaussian(z, count, 1.0f);
    ss_loss_result r;
    ss_error err;
    CHECK(run_contrastive(LOSS_NTXENT, dz, &r, z, n, d, 0.01f, &err) == SS_OK);
    CHECK_MSG(isfinite(r.loss) && r.loss > 0.0, "random rows, T=0.01: loss %g", r.loss);
    CHECK(all_finite(dz, count));

    /* A zero row is divided by the norm floor and stays finite. */
    memset(z + 3 * d, 0, (size_t)d * sizeof *z);
    CHECK(run_contrastive(LOSS_NTXENT, dz, &r, z, n, d, 0.1f, &err) == SS_OK);
    CHECK(isfinite(r.loss));
    CHECK(all_finite(dz, count));
    free(z);
    free(dz);
}

/* Each loss writes nothing past the work size it advertises. */
static void test_contrastive_work_bounds(void)
{
    const int n = 5, d = 7;
    const size_t guard = 64;
    size_t count = (size_t)2 * n * d;
    float *z = alloc_floats(count);
    float *dz = alloc_floats(count);
    fill_gaussian(z, count, 1.0f);

    for (int kind = 0; kind < 2; kind++) {
        size_t size = kind == LOSS_NTXENT ? ss_ntxent_work_size(n, d) : ss_infonce_work_size(n, d);
        float *work = alloc_floats(size + guard);
        for (size_t i = 0; i < guard; i++)
            work[size + i] = 12345.0f;
        ss_loss_result r;
        ss_error err;
        ss_status st = kind == LOSS_NTXENT ? ss_ntxent(dz, &r, z, n, d, 0.1f, work, &err)
                                           : ss_infonce(dz, &r, z, n, d, 0.1f, work, &err);
        CHECK(st == SS_OK);
        int intact = 1;
        for (size_t i = 0; i < guard; i++)
            intact &= work[size + i] == 12345.0f;
        CHECK_MSG(intact, "%s wrote past its work size", kind == LOSS_NTXENT ? "NT-Xent" : "InfoNCE");
        CHECK(r.chance_loss == (kind == LOSS_NTXENT ? log(2.0 * n - 1.0) : log((double)n)));
        free(work);
    }
    free(z);
    free(dz);
}

static void test_contrastive_rejects_bad_args(void)
{
    static const struct {
        int n, d;
        float t;
        const char *needle;
    } bad[] = {
        {1, 4, 0.1f, "batch size 1"},
        {0, 4, 0.1f, "batch size 0"},
        {-3, 4, 0.1f, "batch size -3"},
        {4, 0, 0.1f, "embedding width 0"},
        {4, 4, 0.0f, "temperature 0"},
        {4, 4, -0.5f, "temperature -0.5"},
        {4, 4, NAN, "temperature nan"},
        {4, 4, INFINITY, "temperature inf"},
    };
    float z[64] = {0}, dz[64], work[256];
    for (int kind = 0; kind < 2; kind++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ss_loss_result r;
            ss_error err;
            ss_error_clear(&err);
            ss_status st = kind == LOSS_NTXENT ? ss_ntxent(dz, &r, z, bad[i].n, bad[i].d, bad[i].t, work, &err)
                                               : ss_infonce(dz, &r, z, bad[i].n, bad[i].d, bad[i].t, work, &err);
            CHECK_MSG(st == SS_EINVAL, "case %zu: status %d", i, (int)st);
            CHECK_STR_CONTAINS(err.msg, bad[i].needle);
        }
    }
}

static void test_xent_rejects_bad_labels(void)
{
    float logits[3 * 4] = {0};
    float grad[3 * 4];
    ss_loss_result r;
    ss_error err;

    int64_t too_big[3] = {0, 1, 4};
    CHECK(ss_softmax_xent(grad, &r, logits, too_big, 3, 4, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "row 2");
    CHECK_STR_CONTAINS(err.msg, "label 4");
    CHECK_STR_CONTAINS(err.msg, "0..3");

    int64_t negative[3] = {0, -1, 2};
    CHECK(ss_softmax_xent(grad, &r, logits, negative, 3, 4, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "row 1");
    CHECK_STR_CONTAINS(err.msg, "label -1");

    int64_t fine[3] = {0, 1, 2};
    CHECK(ss_softmax_xent(grad, &r, logits, fine, 0, 4, &err) == SS_EINVAL);
    CHECK(ss_softmax_xent(grad, &r, logits, fine, 3, 0, &err) == SS_EINVAL);

    /* Constant logits: the chance loss, and ties count as misses. */
    CHECK(ss_softmax_xent(grad, &r, logits, fine, 3, 4, &err) == SS_OK);
    CHECK(fabs(r.loss - log(4.0)) < 1e-12);
    CHECK(r.accuracy == 0.0);
}

static void test_softmax_rows(void)
{
    enum { N = 4, K = 5 };
    float logits[N * K], probs[N * K], grad[N * K];
    int64_t labels[N] = {0, 1, 2, 3};
    fill_gaussian(logits, N * K, 3.0f);
    logits[K] = 1000.0f;     /* row 1: one huge logit */
    logits[2 * K + 1] = -1000.0f;
    for (int j = 0; j < K; j++)
        logits[3 * K + j] = 88.0f + (float)j;   /* row 3: exp overflows float without the shift */

    ss_softmax_rows(probs, logits, N, K);
    CHECK(all_finite(probs, N * K));
    for (int i = 0; i < N; i++) {
        double sum = 0.0;
        for (int j = 0; j < K; j++)
            sum += (double)probs[i * K + j];
        CHECK_MSG(fabs(sum - 1.0) < 1e-6, "row %d sums to %.9g", i, sum);
    }
    CHECK(probs[K] == 1.0f);

    /* The cross-entropy gradient is (probs - onehot) / N. */
    ss_loss_result r;
    ss_error err;
    CHECK(ss_softmax_xent(grad, &r, logits, labels, N, K, &err) == SS_OK);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < K; j++) {
            double expect = ((double)probs[i * K + j] - (j == labels[i] ? 1.0 : 0.0)) / N;
            CHECK(fabs((double)grad[i * K + j] - expect) < 1e-7);
        }
    }

    /* In place. */
    float copy[N * K];
    memcpy(copy, logits, sizeof copy);
    ss_softmax_rows(copy, copy, N, K);
    CHECK(memcmp(copy, probs, sizeof copy) == 0);
}

static void test_ntxent_speed(void)
{
    const int n = 256, d = 64, reps = 20;
    size_t count = (size_t)2 * n * d;
    float *z = alloc_floats(count);
    float *dz = alloc_floats(count);
    float *work = alloc_floats(ss_ntxent_work_size(n, d));
    fill_gaussian(z, count, 1.0f);

    ss_loss_result r;
    ss_error err;
    CHECK(ss_ntxent(dz, &r, z, n, d, 0.1f, work, &err) == SS_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < reps; i++)
        ss_ntxent(dz, &r, z, n, d, 0.1f, work, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6) / reps;
    printf("# ss_ntxent n=%d d=%d: %.3f ms per call (mean of %d, not checked)\n", n, d, ms, reps);
    free(z);
    free(dz);
    free(work);
}

int main(void)
{
    RUN(test_loss_fixtures);
    RUN(test_ntxent_equal_rows_chance);
    RUN(test_ntxent_grad_orthogonal);
    RUN(test_contrastive_finite_differences);
    RUN(test_xent_finite_differences);
    RUN(test_ntxent_small_temperature_finite);
    RUN(test_contrastive_work_bounds);
    RUN(test_contrastive_rejects_bad_args);
    RUN(test_xent_rejects_bad_labels);
    RUN(test_softmax_rows);
    RUN(test_ntxent_speed);
    return CHECK_DONE();
}
