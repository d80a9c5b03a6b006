/* sample: the subcommands that choose or reorder records with a seed:
 * shuffle, split and sample.
 *
 * shuffle and split hold the encoded records in memory, up to --max-memory,
 * because a uniform permutation and an exact stratified split need the whole
 * input; sample keeps only the records it may still choose (reservoir
 * sampling per class). Every random choice is drawn from ss_rng keyed by the
 * seed and the record index, so the output does not depend on chunking. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "ss_log.h"
#include "ss_meta.h"
#include "ss_rng.h"

/* Encoded records held in memory, with one label each (-1 when absent). */
typedef struct {
    unsigned char *bytes;
    size_t len, cap, limit;
    size_t *offset;       /* n + 1 offsets into bytes */
    int64_t *label;
    size_t n, n_cap;
    ss_json *meta;        /* metadata of the first input stream */
} record_store;

static ss_status store_add(record_store *s, const tsf_record *rec, int64_t label, ss_error *err)
{
    if (s->len + rec->encoded_len > s->limit)
        return ss_error_set(err, SS_ELIMIT,
                            "the input exceeds the memory limit of %zu MiB after %zu records; "
                            "raise --max-memory or split the input",
                            s->limit >> 20, s->n);
    if (s->len + rec->encoded_len > s->cap) {
        size_t cap = s->cap ? s->cap : 1u << 20;
        while (cap < s->len + rec->encoded_len)
            cap *= 2;
        unsigned char *nb = realloc(s->bytes, cap);
        if (!nb)
            return ss_error_set(err, SS_ENOMEM, "out of memory after %zu records", s->n);
        s->bytes = nb;
        s->cap = cap;
    }
    if (s->n + 2 > s->n_cap) {
        size_t cap = s->n_cap ? 2 * s->n_cap : 4096;
        size_t *no = realloc(s->offset, cap * sizeof *no);
        if (no)
            s->offset = no;
        int64_t *nl = realloc(s->label, cap * sizeof *nl);
        if (nl)
            s->label = nl;
        if (!no || !nl)
            return ss_error_set(err, SS_ENOMEM, "out of memory after %zu records", s->n);
        s->n_cap = cap;
    }
    if (s->n == 0)
        s->offset[0] = 0;
    memcpy(s->bytes + s->len, rec->encoded, rec->encoded_len);
    s->len += rec->encoded_len;
    s->label[s->n] = label;
    s->offset[++s->n] = s->len;
    return SS_OK;
}

static void store_free(record_store *s)
{
    free(s->bytes);
    free(s->offset);
    free(s->label);
    ss_json_free(s->meta);
}

/* Reads the scalar integer label field of a record into *label. Returns 0,
 * or -1 with err set when the field is missing or not an integer scalar. */
static int read_label(const tsf_record *rec, const char *name, int64_t *label, ss_error *err)
{
    const tsf_field *f = tsf_record_find(rec, name);
    if (!f) {
        ss_error_set(err, SS_EDATA, "record %" PRIu64 " has no field '%s' (choose it with --label)",
                     rec->index, name);
        return -1;
    }
    if (f->count != 1) {
        ss_error_set(err, SS_EDATA, "record %" PRIu64 ": field '%s' holds %" PRIu64
                     " values; a label must be a scalar", rec->index, name, f->count);
        return -1;
    }
    switch (f->dtype) {
    case TSF_INT64: { int64_t v; memcpy(&v, f->data, 8); *label = v; return 0; }
    case TSF_INT32: { int32_t v; memcpy(&v, f->data, 4); *label = v; return 0; }
    case TSF_UINT8: *label = *(const uint8_t *)f->data; return 0;
    case TSF_INT16: { int16_t v; memcpy(&v, f->data, 2); *label = v; return 0; }
    case TSF_UINT16: { uint16_t v; memcpy(&v, f->data, 2); *label = v; return 0; }
    }
    ss_error_set(err, SS_EDATA, "record %" PRIu64 ": label field '%s' is %s; an integer is needed",
                 rec->index, name, tsf_dtype_name(f->dtype));
    return -1;
}

/* Reads all inputs into the store; every stream must be compatible with the
 * first. label_field NULL stores no labels. */
