/* ss_metrics: confusion-matrix accumulation and the metrics derived from it.
 *
 * Counts are exact int64; ratios are computed in double only when asked for,
 * so adding rows in any order gives the same figures. The heat map uses a
 * fixed three-stop colour ramp and carries no text, since the axes are fixed
 * (rows true, columns predicted, label order). */
#include "ss_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGE_SIDE 32768

ss_status ss_metrics_init(ss_metrics *m, int n_classes, int top_k, ss_error *err)
{
    memset(m, 0, sizeof *m);
    if (n_classes < 1 || n_classes > SS_METRICS_MAX_CLASSES)
        return ss_error_set(err, SS_EINVAL, "invalid number of classes %d (expected 1 to %d)", n_classes,
                            SS_METRICS_MAX_CLASSES);
    if (top_k < 0 || top_k > n_classes)
        return ss_error_set(err, SS_EINVAL, "invalid top-k %d for %d classes (expected 1 to %d, or 0 for none)",
                            top_k, n_classes, n_classes);
    size_t cells = (size_t)n_classes * (size_t)n_classes;
    m->confusion = calloc(cells, sizeof *m->confusion);
    if (!m->confusion)
        return ss_error_set(err, SS_ENOMEM, "out of memory for a %d x %d confusion matrix", n_classes, n_classes);
    m->n_classes = n_classes;
    m->top_k = top_k;
    return SS_OK;
}

void ss_metrics_free(ss_metrics *m)
{
    free(m->confusion);
    memset(m, 0, sizeof *m);
}

int ss_metrics_top_k_hit(const float *scores, int n_classes, int64_t target, int k)
{
    float t = scores[target];
    int at_least = 0;
    for (int c = 0; c < n_classes; c++)
        if (c != target && scores[c] >= t && ++at_least >= k)
            return 0;
    return 1;
}

ss_status ss_metrics_add(ss_metrics *m, int64_t target, int64_t predicted, const float *scores, ss_error *err)
{
    int k = m->n_classes;
    if (target < 0 || target >= k)
        return ss_error_set(err, SS_EDATA, "target %lld is outside the classes 0..%d", (long long)target, k - 1);
    if (predicted < 0 || predicted >= k)
        return ss_error_set(err, SS_EDATA, "predicted label %lld is outside the classes 0..%d",
                            (long long)predicted, k - 1);
    if (m->top_k > 0) {
        for (int c = 0; c < k; c++)
            if (!isfinite(scores[c]))
                return ss_error_set(err, SS_EDATA, "score of class %d is %g (expected a finite number)", c,
                                    (double)scores[c]);
        m->top_k_hits += ss_metrics_top_k_hit(scores, k, target, m->top_k);
    }
    m->confusion[(size_t)target * (size_t)k + (size_t)predicted]++;
    m->total++;
    return SS_OK;
}

int64_t ss_metrics_correct(const ss_metrics *m)
{
    int64_t n = 0;
    for (int c = 0; c < m->n_classes; c++)
        n += m->confusion[(size_t)c * (size_t)m->n_classes + (size_t)c];
    return n;
}

double ss_metrics_accuracy(const ss_metrics *m)
{
    return m->total ? (double)ss_metrics_correct(m) / (double)m->total : 0.0;
}

double ss_metrics_top_k_accuracy(const ss_metrics *m)
{
    return m->total && m->top_k ? (double)m->top_k_hits / (double)m->total : 0.0;
}

void ss_metrics_class(const ss_metrics *m, int c, ss_class_metrics *out)
{
    size_t k = (size_t)m->n_classes;
    memset(out, 0, sizeof *out);
    for (size_t j = 0; j < k; j++) {
        out->support += m->confusion[(size_t)c * k + j];
        out->predicted += m->confusion[j * k + (size_t)c];
    }
    out->true_positives = m->confusion[(size_t)c * k + (size_t)c];
    double tp = (double)out->true_positives;
    out->precision_undefined = out->predicted == 0;
    out->recall_undefined = out->support == 0;
    out->f1_undefined = out->precision_undefined && out->recall_undefined;
    if (!out->precision_undefined)
        out->precision = tp / (double)out->predicted;
    if (!out->recall_undefined)
        out->recall = tp / (double)out->support;
    if (!out->f1_undefined)
        out->f1 = 2.0 * tp / (double)(out->support + out->predicted);
}

