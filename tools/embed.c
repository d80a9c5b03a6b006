/* selfsup-embed: turn images into feature vectors with a trained encoder.
 *
 * Reads a samples stream, runs each batch of images through the network of
 * a checkpoint up to the chosen layer (by default the encoder output, before
 * the projection head) and writes one record per image: key, embedding
 * float32 [D] and label when the input has them. Memory holds one batch. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ss_ckpt.h"
#include "ss_log.h"
#include "ss_meta.h"
#include "tool.h"

/* Resolves --layer: "encoder", "output" or N, the first N layers of the
 * encoder and head specs together. Returns the count of layers to run or -1. */
static int resolve_layer(const ss_net *net, const char *spec)
{
    if (strcmp(spec, "encoder") == 0)
        return net->n_encoder;
    if (strcmp(spec, "output") == 0)
        return net->n_layers;
    ss_error err;
    int64_t v;
    if (ss_parse_int64(spec, 1, ss_net_tokens(net), "layer", &v, &err) != SS_OK)
        return -1;
    return ss_net_upto_token(net, (int)v);
}

static ss_json *output_meta(const ss_json *in, const char *ckpt, const char *layer, int dim, int has_label,
                            int argc, char **argv)
{
    ss_json *meta = ss_meta_derive(in, ss_log_prog(), argc - 1, argv + 1);
    ss_json *schema = ss_meta_schema_new();
    ss_json *config = ss_json_new_object();
    if (!meta || !schema || !config) {
        ss_json_free(meta);
        ss_json_free(schema);
        ss_json_free(config);
        return NULL;
    }
    long long var[1] = {-1}, d[1] = {dim};
    ss_meta_schema_add(schema, "key", "utf8", 1, var, 1);
    ss_meta_schema_add(schema, "embedding", "float32", 1, d, 0);
    if (has_label)
        ss_meta_schema_add(schema, "label", "int64", 0, NULL, 1);
    ss_json_set(config, "checkpoint", ss_json_new_string(ckpt));
    ss_json_set(config, "layer", ss_json_new_string(layer));
    ss_json_set(config, "dim", ss_json_new_int(dim));
    ss_json_set(meta, "kind", ss_json_new_string("embeddings"));
    ss_json_set(meta, "schema", schema);
    ss_json_set(meta, "config", config);
    return meta;
}

typedef struct {
    int cap;
    size_t image_bytes;
    uint8_t *pixels;
    const uint8_t **rows;
    char **keys;
    size_t *key_len;
    int64_t *labels;
    int *has_label;
    float *out;
} batch;

static void batch_free(batch *b)
{
    for (int i = 0; b->keys && i < b->cap; i++)
        free(b->keys[i]);
    free(b->keys);
    free(b->key_len);
    free(b->pixels);
    free(b->rows);
    free(b->labels);
    free(b->has_label);
    free(b->out);
}

/* Writes the n records of a computed batch. */
static ss_status write_batch(tsf_writer *w, const batch *b, int n, int dim)
{
    for (int i = 0; i < n; i++) {
        tsf_field f[3];
        int nf = 0;
        uint64_t kd[1] = {b->key_len[i]}, dd[1] = {(uint64_t)dim};
        if (b->keys[i])
            tsf_field_set(&f[nf++], "key", TSF_UTF8, 1, kd, b->keys[i]);
        tsf_field_set(&f[nf++], "embedding", TSF_FLOAT32, 1, dd, b->out + (size_t)i * (size_t)dim);
        if (b->has_label[i])
            tsf_field_set(&f[nf++], "label", TSF_INT64, 0, NULL, &b->labels[i]);
        ss_status st = tsf_writer_write(w, f, nf);
        if (st != SS_OK)
            return st;
    }
    return SS_OK;
}

