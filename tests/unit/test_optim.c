/* Tests of ss_optim. Each optimiser runs three steps against a reference
 * computed here in double and one step against values worked out by hand.
 * Further cases cover the LARS trust ratio at zero norms, no_decay, frozen,
 * lr_scale, state allocation, rejected settings, the learning-rate schedule
 * at its boundaries, and a small quadratic minimised by each optimiser. When
 * /usr/bin/python3 imports torch, five steps are compared with
 * torch.optim.SGD and torch.optim.AdamW. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "ss_optim.h"

#define PYTHON "/usr/bin/python3"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static char tmp_dir[64];

/* Returns 1 when got is within abs_tol + rel_tol * |want| of want. */
static int near(double got, double want, double abs_tol, double rel_tol)
{
    return fabs(got - want) <= abs_tol + rel_tol * fabs(want);
}

/* Tolerance for float arithmetic compared with a double reference. */
#define NEAR_F(got, want) near((double)(got), (want), 1e-6, 1e-5)

static ss_param make_param(const char *name, float *w, float *g, size_t n)
{
    ss_param p;
    memset(&p, 0, sizeof p);
    p.name = name;
    p.w = w;
    p.g = g;
    p.n = n;
    p.lr_scale = 1.0f;
    return p;
}

/* Initial weights and the gradient of each of three steps, shared by the
 * three-step tests. */
#define N3 3
static const float w_start[N3] = {0.5f, -1.25f, 2.0f};
static const float g_steps[3][N3] = {
    {0.1f, -0.2f, 0.3f},
    {-0.4f, 0.05f, 0.25f},
    {0.2f, 0.2f, -0.1f},
};

static void test_optim_kind_names(void)
{
    const char *names[] = {"sgd", "adamw", "lars"};
    const ss_optim_kind kinds[] = {SS_OPTIM_SGD, SS_OPTIM_ADAMW, SS_OPTIM_LARS};
    for (int i = 0; i < 3; i++) {
        ss_optim_kind k = SS_OPTIM_LARS;
        CHECK(ss_optim_kind_from_name(names[i], &k) == 0);
        CHECK(k == kinds[i]);
        CHECK(strcmp(ss_optim_kind_name(kinds[i]), names[i]) == 0);
    }
    ss_optim_kind k = SS_OPTIM_ADAMW;
    CHECK(ss_optim_kind_from_name("SGD", &k) == -1);
    CHECK(ss_optim_kind_from_name("adam", &k) == -1);
    CHECK(ss_optim_kind_from_name("", &k) == -1);
    CHECK(ss_optim_kind_from_name(NULL, &k) == -1);
    CHECK(k == SS_OPTIM_ADAMW);
    CHECK(ss_optim_kind_name((ss_optim_kind)99) != NULL);
}

static void test_optim_defaults(void)
{
    ss_optim o;
    memset(&o, 0xff, sizeof o);
    ss_optim_defaults(&o, SS_OPTIM_LARS);
    CHECK(o.kind == SS_OPTIM_LARS);
    CHECK(o.momentum == 0.9);
    CHECK(o.weight_decay == 0.0);
    CHECK(o.beta1 == 0.9);
    CHECK(o.beta2 == 0.999);
    CHECK(o.eps == 1e-8);
    CHECK(o.trust == 0.001);
    CHECK(o.step == 0);
}

static void test_optim_init_state(void)
{
    const ss_optim_kind kinds[] = {SS_OPTIM_SGD, SS_OPTIM_ADAMW, SS_OPTIM_LARS};
    for (int k = 0; k < 3; k++) {
        float w[5] = {1, 2, 3, 4, 5}, g[5] = {0};
        ss_param params[2] = {make_param("a", w, g, 5), make_param("empty", NULL, NULL, 0)};
        ss_optim o;
        ss_optim_defaults(&o, kinds[k]);
        ss_error err;
        ss_error_clear(&err);
        CHECK_MSG(ss_optim_init(&o, params, 2, &err) == SS_OK, "%s", err.msg);
        CHECK(params[0].m != NULL);
        for (int i = 0; i < 5 && params[0].m; i++)
            CHECK(params[0].m[i] == 0.0f);
        if (kinds[k] == SS_OPTIM_ADAMW) {
            CHECK(params[0].v != NULL);
            for (int i = 0; i < 5 && params[0].v; i++)
                CHECK(params[0].v[i] == 0.0f);
        } else {
            CHECK(params[0].v == NULL);
            CHECK(params[1].v == NULL);
        }

        /* A tensor of no elements is stepped over. */
        ss_optim_step(&o, params, 2, 0.1);
        CHECK(o.step == 1);

        ss_optim_free(params, 2);
        CHECK(params[0].m == NULL);
        CHECK(params[0].v == NULL);
        CHECK(params[1].m == NULL);
        CHECK(params[1].v == NULL);
    }
    ss_optim_free(NULL, 0);

    ss_optim o;
    ss_optim_defaults(&o, SS_OPTIM_SGD);
    ss_error err;
    CHECK(ss_optim_init(&o, NULL, 0, &err) == SS_OK);
}

/* Runs ss_optim_init on one three-element parameter and checks that it
 * returns SS_EINVAL with a message containing field and allocates nothing. */