double ss_metrics_macro_f1(const ss_metrics *m, int *n_averaged)
{
    double sum = 0;
    int n = 0;
    for (int c = 0; c < m->n_classes; c++) {
        ss_class_metrics cm;
        ss_metrics_class(m, c, &cm);
        if (cm.f1_undefined)
            continue;
        sum += cm.f1;
        n++;
    }
    if (n_averaged)
        *n_averaged = n;
    return n ? sum / n : 0.0;
}

/* Returns the number of decimal digits of v >= 0. */
static int digits(int64_t v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

ss_status ss_metrics_write_confusion(FILE *fp, const char *name, const ss_metrics *m, ss_error *err)
{
    size_t k = (size_t)m->n_classes;
    int64_t largest = (int64_t)k - 1;
    for (size_t i = 0; i < k * k; i++)
        if (m->confusion[i] > largest)
            largest = m->confusion[i];
    int width = digits(largest);
    int label_width = digits((int64_t)k - 1);

    fprintf(fp, "%*s", label_width, "");
    for (size_t j = 0; j < k; j++)
        fprintf(fp, " %*zu", width, j);
    fputc('\n', fp);
    for (size_t i = 0; i < k; i++) {
        fprintf(fp, "%*zu", label_width, i);
        for (size_t j = 0; j < k; j++)
            fprintf(fp, " %*lld", width, (long long)m->confusion[i * k + j]);
        fputc('\n', fp);
    }
    if (ferror(fp))
        return ss_error_set(err, SS_EIO, "%s: write failed", name ? name : "output");
    return SS_OK;
}

/* Maps v in [0, 1] to RGB along white, mid blue, dark blue. */
static void ramp(double v, unsigned char rgb[3])
{
    static const double stops[3][3] = {{255, 255, 255}, {90, 150, 210}, {10, 40, 110}};
    double x = 2 * v;
    if (x < 0)
        x = 0;
    if (x > 2)
        x = 2;
    int lo = x >= 1 ? 1 : 0;
    double f = x - lo;
    for (int ch = 0; ch < 3; ch++)
        rgb[ch] = (unsigned char)lround(stops[lo][ch] + f * (stops[lo + 1][ch] - stops[lo][ch]));
}

static void fill_rect(ss_image *img, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h, const unsigned char rgb[3])
{
    unsigned char *px = img->pixels;
    for (uint32_t y = y0; y < y0 + h; y++)
        for (uint32_t x = x0; x < x0 + w; x++)
            memcpy(px + ((size_t)y * img->width + x) * 3, rgb, 3);
}

ss_status ss_metrics_confusion_image(const ss_metrics *m, int cell, ss_image *img, ss_error *err)
{
    memset(img, 0, sizeof *img);
    if (cell < 1 || cell > 64)
        return ss_error_set(err, SS_EINVAL, "invalid heat-map cell size %d (expected 1 to 64 pixels)", cell);
    size_t k = (size_t)m->n_classes;
    size_t side = k * (size_t)(cell + 1) + 1;
    if (side > MAX_IMAGE_SIDE)
        return ss_error_set(err, SS_EINVAL, "a heat map of %zu classes with %d-pixel cells would be %zu pixels "
                            "wide (at most %d); use smaller cells", k, cell, side, MAX_IMAGE_SIDE);
    img->pixels = malloc(side * side * 3);
    if (!img->pixels)
        return ss_error_set(err, SS_ENOMEM, "out of memory for a %zu x %zu heat map", side, side);
    img->width = img->height = (uint32_t)side;
    img->channels = 3;
    img->depth = 8;

    static const unsigned char grid[3] = {128, 128, 128}, empty[3] = {220, 220, 220};
    fill_rect(img, 0, 0, (uint32_t)side, (uint32_t)side, grid);
    uint32_t step = (uint32_t)cell + 1;
    for (size_t i = 0; i < k; i++) {
        int64_t support = 0;
        for (size_t j = 0; j < k; j++)
            support += m->confusion[i * k + j];
        for (size_t j = 0; j < k; j++) {
            unsigned char rgb[3];
            if (support == 0)
                memcpy(rgb, empty, 3);
            else
                ramp((double)m->confusion[i * k + j] / (double)support, rgb);
            fill_rect(img, 1 + (uint32_t)j * step, 1 + (uint32_t)i * step, (uint32_t)cell, (uint32_t)cell, rgb);
        }
    }
    return SS_OK;
}