static int store_read(record_store *s, int n_files, char **files, const tsf_limits *limits,
                      const char *label_field, ss_error *err)
{
    tsf_record *rec = malloc(sizeof *rec);
    if (!rec)
        return ss_error_set(err, SS_ENOMEM, "out of memory"), -1;
    int status = 0;
    for (int i = 0; i < (n_files ? n_files : 1) && status == 0; i++) {
        tsf_reader *r = tsf_reader_open_path(n_files ? files[i] : "-", limits, err);
        if (!r) {
            status = -1;
            break;
        }
        int got = tsf_reader_start(r);
        if (got > 0 && !s->meta && !(s->meta = ss_json_clone(tsf_reader_meta(r)))) {
            ss_error_set(err, SS_ENOMEM, "out of memory");
            got = -2;
        }
        while (got > 0 && (got = tsf_reader_next(r, rec)) == 1) {
            if (!ss_meta_compatible(s->meta, tsf_reader_meta(r))) {
                ss_error_set(err, SS_EDATA, "%s: stream %" PRIu64 " differs from the first input stream "
                             "in kind, schema or classes; these records cannot share one output",
                             tsf_reader_name(r), tsf_reader_stream_index(r));
                got = -2;
                break;
            }
            int64_t label = -1;
            if (label_field && read_label(rec, label_field, &label, err) < 0) {
                ss_error_prefix(err, "%s", tsf_reader_name(r));
                got = -2;
                break;
            }
            if (store_add(s, rec, label, err) != SS_OK) {
                got = -2;
                break;
            }
        }
        if (got == -1)
            *err = *tsf_reader_error(r);
        if (got < 0)
            status = -1;
        tsf_reader_close(r);
    }
    free(rec);
    return status;
}

/* Writes the stored records in the given order. */
static ss_status store_write(const record_store *s, const size_t *order, size_t n, const char *path,
                             const tool_output_opts *opts, int argc, char **argv, ss_error *err)
{
    tool_output out;
    tool_output_opts o = *opts;
    o.path = path;
    ss_json *meta = ss_meta_derive(s->meta, ss_log_prog(), argc - 1, argv + 1);
    if (!meta)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    ss_status st = tool_output_open(&out, &o, meta, err);
    ss_json_free(meta);
    if (st != SS_OK)
        return st;
    tsf_record rec;
    for (size_t i = 0; i < n; i++) {
        size_t k = order ? order[i] : i;
        rec.encoded = s->bytes + s->offset[k];
        rec.encoded_len = s->offset[k + 1] - s->offset[k];
        if (tsf_writer_write_record(out.w, &rec) != SS_OK) {
            *err = *tsf_writer_error(out.w);
            tool_output_abort(&out, err);
            return err->status;
        }
    }
    return tool_output_finish(&out, err);
}

