/* selfsup-eval: evaluation reports for classifiers and embeddings.
 *
 *   classify  metrics of a predictions stream (selfsup-probe predict) that
 *             carries the true class of every record in `target`
 *   knn       kNN accuracy (cosine, temperature-weighted votes) of a labelled
 *             embeddings stream against a labelled reference stream
 *
 * Both print a text report or one JSON object, and can draw the confusion
 * matrix as a PNG heat map. Every number comes from lib/ss_metrics, so the
 * two formats report the same values (text rounds to four decimals).
 * Left out: writing per-record predictions (selfsup-probe does that),
 * confidence intervals, and metrics for multi-label data. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_knn.h"
#include "ss_log.h"
#include "ss_metrics.h"
#include "ss_par.h"
#include "tool.h"

/* Above this many classes the text report leaves the confusion matrix out;
 * the JSON report and the heat map always contain it. */
#define MAX_TEXT_CONFUSION 64
#define DEFAULT_TOP_K 5

/* Options shared by both commands. */
typedef struct {
    const char *output;        /* -o FILE, "-" for standard output */
    const char *format;        /* "text" or "json" */
    int json;                  /* --json */
    const char *png;           /* --confusion-png FILE, or NULL */
    int cell;                  /* heat-map cell size in pixels; 0 picks one */
} report_opts;

static const char *const format_names[] = {"text", "json", NULL};

#define REPORT_OPTIONS(r)                                                                                   \
    {"output", 'o', SS_ARG_STRING, &(r).output, "FILE",                                                    \
     "write the report to FILE, replaced atomically (default: standard output)", 0, 0, NULL, NULL},        \
    {"format", 'f', SS_ARG_CHOICE, &(r).format, "FMT", "report format, text or json (default text)", 0, 0,  \
     format_names, NULL},                                                                                  \
    {"json", 'j', SS_ARG_FLAG, &(r).json, NULL, "same as --format json", 0, 0, NULL, NULL},                 \
    {"confusion-png", 0, SS_ARG_STRING, &(r).png, "FILE",                                                  \
     "also draw the confusion matrix as a PNG heat map in FILE", 0, 0, NULL, NULL},                        \
    {"cell-size", 0, SS_ARG_INT, &(r).cell, "PIXELS",                                                      \
     "heat-map cell side, 1 to 64 (default 8, smaller above 113 classes)", 1, 64, NULL, NULL}

static void report_opts_default(report_opts *r)
{
    r->output = "-";
    r->format = "text";
    r->json = 0;
    r->png = NULL;
    r->cell = 0;
}

/* ---- Files ------------------------------------------------------------------ */

/* A report or image file written through stdio and committed atomically. */
typedef struct {
    ss_out out;
    FILE *fp;
} out_file;

