/* ss_ckpt: saving and loading network checkpoints. */
#include "ss_ckpt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ss_log.h"
#include "ss_meta.h"
#include "ss_out.h"
#include "tsf.h"

int64_t ss_ckpt_state_int(const ss_json *meta, const char *key)
{
    const ss_json *v = ss_json_get(ss_json_get(meta, "train_state"), key);
    return v && v->type == SS_JSON_INT ? v->i : 0;
}

int ss_net_param_shape(const ss_net *net, int p, uint64_t dims[4])
{
    for (int i = 0; i < net->n_layers; i++) {
        const ss_layer *l = &net->layers[i];
        if (l->param < 0 || p < l->param || p > l->param + 1)
            continue;
        if (p == l->param + 1 || l->kind == SS_LAYER_BN) {
            dims[0] = (uint64_t)(l->kind == SS_LAYER_BN ? l->in_c : l->out_c);
            return 1;
        }
        if (l->kind == SS_LAYER_CONV) {
            dims[0] = (uint64_t)l->out_c;
            dims[1] = (uint64_t)l->in_c;
            dims[2] = dims[3] = (uint64_t)l->k;
            return 4;
        }
        dims[0] = (uint64_t)l->out_c;
        dims[1] = (uint64_t)l->in_c;
        return 2;
    }
    dims[0] = net->params[p].n;
    return 1;
}

/* Name of the batch-normalisation layer i, as its parameters are named. */
static void layer_name(const ss_net *net, int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s.%d", i < net->n_encoder ? "encoder" : "head", net->layers[i].spec_index);
}

static ss_json *arch_json(const ss_net *net)
{
    ss_json *a = ss_json_new_object();
    ss_json *in = ss_json_new_array();
    if (!a || !in) {
        ss_json_free(a);
        ss_json_free(in);
        return NULL;
    }
    ss_json_append(in, ss_json_new_int(net->in_h));
    ss_json_append(in, ss_json_new_int(net->in_w));
    ss_json_append(in, ss_json_new_int(net->in_c));
    if (ss_json_set(a, "encoder", ss_json_new_string(net->encoder_spec)) != SS_OK ||
        ss_json_set(a, "head", ss_json_new_string(net->head_spec)) != SS_OK || ss_json_set(a, "input", in) != SS_OK ||
        ss_json_set(a, "input_mean", ss_json_new_double((double)net->input_mean)) != SS_OK ||
        ss_json_set(a, "input_std", ss_json_new_double((double)net->input_std)) != SS_OK) {
        ss_json_free(a);
        return NULL;
    }
    return a;
}

static ss_status write_tensor(tsf_writer *w, const char *name, int ndim, const uint64_t *dims, const float *value,
                              const float *m, const float *v)
{
    tsf_field f[4];
    uint64_t nd[1] = {strlen(name)};
    int n = 0;
    tsf_field_set(&f[n++], "name", TSF_UTF8, 1, nd, name);
    tsf_field_set(&f[n++], "value", TSF_FLOAT32, ndim, dims, value);
    if (m)
        tsf_field_set(&f[n++], "m", TSF_FLOAT32, ndim, dims, m);
    if (v)
        tsf_field_set(&f[n++], "v", TSF_FLOAT32, ndim, dims, v);
    return tsf_writer_write(w, f, n);
}