/* Fisher-Yates with one keyed generator for the whole permutation. */
static void permute(size_t *order, size_t n, uint64_t seed, uint32_t stream, uint64_t key)
{
    ss_rng rng;
    ss_rng_init(&rng, seed, stream, key);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ss_rng_below(&rng, i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

#define MEMORY_OPTION(v)                                                                   \
    {"max-memory", 'm', SS_ARG_INT64, &(v), "MIB",                                          \
     "most record bytes held in memory, in MiB (default 4096)", 1, 1 << 30, NULL, NULL}

int cmd_shuffle(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    tool_output_opts out;
    tool_output_opts_default(&out);
    int64_t max_memory = 4096;
    const ss_option opts[] = {MEMORY_OPTION(max_memory), TOOL_OUTPUT_OPTIONS(out), CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf shuffle", "[OPTION]... [FILE]...",
        "Write the records of the inputs in a uniformly random order fixed by --seed.\n"
        "All records are held in memory; an input larger than --max-memory is an error.",
        NULL, opts, SS_CLI_SEED, 0, -1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    tsf_limits limits;
    cmd_limits_apply(&lim, &limits);
    record_store s = {.limit = (size_t)max_memory << 20};
    ss_error err;
    int status = SS_EXIT_OK;
    size_t *order = NULL;
    if (store_read(&s, argc - first, argv + first, &limits, NULL, &err) < 0) {
        status = tool_fail(&err);
    } else if (s.n > 0 && !(order = malloc(s.n * sizeof *order))) {
        ss_error_set(&err, SS_ENOMEM, "out of memory");
        status = tool_fail(&err);
    } else {
        permute(order, s.n, common.seed, SS_RNG_SHUFFLE, 0);
        if (store_write(&s, order, s.n, out.path, &out, argc, argv, &err) != SS_OK)
            status = tool_fail(&err);
    }
    free(order);
    store_free(&s);
    return tool_finish(status);
}

/* Marks the records that go to the validation part: within each label
 * (or overall without stratification), round(fraction * count) records
 * chosen by a seeded permutation. */
static int choose_split(const record_store *s, double fraction, int stratify, uint64_t seed, char *is_val)
{
    int64_t max_label = 0;
    if (stratify)
        for (size_t i = 0; i < s->n; i++)
            if (s->label[i] > max_label)
                max_label = s->label[i];
    size_t *members = malloc((s->n ? s->n : 1) * sizeof *members);
    size_t *order = malloc((s->n ? s->n : 1) * sizeof *order);
    if (!members || !order) {
        free(members);
        free(order);
        return -1;
    }
    memset(is_val, 0, s->n);
    for (int64_t c = stratify ? 0 : -1; c <= (stratify ? max_label : -1); c++) {
        size_t m = 0;
        for (size_t i = 0; i < s->n; i++)
            if (!stratify || s->label[i] == c)
                members[m++] = i;
        if (m == 0)
            continue;
        size_t k = (size_t)((double)m * fraction + 0.5);
        permute(order, m, seed, SS_RNG_SPLIT, (uint64_t)(c + 1));
        for (size_t i = 0; i < k; i++)
            is_val[members[order[i]]] = 1;
    }
    free(members);
    free(order);
    return 0;
}

int cmd_split(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    tool_output_opts out;
    tool_output_opts_default(&out);
    int64_t max_memory = 4096;
    double fraction = 0.1;
    int stratify = 0;
    const char *label = "label", *train = NULL, *val = NULL;
    const ss_option opts[] = {
        {"train", 't', SS_ARG_STRING, &train, "FILE", "write the training part to FILE (required)", 0, 0, NULL, NULL},
        {"val", 'a', SS_ARG_STRING, &val, "FILE", "write the validation part to FILE (required)", 0, 0, NULL, NULL},
        {"fraction", 'f', SS_ARG_DOUBLE, &fraction, "F",
         "fraction of records for validation, 0 to 1 (default 0.1)", 0, 1, NULL, NULL},
        {"stratify", 's', SS_ARG_FLAG, &stratify, NULL, "take the fraction within each label", 0, 0, NULL, NULL},
        {"label", 'l', SS_ARG_STRING, &label, "NAME", "label field for --stratify (default label)", 0, 0, NULL, NULL},
        {"zstd", 'z', SS_ARG_FLAG, &out.zstd, NULL, "compress chunks with zstd", 0, 0, NULL, NULL},
        {"level", 0, SS_ARG_INT, &out.level, "N", "zstd level, 1 to 19 (default 1)", 1, 19, NULL, NULL},
        MEMORY_OPTION(max_memory), CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf split", "--train FILE --val FILE [OPTION]... [FILE]...",
        "Split the records of the inputs into a training and a validation stream. The\n"
        "validation part holds round(F * n) records chosen by --seed (per label with\n"
        "--stratify); both parts keep the input order. All records are held in memory.",
        NULL, opts, SS_CLI_SEED, 0, -1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if (!train || !val)
        return tool_usage(cmd.name, "both --train FILE and --val FILE are required");
    if (strcmp(train, val) == 0 || strcmp(train, "-") == 0 || strcmp(val, "-") == 0)
        return tool_usage(cmd.name, "--train and --val must name two different files");
    tsf_limits limits;
    cmd_limits_apply(&lim, &limits);
    record_store s = {.limit = (size_t)max_memory << 20};
    ss_error err;
    int status = SS_EXIT_OK;
    char *is_val = NULL;
    size_t *order = NULL;
    if (store_read(&s, argc - first, argv + first, &limits, stratify ? label : NULL, &err) < 0) {
        status = tool_fail(&err);
        goto done;
    }
    is_val = malloc(s.n + 1);
    order = calloc(s.n + 1, sizeof *order);
    if (!is_val || !order || choose_split(&s, fraction, stratify, common.seed, is_val) < 0) {
        ss_error_set(&err, SS_ENOMEM, "out of memory");
        status = tool_fail(&err);
        goto done;
    }
    for (int part = 0; part < 2; part++) {
        size_t m = 0;
        for (size_t i = 0; i < s.n; i++)
            if (is_val[i] == part)
                order[m++] = i;
        if (store_write(&s, order, m, part ? val : train, &out, argc, argv, &err) != SS_OK) {
            status = tool_fail(&err);
            break;
        }
        ss_log_detail("%s: %zu records", part ? val : train, m);
    }
done:
    free(is_val);
    free(order);
    store_free(&s);
    return tool_finish(status);
}

/* ---- sample -------------------------------------------------------------- */

typedef struct {
    int64_t label;
    uint64_t seen;
    size_t kept;
    uint64_t *index;          /* per slot: the record's input index */
    unsigned char **bytes;    /* per slot: a copy of the encoded record */
    size_t *len;
} reservoir;

static ss_status reservoir_offer(reservoir *res, size_t k, const tsf_record *rec, uint64_t index,
                                 uint64_t seed, ss_error *err)
{
    res->seen++;
    size_t slot;
    if (res->kept < k) {
        slot = res->kept++;
    } else {
        ss_rng rng;
        ss_rng_init(&rng, seed, SS_RNG_SAMPLE, index);
        uint64_t j = ss_rng_below(&rng, res->seen);
        if (j >= k)
            return SS_OK;
        slot = (size_t)j;
    }
    unsigned char *copy = realloc(res->bytes[slot], rec->encoded_len);
    if (!copy)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    memcpy(copy, rec->encoded, rec->encoded_len);
    res->bytes[slot] = copy;
    res->len[slot] = rec->encoded_len;
    res->index[slot] = index;
    return SS_OK;
}

static int compare_u64_pairs(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

int cmd_sample(int argc, char **argv)
{
    cmd_limits lim;
    cmd_limits_default(&lim);
    tool_output_opts out;
    tool_output_opts_default(&out);
    int64_t per_class = 0, count = 0;
    const char *label = "label";
    const ss_option opts[] = {
        {"per-class", 'k', SS_ARG_INT64, &per_class, "K", "draw K records of each label", 1, 1e9, NULL, NULL},
        {"count", 'n', SS_ARG_INT64, &count, "N", "draw N records regardless of label", 1, 1e9, NULL, NULL},
        {"label", 'l', SS_ARG_STRING, &label, "NAME", "label field for --per-class (default label)", 0, 0, NULL, NULL},
        TOOL_OUTPUT_OPTIONS(out), CMD_LIMIT_OPTIONS(lim), {0}};
    const ss_command cmd = {
        "selfsup-tsf sample", "(--per-class K | --count N) [OPTION]... [FILE]...",
        "Draw a uniformly random subset fixed by --seed: K records of every label, or\n"
        "N records in all, written in input order. A label with fewer than K records,\n"
        "an input with fewer than N, or a class named in the metadata 'classes' but\n"
        "absent from the data is an error. Memory holds only the chosen records.",
        NULL, opts, SS_CLI_SEED, 0, -1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if ((per_class > 0) == (count > 0))
        return tool_usage(cmd.name, "give exactly one of --per-class K and --count N");
    tsf_limits limits;
    cmd_limits_apply(&lim, &limits);
    size_t k = (size_t)(per_class > 0 ? per_class : count);
    int by_class = per_class > 0;

    reservoir *res = NULL;
    size_t n_res = 0;
    ss_json *meta = NULL;
    ss_error err;
    int status = SS_EXIT_OK;
    uint64_t index = 0;
    tsf_record *rec = malloc(sizeof *rec);
    int n_files = argc - first;
    for (int i = 0; rec && i < (n_files ? n_files : 1) && status == SS_EXIT_OK; i++) {
        tsf_reader *r = tsf_reader_open_path(n_files ? argv[first + i] : "-", &limits, &err);
        if (!r) {
            status = tool_fail(&err);
            break;
        }
        int got = tsf_reader_start(r);
        if (got > 0 && !meta)
            meta = ss_json_clone(tsf_reader_meta(r));
        while (got > 0 && (got = tsf_reader_next(r, rec)) == 1) {
            int64_t lab = 0;
            if (!ss_meta_compatible(meta, tsf_reader_meta(r))) {
                ss_error_set(&err, SS_EDATA, "%s: stream %" PRIu64 " differs from the first input stream "
                             "in kind, schema or classes", tsf_reader_name(r), tsf_reader_stream_index(r));
                got = -2;
                break;
            }
            if (by_class && read_label(rec, label, &lab, &err) < 0) {
                ss_error_prefix(&err, "%s", tsf_reader_name(r));
                got = -2;
                break;
            }
            size_t c = 0;
            while (c < n_res && res[c].label != lab)
                c++;
            if (c == n_res) {
                reservoir *nr = realloc(res, (n_res + 1) * sizeof *nr);
                if (!nr) {
                    ss_error_set(&err, SS_ENOMEM, "out of memory");
                    got = -2;
                    break;
                }
                res = nr;
                res[c] = (reservoir){.label = lab};
                res[c].index = calloc(k, sizeof *res[c].index);
                res[c].bytes = calloc(k, sizeof *res[c].bytes);
                res[c].len = calloc(k, sizeof *res[c].len);
                n_res++;
                if (!res[c].index || !res[c].bytes || !res[c].len) {
                    ss_error_set(&err, SS_ENOMEM, "out of memory");
                    got = -2;
                    break;
                }
            }
            if (reservoir_offer(&res[c], k, rec, index++, common.seed, &err) != SS_OK) {
                got = -2;
                break;
            }
        }
        if (got == -1)
            status = tool_fail(tsf_reader_error(r));
        else if (got == -2)
            status = tool_fail(&err);
        tsf_reader_close(r);
    }
    if (!rec) {
        ss_error_set(&err, SS_ENOMEM, "out of memory");
        status = tool_fail(&err);
    }

    /* Every class must have yielded k records, including classes the metadata names. */
    const ss_json *classes = meta ? ss_json_get(meta, "classes") : NULL;
    if (status == SS_EXIT_OK && by_class && classes && classes->type == SS_JSON_ARRAY) {
        for (size_t c = 0; c < classes->len && status == SS_EXIT_OK; c++) {
            size_t j = 0;
            while (j < n_res && res[j].label != (int64_t)c)
                j++;
            if (j == n_res) {
                ss_error_set(&err, SS_EDATA, "class %zu ('%s') has no records; cannot draw %zu of it", c,
                             classes->items[c]->type == SS_JSON_STRING ? classes->items[c]->str : "?", k);
                status = tool_fail(&err);
            }
        }
    }
    for (size_t c = 0; c < n_res && status == SS_EXIT_OK; c++) {
        if (res[c].kept < k) {
            if (by_class)
                ss_error_set(&err, SS_EDATA, "label %" PRId64 " has only %" PRIu64 " records, fewer than "
                             "--per-class %zu", res[c].label, res[c].seen, k);
            else
                ss_error_set(&err, SS_EDATA, "the input has only %" PRIu64 " records, fewer than --count %zu",
                             res[c].seen, k);
            status = tool_fail(&err);
        }
    }
    if (status == SS_EXIT_OK && n_res == 0 && !by_class) {
        ss_error_set(&err, SS_EDATA, "the input has no records; cannot draw %zu", k);
        status = tool_fail(&err);
    }
    if (status == SS_EXIT_OK) {
        /* Write the kept records in input order. */
        size_t total = n_res * k;
        uint64_t *pairs = malloc((total ? total : 1) * 2 * sizeof *pairs);
        record_store s = {.limit = SIZE_MAX, .meta = meta};
        for (size_t c = 0, m = 0; pairs && c < n_res; c++)
            for (size_t j = 0; j < k; j++, m++) {
                pairs[2 * m] = res[c].index[j];
                pairs[2 * m + 1] = c * k + j;
            }
        if (pairs)
            qsort(pairs, total, 2 * sizeof *pairs, compare_u64_pairs);
        tsf_record one = {0};
        for (size_t m = 0; pairs && m < total && status == SS_EXIT_OK; m++) {
            size_t c = (size_t)pairs[2 * m + 1] / k, j = (size_t)pairs[2 * m + 1] % k;
            one.encoded = res[c].bytes[j];
            one.encoded_len = res[c].len[j];
            if (store_add(&s, &one, 0, &err) != SS_OK)
                status = tool_fail(&err);
        }
        if (!pairs) {
            ss_error_set(&err, SS_ENOMEM, "out of memory");
            status = tool_fail(&err);
        }
        if (status == SS_EXIT_OK && store_write(&s, NULL, s.n, out.path, &out, argc, argv, &err) != SS_OK)
            status = tool_fail(&err);
        s.meta = NULL;
        store_free(&s);
        free(pairs);
    }
    for (size_t c = 0; c < n_res; c++) {
        for (size_t j = 0; res[c].bytes && j < k; j++)
            free(res[c].bytes[j]);
        free(res[c].bytes);
        free(res[c].index);
        free(res[c].len);
    }
    free(res);
    ss_json_free(meta);
    free(rec);
    return tool_finish(status);
}