static void expect_init_rejects(const ss_optim *o, ss_param p, const char *field)
{
    ss_optim copy = *o;
    ss_error err;
    ss_error_clear(&err);
    ss_status st = ss_optim_init(&copy, &p, 1, &err);
    CHECK_MSG(st == SS_EINVAL, "%s: status %d", field, (int)st);
    CHECK_STR_CONTAINS(err.msg, field);
    CHECK(p.m == NULL);
    CHECK(p.v == NULL);
    ss_optim_free(&p, 1);
}

static void test_optim_init_rejects(void)
{
    float w[3] = {0}, g[3] = {0};
    ss_param p = make_param("conv1.w", w, g, 3);
    ss_optim o;

    ss_optim_defaults(&o, SS_OPTIM_SGD);
    o.momentum = 1.0;
    expect_init_rejects(&o, p, "momentum");
    o.momentum = -0.1;
    expect_init_rejects(&o, p, "momentum");
    o.momentum = 0.9;
    o.weight_decay = (double)NAN;
    expect_init_rejects(&o, p, "weight_decay");
    o.weight_decay = -1e-4;
    expect_init_rejects(&o, p, "weight_decay");

    ss_optim_defaults(&o, SS_OPTIM_ADAMW);
    o.beta1 = 1.0;
    expect_init_rejects(&o, p, "beta1");
    o.beta1 = 0.9;
    o.beta2 = -0.5;
    expect_init_rejects(&o, p, "beta2");
    o.beta2 = 0.999;
    o.eps = 0.0;
    expect_init_rejects(&o, p, "eps");

    ss_optim_defaults(&o, SS_OPTIM_LARS);
    o.trust = 0.0;
    expect_init_rejects(&o, p, "trust");
    o.trust = HUGE_VAL;
    expect_init_rejects(&o, p, "trust");

    ss_optim_defaults(&o, SS_OPTIM_SGD);
    ss_param bad = p;
    bad.lr_scale = -1.0f;
    expect_init_rejects(&o, bad, "lr_scale");
    bad.lr_scale = NAN;
    expect_init_rejects(&o, bad, "lr_scale");
    bad = p;
    bad.g = NULL;
    expect_init_rejects(&o, bad, "conv1.w");

    o.kind = (ss_optim_kind)7;
    expect_init_rejects(&o, p, "kind");

    ss_optim_defaults(&o, SS_OPTIM_SGD);
    ss_error err;
    CHECK(ss_optim_init(&o, &p, -1, &err) == SS_EINVAL);
    CHECK(ss_optim_init(&o, NULL, 2, &err) == SS_EINVAL);
}

static void test_optim_init_out_of_memory(void)
{
    if (UNDER_ASAN) {
        printf("# skipped: AddressSanitizer aborts on an allocation this large\n");
        return;
    }
    float w[4] = {0}, g[4] = {0};
    /* calloc rejects SIZE_MAX / 2 floats because the byte count overflows;
     * the arrays behind the huge tensor are never read. */
    ss_param params[2] = {make_param("small", w, g, 4), make_param("huge", w, g, SIZE_MAX / 2)};
    const ss_optim_kind kinds[] = {SS_OPTIM_SGD, SS_OPTIM_ADAMW};
    for (int k = 0; k < 2; k++) {
        ss_optim o;
        ss_optim_defaults(&o, kinds[k]);
        ss_error err;
        ss_error_clear(&err);
        CHECK(ss_optim_init(&o, params, 2, &err) == SS_ENOMEM);
        CHECK_STR_CONTAINS(err.msg, "huge");
        CHECK(params[0].m == NULL);
        CHECK(params[0].v == NULL);
        CHECK(params[1].m == NULL);
        CHECK(params[1].v == NULL);
    }
}

static void test_optim_sgd_first_step(void)
{
    /* PyTorch starts the momentum buffer at g + wd w, so the first update
     * is w -= lr (g + wd w); lr 0.1, wd 0.1, momentum 0.9. */
    float w[N3], g[N3];
    memcpy(w, w_start, sizeof w);
    memcpy(g, g_steps[0], sizeof g);
    ss_param p = make_param("w", w, g, N3);
    ss_optim o;
    ss_optim_defaults(&o, SS_OPTIM_SGD);
    o.weight_decay = 0.1;
    ss_error err;
    CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);
    ss_optim_step(&o, &p, 1, 0.1);

    /* 0.5 - 0.1 (0.1 + 0.05); -1.25 - 0.1 (-0.2 - 0.125); 2 - 0.1 (0.3 + 0.2) */
    const double want_w[N3] = {0.485, -1.2175, 1.95};
    const double want_m[N3] = {0.15, -0.325, 0.5};
    for (int i = 0; i < N3; i++) {
        CHECK_MSG(NEAR_F(w[i], want_w[i]), "w[%d] = %.9g, expected %.9g", i, (double)w[i],
                  want_w[i]);
        CHECK_MSG(NEAR_F(p.m[i], want_m[i]), "m[%d] = %.9g, expected %.9g", i, (double)p.m[i],
                  want_m[i]);
    }
    CHECK(o.step == 1);
    ss_optim_free(&p, 1);
}