static ss_status out_file_open(out_file *f, const char *path, int binary, ss_error *err)
{
    memset(f, 0, sizeof *f);
    ss_status st = ss_out_open(&f->out, path, binary, err);
    if (st != SS_OK)
        return st;
    if (strcmp(path, "-") == 0) {
        f->fp = stdout;
        return SS_OK;
    }
    /* stdio gets its own descriptor, because ss_out_commit() closes the
     * one in f->out (a temporary file, or a FIFO or device written in
     * place). */
    int fd = dup(f->out.fd);
    f->fp = fd >= 0 ? fdopen(fd, binary ? "wb" : "w") : NULL;
    if (!f->fp) {
        st = ss_error_set(err, SS_EIO, "%s: cannot open for writing: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        ss_out_discard(&f->out);
    }
    return st;
}

static ss_status out_file_commit(out_file *f, ss_error *err)
{
    const char *name = f->fp == stdout ? "standard output" : f->out.path;
    int failed;
    if (f->fp == stdout) {
        failed = fflush(stdout) != 0 || ferror(stdout);
    } else {
        int stream_error = ferror(f->fp);
        failed = fclose(f->fp) != 0 || stream_error;
    }
    f->fp = NULL;
    if (failed) {
        ss_error_set(err, SS_EIO, "%s: write failed: %s", name, strerror(errno));
        ss_out_discard(&f->out);
        return SS_EIO;
    }
    return ss_out_commit(&f->out, err);
}

static void out_file_discard(out_file *f)
{
    if (f->fp && f->fp != stdout)
        fclose(f->fp);
    f->fp = NULL;
    ss_out_discard(&f->out);
}

/* ---- Class names -------------------------------------------------------------- */

/* Copies the "classes" array of string names from stream metadata. Returns
 * NULL with *err status SS_OK when the metadata has none. */
static ss_json *copy_class_names(const ss_json *meta, const char *input, ss_error *err)
{
    ss_error_clear(err);
    const ss_json *classes = ss_json_get(meta, "classes");
    if (!classes)
        return NULL;
    if (classes->type != SS_JSON_ARRAY || classes->len < 1 || classes->len > SS_METRICS_MAX_CLASSES) {
        ss_error_set(err, SS_EDATA, "%s: metadata 'classes' must be an array of 1 to %d class names", input,
                     SS_METRICS_MAX_CLASSES);
        return NULL;
    }
    for (size_t i = 0; i < classes->len; i++) {
        if (classes->items[i]->type != SS_JSON_STRING) {
            ss_error_set(err, SS_EDATA, "%s: metadata 'classes' item %zu is not a string", input, i);
            return NULL;
        }
    }
    ss_json *copy = ss_json_clone(classes);
    if (!copy)
        ss_error_set(err, SS_ENOMEM, "out of memory");
    return copy;
}

static const char *class_name(const ss_json *names, int c)
{
    return names && (size_t)c < names->len ? names->items[c]->str : "";
}

/* ---- Reports ------------------------------------------------------------------ */

/* The inputs and parameters that the report names. */
typedef struct {
    const char *command;      /* "classify" or "knn" */
    const char *input;
    const char *reference;    /* knn only */
    int64_t reference_rows;
    int dim, k;
    double temperature;
} report_info;

static void print_number_marked(FILE *fp, double v, int undefined)
{
    fprintf(fp, " %9.4f%c", v, undefined ? '*' : ' ');
}

static void print_class_table(FILE *fp, const ss_metrics *m, const ss_json *names)
{
    int name_width = 5;
    for (int c = 0; c < m->n_classes; c++) {
        int len = (int)strlen(class_name(names, c));
        if (len > name_width)
            name_width = len < 24 ? len : 24;
    }
    fprintf(fp, "\n%5s  %-*s %9s  %9s  %9s  %10s %10s\n", "index", name_width, "class", "precision", "recall",
            "f1", "support", "predicted");
    int no_precision = 0, no_recall = 0, no_f1 = 0;
    for (int c = 0; c < m->n_classes; c++) {
        ss_class_metrics cm;
        ss_metrics_class(m, c, &cm);
        fprintf(fp, "%5d  %-*s", c, name_width, class_name(names, c));
        print_number_marked(fp, cm.precision, cm.precision_undefined);
        print_number_marked(fp, cm.recall, cm.recall_undefined);
        print_number_marked(fp, cm.f1, cm.f1_undefined);
        fprintf(fp, " %10" PRId64 " %10" PRId64 "\n", cm.support, cm.predicted);
        no_precision |= cm.precision_undefined;
        no_recall |= cm.recall_undefined;
        no_f1 |= cm.f1_undefined;
    }
    if (no_precision || no_recall)
        fprintf(fp, "* undefined and reported as 0:\n");
    if (no_precision)
        fprintf(fp, "  precision of a class that is never predicted\n");
    if (no_recall)
        fprintf(fp, "  recall of a class that never occurs as true class\n");
    if (no_f1)
        fprintf(fp, "  F1 of a class that does neither (left out of macro-F1)\n");
}

static void write_text_report(FILE *fp, const report_info *info, const ss_metrics *m, const ss_json *names)
{
    if (strcmp(info->command, "knn") == 0)
        fprintf(fp, "kNN evaluation of %s against %s (%" PRId64 " reference rows, dimension %d, k %d, "
                    "temperature %g)\n", info->input, info->reference, info->reference_rows, info->dim,
                info->k, info->temperature);
    else
        fprintf(fp, "classification report of %s\n", info->input);
    fprintf(fp, "records: %" PRId64 "\nclasses: %d\n", m->total, m->n_classes);
    fprintf(fp, "accuracy: %.4f (%" PRId64 " of %" PRId64 ")\n", ss_metrics_accuracy(m), ss_metrics_correct(m),
            m->total);
    if (m->top_k > 0)
        fprintf(fp, "top-%d accuracy: %.4f (%" PRId64 " of %" PRId64 ")\n", m->top_k,
                ss_metrics_top_k_accuracy(m), m->top_k_hits, m->total);
    int averaged;
    double macro = ss_metrics_macro_f1(m, &averaged);
    fprintf(fp, "macro-F1: %.4f (mean over the %d classes that occur as true or predicted class)\n", macro,
            averaged);
    print_class_table(fp, m, names);
    if (m->n_classes > MAX_TEXT_CONFUSION) {
        fprintf(fp, "\nconfusion matrix: left out for more than %d classes (see --json or --confusion-png)\n",
                MAX_TEXT_CONFUSION);
        return;
    }
    fprintf(fp, "\nconfusion matrix (rows: true class, columns: predicted class, by index):\n");
    ss_metrics_write_confusion(fp, NULL, m, NULL);
}

static ss_status json_set_double(ss_json *o, const char *key, double v)
{
    return ss_json_set(o, key, ss_json_new_double(v));
}

static ss_json *class_json(const ss_metrics *m, int c, const ss_json *names)
{
    ss_class_metrics cm;
    ss_metrics_class(m, c, &cm);
    ss_json *o = ss_json_new_object(), *undefined = ss_json_new_array();
    if (!o || !undefined) {
        ss_json_free(o);
        ss_json_free(undefined);
        return NULL;
    }
    int ok = ss_json_set(o, "index", ss_json_new_int(c)) == SS_OK;
    if (names)
        ok &= ss_json_set(o, "name", ss_json_new_string(class_name(names, c))) == SS_OK;
    ok &= json_set_double(o, "precision", cm.precision) == SS_OK;
    ok &= json_set_double(o, "recall", cm.recall) == SS_OK;
    ok &= json_set_double(o, "f1", cm.f1) == SS_OK;
    ok &= ss_json_set(o, "support", ss_json_new_int(cm.support)) == SS_OK;
    ok &= ss_json_set(o, "predicted", ss_json_new_int(cm.predicted)) == SS_OK;
    if (cm.precision_undefined)
        ok &= ss_json_append(undefined, ss_json_new_string("precision")) == SS_OK;
    if (cm.recall_undefined)
        ok &= ss_json_append(undefined, ss_json_new_string("recall")) == SS_OK;
    if (cm.f1_undefined)
        ok &= ss_json_append(undefined, ss_json_new_string("f1")) == SS_OK;
    ok &= ss_json_set(o, "undefined", undefined) == SS_OK;
    if (!ok) {
        ss_json_free(o);
        return NULL;
    }
    return o;
}

static ss_json *confusion_json(const ss_metrics *m)
{
    ss_json *rows = ss_json_new_array();
    size_t k = (size_t)m->n_classes;
    for (size_t i = 0; rows && i < k; i++) {
        ss_json *row = ss_json_new_array();
        for (size_t j = 0; row && j < k; j++)
            if (ss_json_append(row, ss_json_new_int(m->confusion[i * k + j])) != SS_OK) {
                ss_json_free(row);
                row = NULL;
            }
        if (!row || ss_json_append(rows, row) != SS_OK) {
            ss_json_free(rows);
            rows = NULL;
        }
    }
    return rows;
}

static ss_json *report_json(const report_info *info, const ss_metrics *m, const ss_json *names)
{
    ss_json *o = ss_json_new_object(), *classes = ss_json_new_array();
    if (!o || !classes) {
        ss_json_free(o);
        ss_json_free(classes);
        return NULL;
    }
    int ok = ss_json_set(o, "command", ss_json_new_string(info->command)) == SS_OK;
    ok &= ss_json_set(o, "input", ss_json_new_string(info->input)) == SS_OK;
    if (info->reference) {
        ok &= ss_json_set(o, "reference", ss_json_new_string(info->reference)) == SS_OK;
        ok &= ss_json_set(o, "reference_records", ss_json_new_int(info->reference_rows)) == SS_OK;
        ok &= ss_json_set(o, "dim", ss_json_new_int(info->dim)) == SS_OK;
        ok &= ss_json_set(o, "k", ss_json_new_int(info->k)) == SS_OK;
        ok &= json_set_double(o, "temperature", info->temperature) == SS_OK;
    }
    ok &= ss_json_set(o, "records", ss_json_new_int(m->total)) == SS_OK;
    ok &= ss_json_set(o, "n_classes", ss_json_new_int(m->n_classes)) == SS_OK;
    ok &= ss_json_set(o, "correct", ss_json_new_int(ss_metrics_correct(m))) == SS_OK;
    ok &= json_set_double(o, "accuracy", ss_metrics_accuracy(m)) == SS_OK;
    if (m->top_k > 0) {
        ok &= ss_json_set(o, "top_k", ss_json_new_int(m->top_k)) == SS_OK;
        ok &= ss_json_set(o, "top_k_hits", ss_json_new_int(m->top_k_hits)) == SS_OK;
        ok &= json_set_double(o, "top_k_accuracy", ss_metrics_top_k_accuracy(m)) == SS_OK;
    }
    int averaged;
    ok &= json_set_double(o, "macro_f1", ss_metrics_macro_f1(m, &averaged)) == SS_OK;
    ok &= ss_json_set(o, "macro_f1_classes", ss_json_new_int(averaged)) == SS_OK;
    for (int c = 0; ok && c < m->n_classes; c++)
        ok &= ss_json_append(classes, class_json(m, c, names)) == SS_OK;
    ok &= ss_json_set(o, "per_class", classes) == SS_OK;
    ok &= ss_json_set(o, "confusion", confusion_json(m)) == SS_OK;
    if (!ok) {
        ss_json_free(o);
        return NULL;
    }
    return o;
}

/* Picks the heat-map cell size: 8 pixels, smaller when the image would
 * exceed about 1024 pixels a side. */
static int auto_cell(int n_classes)
{
    int cell = 1023 / n_classes - 1;
    if (cell > 8)
        return 8;
    return cell < 1 ? 1 : cell;
}

static ss_status write_heat_map(const report_opts *r, const ss_metrics *m, ss_error *err)
{
    ss_image img;
    int cell = r->cell ? r->cell : auto_cell(m->n_classes);
    ss_status st = ss_metrics_confusion_image(m, cell, &img, err);
    if (st != SS_OK)
        return st;
    out_file f;
    st = out_file_open(&f, r->png, 1, err);
    if (st == SS_OK) {
        st = ss_png_write(f.fp, r->png, &img, err);
        if (st == SS_OK)
            st = out_file_commit(&f, err);
        else
            out_file_discard(&f);
    }
    ss_image_free(&img);
    return st;
}

static ss_status write_report(const report_opts *r, const report_info *info, const ss_metrics *m,
                              const ss_json *names, ss_error *err)
{
    char *json_text = NULL;
    if (r->json) {
        ss_json *doc = report_json(info, m, names);
        json_text = doc ? ss_json_dump(doc, NULL) : NULL;
        ss_json_free(doc);
        if (!json_text)
            return ss_error_set(err, SS_ENOMEM, "out of memory for the JSON report");
    }
    out_file f;
    ss_status st = out_file_open(&f, r->output, 0, err);
    if (st == SS_OK) {
        if (json_text)
            fprintf(f.fp, "%s\n", json_text);
        else
            write_text_report(f.fp, info, m, names);
        st = out_file_commit(&f, err);
    }
    free(json_text);
    if (st == SS_OK && r->png)
        st = write_heat_map(r, m, err);
    return st;
}

/* Checks report options that depend on each other; returns a usage status
 * or -1. */
static int check_report_opts(const char *name, report_opts *r)
{
    if (strcmp(r->format, "json") == 0)
        r->json = 1;
    if (r->png && strcmp(r->png, "-") == 0 && strcmp(r->output, "-") == 0)
        return tool_usage(name, "--confusion-png - needs the report in a file (-o FILE)");
    return -1;
}

/* ---- classify ---------------------------------------------------------------- */

/* Reads a scalar int64 field; returns 0 when it is absent and -1 when it
 * has another type. */
static int scalar_int64(const tsf_record *rec, const char *name, int64_t *v)
{
    const tsf_field *f = tsf_record_find(rec, name);
    if (!f)
        return 0;
    if (f->dtype != TSF_INT64 || f->count != 1 || f->ndim > 1)
        return -1;
    memcpy(v, f->data, sizeof *v);
    return 1;
}

/* The scores of a predictions record: logits when present, since the
 * softmax can round distinct logits to equal probabilities, else probs. */
static const tsf_field *record_scores(const tsf_record *rec)
{
    const tsf_field *f = tsf_record_find(rec, "logits");
    return f ? f : tsf_record_find(rec, "probs");
}

typedef struct {
    int top_k;
    int top_k_set;
} classify_opts;

/* Sets up the accumulator at the first record, once the number of classes
 * is known from the metadata or the scores. */
static ss_status classify_setup(ss_metrics *m, const classify_opts *o, const ss_json *names, const tsf_record *rec,
                                const char *input, ss_error *err)
{
    const tsf_field *scores = record_scores(rec);
    int k = names ? (int)names->len : 0;
    if (!k && scores && scores->ndim == 1 && scores->dims[0] >= 1 && scores->dims[0] <= SS_METRICS_MAX_CLASSES)
        k = (int)scores->dims[0];
    if (!k)
        return ss_error_set(err, SS_EDATA, "%s: the number of classes is unknown: the metadata has no 'classes' "
                            "and record 0 has no float32 'logits' or 'probs' [K]", input);
    int top_k = o->top_k;
    if (!o->top_k_set)
        top_k = k >= DEFAULT_TOP_K ? DEFAULT_TOP_K : 0;
    if (top_k > k)
        return ss_error_set(err, SS_EINVAL, "--top-k %d is more than the %d classes of %s", top_k, k, input);
    return ss_metrics_init(m, k, top_k, err);
}

static ss_status classify_record(ss_metrics *m, const tsf_record *rec, const char *input, ss_error *err)
{
    int64_t target, label;
    int has = scalar_int64(rec, "target", &target);
    if (has == 0)
        return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": the predictions have no 'target' field: "
                            "evaluate against a labelled stream", input, rec->index);
    if (has < 0)
        return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": 'target' must be a scalar int64", input,
                            rec->index);
    if (scalar_int64(rec, "label", &label) <= 0)
        return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": missing or invalid 'label' (expected the "
                            "predicted class as a scalar int64)", input, rec->index);
    const float *scores = NULL;
    if (m->top_k > 0) {
        const tsf_field *f = record_scores(rec);
        if (!f || f->dtype != TSF_FLOAT32 || f->ndim != 1 || f->dims[0] != (uint64_t)m->n_classes)
            return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": top-%d accuracy needs float32 'logits' "
                                "or 'probs' of shape [%d] (or use --top-k 0)", input, rec->index, m->top_k,
                                m->n_classes);
        scores = f->data;
    }
    ss_status st = ss_metrics_add(m, target, label, scores, err);
    if (st != SS_OK)
        ss_error_prefix(err, "%s: record %" PRIu64, input, rec->index);
    return st;
}

