/* Tests of ss_metrics against figures computed by hand for small cases. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ss_metrics.h"

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-12;
}

/* Five classes; rows (true, predicted):
 *   (0,0) x2, (0,1), (1,1) x2, (1,3), (2,0), (2,1).
 * Class 2 occurs but is never predicted, class 3 is predicted but never
 * occurs, class 4 does neither. */
static void fill_example(ss_metrics *m)
{
    static const int rows[][2] = {{0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 1}, {1, 3}, {2, 0}, {2, 1}};
    ss_error err;
    CHECK(ss_metrics_init(m, 5, 0, &err) == SS_OK);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        CHECK(ss_metrics_add(m, rows[i][0], rows[i][1], NULL, &err) == SS_OK);
}

static void test_accuracy_counts(void)
{
    ss_metrics m;
    fill_example(&m);
    CHECK(m.total == 8);
    CHECK(ss_metrics_correct(&m) == 4);
    CHECK(near(ss_metrics_accuracy(&m), 0.5));
    CHECK(m.confusion[0 * 5 + 0] == 2);
    CHECK(m.confusion[1 * 5 + 3] == 1);
    CHECK(m.confusion[2 * 5 + 2] == 0);
    ss_metrics_free(&m);
}

static void test_per_class_defined(void)
{
    ss_metrics m;
    fill_example(&m);
    ss_class_metrics c;
    ss_metrics_class(&m, 0, &c);
    CHECK(c.support == 3);
    CHECK(c.predicted == 3);
    CHECK(c.true_positives == 2);
    CHECK(near(c.precision, 2.0 / 3));
    CHECK(near(c.recall, 2.0 / 3));
    CHECK(near(c.f1, 2.0 / 3));
    CHECK(!c.precision_undefined);
    CHECK(!c.recall_undefined);
    CHECK(!c.f1_undefined);
    ss_metrics_class(&m, 1, &c);
    CHECK(c.support == 3);
    CHECK(c.predicted == 4);
    CHECK(c.true_positives == 2);
    CHECK(near(c.precision, 0.5));
    CHECK(near(c.recall, 2.0 / 3));
    CHECK(near(c.f1, 4.0 / 7));
    ss_metrics_free(&m);
}

static void test_never_predicted(void)
{
    ss_metrics m;
    fill_example(&m);
    ss_class_metrics c;
    ss_metrics_class(&m, 2, &c);
    CHECK(c.support == 2);
    CHECK(c.predicted == 0);
    CHECK(c.precision_undefined);
    CHECK(c.precision == 0);
    CHECK(!c.recall_undefined);
    CHECK(c.recall == 0);
    CHECK(!c.f1_undefined);
    CHECK(c.f1 == 0);
    ss_metrics_free(&m);
}

static void test_never_present(void)
{
    ss_metrics m;
    fill_example(&m);
    ss_class_metrics c;
    ss_metrics_class(&m, 3, &c);
    CHECK(c.support == 0);
    CHECK(c.predicted == 1);
    CHECK(!c.precision_undefined);
    CHECK(c.precision == 0);
    CHECK(c.recall_undefined);
    CHECK(c.recall == 0);
    CHECK(!c.f1_undefined);
    CHECK(c.f1 == 0);
    ss_metrics_class(&m, 4, &c);
    CHECK(c.support == 0);
    CHECK(c.predicted == 0);
    CHECK(c.precision_undefined);
    CHECK(c.recall_undefined);
    CHECK(c.f1_undefined);
    CHECK(c.precision == 0);
    CHECK(c.recall == 0);
    CHECK(c.f1 == 0);
    ss_metrics_free(&m);
}

static void test_macro_f1_skips_absent(void)
{
    ss_metrics m;
    fill_example(&m);
    int n = -1;
    /* (2/3 + 4/7 + 0 + 0) / 4; class 4 has no defined F1. */
    CHECK(near(ss_metrics_macro_f1(&m, &n), 13.0 / 42));
    CHECK(n == 4);
    ss_metrics_free(&m);
}