static void test_optim_sgd_three_steps(void)
{
    const double lr[3] = {0.1, 0.05, 0.2}, mu = 0.8, wd = 0.01;
    float w[N3], g[N3];
    memcpy(w, w_start, sizeof w);
    ss_param p = make_param("w", w, g, N3);
    ss_optim o;
    ss_optim_defaults(&o, SS_OPTIM_SGD);
    o.momentum = mu;
    o.weight_decay = wd;
    ss_error err;
    CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);

    double ref_w[N3], ref_buf[N3];
    for (int i = 0; i < N3; i++)
        ref_w[i] = (double)w_start[i];
    for (int t = 0; t < 3; t++) {
        memcpy(g, g_steps[t], sizeof g);
        ss_optim_step(&o, &p, 1, lr[t]);
        for (int i = 0; i < N3; i++) {
            double d = (double)g_steps[t][i] + wd * ref_w[i];
            ref_buf[i] = t == 0 ? d : mu * ref_buf[i] + d;
            ref_w[i] -= lr[t] * ref_buf[i];
            CHECK_MSG(NEAR_F(w[i], ref_w[i]), "step %d w[%d] = %.9g, expected %.9g", t + 1, i,
                      (double)w[i], ref_w[i]);
            CHECK_MSG(NEAR_F(p.m[i], ref_buf[i]), "step %d m[%d] = %.9g, expected %.9g", t + 1,
                      i, (double)p.m[i], ref_buf[i]);
        }
    }
    CHECK(o.step == 3);
    ss_optim_free(&p, 1);
}

static void test_optim_adamw_first_step(void)
{
    /* At t = 1 the bias corrections make mhat = g and vhat = g^2, so Adam
     * moves each weight by lr sign(g), and decoupled decay adds lr wd w. */
    float w[N3], g[N3];
    memcpy(w, w_start, sizeof w);
    memcpy(g, g_steps[0], sizeof g);
    ss_param p = make_param("w", w, g, N3);
    ss_optim o;
    ss_optim_defaults(&o, SS_OPTIM_ADAMW);
    o.weight_decay = 0.1;
    ss_error err;
    CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);
    ss_optim_step(&o, &p, 1, 0.01);
    /* 0.5 - 0.0005 - 0.01; -1.25 + 0.00125 + 0.01; 2 - 0.002 - 0.01 */
    const double want[N3] = {0.4895, -1.23875, 1.988};
    for (int i = 0; i < N3; i++)
        CHECK_MSG(NEAR_F(w[i], want[i]), "w[%d] = %.9g, expected %.9g", i, (double)w[i],
                  want[i]);
    ss_optim_free(&p, 1);

    /* Without decay the first step is lr in magnitude whatever the gradient
     * scale, as long as |g| is far above eps. */
    float w2[4] = {1, 1, 1, 1}, g2[4] = {1e-3f, 5.0f, -100.0f, -0.25f};
    p = make_param("w2", w2, g2, 4);
    ss_optim_defaults(&o, SS_OPTIM_ADAMW);
    CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);
    ss_optim_step(&o, &p, 1, 0.003);
    for (int i = 0; i < 4; i++) {
        double delta = (double)w2[i] - 1.0;
        double want_delta = g2[i] > 0 ? -0.003 : 0.003;
        CHECK_MSG(near(delta, want_delta, 1e-7, 1e-4), "step of w[%d] = %.9g, expected %.9g",
                  i, delta, want_delta);
    }
    ss_optim_free(&p, 1);
}

static void test_optim_adamw_three_steps(void)
{
    const double lr[3] = {0.01, 0.02, 0.005}, b1 = 0.8, b2 = 0.95, eps = 1e-6, wd = 0.05;
    float w[N3], g[N3];
    memcpy(w, w_start, sizeof w);
    ss_param p = make_param("w", w, g, N3);
    ss_optim o;
    ss_optim_defaults(&o, SS_OPTIM_ADAMW);
    o.beta1 = b1;
    o.beta2 = b2;
    o.eps = eps;
    o.weight_decay = wd;
    ss_error err;
    CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);

    double ref_w[N3], ref_m[N3] = {0}, ref_v[N3] = {0};
    for (int i = 0; i < N3; i++)
        ref_w[i] = (double)w_start[i];
    for (int t = 0; t < 3; t++) {
        memcpy(g, g_steps[t], sizeof g);
        ss_optim_step(&o, &p, 1, lr[t]);
        for (int i = 0; i < N3; i++) {
            double gi = (double)g_steps[t][i];
            ref_m[i] = b1 * ref_m[i] + (1 - b1) * gi;
            ref_v[i] = b2 * ref_v[i] + (1 - b2) * gi * gi;
            double mhat = ref_m[i] / (1 - pow(b1, t + 1));
            double vhat = ref_v[i] / (1 - pow(b2, t + 1));
            ref_w[i] = ref_w[i] - lr[t] * wd * ref_w[i] - lr[t] * mhat / (sqrt(vhat) + eps);
            CHECK_MSG(NEAR_F(w[i], ref_w[i]), "step %d w[%d] = %.9g, expected %.9g", t + 1, i,
                      (double)w[i], ref_w[i]);
            CHECK_MSG(NEAR_F(p.m[i], ref_m[i]), "step %d m[%d] = %.9g, expected %.9g", t + 1,
                      i, (double)p.m[i], ref_m[i]);
            CHECK_MSG(NEAR_F(p.v[i], ref_v[i]), "step %d v[%d] = %.9g, expected %.9g", t + 1,
                      i, (double)p.v[i], ref_v[i]);
        }
    }
    ss_optim_free(&p, 1);
}