/* Checks that a further concatenated stream has the same class names. */
static ss_status check_next_stream(const tsf_reader *r, const ss_json *names, const char *input, ss_error *err)
{
    const ss_json *classes = ss_json_get(tsf_reader_meta(r), "classes");
    if ((names || classes) && !(names && classes && ss_json_equal(names, classes)))
        return ss_error_set(err, SS_EDATA, "%s: stream %" PRIu64 " has other 'classes' than the first stream",
                            input, tsf_reader_stream_index(r));
    return SS_OK;
}

static ss_status classify_read(tsf_reader *r, const classify_opts *o, ss_metrics *m, ss_json **names, ss_error *err)
{
    const char *input = tsf_reader_name(r);
    int started = tsf_reader_start(r);
    if (started < 0) {
        *err = *tsf_reader_error(r);
        return err->status;
    }
    if (started == 0)
        return ss_error_set(err, SS_EDATA, "%s: the input has no stream", input);
    *names = copy_class_names(tsf_reader_meta(r), input, err);
    if (err->status != SS_OK)
        return err->status;
    tsf_reader_set_stream_events(r, 1);
    tsf_record *rec = malloc(sizeof *rec);
    if (!rec)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    ss_status st = SS_OK;
    int rc;
    while (st == SS_OK && (rc = tsf_reader_next(r, rec)) != 0) {
        if (rc < 0) {
            *err = *tsf_reader_error(r);
            st = err->status;
        } else if (rc == 2) {
            st = check_next_stream(r, *names, input, err);
        } else {
            if (!m->confusion)
                st = classify_setup(m, o, *names, rec, input, err);
            if (st == SS_OK)
                st = classify_record(m, rec, input, err);
        }
    }
    free(rec);
    if (st == SS_OK && m->total == 0)
        st = ss_error_set(err, SS_EDATA, "%s: the predictions stream has no records", input);
    return st;
}

