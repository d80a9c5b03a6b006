/* info: per-stream metadata, schema, record count and per-field statistics.
 *
 * Statistics are accumulated in double precision over every element of every
 * record: minimum, maximum, mean and standard deviation for numeric fields,
 * the range of shapes for all fields, and a histogram for scalar integer
 * fields with small non-negative values (labels). A field holding NaN or
 * infinity gets NaN or infinite statistics (null in --json). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "ss_log.h"

#define MAX_HIST 1024

typedef struct {
    char name[TSF_MAX_NAME + 1];
    int dtype;
    int mixed_dtype;
    int ndim_min, ndim_max;
    uint64_t dim_min[TSF_MAX_NDIM], dim_max[TSF_MAX_NDIM];
    uint64_t records;
    uint64_t elements;
    double min, max, sum, sumsq;
    int numeric;
    uint64_t *hist;        /* counts of values 0..MAX_HIST-1, NULL when not a label-like field */
    int hist_ok;
} field_stats;

typedef struct {
    field_stats f[TSF_MAX_FIELDS * 2];
    int n;
    uint64_t records;
} stream_stats;

static int is_integer_dtype(int d)
{
    return d == TSF_UINT8 || d == TSF_INT8 || d == TSF_UINT16 || d == TSF_INT16 || d == TSF_UINT32 ||
           d == TSF_INT32 || d == TSF_UINT64 || d == TSF_INT64 || d == TSF_BOOL;
}

/* IEEE 754 binary16 to double, subnormals, infinities and NaN included. */
static double half_to_double(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1F, frac = h & 0x3FF;
    double v;
    if (exp == 0)
        v = ldexp(frac, -24);
    else if (exp == 31)
        v = frac ? nan("") : HUGE_VAL;
    else
        v = ldexp(frac + 1024, exp - 25);
    return sign ? -v : v;
}

static double element(const tsf_field *f, uint64_t i)
{
    const unsigned char *p = f->data;
    switch (f->dtype) {
    case TSF_UINT8: case TSF_BOOL: return p[i];
    case TSF_INT8: return ((const int8_t *)p)[i];
    case TSF_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case TSF_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case TSF_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case TSF_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case TSF_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case TSF_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case TSF_FLOAT32: { float v; memcpy(&v, p + 4 * i, 4); return (double)v; }
    case TSF_FLOAT64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case TSF_FLOAT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return half_to_double(v); }
    case TSF_BFLOAT16: {
        uint16_t v;
        memcpy(&v, p + 2 * i, 2);
        uint32_t bits = (uint32_t)v << 16;
        float value;
        memcpy(&value, &bits, 4);
        return (double)value;
    }
    }
    return 0;
}

static int is_numeric(int d)
{
    return is_integer_dtype(d) || d == TSF_FLOAT16 || d == TSF_BFLOAT16 || d == TSF_FLOAT32 || d == TSF_FLOAT64;
}

/* Prints a number for JSON: non-finite values have no JSON form and
 * become null. */
static void print_json_number(const char *key, double v)
{
    if (isfinite(v))
        printf(",\"%s\":%.17g", key, v);
    else
        printf(",\"%s\":null", key);
}

/* Adds the elements of a uint8 field through a histogram, which is several
 * times faster than the generic loop for images. */
static void add_uint8(field_stats *s, const tsf_field *f)
{
    uint64_t h[256] = {0};
    const unsigned char *p = f->data;
    for (uint64_t i = 0; i < f->count; i++)
        h[p[i]]++;
    for (int v = 0; v < 256; v++) {
        if (!h[v])
            continue;
        if (v < s->min)
            s->min = v;
        if (v > s->max)
            s->max = v;
        s->sum += (double)h[v] * v;
        s->sumsq += (double)h[v] * v * v;
    }
}

static field_stats *find_stats(stream_stats *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->f[i].name, name) == 0)
            return &st->f[i];
    if (st->n >= (int)(sizeof st->f / sizeof st->f[0]))
        return NULL;
    field_stats *s = &st->f[st->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->min = HUGE_VAL;
    s->max = -HUGE_VAL;
    s->ndim_min = TSF_MAX_NDIM + 1;
    s->ndim_max = -1;
    s->hist_ok = 1;
    for (int d = 0; d < TSF_MAX_NDIM; d++)
        s->dim_min[d] = UINT64_MAX;
    return s;
}