static void test_optim_lars_first_step(void)
{
    /* w = (3, 4), g = (0.6, 0.8), wd 0.5: u = (2.1, 2.8), |w| = 5, |u| = 3.5,
     * r = 0.1 * 5 / 3.5 = 1/7, v = r u = (0.3, 0.4), and lr 1 gives
     * w = (2.7, 3.6). The no-decay bias takes plain momentum SGD. */
    float w[2] = {3, 4}, g[2] = {0.6f, 0.8f};
    float b[2] = {1, -1}, gb[2] = {0.5f, 0.25f};
    ss_param params[2] = {make_param("w", w, g, 2), make_param("b", b, gb, 2)};
    params[1].no_decay = 1;
    ss_optim o;
    ss_optim_defaults(&o, SS_OPTIM_LARS);
    o.trust = 0.1;
    o.weight_decay = 0.5;
    ss_error err;
    CHECK_MSG(ss_optim_init(&o, params, 2, &err) == SS_OK, "%s", err.msg);
    ss_optim_step(&o, params, 2, 1.0);
    CHECK_MSG(NEAR_F(w[0], 2.7), "w[0] = %.9g", (double)w[0]);
    CHECK_MSG(NEAR_F(w[1], 3.6), "w[1] = %.9g", (double)w[1]);
    CHECK_MSG(NEAR_F(params[0].m[0], 0.3), "m[0] = %.9g", (double)params[0].m[0]);
    CHECK_MSG(NEAR_F(b[0], 0.5), "b[0] = %.9g", (double)b[0]);
    CHECK_MSG(NEAR_F(b[1], -1.25), "b[1] = %.9g", (double)b[1]);
    ss_optim_free(params, 2);
}

static void test_optim_lars_three_steps(void)
{
    const double lr[3] = {0.5, 1.0, 0.25}, mu = 0.9, wd = 0.02, eta = 0.05;
    float w[N3], g[N3], b[N3], gb[N3];
    memcpy(w, w_start, sizeof w);
    memcpy(b, w_start, sizeof b);
    ss_param params[2] = {make_param("w", w, g, N3), make_param("b", b, gb, N3)};
    params[1].no_decay = 1;
    ss_optim o;
    ss_optim_defaults(&o, SS_OPTIM_LARS);
    o.momentum = mu;
    o.weight_decay = wd;
    o.trust = eta;
    ss_error err;
    CHECK_MSG(ss_optim_init(&o, params, 2, &err) == SS_OK, "%s", err.msg);

    double ref_w[N3], ref_buf[N3] = {0}, ref_b[N3], ref_bbuf[N3] = {0};
    for (int i = 0; i < N3; i++)
        ref_w[i] = ref_b[i] = (double)w_start[i];
    for (int t = 0; t < 3; t++) {
        memcpy(g, g_steps[t], sizeof g);
        memcpy(gb, g_steps[t], sizeof gb);
        ss_optim_step(&o, params, 2, lr[t]);

        double u[N3], w_norm = 0, u_norm = 0;
        for (int i = 0; i < N3; i++) {
            u[i] = (double)g_steps[t][i] + wd * ref_w[i];
            w_norm += ref_w[i] * ref_w[i];
            u_norm += u[i] * u[i];
        }
        double r = eta * sqrt(w_norm) / sqrt(u_norm);
        for (int i = 0; i < N3; i++) {
            ref_buf[i] = mu * ref_buf[i] + r * u[i];
            ref_w[i] -= lr[t] * ref_buf[i];
            ref_bbuf[i] = mu * ref_bbuf[i] + (double)g_steps[t][i];
            ref_b[i] -= lr[t] * ref_bbuf[i];
            CHECK_MSG(NEAR_F(w[i], ref_w[i]), "step %d w[%d] = %.9g, expected %.9g", t + 1, i,
                      (double)w[i], ref_w[i]);
            CHECK_MSG(NEAR_F(b[i], ref_b[i]), "step %d b[%d] = %.9g, expected %.9g", t + 1, i,
                      (double)b[i], ref_b[i]);
        }
    }
    ss_optim_free(params, 2);
}

static void test_optim_lars_zero_norms(void)
{
    ss_optim o;
    ss_optim_defaults(&o, SS_OPTIM_LARS);
    o.weight_decay = 0.5;
    ss_error err;

    /* |w| = 0: the ratio is 1, so zero-initialised weights take the
     * momentum SGD step -lr g. */
    float w[3] = {0, 0, 0}, g[3] = {1, -2, 3};
    ss_param p = make_param("zero_w", w, g, 3);
    CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);
    ss_optim_step(&o, &p, 1, 0.1);
    const double want[3] = {-0.1, 0.2, -0.3};
    for (int i = 0; i < 3; i++)
        CHECK_MSG(NEAR_F(w[i], want[i]), "w[%d] = %.9g", i, (double)w[i]);
    ss_optim_free(&p, 1);

    /* |g + wd w| = 0: no division by zero, and nothing moves. */
    o.weight_decay = 0.0;
    float w2[3] = {1, 2, 3}, g2[3] = {0, 0, 0};
    p = make_param("zero_g", w2, g2, 3);
    CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);
    ss_optim_step(&o, &p, 1, 0.1);
    for (int i = 0; i < 3; i++) {
        CHECK(w2[i] == (float)(i + 1));
        CHECK(p.m[i] == 0.0f);
    }
    ss_optim_free(&p, 1);

    /* Both zero. */
    o.weight_decay = 0.5;
    float w3[2] = {0, 0}, g3[2] = {0, 0};
    p = make_param("zero_both", w3, g3, 2);
    CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);
    ss_optim_step(&o, &p, 1, 0.1);
    CHECK(w3[0] == 0.0f);
    CHECK(w3[1] == 0.0f);
    CHECK(p.m[0] == 0.0f);
    CHECK(p.m[1] == 0.0f);
    ss_optim_free(&p, 1);
}