static int run_classify(int argc, char **argv)
{
    report_opts r;
    report_opts_default(&r);
    classify_opts o = {0, 0};
    const ss_option opts[] = {
        REPORT_OPTIONS(r),
        {"top-k", 'k', SS_ARG_INT, &o.top_k, "K",
         "also report top-K accuracy, 0 for none (default 5 with at least 5 classes, else none)", 0,
         SS_METRICS_MAX_CLASSES, NULL, &o.top_k_set},
        {0}};
    const ss_command cmd = {
        "selfsup-eval classify", "[OPTION]... [PREDICTIONS]",
        "Report accuracy, top-k accuracy, per-class precision, recall and F1, macro-F1\n"
        "and the confusion matrix of a predictions stream (selfsup-probe predict), read\n"
        "from PREDICTIONS or standard input. Every record needs the true class in\n"
        "'target' and the predicted class in 'label' (int64).",
        "Top-k ranks the 'logits' (or 'probs') of each record and counts a tie with the\n"
        "true class against it. Undefined ratios (no predictions or no records of a\n"
        "class) are reported as 0 and marked. The heat map has one cell per (true,\n"
        "predicted) pair: rows are true classes top to bottom, columns predicted classes\n"
        "left to right, both in label order, coloured white to dark blue by the count\n"
        "over the row's total (light grey for a class with no records).",
        opts, 0, 0, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if ((rc = check_report_opts(cmd.name, &r)) >= 0)
        return rc;

    ss_error err;
    ss_error_clear(&err);
    const char *input = first < argc ? argv[first] : "-";
    ss_metrics m;
    memset(&m, 0, sizeof m);
    ss_json *names = NULL;
    tsf_reader *reader = tsf_reader_open_path(input, NULL, &err);
    ss_status st = reader ? classify_read(reader, &o, &m, &names, &err) : err.status;
    if (st == SS_OK) {
        report_info info = {"classify", tsf_reader_name(reader), NULL, 0, 0, 0, 0};
        st = write_report(&r, &info, &m, names, &err);
    }
    int status = st == SS_OK ? SS_EXIT_OK : tool_fail(&err);
    ss_metrics_free(&m);
    ss_json_free(names);
    if (reader)
        tsf_reader_close(reader);
    return tool_finish(status);
}

/* ---- knn ---------------------------------------------------------------------- */

/* Embeddings [N, D] with labels [N], copied out of a stream. */
typedef struct {
    float *x;
    int64_t *labels;
    int64_t n, cap;
    int d;
    int64_t max_label;
    ss_json *names;
} embedding_set;

static void embedding_set_free(embedding_set *s)
{
    free(s->x);
    free(s->labels);
    ss_json_free(s->names);
    memset(s, 0, sizeof *s);
}

static ss_status embedding_grow(embedding_set *s, ss_error *err)
{
    int64_t cap = s->cap ? 2 * s->cap : 1024;
    if ((uint64_t)cap > SIZE_MAX / sizeof(float) / (uint64_t)s->d || cap > INT32_MAX)
        return ss_error_set(err, SS_ELIMIT, "too many embeddings (at most %d)", INT32_MAX);
    float *x = realloc(s->x, (size_t)cap * (size_t)s->d * sizeof *x);
    if (x)
        s->x = x;
    int64_t *labels = realloc(s->labels, (size_t)cap * sizeof *labels);
    if (labels)
        s->labels = labels;
    if (!x || !labels)
        return ss_error_set(err, SS_ENOMEM, "out of memory for %" PRId64 " embeddings of dimension %d", cap, s->d);
    s->cap = cap;
    return SS_OK;
}

static ss_status embedding_add(embedding_set *s, const tsf_record *rec, const char *input, ss_error *err)
{
    const tsf_field *e = tsf_record_find(rec, "embedding");
    if (!e || e->dtype != TSF_FLOAT32 || e->ndim != 1 || e->dims[0] < 1 || e->dims[0] > INT32_MAX)
        return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": missing or invalid 'embedding' (expected "
                            "float32 [D])", input, rec->index);
    if (s->d && e->dims[0] != (uint64_t)s->d)
        return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": embedding has dimension %" PRIu64
                            ", expected %d", input, rec->index, e->dims[0], s->d);
    s->d = (int)e->dims[0];
    int64_t label;
    int has = scalar_int64(rec, "label", &label);
    if (has <= 0)
        return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": %s 'label' (kNN evaluation needs the true "
                            "class of every embedding as a scalar int64)", input, rec->index,
                            has == 0 ? "missing" : "invalid");
    if (label < 0 || label >= SS_METRICS_MAX_CLASSES)
        return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": label %" PRId64 " outside 0..%d", input,
                            rec->index, label, SS_METRICS_MAX_CLASSES - 1);
    const float *v = e->data;
    for (int j = 0; j < s->d; j++)
        if (!isfinite(v[j]))
            return ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": embedding element %d is not finite",
                                input, rec->index, j);
    if (s->n == s->cap && embedding_grow(s, err) != SS_OK)
        return err->status;
    memcpy(s->x + (size_t)s->n * (size_t)s->d, v, (size_t)s->d * sizeof *v);
    s->labels[s->n++] = label;
    if (label > s->max_label)
        s->max_label = label;
    return SS_OK;
}