/* The raw-pixel baseline: each image flattened and scaled to [0,1]. */
static int embed_raw(int argc, char **argv, int first, const char *field, const tool_output_opts *out)
{
    ss_error err;
    tool_output o = {0};
    tsf_record *rec = malloc(sizeof *rec);
    float *v = NULL;
    int status = SS_EXIT_OK, got = -1;
    tsf_reader *r = tsf_reader_open_path(first < argc ? argv[first] : "-", NULL, &err);
    if (!r || !rec) {
        if (!rec)
            ss_error_set(&err, SS_ENOMEM, "out of memory");
        goto fail;
    }
    if (tsf_reader_start(r) <= 0) {
        err = *tsf_reader_error(r);
        goto fail;
    }
    uint64_t dim = 0;
    while ((got = tsf_reader_next(r, rec)) == 1) {
        const tsf_field *img = tsf_record_find(rec, field);
        if (!img || img->dtype != TSF_UINT8 || img->count == 0 || (dim && img->count != dim)) {
            ss_error_set(&err, SS_EDATA, "%s: record %" PRIu64 ": field '%s' must be uint8 with the same size in every "
                         "record", tsf_reader_name(r), rec->index, field);
            goto fail;
        }
        if (!o.open) {
            dim = img->count;
            v = malloc(dim * sizeof *v);
            ss_json *meta = output_meta(tsf_reader_meta(r), "", "raw", (int)dim, tsf_record_find(rec, "label") != NULL,
                                        argc, argv);
            ss_status st = meta && v ? tool_output_open(&o, out, meta, &err) : ss_error_set(&err, SS_ENOMEM, "out of memory");
            ss_json_free(meta);
            if (st != SS_OK)
                goto fail;
        }
        const uint8_t *p = img->data;
        for (uint64_t i = 0; i < dim; i++)
            v[i] = (float)p[i] * (1.0f / 255.0f);
        tsf_field f[3];
        int nf = 0;
        const tsf_field *key = tsf_record_find(rec, "key"), *label = tsf_record_find(rec, "label");
        if (key)
            f[nf++] = *key;
        tsf_field_set(&f[nf++], "embedding", TSF_FLOAT32, 1, &dim, v);
        if (label)
            f[nf++] = *label;
        if (tsf_writer_write(o.w, f, nf) != SS_OK) {
            err = *tsf_writer_error(o.w);
            goto fail;
        }
    }
    if (got < 0) {
        err = *tsf_reader_error(r);
        goto fail;
    }
    if (!o.open) {
        ss_error_set(&err, SS_EDATA, "%s: no records", tsf_reader_name(r));
        goto fail;
    }
    if (tool_output_finish(&o, &err) != SS_OK)
        goto fail;
    goto done;
fail:
    tool_output_abort(&o, &err);
    status = tool_fail(&err);
done:
    free(v);
    free(rec);
    if (r)
        tsf_reader_close(r);
    return status;
}