/* Runs three steps of o on one parameter and stores the weights in out. */
static void run_three_steps(ss_optim o, int no_decay, float lr_scale, double lr_factor,
                            float out[N3])
{
    float g[N3];
    memcpy(out, w_start, sizeof w_start);
    ss_param p = make_param("w", out, g, N3);
    p.no_decay = no_decay;
    p.lr_scale = lr_scale;
    ss_error err;
    CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);
    for (int t = 0; t < 3; t++) {
        memcpy(g, g_steps[t], sizeof g);
        ss_optim_step(&o, &p, 1, 0.1 * lr_factor);
    }
    ss_optim_free(&p, 1);
}

static void test_optim_no_decay(void)
{
    const ss_optim_kind kinds[] = {SS_OPTIM_SGD, SS_OPTIM_ADAMW};
    for (int k = 0; k < 2; k++) {
        ss_optim decayed, plain;
        ss_optim_defaults(&decayed, kinds[k]);
        decayed.weight_decay = 0.3;
        ss_optim_defaults(&plain, kinds[k]);
        float got[N3], want[N3], with_decay[N3];
        run_three_steps(decayed, 1, 1.0f, 1.0, got);
        run_three_steps(plain, 0, 1.0f, 1.0, want);
        run_three_steps(decayed, 0, 1.0f, 1.0, with_decay);
        for (int i = 0; i < N3; i++) {
            CHECK_MSG(NEAR_F(got[i], (double)want[i]), "%s w[%d] = %.9g, expected %.9g",
                      ss_optim_kind_name(kinds[k]), i, (double)got[i], (double)want[i]);
            CHECK(fabs((double)with_decay[i] - (double)want[i]) > 1e-4);
        }
    }

    /* LARS on a no-decay tensor is momentum SGD without decay. */
    ss_optim lars, sgd;
    ss_optim_defaults(&lars, SS_OPTIM_LARS);
    lars.weight_decay = 0.3;
    ss_optim_defaults(&sgd, SS_OPTIM_SGD);
    float got[N3], want[N3];
    run_three_steps(lars, 1, 1.0f, 1.0, got);
    run_three_steps(sgd, 0, 1.0f, 1.0, want);
    for (int i = 0; i < N3; i++)
        CHECK_MSG(NEAR_F(got[i], (double)want[i]), "lars w[%d] = %.9g, expected %.9g", i,
                  (double)got[i], (double)want[i]);
}

static void test_optim_lr_scale(void)
{
    /* lr_scale 0.25 at lr matches lr_scale 1 at lr / 4, decoupled decay
     * included. */
    const ss_optim_kind kinds[] = {SS_OPTIM_SGD, SS_OPTIM_ADAMW, SS_OPTIM_LARS};
    for (int k = 0; k < 3; k++) {
        ss_optim o;
        ss_optim_defaults(&o, kinds[k]);
        o.weight_decay = 0.2;
        o.trust = 0.05;
        float scaled[N3], slower[N3], full[N3];
        run_three_steps(o, 0, 0.25f, 1.0, scaled);
        run_three_steps(o, 0, 1.0f, 0.25, slower);
        run_three_steps(o, 0, 1.0f, 1.0, full);
        for (int i = 0; i < N3; i++) {
            CHECK_MSG(NEAR_F(scaled[i], (double)slower[i]), "%s w[%d] = %.9g, expected %.9g",
                      ss_optim_kind_name(kinds[k]), i, (double)scaled[i], (double)slower[i]);
            CHECK(scaled[i] != full[i]);
        }
    }
}

static void test_optim_frozen(void)
{
    const ss_optim_kind kinds[] = {SS_OPTIM_SGD, SS_OPTIM_ADAMW, SS_OPTIM_LARS};
    for (int k = 0; k < 3; k++) {
        float w[N3], g[N3];
        memcpy(w, w_start, sizeof w);
        memcpy(g, g_steps[0], sizeof g);
        ss_param p = make_param("w", w, g, N3);
        ss_optim o;
        ss_optim_defaults(&o, kinds[k]);
        o.weight_decay = 0.1;
        ss_error err;
        CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);

        /* Frozen from the start: weights and state stay as they are. */
        p.frozen = 1;
        ss_optim_step(&o, &p, 1, 0.1);
        CHECK(memcmp(w, w_start, sizeof w) == 0);
        for (int i = 0; i < N3; i++) {
            CHECK(p.m[i] == 0.0f);
            CHECK(!p.v || p.v[i] == 0.0f);
        }
        CHECK(o.step == 1);

        /* Frozen after one update: the state keeps that update's values. */
        p.frozen = 0;
        ss_optim_step(&o, &p, 1, 0.1);
        float w_kept[N3], m_kept[N3], v_kept[N3] = {0};
        memcpy(w_kept, w, sizeof w);
        memcpy(m_kept, p.m, sizeof m_kept);
        if (p.v)
            memcpy(v_kept, p.v, sizeof v_kept);
        CHECK(memcmp(w, w_start, sizeof w) != 0);
        p.frozen = 1;
        memcpy(g, g_steps[1], sizeof g);
        ss_optim_step(&o, &p, 1, 0.1);
        CHECK(memcmp(w, w_kept, sizeof w) == 0);
        CHECK(memcmp(p.m, m_kept, sizeof m_kept) == 0);
        CHECK(!p.v || memcmp(p.v, v_kept, sizeof v_kept) == 0);
        CHECK(memcmp(g, g_steps[1], sizeof g) == 0);
        CHECK(o.step == 3);
        ss_optim_free(&p, 1);
    }
}