static ss_status embedding_load(const char *path, embedding_set *s, ss_error *err)
{
    memset(s, 0, sizeof *s);
    s->max_label = -1;
    tsf_reader *r = tsf_reader_open_path(path, NULL, err);
    if (!r)
        return err->status;
    const char *input = tsf_reader_name(r);
    tsf_record *rec = malloc(sizeof *rec);
    ss_status st = rec ? SS_OK : ss_error_set(err, SS_ENOMEM, "out of memory");
    int started = st == SS_OK ? tsf_reader_start(r) : 1;
    if (started < 0) {
        *err = *tsf_reader_error(r);
        st = err->status;
    } else if (started == 0) {
        st = ss_error_set(err, SS_EDATA, "%s: the input has no stream", input);
    }
    if (st == SS_OK) {
        s->names = copy_class_names(tsf_reader_meta(r), input, err);
        st = err->status;
    }
    int rc;
    while (st == SS_OK && (rc = tsf_reader_next(r, rec)) != 0) {
        if (rc < 0) {
            *err = *tsf_reader_error(r);
            st = err->status;
        } else {
            st = embedding_add(s, rec, input, err);
        }
    }
    if (st == SS_OK && s->n == 0)
        st = ss_error_set(err, SS_EDATA, "%s: the stream has no embeddings", input);
    free(rec);
    tsf_reader_close(r);
    return st;
}