static void test_empty_accumulator(void)
{
    ss_metrics m;
    ss_error err;
    CHECK(ss_metrics_init(&m, 3, 2, &err) == SS_OK);
    int n = -1;
    CHECK(ss_metrics_accuracy(&m) == 0);
    CHECK(ss_metrics_top_k_accuracy(&m) == 0);
    CHECK(ss_metrics_macro_f1(&m, &n) == 0);
    CHECK(n == 0);
    ss_metrics_free(&m);
}

static void test_top_k_ties(void)
{
    const float s[4] = {1, 2, 2, 0};
    /* Target 1 is tied with class 2 at the top. */
    CHECK(ss_metrics_top_k_hit(s, 4, 1, 1) == 0);
    CHECK(ss_metrics_top_k_hit(s, 4, 1, 2) == 1);
    CHECK(ss_metrics_top_k_hit(s, 4, 2, 1) == 0);
    /* Target 0 has two classes above it. */
    CHECK(ss_metrics_top_k_hit(s, 4, 0, 2) == 0);
    CHECK(ss_metrics_top_k_hit(s, 4, 0, 3) == 1);
    CHECK(ss_metrics_top_k_hit(s, 4, 3, 3) == 0);
    CHECK(ss_metrics_top_k_hit(s, 4, 3, 4) == 1);
    const float flat[3] = {0.5f, 0.5f, 0.5f};
    CHECK(ss_metrics_top_k_hit(flat, 3, 0, 2) == 0);
    CHECK(ss_metrics_top_k_hit(flat, 3, 0, 3) == 1);
}

static void test_top_k_accumulated(void)
{
    ss_metrics m;
    ss_error err;
    CHECK(ss_metrics_init(&m, 4, 2, &err) == SS_OK);
    const float a[4] = {0.1f, 0.6f, 0.2f, 0.1f};  /* target 2 second: hit */
    const float b[4] = {0.4f, 0.3f, 0.3f, 0.0f};  /* target 2 tied for second: miss */
    const float c[4] = {0.7f, 0.1f, 0.1f, 0.1f};  /* target 0 first: hit */
    CHECK(ss_metrics_add(&m, 2, 1, a, &err) == SS_OK);
    CHECK(ss_metrics_add(&m, 2, 0, b, &err) == SS_OK);
    CHECK(ss_metrics_add(&m, 0, 0, c, &err) == SS_OK);
    CHECK(m.top_k_hits == 2);
    CHECK(near(ss_metrics_top_k_accuracy(&m), 2.0 / 3));
    CHECK(near(ss_metrics_accuracy(&m), 1.0 / 3));
    ss_metrics_free(&m);
}