static void test_lr_schedule_boundaries(void)
{
    const double base = 0.4, final = 0.004;
    /* total 101, warmup 10: the cosine spans steps 10 to 100. */
    CHECK(near(ss_lr_at(0, 101, 10, base, final), 0.04, 1e-15, 1e-12));
    CHECK(near(ss_lr_at(4, 101, 10, base, final), 0.2, 1e-15, 1e-12));
    CHECK(near(ss_lr_at(9, 101, 10, base, final), base, 1e-15, 1e-12));
    CHECK(near(ss_lr_at(10, 101, 10, base, final), base, 1e-15, 1e-12));
    CHECK(near(ss_lr_at(55, 101, 10, base, final), (base + final) / 2, 1e-15, 1e-12));
    /* A third of the way: final + (base - final) (1 + cos(pi / 3)) / 2. */
    double third = final + (base - final) * 0.75;
    CHECK(near(ss_lr_at(40, 101, 10, base, final), third, 1e-15, 1e-12));
    CHECK(near(ss_lr_at(100, 101, 10, base, final), final, 1e-15, 1e-12));
    CHECK(ss_lr_at(101, 101, 10, base, final) == final);
    CHECK(ss_lr_at(5000, 101, 10, base, final) == final);
    CHECK(ss_lr_at(UINT64_MAX, 101, 10, base, final) == final);

    /* Rising through the warmup, then never rising again. */
    double prev = 0.0;
    for (uint64_t s = 0; s < 10; s++) {
        double lr = ss_lr_at(s, 101, 10, base, final);
        CHECK_MSG(lr > prev, "step %d: %.17g after %.17g", (int)s, lr, prev);
        prev = lr;
    }
    for (uint64_t s = 10; s < 120; s++) {
        double lr = ss_lr_at(s, 101, 10, base, final);
        CHECK_MSG(lr <= prev, "step %d: %.17g after %.17g", (int)s, lr, prev);
        CHECK(lr >= final);
        prev = lr;
    }
}

static void test_lr_schedule_edge_cases(void)
{
    /* No warmup: the first step has base_lr. */
    CHECK(ss_lr_at(0, 50, 0, 1.0, 0.0) == 1.0);
    CHECK(near(ss_lr_at(49, 50, 0, 1.0, 0.0), 0.0, 1e-15, 0));

    /* A run shorter than its warmup keeps the warmup slope. */
    CHECK(near(ss_lr_at(0, 5, 10, 1.0, 0.5), 0.1, 1e-15, 1e-12));
    CHECK(near(ss_lr_at(4, 5, 10, 1.0, 0.5), 0.5, 1e-15, 1e-12));
    CHECK(ss_lr_at(5, 5, 10, 1.0, 0.25) == 0.25);
    CHECK(near(ss_lr_at(9, 10, 10, 1.0, 0.5), 1.0, 1e-15, 1e-12));
    CHECK(ss_lr_at(10, 10, 10, 1.0, 0.5) == 0.5);

    /* A cosine phase of one step uses base_lr. */
    CHECK(ss_lr_at(9, 10, 9, 1.0, 0.5) == 1.0);
    CHECK(ss_lr_at(0, 1, 0, 1.0, 0.5) == 1.0);
    CHECK(ss_lr_at(1, 1, 0, 1.0, 0.5) == 0.5);
    /* A cosine phase of two steps: base_lr then final_lr. */
    CHECK(ss_lr_at(8, 10, 8, 1.0, 0.5) == 1.0);
    CHECK(near(ss_lr_at(9, 10, 8, 1.0, 0.5), 0.5, 1e-15, 1e-12));

    /* No steps at all. */
    CHECK(ss_lr_at(0, 0, 0, 1.0, 0.5) == 0.5);
    CHECK(ss_lr_at(0, 0, 3, 1.0, 0.5) == 0.5);
}

/* Minimises f(w) = sum_i a_i (w_i - c_i)^2 / 2 from w = 0 with o for steps
 * steps under the warmup plus cosine schedule, and returns the largest
 * |w_i - c_i|. */