static void add_field(field_stats *s, const tsf_field *f)
{
    if (s->records == 0)
        s->dtype = f->dtype;
    else if (s->dtype != f->dtype)
        s->mixed_dtype = 1;
    s->records++;
    if (f->ndim < s->ndim_min)
        s->ndim_min = f->ndim;
    if (f->ndim > s->ndim_max)
        s->ndim_max = f->ndim;
    for (int d = 0; d < f->ndim; d++) {
        if (f->dims[d] < s->dim_min[d])
            s->dim_min[d] = f->dims[d];
        if (f->dims[d] > s->dim_max[d])
            s->dim_max[d] = f->dims[d];
    }
    if (s->mixed_dtype || !is_numeric(f->dtype))
        return;
    s->numeric = 1;
    s->elements += f->count;
    if (f->dtype == TSF_UINT8) {
        add_uint8(s, f);
    } else {
        for (uint64_t i = 0; i < f->count; i++) {
            double v = element(f, i);
            if (v < s->min)
                s->min = v;
            if (v > s->max)
                s->max = v;
            s->sum += v;
            s->sumsq += v * v;
        }
    }
    /* A histogram for scalar integer fields with values in 0..MAX_HIST-1. */
    if (!s->hist_ok || f->ndim != 0 || !is_integer_dtype(f->dtype)) {
        s->hist_ok = 0;
        return;
    }
    double v = element(f, 0);
    if (v < 0 || v >= MAX_HIST) {
        s->hist_ok = 0;
        return;
    }
    if (!s->hist && !(s->hist = calloc(MAX_HIST, sizeof *s->hist))) {
        s->hist_ok = 0;
        return;
    }
    s->hist[(int)v]++;
}

static void shape_text(const field_stats *s, char *out, size_t cap)
{
    if (s->ndim_min != s->ndim_max) {
        snprintf(out, cap, "rank %d..%d", s->ndim_min, s->ndim_max);
        return;
    }
    size_t n = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < s->ndim_min && n < cap; d++) {
        if (s->dim_min[d] == s->dim_max[d])
            n += (size_t)snprintf(out + n, cap - n, "%s%" PRIu64, d ? "," : "", s->dim_min[d]);
        else
            n += (size_t)snprintf(out + n, cap - n, "%s%" PRIu64 "..%" PRIu64, d ? "," : "",
                                  s->dim_min[d], s->dim_max[d]);
    }
    if (n < cap)
        snprintf(out + n, cap - n, "]");
}

static void print_text(const char *file, uint64_t index, const ss_json *meta, const char *text,
                       const stream_stats *st, int verbose)
{
    const char *kind = ss_json_get_string(meta, "kind");
    printf("%s: stream %" PRIu64 ": kind %s, %" PRIu64 " record%s\n", file, index, kind ? kind : "(none)",
           st->records, st->records == 1 ? "" : "s");
    const ss_json *classes = ss_json_get(meta, "classes");
    if (verbose || !st->n) {
        printf("  metadata: %s\n", text);
    } else {
        const ss_json *prod = ss_json_get(meta, "producer");
        const char *tool = prod ? ss_json_get_string(prod, "tool") : NULL;
        if (tool)
            printf("  producer: %s\n", tool);
        if (ss_json_get(meta, "schema"))
            printf("  schema: declared\n");
    }
    if (st->n)
        printf("  %-16s %-8s %-18s %12s %12s %12s %12s\n", "field", "dtype", "shape", "min", "max", "mean",
               "std");
    for (int i = 0; i < st->n; i++) {
        const field_stats *s = &st->f[i];
        char shape[128];
        shape_text(s, shape, sizeof shape);
        const char *dt = s->mixed_dtype ? "mixed" : tsf_dtype_name(s->dtype);
        char name[40];
        snprintf(name, sizeof name, "%s%s", s->name, s->records < st->records ? "?" : "");
        if (s->numeric && s->elements > 0) {
            double mean = s->sum / (double)s->elements;
            double var = s->sumsq / (double)s->elements - mean * mean;
            printf("  %-16s %-8s %-18s %12.6g %12.6g %12.6g %12.6g\n", name, dt, shape, s->min, s->max, mean,
                   sqrt(var > 0 ? var : 0));
        } else {
            printf("  %-16s %-8s %-18s\n", name, dt, shape);
        }
    }
    for (int i = 0; i < st->n; i++) {
        const field_stats *s = &st->f[i];
        if (!s->hist || !s->hist_ok || s->mixed_dtype)
            continue;
        printf("  counts of '%s':", s->name);
        int shown = 0;
        for (int v = 0; v < MAX_HIST; v++) {
            if (!s->hist[v])
                continue;
            const char *cname = NULL;
            if (classes && classes->type == SS_JSON_ARRAY && (size_t)v < classes->len &&
                classes->items[v]->type == SS_JSON_STRING)
                cname = classes->items[v]->str;
            if (shown % 4 == 0)
                printf("%s\n   ", shown ? "," : "");
            else
                printf(",");
            shown++;
            if (cname)
                printf(" %d (%s): %" PRIu64, v, cname, s->hist[v]);
            else
                printf(" %d: %" PRIu64, v, s->hist[v]);
        }
        printf("\n");
    }
    if (st->n && st->f[0].records < st->records)
        printf("  (a '?' after a name marks a field missing from some records)\n");
}

/* Prints s as a JSON string: quotes, backslashes and control characters escaped. */
static void print_json_string(const char *s)
{
    putchar('"');
    for (const char *c = s; *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            printf("\\u%04x", (unsigned char)*c);
        else
            putchar(*c);
    }
    putchar('"');
}