typedef struct {
    const char *reference;
    int k;
    double temperature;
} knn_opts;

/* Classifies the queries and adds them to *m (set up here). */
static ss_status knn_evaluate(const knn_opts *o, embedding_set *ref, embedding_set *q, const char *query_name,
                              ss_metrics *m, ss_error *err)
{
    if (q->d != ref->d)
        return ss_error_set(err, SS_EDATA, "%s: embeddings have dimension %d, the reference %s has %d", query_name,
                            q->d, o->reference, ref->d);
    int64_t largest = q->max_label > ref->max_label ? q->max_label : ref->max_label;
    int k = ref->names ? (int)ref->names->len : (int)largest + 1;
    if (largest >= k)
        return ss_error_set(err, SS_EDATA, "label %" PRId64 " is outside the %d classes named in %s", largest, k,
                            o->reference);
    if (ss_metrics_init(m, k, 0, err) != SS_OK)
        return err->status;
    int64_t *pred = malloc((size_t)q->n * sizeof *pred);
    if (!pred)
        return ss_error_set(err, SS_ENOMEM, "out of memory for %" PRId64 " predictions", q->n);
    ss_status st = ss_knn_classify(pred, q->x, q->n, ref->x, ref->labels, ref->n, ref->d, k, o->k, o->temperature,
                                   err);
    for (int64_t i = 0; st == SS_OK && i < q->n; i++)
        st = ss_metrics_add(m, q->labels[i], pred[i], NULL, err);
    free(pred);
    return st;
}