static double minimise_quadratic(ss_optim o, double base_lr, int steps)
{
    enum { N = 4 };
    const float a[N] = {1.0f, 4.0f, 0.25f, 2.0f}, c[N] = {1.0f, -2.0f, 3.0f, 0.5f};
    float w[N] = {0}, g[N];
    ss_param p = make_param("w", w, g, N);
    ss_error err;
    CHECK_MSG(ss_optim_init(&o, &p, 1, &err) == SS_OK, "%s", err.msg);
    for (int t = 0; t < steps; t++) {
        for (int i = 0; i < N; i++)
            g[i] = a[i] * (w[i] - c[i]);
        ss_optim_step(&o, &p, 1, ss_lr_at((uint64_t)t, (uint64_t)steps, 20, base_lr, 0.0));
    }
    ss_optim_free(&p, 1);
    /* fmax would drop a NaN from a diverged run. */
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double d = fabs((double)w[i] - (double)c[i]);
        if (isnan(d))
            return HUGE_VAL;
        worst = fmax(worst, d);
    }
    return worst;
}

static void test_optim_quadratic_converges(void)
{
    ss_optim o;
    ss_optim_defaults(&o, SS_OPTIM_SGD);
    double err = minimise_quadratic(o, 0.1, 500);
    CHECK_MSG(err < 1e-4, "sgd ends %g from the minimum", err);

    ss_optim_defaults(&o, SS_OPTIM_ADAMW);
    err = minimise_quadratic(o, 0.05, 1000);
    CHECK_MSG(err < 1e-3, "adamw ends %g from the minimum", err);

    ss_optim_defaults(&o, SS_OPTIM_LARS);
    err = minimise_quadratic(o, 5.0, 1000);
    CHECK_MSG(err < 1e-3, "lars ends %g from the minimum", err);
}

/* Compares five steps with torch.optim. The script reads a case file: a
 * line "kind weight_decay momentum beta1 beta2 eps lr_scale_b", a line
 * "n steps", the start of tensors a and b, then for each step a line with
 * lr and lines with the gradients of a and b. Tensor a is decayed at lr;
 * b is no_decay at lr * lr_scale_b. It prints a and b after each step, and
 * exits 3 when torch cannot be imported. */
static const char torch_script[] =
    "import sys\n"
    "try:\n"
    "    import torch\n"
    "except ImportError:\n"
    "    sys.exit(3)\n"
    "torch.set_default_dtype(torch.float32)\n"
    "def row(f):\n"
    "    return [float(x) for x in f.readline().split()]\n"
    "def run(case_path, out_path):\n"
    "    with open(case_path) as f:\n"
    "        head = f.readline().split()\n"
    "        kind = head[0]\n"
    "        wd, mu, b1, b2, eps, scale_b = map(float, head[1:])\n"
    "        n, steps = map(int, f.readline().split())\n"
    "        a = torch.tensor(row(f), requires_grad=True)\n"
    "        b = torch.tensor(row(f), requires_grad=True)\n"
    "        groups = [{'params': [a], 'weight_decay': wd, 'scale': 1.0},\n"
    "                  {'params': [b], 'weight_decay': 0.0, 'scale': scale_b}]\n"
    "        if kind == 'sgd':\n"
    "            opt = torch.optim.SGD(groups, lr=1.0, momentum=mu)\n"
    "        else:\n"
    "            opt = torch.optim.AdamW(groups, lr=1.0, betas=(b1, b2), eps=eps)\n"
    "        with open(out_path, 'w') as out:\n"
    "            for _ in range(steps):\n"
    "                lr = row(f)[0]\n"
    "                a.grad = torch.tensor(row(f))\n"
    "                b.grad = torch.tensor(row(f))\n"
    "                for group in opt.param_groups:\n"
    "                    group['lr'] = lr * group['scale']\n"
    "                opt.step()\n"
    "                for t in (a, b):\n"
    "                    out.write(' '.join('%.9g' % x for x in t.detach().tolist()) + '\\n')\n"
    "for i in range(1, len(sys.argv), 2):\n"
    "    run(sys.argv[i], sys.argv[i + 1])\n";

#define TORCH_N 7
#define TORCH_STEPS 5

static const char *tmp_path(const char *name)
{
    static char path[4][256];
    static int next;
    next = (next + 1) % 4;
    snprintf(path[next], sizeof path[next], "%s/%s", tmp_dir, name);
    return path[next];
}

static float torch_start(int tensor, int i)
{
    return 0.5f * cosf(1.3f * (float)i + (float)tensor) - 0.2f;
}

static float torch_grad(int tensor, int t, int i)
{
    return 0.3f * sinf(1.7f * (float)i + 0.9f * (float)t + 2.0f * (float)tensor) +
           0.05f * (float)(i - 2);
}

static double torch_lr(int t)
{
    return ss_lr_at((uint64_t)t, TORCH_STEPS, 2, 0.05, 0.005);
}

static void write_floats(FILE *fp, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        fprintf(fp, "%s%.9g", i ? " " : "", (double)x[i]);
    fputc('\n', fp);
}

/* Writes the case file for o, tensor b scaled by scale_b. */
static int write_torch_case(const char *path, const ss_optim *o, float scale_b)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    fprintf(fp, "%s %.17g %.17g %.17g %.17g %.17g %.9g\n", ss_optim_kind_name(o->kind),
            o->weight_decay, o->momentum, o->beta1, o->beta2, o->eps, (double)scale_b);
    fprintf(fp, "%d %d\n", TORCH_N, TORCH_STEPS);
    float x[TORCH_N];
    for (int tensor = 0; tensor < 2; tensor++) {
        for (int i = 0; i < TORCH_N; i++)
            x[i] = torch_start(tensor, i);
        write_floats(fp, x, TORCH_N);
    }
    for (int t = 0; t < TORCH_STEPS; t++) {
        fprintf(fp, "%.17g\n", torch_lr(t));
        for (int tensor = 0; tensor < 2; tensor++) {
            for (int i = 0; i < TORCH_N; i++)
                x[i] = torch_grad(tensor, t, i);
            write_floats(fp, x, TORCH_N);
        }
    }
    return fclose(fp) == 0 ? 0 : -1;
}