ss_status ss_ckpt_save(const char *path, const ss_net *net, const ss_json *extra, int with_state, ss_error *err)
{
    /* The caller's metadata already names the producer and its arguments. */
    ss_json *meta = extra ? ss_json_clone(extra) : ss_meta_derive(NULL, ss_log_prog(), 0, NULL);
    if (!meta)
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    ss_json_remove(meta, "history");
    ss_json_remove(meta, "schema");
    const ss_json *cfg = ss_json_get(meta, "config");
    ss_json *config = cfg && cfg->type == SS_JSON_OBJECT ? ss_json_clone(cfg) : ss_json_new_object();
    ss_json *schema = ss_meta_schema_new();
    ss_status st = SS_ENOMEM;
    if (config && schema && ss_json_set(config, "arch", arch_json(net)) == SS_OK &&
        ss_json_set(meta, "config", config) == SS_OK && ss_json_set(meta, "kind", ss_json_new_string("checkpoint")) == SS_OK &&
        ss_meta_schema_add(schema, "name", "utf8", 1, (const long long[]){-1}, 0) == SS_OK &&
        ss_meta_schema_add(schema, "value", "float32", -1, NULL, 0) == SS_OK &&
        ss_meta_schema_add(schema, "m", "float32", -1, NULL, 1) == SS_OK &&
        ss_meta_schema_add(schema, "v", "float32", -1, NULL, 1) == SS_OK && ss_json_set(meta, "schema", schema) == SS_OK)
        st = SS_OK;
    else {
        ss_json_free(schema);
        if (!ss_json_get(meta, "config"))
            ss_json_free(config);
    }
    if (st != SS_OK) {
        ss_json_free(meta);
        return ss_error_set(err, SS_ENOMEM, "out of memory");
    }

    ss_out out;
    st = ss_out_open(&out, path, 1, err);
    if (st != SS_OK) {
        ss_json_free(meta);
        return st;
    }
    tsf_writer *w = tsf_writer_open_fd(out.fd, path, NULL, err);
    if (!w) {
        ss_out_discard(&out);
        ss_json_free(meta);
        return err->status;
    }
    st = tsf_writer_begin_json(w, meta);
    ss_json_free(meta);
    for (int p = 0; p < net->n_params && st == SS_OK; p++) {
        uint64_t dims[4];
        int nd = ss_net_param_shape(net, p, dims);
        const ss_param *q = &net->params[p];
        st = write_tensor(w, q->name, nd, dims, q->w, with_state ? q->m : NULL, with_state ? q->v : NULL);
    }
    for (int i = 0; i < net->n_layers && st == SS_OK; i++) {
        const ss_layer *l = &net->layers[i];
        if (l->kind != SS_LAYER_BN)
            continue;
        char base[32], name[64];
        layer_name(net, i, base, sizeof base);
        uint64_t dims[1] = {(uint64_t)l->in_c};
        snprintf(name, sizeof name, "%s.running_mean", base);
        st = write_tensor(w, name, 1, dims, l->running_mean, NULL, NULL);
        snprintf(name, sizeof name, "%s.running_var", base);
        if (st == SS_OK)
            st = write_tensor(w, name, 1, dims, l->running_var, NULL, NULL);
    }
    if (st == SS_OK)
        st = tsf_writer_end(w);
    if (st != SS_OK) {
        *err = *tsf_writer_error(w);
        tsf_writer_close(w);
        ss_out_discard(&out);
        return err->status;
    }
    tsf_writer_close(w);
    return ss_out_commit(&out, err);
}

/* Finds the destination of a named tensor: a parameter or a running
 * statistic. Returns its data and size, or NULL. *param is the parameter
 * index (-1 for a statistic) and *slot a distinct number per tensor, so
 * that the loader can detect repeats. */
static float *find_tensor(ss_net *net, const char *name, size_t *n, int *param, size_t *slot)
{
    for (int p = 0; p < net->n_params; p++) {
        if (strcmp(net->params[p].name, name) == 0) {
            *n = net->params[p].n;
            *param = p;
            *slot = (size_t)p;
            return net->params[p].w;
        }
    }
    size_t bn = 0;
    for (int i = 0; i < net->n_layers; i++) {
        ss_layer *l = &net->layers[i];
        if (l->kind != SS_LAYER_BN)
            continue;
        char base[32], want[64];
        layer_name(net, i, base, sizeof base);
        snprintf(want, sizeof want, "%s.running_mean", base);
        *n = (size_t)l->in_c;
        *param = -1;
        *slot = (size_t)net->n_params + 2 * bn;
        if (strcmp(want, name) == 0)
            return l->running_mean;
        snprintf(want, sizeof want, "%s.running_var", base);
        *slot += 1;
        if (strcmp(want, name) == 0)
            return l->running_var;
        bn++;
    }
    return NULL;
}

static ss_net *net_from_meta(const ss_json *meta, const char *path, ss_error *err)
{
    const ss_json *config = ss_json_get(meta, "config");
    const ss_json *arch = config ? ss_json_get(config, "arch") : NULL;
    const char *encoder = arch ? ss_json_get_string(arch, "encoder") : NULL;
    const char *head = arch ? ss_json_get_string(arch, "head") : NULL;
    const ss_json *input = arch ? ss_json_get(arch, "input") : NULL;
    const char *kind = ss_json_get_string(meta, "kind");
    if (!kind || strcmp(kind, "checkpoint") != 0) {
        ss_error_set(err, SS_EDATA, "%s: not a checkpoint (kind '%s')", path, kind ? kind : "none");
        return NULL;
    }
    if (!encoder || !head || !input || input->type != SS_JSON_ARRAY || input->len != 3) {
        ss_error_set(err, SS_EDATA, "%s: metadata has no network architecture in config.arch "
                     "(encoder, head, input); was it written by a selfsup trainer?", path);
        return NULL;
    }
    for (int i = 0; i < 3; i++)
        if (input->items[i]->type != SS_JSON_INT || input->items[i]->i < 1 || input->items[i]->i > 65536) {
            ss_error_set(err, SS_EDATA, "%s: config.arch.input must be three positive integers", path);
            return NULL;
        }
    ss_net *net = ss_net_create(encoder, head, (int)input->items[0]->i, (int)input->items[1]->i,
                                (int)input->items[2]->i, 0, err);
    if (!net) {
        ss_error_prefix(err, "%s: config.arch", path);
        return NULL;
    }
    const ss_json *mean = ss_json_get(arch, "input_mean"), *std = ss_json_get(arch, "input_std");
    if (mean && (mean->type == SS_JSON_DOUBLE || mean->type == SS_JSON_INT))
        net->input_mean = (float)mean->d;
    if (std && (std->type == SS_JSON_DOUBLE || std->type == SS_JSON_INT) && std->d > 0)
        net->input_std = (float)std->d;
    return net;
}