int main(int argc, char **argv)
{
    tool_start("selfsup-embed");
    const char *ckpt = NULL, *layer_spec = "encoder", *field = "image";
    int batch_size = 512, raw = 0;
    tool_output_opts out;
    tool_output_opts_default(&out);
    const ss_option opts[] = {
        {"checkpoint", 'c', SS_ARG_STRING, &ckpt, "FILE", "network checkpoint from selfsup-pretrain or selfsup-finetune (required)", 0, 0, NULL, NULL},
        {"layer", 'L', SS_ARG_STRING, &layer_spec, "WHICH", "encoder (default: before the projection head), output, or N to stop after the first N layers", 0, 0, NULL, NULL},
        {"field", 'f', SS_ARG_STRING, &field, "NAME", "image field to embed (default image)", 0, 0, NULL, NULL},
        {"batch", 'b', SS_ARG_INT, &batch_size, "N", "images per batch (default 512)", 1, 1 << 20, NULL, NULL},
        {"raw", 0, SS_ARG_FLAG, &raw, NULL, "no network: the embedding is the pixels scaled to [0,1] (a baseline)", 0, 0, NULL, NULL},
        TOOL_OUTPUT_OPTIONS(out), {0}};
    const ss_command cmd = {
        "selfsup-embed", "(-c CHECKPOINT | --raw) [OPTION]... [SAMPLES]",
        "Compute a feature vector for every image of a samples stream (SAMPLES or\n"
        "standard input) with the network of CHECKPOINT, and write an embeddings\n"
        "stream: key, embedding float32 [D], and label when present.",
        "Layers count from the input through the encoder spec and then the head spec\n"
        "(config.arch in the checkpoint, shown by selfsup-tsf info -v): --layer 3\n"
        "stops after the third layer, before any ReLU that follows it.",
        opts, SS_CLI_THREADS_ALL, 0, 1};
    ss_common common;
    int first;
    int rc = tool_parse(&cmd, &common, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if (raw && ckpt)
        return tool_usage(cmd.name, "--raw and -c exclude each other");
    if (raw)
        return tool_finish(embed_raw(argc, argv, first, field, &out));
    if (!ckpt)
        return tool_usage(cmd.name, "the checkpoint -c FILE is required");

    ss_error err;
    ss_net *net = ss_ckpt_load(ckpt, NULL, 0, &err);
    if (!net)
        return tool_finish(tool_fail(&err));
    int upto = resolve_layer(net, layer_spec);
    if (upto < 0) {
        int tokens = ss_net_tokens(net);
        ss_net_free(net);
        return tool_usage(cmd.name, "invalid --layer '%s': expected encoder, output or 1..%d", layer_spec, tokens);
    }
    int dim = (int)ss_net_width_at(net, upto);
    ss_par *pool = ss_par_create(common.threads, &err);
    tsf_reader *r = NULL;
    tsf_record *rec = malloc(sizeof *rec);
    tool_output o = {0};
    batch b = {0};
    int status = SS_EXIT_OK;
    if (!pool || ss_net_prepare(net, pool, batch_size, &err) != SS_OK)
        goto fail;
    r = tsf_reader_open_path(first < argc ? argv[first] : "-", NULL, &err);
    if (!r || !rec)
        goto fail;
    if (tsf_reader_start(r) <= 0) {
        err = *tsf_reader_error(r);
        goto fail;
    }
    b.cap = batch_size;
    b.image_bytes = (size_t)net->in_h * (size_t)net->in_w * (size_t)net->in_c;
    b.pixels = malloc((size_t)batch_size * b.image_bytes);
    b.rows = malloc((size_t)batch_size * sizeof *b.rows);
    b.keys = calloc((size_t)batch_size, sizeof *b.keys);
    b.key_len = calloc((size_t)batch_size, sizeof *b.key_len);
    b.labels = calloc((size_t)batch_size, sizeof *b.labels);
    b.has_label = calloc((size_t)batch_size, sizeof *b.has_label);
    b.out = malloc((size_t)batch_size * (size_t)dim * sizeof *b.out);
    if (!b.pixels || !b.rows || !b.keys || !b.key_len || !b.labels || !b.has_label || !b.out) {
        ss_error_set(&err, SS_ENOMEM, "out of memory for a batch of %d images", batch_size);
        goto fail;
    }
    for (int i = 0; i < batch_size; i++)
        b.rows[i] = b.pixels + (size_t)i * b.image_bytes;

    int n = 0, got;
    uint64_t total = 0;
    while ((got = tsf_reader_next(r, rec)) >= 0) {
        if (got == 1) {
            const tsf_field *img = tsf_record_find(rec, field);
            if (!img || img->dtype != TSF_UINT8 || img->ndim != 3 || (int)img->dims[0] != net->in_h ||
                (int)img->dims[1] != net->in_w || (int)img->dims[2] != net->in_c) {
                ss_error_set(&err, SS_EDATA, "%s: record %" PRIu64 ": field '%s' must be uint8 [%d, %d, %d] for this "
                             "network", tsf_reader_name(r), rec->index, field, net->in_h, net->in_w, net->in_c);
                goto fail;
            }
            if (!o.open) {
                ss_json *meta = output_meta(tsf_reader_meta(r), ckpt, layer_spec, dim,
                                            tsf_record_find(rec, "label") != NULL, argc, argv);
                ss_status st = meta ? tool_output_open(&o, &out, meta, &err) : ss_error_set(&err, SS_ENOMEM, "out of memory");
                ss_json_free(meta);
                if (st != SS_OK)
                    goto fail;
            }
            memcpy(b.pixels + (size_t)n * b.image_bytes, img->data, b.image_bytes);
            const tsf_field *key = tsf_record_find(rec, "key"), *label = tsf_record_find(rec, "label");
            free(b.keys[n]);
            b.keys[n] = NULL;
            if (key && key->dtype == TSF_UTF8) {
                b.keys[n] = malloc(key->nbytes + 1);
                if (!b.keys[n]) {
                    ss_error_set(&err, SS_ENOMEM, "out of memory");
                    goto fail;
                }
                memcpy(b.keys[n], key->data, key->nbytes);
                b.key_len[n] = key->nbytes;
            }
            b.has_label[n] = label && label->dtype == TSF_INT64 && label->count == 1;
            if (b.has_label[n])
                memcpy(&b.labels[n], label->data, sizeof b.labels[n]);
            n++;
        }
        if (n > 0 && (n == batch_size || got == 0)) {
            ss_net_infer(net, b.rows, n, upto, b.out);
            if (write_batch(o.w, &b, n, dim) != SS_OK) {
                err = *tsf_writer_error(o.w);
                goto fail;
            }
            total += (uint64_t)n;
            n = 0;
        }
        if (got == 0)
            break;
    }
    if (got < 0) {
        err = *tsf_reader_error(r);
        goto fail;
    }
    if (!o.open) {
        /* An input without records still gives a valid, empty output stream. */
        ss_json *meta = output_meta(tsf_reader_meta(r), ckpt, layer_spec, dim, 0, argc, argv);
        ss_status st = meta ? tool_output_open(&o, &out, meta, &err) : ss_error_set(&err, SS_ENOMEM, "out of memory");
        ss_json_free(meta);
        if (st != SS_OK)
            goto fail;
    }
    if (tool_output_finish(&o, &err) != SS_OK)
        goto fail;
    ss_log_detail("%" PRIu64 " embeddings of dimension %d", total, dim);
    goto done;
fail:
    tool_output_abort(&o, &err);
    status = tool_fail(&err);
done:
    batch_free(&b);
    free(rec);
    if (r)
        tsf_reader_close(r);
    ss_net_free(net);
    ss_par_destroy(pool);
    return tool_finish(status);
}