/* Runs o on the same case and compares each step with torch's output. */
static void compare_with_torch(const char *out_path, ss_optim o, float scale_b)
{
    FILE *fp = fopen(out_path, "r");
    CHECK_MSG(fp != NULL, "cannot open %s", out_path);
    if (!fp)
        return;
    float a[TORCH_N], b[TORCH_N], ga[TORCH_N], gb[TORCH_N];
    for (int i = 0; i < TORCH_N; i++) {
        a[i] = torch_start(0, i);
        b[i] = torch_start(1, i);
    }
    ss_param params[2] = {make_param("a", a, ga, TORCH_N), make_param("b", b, gb, TORCH_N)};
    params[1].no_decay = 1;
    params[1].lr_scale = scale_b;
    ss_error err;
    CHECK_MSG(ss_optim_init(&o, params, 2, &err) == SS_OK, "%s", err.msg);

    const char *kind = ss_optim_kind_name(o.kind);
    for (int t = 0; t < TORCH_STEPS; t++) {
        for (int i = 0; i < TORCH_N; i++) {
            ga[i] = torch_grad(0, t, i);
            gb[i] = torch_grad(1, t, i);
        }
        ss_optim_step(&o, params, 2, torch_lr(t));
        for (int tensor = 0; tensor < 2; tensor++) {
            const float *x = tensor ? b : a;
            for (int i = 0; i < TORCH_N; i++) {
                double want;
                if (fscanf(fp, "%lf", &want) != 1) {
                    CHECK_MSG(0, "%s: torch output ends at step %d", kind, t + 1);
                    goto done;
                }
                CHECK_MSG(NEAR_F(x[i], want), "%s step %d %c[%d] = %.9g, torch %.9g", kind,
                          t + 1, tensor ? 'b' : 'a', i, (double)x[i], want);
            }
        }
    }
done:
    fclose(fp);
    ss_optim_free(params, 2);
}

static void test_optim_matches_torch(void)
{
    if (access(PYTHON, X_OK) != 0) {
        printf("# skipped: %s not found\n", PYTHON);
        return;
    }
    ss_optim sgd, adamw;
    ss_optim_defaults(&sgd, SS_OPTIM_SGD);
    sgd.weight_decay = 0.05;
    ss_optim_defaults(&adamw, SS_OPTIM_ADAMW);
    adamw.weight_decay = 0.1;
    adamw.beta2 = 0.99;
    const float scale_b = 0.5f;

    FILE *fp = fopen(tmp_path("compare.py"), "w");
    CHECK(fp != NULL);
    if (!fp)
        return;
    fputs(torch_script, fp);
    CHECK(fclose(fp) == 0);
    CHECK(write_torch_case(tmp_path("sgd.case"), &sgd, scale_b) == 0);
    CHECK(write_torch_case(tmp_path("adamw.case"), &adamw, scale_b) == 0);

    char cmd[2048];
    snprintf(cmd, sizeof cmd, PYTHON " %s/compare.py %s/sgd.case %s/sgd.out %s/adamw.case "
             "%s/adamw.out >%s/python.log 2>&1",
             tmp_dir, tmp_dir, tmp_dir, tmp_dir, tmp_dir, tmp_dir);
    int rc = system(cmd);
    if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 3) {
        printf("# skipped: %s cannot import torch\n", PYTHON);
        return;
    }
    CHECK_MSG(rc == 0, "the torch script failed; see %s/python.log", tmp_dir);
    if (rc != 0)
        return;
    compare_with_torch(tmp_path("sgd.out"), sgd, scale_b);
    compare_with_torch(tmp_path("adamw.out"), adamw, scale_b);
}

static void remove_tmp_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp_dir);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_optim.XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        printf("Bail out! cannot create a temporary directory\n");
        return 1;
    }

    RUN(test_optim_kind_names);
    RUN(test_optim_defaults);
    RUN(test_optim_init_state);
    RUN(test_optim_init_rejects);
    RUN(test_optim_init_out_of_memory);
    RUN(test_optim_sgd_first_step);
    RUN(test_optim_sgd_three_steps);
    RUN(test_optim_adamw_first_step);
    RUN(test_optim_adamw_three_steps);
    RUN(test_optim_lars_first_step);
    RUN(test_optim_lars_three_steps);
    RUN(test_optim_lars_zero_norms);
    RUN(test_optim_no_decay);
    RUN(test_optim_lr_scale);
    RUN(test_optim_frozen);
    RUN(test_lr_schedule_boundaries);
    RUN(test_lr_schedule_edge_cases);
    RUN(test_optim_quadratic_converges);
    RUN(test_optim_matches_torch);

    /* A failed run keeps the torch script, its cases and its log. */
    if (check_failures)
        printf("# kept %s for inspection\n", tmp_dir);
    else
        remove_tmp_dir();
    return CHECK_DONE();
}