static void test_add_rejects_bad_rows(void)
{
    ss_metrics m;
    ss_error err;
    CHECK(ss_metrics_init(&m, 3, 1, &err) == SS_OK);
    const float ok[3] = {1, 2, 3};
    const float bad[3] = {1, NAN, 3};
    CHECK(ss_metrics_add(&m, 3, 0, ok, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "target 3");
    CHECK(ss_metrics_add(&m, 0, -1, ok, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "predicted label -1");
    CHECK(ss_metrics_add(&m, 0, 0, bad, &err) == SS_EDATA);
    CHECK_STR_CONTAINS(err.msg, "class 1");
    CHECK(m.total == 0);
    CHECK(m.confusion[0] == 0);
    ss_metrics_free(&m);
}

static void test_init_rejects_bad_sizes(void)
{
    ss_metrics m;
    ss_error err;
    CHECK(ss_metrics_init(&m, 0, 0, &err) == SS_EINVAL);
    CHECK(ss_metrics_init(&m, SS_METRICS_MAX_CLASSES + 1, 0, &err) == SS_EINVAL);
    CHECK(ss_metrics_init(&m, 3, 4, &err) == SS_EINVAL);
    CHECK(ss_metrics_init(&m, 3, -1, &err) == SS_EINVAL);
    CHECK(m.confusion == NULL);
}

static void test_confusion_text(void)
{
    ss_metrics m;
    fill_example(&m);
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    ss_error err;
    CHECK(fp != NULL);
    CHECK(ss_metrics_write_confusion(fp, "memory", &m, &err) == SS_OK);
    fclose(fp);
    const char *expected = "  0 1 2 3 4\n"
                           "0 2 1 0 0 0\n"
                           "1 0 2 0 1 0\n"
                           "2 1 1 0 0 0\n"
                           "3 0 0 0 0 0\n"
                           "4 0 0 0 0 0\n";
    CHECK_MSG(strcmp(buf, expected) == 0, "got:\n%s", buf);
    free(buf);
    ss_metrics_free(&m);
}

static const unsigned char *pixel(const ss_image *img, uint32_t x, uint32_t y)
{
    return (const unsigned char *)img->pixels + ((size_t)y * img->width + x) * 3;
}

static void test_heat_map_layout(void)
{
    ss_metrics m;
    ss_error err;
    CHECK(ss_metrics_init(&m, 3, 0, &err) == SS_OK);
    /* Row 0 all in column 0, row 1 split 1:1 over columns 1 and 2, row 2 empty. */
    CHECK(ss_metrics_add(&m, 0, 0, NULL, &err) == SS_OK);
    CHECK(ss_metrics_add(&m, 1, 1, NULL, &err) == SS_OK);
    CHECK(ss_metrics_add(&m, 1, 2, NULL, &err) == SS_OK);
    ss_image img;
    CHECK(ss_metrics_confusion_image(&m, 4, &img, &err) == SS_OK);
    CHECK(img.width == 16);
    CHECK(img.height == 16);
    CHECK(img.channels == 3);
    CHECK(img.depth == 8);
    const unsigned char *grid = pixel(&img, 0, 0);
    CHECK(grid[0] == 128);
    CHECK(grid[1] == 128);
    CHECK(grid[2] == 128);
    CHECK(pixel(&img, 5, 3)[0] == 128);            /* vertical line between columns 0 and 1 */
    const unsigned char *full = pixel(&img, 1, 1);  /* row 0, column 0: 1.0 */
    const unsigned char *zero = pixel(&img, 6, 1);  /* row 0, column 1: 0.0 */
    const unsigned char *half = pixel(&img, 7, 7);  /* row 1, column 1: 0.5 */
    const unsigned char *none = pixel(&img, 12, 12); /* row 2: no support */
    CHECK(full[0] == 10);
    CHECK(full[1] == 40);
    CHECK(full[2] == 110);
    CHECK(zero[0] == 255);
    CHECK(zero[1] == 255);
    CHECK(zero[2] == 255);
    CHECK(half[0] == 90);
    CHECK(half[1] == 150);
    CHECK(half[2] == 210);
    CHECK(none[0] == 220);
    CHECK(none[1] == 220);
    CHECK(none[2] == 220);
    ss_image_free(&img);
    CHECK(ss_metrics_confusion_image(&m, 0, &img, &err) == SS_EINVAL);
    CHECK(img.pixels == NULL);
    ss_metrics_free(&m);
}

int main(void)
{
    RUN(test_accuracy_counts);
    RUN(test_per_class_defined);
    RUN(test_never_predicted);
    RUN(test_never_present);
    RUN(test_macro_f1_skips_absent);
    RUN(test_empty_accumulator);
    RUN(test_top_k_ties);
    RUN(test_top_k_accumulated);
    RUN(test_add_rejects_bad_rows);
    RUN(test_init_rejects_bad_sizes);
    RUN(test_confusion_text);
    RUN(test_heat_map_layout);
    return CHECK_DONE();
}