static int run_knn(int argc, char **argv)
{
    report_opts r;
    report_opts_default(&r);
    knn_opts o = {NULL, 20, 0.07};
    const ss_option opts[] = {
        REPORT_OPTIONS(r),
        {"reference", 'r', SS_ARG_STRING, &o.reference, "FILE", "labelled reference embeddings (required)", 0, 0,
         NULL, NULL},
        {"neighbours", 'k', SS_ARG_INT, &o.k, "K", "neighbours that vote (default 20)", 1, 100000, NULL, NULL},
        {"temperature", 't', SS_ARG_DOUBLE, &o.temperature, "T",
         "vote weight exp(similarity / T), T > 0 (default 0.07)", 1e-6, 1e6, NULL, NULL},
        {0}};
    const ss_command cmd = {
        "selfsup-eval knn", "--reference REF [OPTION]... [QUERY]",
        "Classify each embedding of QUERY (or standard input) by its k most similar\n"
        "reference embeddings (cosine similarity), each voting for its label with\n"
        "weight exp(similarity / T), and report accuracy, per-class precision, recall\n"
        "and F1, and the confusion matrix. Both streams need float32 'embedding' [D]\n"
        "and int64 'label' in every record.",
        "Classes are named by the reference metadata 'classes' when present, else\n"
        "numbered 0 to the largest label. --threads sets the BLAS threads of the\n"
        "similarity products, and nothing else runs in parallel.",
        opts, SS_CLI_THREADS_ALL, 0, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if ((rc = check_report_opts(cmd.name, &r)) >= 0)
        return rc;
    if (!o.reference)
        return tool_usage(cmd.name, "the reference embeddings --reference FILE are required");
    const char *input = first < argc ? argv[first] : "-";
    if (strcmp(input, "-") == 0 && strcmp(o.reference, "-") == 0)
        return tool_usage(cmd.name, "the reference and the query cannot both be standard input");
    ss_blas_set_threads(common.threads);

    ss_error err;
    ss_error_clear(&err);
    embedding_set ref, q;
    memset(&q, 0, sizeof q);
    ss_metrics m;
    memset(&m, 0, sizeof m);
    ss_status st = embedding_load(o.reference, &ref, &err);
    if (st == SS_OK)
        st = embedding_load(input, &q, &err);
    const char *query_name = strcmp(input, "-") == 0 ? "stdin" : input;
    if (st == SS_OK)
        st = knn_evaluate(&o, &ref, &q, query_name, &m, &err);
    if (st == SS_OK) {
        int k = o.k < ref.n ? o.k : (int)ref.n;
        report_info info = {"knn", query_name, o.reference, ref.n, ref.d, k, o.temperature};
        st = write_report(&r, &info, &m, ref.names, &err);
    }
    int status = st == SS_OK ? SS_EXIT_OK : tool_fail(&err);
    ss_metrics_free(&m);
    embedding_set_free(&ref);
    embedding_set_free(&q);
    return tool_finish(status);
}

/* ---- main ---------------------------------------------------------------------- */

static void usage(FILE *fp)
{
    fprintf(fp, "Usage: selfsup-eval COMMAND [OPTION]... [INPUT]\n"
                "Evaluate predictions and embeddings against true classes.\n\n"
                "Commands:\n"
                "  classify   accuracy, top-k, per-class F1 and confusion matrix of predictions\n"
                "  knn        kNN accuracy of embeddings against labelled reference embeddings\n\n"
                "Run 'selfsup-eval COMMAND --help' for the options of a command.\n"
                "Exit status: 0 success, 1 invalid or unreadable data, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    tool_start("selfsup-eval");
    if (argc < 2)
        return tool_usage("selfsup-eval", "missing COMMAND (classify or knn)");
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return tool_finish(SS_EXIT_OK);
    }
    if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
        printf("selfsup-eval %s\n", SS_VERSION);
        return tool_finish(SS_EXIT_OK);
    }
    if (strcmp(name, "classify") == 0) {
        ss_log_init("selfsup-eval classify", 1);
        return run_classify(argc - 1, argv + 1);
    }
    if (strcmp(name, "knn") == 0) {
        ss_log_init("selfsup-eval knn", 1);
        return run_knn(argc - 1, argv + 1);
    }
    return tool_usage("selfsup-eval", "unknown command '%s' (expected classify or knn)", name);
}