ss_net *ss_ckpt_load(const char *path, ss_json **meta_out, int load_state, ss_error *err)
{
    tsf_reader *r = tsf_reader_open_path(path, NULL, err);
    if (!r)
        return NULL;
    ss_net *net = NULL;
    tsf_record *rec = malloc(sizeof *rec);
    char *seen = NULL;
    size_t n_tensors = 0, expected = 0;
    if (!rec) {
        ss_error_set(err, SS_ENOMEM, "out of memory");
        goto fail;
    }
    if (tsf_reader_start(r) <= 0) {
        *err = *tsf_reader_error(r);
        goto fail;
    }
    net = net_from_meta(tsf_reader_meta(r), tsf_reader_name(r), err);
    if (!net)
        goto fail;
    expected = (size_t)net->n_params;
    for (int i = 0; i < net->n_layers; i++)
        expected += net->layers[i].kind == SS_LAYER_BN ? 2 : 0;
    seen = calloc(expected + 1, 1);
    if (!seen) {
        ss_error_set(err, SS_ENOMEM, "out of memory");
        goto fail;
    }
    int got;
    while ((got = tsf_reader_next(r, rec)) == 1) {
        if (tsf_reader_stream_index(r) != 0) {
            /* A series of checkpoints: the first one is loaded. */
            break;
        }
        const tsf_field *name = tsf_record_find(rec, "name"), *value = tsf_record_find(rec, "value");
        if (!name || !value || value->dtype != TSF_FLOAT32) {
            ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 " needs a utf8 'name' and a float32 'value'", path,
                         rec->index);
            goto fail;
        }
        char tname[128];
        snprintf(tname, sizeof tname, "%.*s", (int)name->nbytes, (const char *)name->data);
        size_t n, slot;
        int p;
        float *dst = find_tensor(net, tname, &n, &p, &slot);
        if (!dst) {
            ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": tensor '%s' does not belong to the architecture",
                         path, rec->index, tname);
            goto fail;
        }
        if (seen[slot]) {
            ss_error_set(err, SS_EDATA, "%s: record %" PRIu64 ": tensor '%s' appears twice", path, rec->index, tname);
            goto fail;
        }
        seen[slot] = 1;
        if (value->count != n) {
            ss_error_set(err, SS_EDATA, "%s: tensor '%s' has %" PRIu64 " values, the architecture needs %zu", path,
                         tname, value->count, n);
            goto fail;
        }
        memcpy(dst, value->data, n * sizeof(float));
        n_tensors++;
        if (p >= 0 && load_state) {
            ss_param *q = &net->params[p];
            const tsf_field *m = tsf_record_find(rec, "m"), *v = tsf_record_find(rec, "v");
            if (m && m->count == n && m->dtype == TSF_FLOAT32) {
                if (!q->m && !(q->m = calloc(n, sizeof(float))))
                    goto oom;
                memcpy(q->m, m->data, n * sizeof(float));
            }
            if (v && v->count == n && v->dtype == TSF_FLOAT32) {
                if (!q->v && !(q->v = calloc(n, sizeof(float))))
                    goto oom;
                memcpy(q->v, v->data, n * sizeof(float));
            }
        }
    }
    if (got < 0) {
        *err = *tsf_reader_error(r);
        goto fail;
    }
    if (n_tensors != expected) {
        ss_error_set(err, SS_EDATA, "%s: holds %zu tensors, the architecture has %zu (duplicates or missing "
                     "tensors)", path, n_tensors, expected);
        goto fail;
    }
    if (meta_out && !(*meta_out = ss_json_clone(tsf_reader_meta(r))))
        goto oom;
    free(seen);
    free(rec);
    tsf_reader_close(r);
    return net;
oom:
    ss_error_set(err, SS_ENOMEM, "out of memory");
fail:
    free(seen);
    free(rec);
    ss_net_free(net);
    tsf_reader_close(r);
    return NULL;
}