static void print_json(const char *file, uint64_t index, const char *text, const stream_stats *st)
{
    printf("{\"file\":");
    print_json_string(file);
    printf(",\"stream\":%" PRIu64 ",\"records\":%" PRIu64 ",\"metadata\":%s,\"fields\":[", index,
           st->records, text);
    for (int i = 0; i < st->n; i++) {
        const field_stats *s = &st->f[i];
        printf("%s{\"name\":", i ? "," : "");
        print_json_string(s->name);
        printf(",\"dtype\":\"%s\",\"records\":%" PRIu64 ",\"rank_min\":%d,\"rank_max\":%d",
               s->mixed_dtype ? "mixed" : tsf_dtype_name(s->dtype), s->records,
               s->ndim_min, s->ndim_max);
        printf(",\"dims_min\":[");
        for (int d = 0; d < s->ndim_max; d++)
            printf("%s%" PRIu64, d ? "," : "", s->dim_min[d]);
        printf("],\"dims_max\":[");
        for (int d = 0; d < s->ndim_max; d++)
            printf("%s%" PRIu64, d ? "," : "", s->dim_max[d]);
        printf("]");
        if (s->numeric && s->elements > 0) {
            double mean = s->sum / (double)s->elements;
            double var = s->sumsq / (double)s->elements - mean * mean;
            print_json_number("min", s->min);
            print_json_number("max", s->max);
            print_json_number("mean", mean);
            print_json_number("std", isfinite(var) ? sqrt(var > 0 ? var : 0) : var);
        }
        if (s->hist && s->hist_ok && !s->mixed_dtype) {
            printf(",\"counts\":{");
            int shown = 0;
            for (int v = 0; v < MAX_HIST; v++)
                if (s->hist[v])
                    printf("%s\"%d\":%" PRIu64, shown++ ? "," : "", v, s->hist[v]);
            printf("}");
        }
        printf("}");
    }
    printf("]}\n");
}

static void stats_reset(stream_stats *st)
{
    for (int i = 0; i < st->n; i++)
        free(st->f[i].hist);
    st->n = 0;
    st->records = 0;
}

/* Reads one input and prints a report per stream. Returns the exit status. */
static int info_file(const char *path, const tsf_limits *limits, int json, int verbose, stream_stats *st)
{
    ss_error err;
    tsf_reader *r = tsf_reader_open_path(path, limits, &err);
    if (!r)
        return tool_fail(&err);
    tsf_record *rec = malloc(sizeof *rec);
    int got = rec ? tsf_reader_start(r) : -1;
    uint64_t index = 0;
    ss_json *meta = NULL;
    char *text = NULL;
    tsf_reader_set_stream_events(r, 1);
    stats_reset(st);
    while (got > 0) {
        if (got != 1 || !meta) {
            /* A stream begins: keep its metadata for the report at its end. */
            ss_json_free(meta);
            free(text);
            meta = ss_json_clone(tsf_reader_meta(r));
            text = strdup(tsf_reader_meta_text(r, NULL));
            index = tsf_reader_stream_index(r);
        }
        got = tsf_reader_next(r, rec);
        /* A finished stream is reported when the next one begins or the input ends. */
        if (got == 0 || got == 2) {
            if (json)
                print_json(tsf_reader_name(r), index, text ? text : "{}", st);
            else
                print_text(tsf_reader_name(r), index, meta, text ? text : "{}", st, verbose);
            stats_reset(st);
        }
        if (got != 1)
            continue;
        st->records++;
        for (int i = 0; i < rec->n_fields; i++) {
            field_stats *s = find_stats(st, rec->fields[i].name);
            if (s)
                add_field(s, &rec->fields[i]);
        }
    }
    stats_reset(st);
    ss_json_free(meta);
    free(text);
    free(rec);
    int status = SS_EXIT_OK;
    if (got < 0)
        status = rec ? tool_fail(tsf_reader_error(r)) : SS_EXIT_FAILURE;
    tsf_reader_close(r);
    return status;
}

int cmd_info(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    int json = 0;
    const ss_option opts[] = {
        {"json", 'j', SS_ARG_FLAG, &json, NULL, "print one JSON object per stream instead of text", 0, 0, NULL, NULL},
        CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf info", "[OPTION]... [FILE]...",
        "Print, for each stream of each FILE (standard input when none or '-'), its\n"
        "kind, record count, the dtype and shape range of every field, the minimum,\n"
        "maximum, mean and standard deviation of numeric fields, and the value counts\n"
        "of small scalar integer fields such as labels. -v prints the metadata too.",
        NULL, opts, 0, 0, -1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    tsf_limits limits;
    cmd_limits_apply(&lim, &limits);
    stream_stats *st = calloc(1, sizeof *st);
    if (!st) {
        ss_error err;
        ss_error_set(&err, SS_ENOMEM, "out of memory");
        return tool_fail(&err);
    }
    int status = SS_EXIT_OK;
    int n_files = argc - first;
    for (int i = 0; i < (n_files ? n_files : 1); i++) {
        int s = info_file(n_files ? argv[first + i] : "-", &limits, json, common.verbosity > 1, st);
        if (s != SS_EXIT_OK)
            status = s;
    }
    free(st);
    return tool_finish(status);
}
